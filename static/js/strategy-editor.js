// The strategy code editor: CodeMirror 6 over the form's <textarea name="code">.
// Progressive enhancement: the textarea stays the form field (hidden, kept in sync on every
// change), so the form posts the same data with or without JavaScript. "Validate" posts the
// code to the page's JSON endpoint (nothing is stored) and shows each problem inline at its
// line and column, in the lint gutter and in a list of links above the editor.
// On the read-only pages (detail, version) the same module colours the numbered listing, so
// code reads the same everywhere; the listing's rows (and their #L<n> anchors) stay as served.
import {
  EditorState, EditorView, HighlightStyle, bracketMatching, closeBrackets, closeBracketsKeymap,
  defaultKeymap, drawSelection, foldGutter, foldKeymap, highlightActiveLine,
  highlightActiveLineGutter, highlightCode, highlightSelectionMatches, highlightSpecialChars,
  history, historyKeymap, indentOnInput, indentUnit, indentWithTab, keymap, lineNumbers,
  lintGutter, lintKeymap, python, pythonLanguage, searchKeymap, setDiagnostics,
  syntaxHighlighting, tagHighlighter, tags,
} from "../vendor/codemirror/codemirror.mjs";

// Colours come from the page's design tokens (static/css/app.css), so the editor follows
// prefers-color-scheme with the rest of the page and needs no theme switch of its own.
const theme = EditorView.theme({
  "&": {
    color: "var(--fg)", backgroundColor: "var(--card)", fontSize: "13px",
    border: "1px solid var(--input-border)", borderRadius: "6px", maxHeight: "70vh",
  },
  "&.cm-focused": { outline: "2px solid var(--accent)", outlineOffset: "1px" },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "1.55", overflow: "auto" },
  ".cm-content": { caretColor: "var(--fg)", minHeight: "18rem" },
  ".cm-cursor, .cm-dropCursor": { borderLeftColor: "var(--fg)" },
  ".cm-gutters": {
    backgroundColor: "var(--subtle)", color: "var(--muted)", borderRight: "1px solid var(--border)",
  },
  ".cm-activeLine": { backgroundColor: "color-mix(in srgb, var(--accent) 7%, transparent)" },
  ".cm-activeLineGutter": {
    backgroundColor: "color-mix(in srgb, var(--accent) 14%, transparent)", color: "var(--fg)",
  },
  "&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground":
    { backgroundColor: "color-mix(in srgb, var(--accent) 28%, transparent)" },
  "&.cm-focused .cm-matchingBracket": {
    backgroundColor: "color-mix(in srgb, var(--ok) 25%, transparent)", outline: "1px solid var(--ok)",
  },
  "&.cm-focused .cm-nonmatchingBracket": { backgroundColor: "var(--danger-bg)" },
  ".cm-tooltip": {
    backgroundColor: "var(--card)", color: "var(--fg)", border: "1px solid var(--border)",
  },
  ".cm-diagnostic": { fontFamily: "system-ui, sans-serif" },
  ".cm-diagnostic-error": { borderLeftColor: "var(--danger)" },
  ".cm-foldPlaceholder": { backgroundColor: "var(--subtle)", color: "var(--muted)", border: "none" },
});

// One colouring for the editor and the listings: each group of highlight tags gets a class
// (tok-*, styled in strategies.css for the listing) and a style (for the editor).
const TOKEN_GROUPS = [
  { name: "keyword", style: { color: "var(--accent)", fontWeight: "600" },
    tag: [tags.keyword, tags.controlKeyword, tags.definitionKeyword, tags.moduleKeyword,
      tags.operatorKeyword] },
  { name: "string", style: { color: "var(--ok)" }, tag: [tags.string, tags.special(tags.string)] },
  { name: "number", style: { color: "var(--warn)" }, tag: [tags.number, tags.bool, tags.null] },
  { name: "comment", style: { color: "var(--muted)", fontStyle: "italic" },
    tag: [tags.comment, tags.lineComment, tags.docString] },
  { name: "definition", style: { fontWeight: "600" },
    tag: [tags.definition(tags.variableName), tags.definition(tags.className),
      tags.function(tags.definition(tags.variableName))] },
  { name: "self", style: { color: "var(--accent)", fontStyle: "italic" }, tag: tags.self },
  { name: "invalid", style: { color: "var(--danger)" }, tag: tags.invalid },
];
const highlight = HighlightStyle.define(TOKEN_GROUPS.map(({ tag, style }) => ({ tag, ...style })));
const listingHighlighter = tagHighlighter(
  TOKEN_GROUPS.map(({ name, tag }) => ({ tag, class: `tok-${name}` })),
);

function extensions(textarea, nonce) {
  return [
    lineNumbers(), foldGutter(), lintGutter(), highlightActiveLineGutter(),
    highlightSpecialChars(), history(), drawSelection(), indentOnInput(),
    syntaxHighlighting(highlight), bracketMatching(), closeBrackets(), highlightActiveLine(),
    highlightSelectionMatches(), python(), indentUnit.of("    "), EditorState.tabSize.of(4),
    keymap.of([
      ...closeBracketsKeymap, ...defaultKeymap, ...searchKeymap, ...historyKeymap,
      ...foldKeymap, ...lintKeymap, indentWithTab,
    ]),
    theme,
    // CodeMirror injects its base styles in a <style> element: the CSP admits it by nonce.
    EditorView.cspNonce.of(nonce),
    EditorView.contentAttributes.of({
      "aria-labelledby": "code-label", "aria-describedby": "editor-hint",
    }),
    EditorView.updateListener.of((update) => {
      if (update.docChanged) textarea.value = update.state.doc.toString();
    }),
  ];
}

