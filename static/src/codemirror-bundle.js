// The CodeMirror 6 pieces the strategy editor uses, bundled by esbuild at `make install`
// into static/vendor/codemirror/codemirror.mjs (git-ignored). The browser cannot resolve
// bare npm specifiers without an import map, and an inline import map would break our CSP,
// so the modules are bundled into one file instead. Our editor code lives in
// static/js/strategy-editor.js and imports from the bundle.
export { EditorState, Compartment } from "@codemirror/state";
export {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  drawSelection, highlightSpecialChars, rectangularSelection, dropCursor,
} from "@codemirror/view";
export { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
export {
  bracketMatching, foldGutter, foldKeymap, indentOnInput, indentUnit, syntaxHighlighting,
  defaultHighlightStyle, HighlightStyle,
} from "@codemirror/language";
// The highlight tags come with @codemirror/language (its dependency, pinned by the lock):
// the editor's own highlight style colours them with the page's light/dark design tokens.
export { tags, tagHighlighter, highlightCode } from "@lezer/highlight";
export { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
export { searchKeymap, highlightSelectionMatches } from "@codemirror/search";
export { linter, lintGutter, lintKeymap, setDiagnostics, forceLinting } from "@codemirror/lint";
export { python, pythonLanguage } from "@codemirror/lang-python";