// A problem's 1-based line and column as a document range: from the column to the end of
// the line's text. Whole-file problems (line 0) and lines past the end mark the first line.
function problemRange(doc, problem) {
  if (!problem.line || problem.line > doc.lines) {
    const first = doc.line(1);
    return { from: first.from, to: first.to };
  }
  const line = doc.line(problem.line);
  const from = line.from + Math.min(Math.max((problem.column || 1) - 1, 0), line.length);
  const textEnd = line.from + line.text.trimEnd().length;
  return { from, to: Math.max(from, textEnd) };
}

function toDiagnostic(doc, problem) {
  const { from, to } = problemRange(doc, problem);
  return { from, to, severity: "error", source: problem.code, message: problem.message };
}

function where(problem) {
  return problem.line ? `line ${problem.line}, column ${problem.column}` : "";
}

function moveTo(view, problem) {
  const { from } = problemRange(view.state.doc, problem);
  view.dispatch({ selection: { anchor: from }, scrollIntoView: true });
  view.focus();
}

// The list above the editor. textContent only: messages may quote the user's code.
function showProblems(box, view, problems) {
  box.replaceChildren();
  box.classList.toggle("problems", problems.length > 0);
  box.classList.toggle("no-problems", problems.length === 0);
  if (problems.length === 0) {
    const ok = document.createElement("p");
    ok.className = "code-check-ok";
    ok.textContent = "No problems found.";
    box.append(ok);
    return;
  }
  const heading = document.createElement("h2");
  heading.textContent = `${problems.length} problem${problems.length === 1 ? "" : "s"} in the code`;
  const list = document.createElement("ol");
  for (const problem of problems) {
    const item = document.createElement("li");
    if (problem.line) {
      const link = document.createElement("a");
      link.href = `#line-${problem.line}`;
      link.textContent = where(problem);
      link.addEventListener("click", (event) => {
        event.preventDefault();
        moveTo(view, problem);
      });
      item.append(link, ": ");
    }
    const code = document.createElement("span");
    code.className = "muted";
    code.textContent = ` (${problem.code})`;
    item.append(problem.message, code);
    list.append(item);
  }
  box.append(heading, list);
}

function showRequestError(box, message) {
  box.replaceChildren();
  box.classList.remove("no-problems");
  box.classList.add("problems");
  const text = document.createElement("p");
  text.className = "code-check-error";
  text.textContent = message;
  box.append(text);
}

async function requestCheck(url, form, code) {
  const body = new FormData();
  body.append("code", code);
  body.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
  let response;
  try {
    response = await fetch(url, { method: "POST", body, credentials: "same-origin" });
  } catch {
    throw new Error("The server could not be reached; check the connection and try again.");
  }
  const isJson = (response.headers.get("content-type") || "").includes("application/json");
  if (!isJson) throw new Error("Your session may have ended: reload the page and sign in again.");
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || `The server answered ${response.status}.`);
  return data;
}

function wireValidate(button, form, view, box) {
  button.hidden = false;
  button.addEventListener("click", async () => {
    button.disabled = true;
    button.textContent = "Validating…";
    try {
      const data = await requestCheck(button.dataset.validateUrl, form, view.state.doc.toString());
      const doc = view.state.doc;
      view.dispatch(setDiagnostics(view.state, data.problems.map((p) => toDiagnostic(doc, p))));
      showProblems(box, view, data.problems);
    } catch (error) {
      showRequestError(box, `Could not validate the code. ${error.message}`);
    } finally {
      button.disabled = false;
      button.textContent = "Validate";
    }
  });
}

// Colour a served listing (templates/strategies/_code.html) line by line, with text nodes
// only: the code is the user's.
function highlightListing(listing) {
  const rows = [...listing.querySelectorAll("tr.code-line .line-text pre")];
  const code = rows.map((pre) => pre.textContent).join("\n");
  const lines = [document.createDocumentFragment()];
  highlightCode(code, pythonLanguage.parser.parse(code), listingHighlighter, (text, classes) => {
    const last = lines[lines.length - 1];
    if (!classes) {
      last.append(text);
      return;
    }
    const span = document.createElement("span");
    span.className = classes;
    span.textContent = text;
    last.append(span);
  }, () => lines.push(document.createDocumentFragment()));
  rows.forEach((pre, index) => pre.replaceChildren(lines[index] || ""));
  listing.dataset.highlighted = "true";
}

function start() {
  for (const listing of document.querySelectorAll(".code-listing[data-highlight]")) {
    highlightListing(listing);
  }
  const textarea = document.querySelector("textarea[data-code-editor]");
  if (!textarea) return;
  const host = textarea.closest(".code-editor-host");
  const form = textarea.form;
  const view = new EditorView({
    parent: host,
    state: EditorState.create({
      doc: textarea.value, extensions: extensions(textarea, host.dataset.cspNonce || ""),
    }),
  });
  textarea.hidden = true;
  // A hidden field cannot take the browser's "fill this in" focus; the server checks instead.
  textarea.required = false;
  form.addEventListener("submit", () => { textarea.value = view.state.doc.toString(); });
  document.getElementById("code-label").addEventListener("click", () => view.focus());
  document.getElementById("editor-hint").hidden = false;

  // Problems of a failed save: inline in the editor too, with links that move the cursor.
  const box = document.getElementById("code-check");
  const saved = JSON.parse(document.getElementById("code-problems").textContent);
  if (saved.length) {
    const doc = view.state.doc;
    view.dispatch(setDiagnostics(view.state, saved.map((p) => toDiagnostic(doc, p))));
    showProblems(box, view, saved);
  }
  wireValidate(document.getElementById("validate-button"), form, view, box);
  host.dataset.editorReady = "true";
}

start();
