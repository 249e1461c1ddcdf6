"""The strategy pages: owner, another trader, a viewer and anonymous."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from django.test import Client

from strategies.models import Strategy, StrategyVersion
from tests.factories import SMA_CROSS_CODE, StrategyFactory, StrategyVersionFactory

pytestmark = pytest.mark.django_db

CHANGED_CODE = SMA_CROSS_CODE.replace("Param(10,", "Param(12,")
BAD_CODE = "import os\nfrom strategy import Strategy\n\nclass X(Strategy):\n    x = open\n"


def client_for(user) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


@pytest.fixture
def owner_web(owner) -> Client:
    return client_for(owner)


def form_data(**overrides) -> dict:
    return {"name": "SMA", "description": "", "code": SMA_CROSS_CODE, **overrides}


@pytest.mark.parametrize(
    "path",
    [
        "/strategies/",
        "/strategies/new/",
        "/strategies/1/",
        "/strategies/1/edit/",
        "/strategies/1/diff/",
    ],
)
def test_pages_redirect_anonymous_users_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_list_shows_mine_and_shared_but_not_others_private(owner, other_user, owner_web):
    StrategyFactory(owner=owner, name="Mine")
    StrategyFactory(owner=other_user, name="Shared one", is_shared=True)
    StrategyFactory(owner=other_user, name="Secret")

    html = owner_web.get("/strategies/").content.decode()

    assert "Mine" in html
    assert "Shared one" in html
    assert "Secret" not in html


def test_list_query_count_does_not_grow_with_strategies(
    owner, owner_web, django_assert_max_num_queries
):
    for n in range(5):
        StrategyFactory(owner=owner, name=f"S{n}")
    # session + user + the one strategies query (owner joined, version annotated)
    with django_assert_max_num_queries(4):
        owner_web.get("/strategies/")


def test_create_page_prefills_an_example(owner_web):
    response = owner_web.get("/strategies/new/?template=rsi_mean_reversion")
    assert response.status_code == 200
    html = response.content.decode()
    assert "class RsiMeanReversion(Strategy)" in html
    assert 'value="RSI mean reversion"' in html


def test_create_makes_version_one_and_redirects(owner, owner_web):
    response = owner_web.post("/strategies/new/", form_data(shared="on"))

    strategy = Strategy.objects.get(owner=owner)
    assert response.status_code == 302
    assert response["Location"] == f"/strategies/{strategy.pk}/"
    assert strategy.is_shared is True
    assert strategy.versions.get().number == 1


def test_create_shows_problems_next_to_numbered_code_and_stores_nothing(owner_web):
    response = owner_web.post("/strategies/new/", form_data(code=BAD_CODE))

    assert response.status_code == 200
    html = response.content.decode()
    assert "problems in the code" in html
    assert 'href="#L1"' in html  # the problem links to its line
    assert 'id="L1" class="code-line has-problem"' in html
    assert "os" in html
    assert not Strategy.objects.exists()


def test_create_shows_a_taken_name_as_a_field_error(owner, owner_web):
    StrategyFactory(owner=owner, name="SMA")
    response = owner_web.post("/strategies/new/", form_data())
    assert "You already have a strategy with this name." in response.content.decode()
    assert Strategy.objects.count() == 1


def test_a_viewer_cannot_open_the_create_page(viewer):
    assert client_for(viewer).get("/strategies/new/").status_code == 403


def test_the_form_carries_a_csrf_token(owner_web):
    assert "csrfmiddlewaretoken" in owner_web.get("/strategies/new/").content.decode()


def test_detail_shows_code_parameters_and_versions(owner, owner_web):
    strategy = StrategyFactory(owner=owner, name="Trend")
    StrategyVersionFactory(strategy=strategy, code=CHANGED_CODE)

    html = owner_web.get(f"/strategies/{strategy.pk}/").content.decode()

    assert "Trend" in html
    assert "Fast SMA period (bars)" in html
    assert f"/strategies/{strategy.pk}/versions/1/" in html
    assert f"/strategies/{strategy.pk}/versions/2/diff/" in html
    assert f"/strategies/{strategy.pk}/edit/" in html
    # The listing, coloured by the editor's module (rows stay as served without JS).
    assert '<table class="code-listing" data-highlight>' in html
    assert "{#" not in html  # no template comment leaks into the page
    assert '<script type="module" src="/static/js/strategy-editor.js">' in html


def test_another_users_private_strategy_pages_are_404(other_user, owner_web):
    strategy = StrategyFactory(owner=other_user)
    for suffix in ("", "edit/", "delete/", "versions/1/", "versions/1/diff/", "diff/?from=1&to=1"):
        assert owner_web.get(f"/strategies/{strategy.pk}/{suffix}").status_code == 404, suffix
    assert owner_web.post(f"/strategies/{strategy.pk}/clone/").status_code == 404


def test_a_shared_strategy_is_read_only_with_a_clone_button(owner, other_user, owner_web):
    strategy = StrategyFactory(owner=other_user, is_shared=True)

    html = owner_web.get(f"/strategies/{strategy.pk}/").content.decode()

    assert f"/strategies/{strategy.pk}/clone/" in html
    assert f"/strategies/{strategy.pk}/edit/" not in html
    assert owner_web.get(f"/strategies/{strategy.pk}/edit/").status_code == 403
    assert owner_web.post(f"/strategies/{strategy.pk}/delete/").status_code == 403


def test_clone_button_copies_into_my_strategies(owner, other_user, owner_web):
    source = StrategyFactory(owner=other_user, is_shared=True, name="Theirs")

    response = owner_web.post(f"/strategies/{source.pk}/clone/")

    clone = Strategy.objects.get(owner=owner)
    assert response["Location"] == f"/strategies/{clone.pk}/"
    assert clone.name == "Theirs"
    page = owner_web.get(response["Location"]).content.decode()
    assert "Cloned “Theirs” into your own private strategy “Theirs”." in page
    assert f"/strategies/{clone.pk}/edit/" in page  # the copy is editable


def test_edit_with_changed_code_saves_a_new_version(owner, owner_web):
    strategy = StrategyFactory(owner=owner, name="SMA")

    response = owner_web.post(f"/strategies/{strategy.pk}/edit/", form_data(code=CHANGED_CODE))

    assert response.status_code == 302
    assert strategy.versions.count() == 2
    follow = owner_web.get(response["Location"]).content.decode()
    assert "Saved as version 2." in follow


def test_edit_with_crlf_line_endings_of_the_same_code_keeps_the_version(owner, owner_web):
    strategy = StrategyFactory(owner=owner, name="SMA")
    code = SMA_CROSS_CODE.replace("\n", "\r\n")
    owner_web.post(f"/strategies/{strategy.pk}/edit/", form_data(code=code, description="x"))
    assert strategy.versions.count() == 1


def test_edit_with_bad_code_shows_problems(owner, owner_web):
    strategy = StrategyFactory(owner=owner, name="SMA")
    response = owner_web.post(f"/strategies/{strategy.pk}/edit/", form_data(code=BAD_CODE))
    assert response.status_code == 200
    assert "has-problem" in response.content.decode()
    assert strategy.versions.count() == 1


def diff_rows(html: str) -> list[tuple[str, str, str, str]]:
    """(kind, old line number, new line number, text) of each numbered row of the diff table."""
    row = re.compile(
        r'<tr class="diff-(\w+)">\s*<td class="line-number">(\d*)</td>'
        r'<td class="line-number">(\d*)</td><td class="diff-text"><pre>(.*?)</pre>'
    )
    return [(kind, old, new, unescape(text)) for kind, old, new, text in row.findall(html)]


def test_version_and_diff_pages(owner, owner_web):
    strategy = StrategyFactory(owner=owner)
    StrategyVersionFactory(strategy=strategy, code=CHANGED_CODE)
    fast_line = next(line for line in SMA_CROSS_CODE.splitlines() if "fast = Param(" in line)
    changed_line = SMA_CROSS_CODE.splitlines().index(fast_line) + 1

    version = owner_web.get(f"/strategies/{strategy.pk}/versions/1/").content.decode()
    diff = owner_web.get(f"/strategies/{strategy.pk}/versions/2/diff/").content.decode()

    assert "Param(10," in version
    assert (
        f'href="/backtests/new/?strategy={strategy.pk}&amp;version=1">Run backtest on v1' in version
    )
    assert '<tr id="L1" class="code-line">' in version  # #L<n> links land on a line
    rows = diff_rows(diff)
    changed = [r for r in rows if r[0] in ("added", "removed")]
    assert changed == [
        ("removed", str(changed_line), "", "-" + fast_line),
        ("added", "", str(changed_line), "+" + fast_line.replace("(10,", "(12,")),
    ]
    assert "+1 added" in diff and "\N{MINUS SIGN}1 removed" in diff


def test_compare_shows_the_diff_between_any_two_versions(owner, owner_web):
    strategy = StrategyFactory(owner=owner)
    StrategyVersionFactory(strategy=strategy, code=CHANGED_CODE)
    StrategyVersionFactory(strategy=strategy, code=CHANGED_CODE.replace("Param(12,", "Param(14,"))

    html = owner_web.get(f"/strategies/{strategy.pk}/diff/?from=1&to=3").content.decode()

    assert "changes from v1 to v3" in html
    texts = [(kind, text) for kind, _, _, text in diff_rows(html) if kind != "context"]
    assert any(k == "removed" and "fast = Param(10," in t for k, t in texts)
    assert any(k == "added" and "fast = Param(14," in t for k, t in texts)
    assert not any("Param(12," in text for _, text in texts)  # v2 is skipped over
    assert '<option value="1" selected>v1</option>' in html
    assert '<option value="3" selected>v3</option>' in html


def test_compare_defaults_to_the_latest_change(owner, owner_web):
    strategy = StrategyFactory(owner=owner)
    StrategyVersionFactory(strategy=strategy, code=CHANGED_CODE)
    html = owner_web.get(f"/strategies/{strategy.pk}/diff/").content.decode()
    assert "changes from v1 to v2" in html


def test_compare_of_a_version_with_itself_says_identical(owner, owner_web):
    strategy = StrategyFactory(owner=owner)
    StrategyVersionFactory(strategy=strategy, code=CHANGED_CODE)
    html = owner_web.get(f"/strategies/{strategy.pk}/diff/?from=2&to=2").content.decode()
    assert "The two versions have identical code." in html


def test_compare_of_a_missing_version_is_404(owner, owner_web):
    strategy = StrategyFactory(owner=owner)
    assert owner_web.get(f"/strategies/{strategy.pk}/diff/?from=1&to=9").status_code == 404


def test_detail_offers_a_compare_form_once_there_are_two_versions(owner, owner_web):
    strategy = StrategyFactory(owner=owner)
    one = owner_web.get(f"/strategies/{strategy.pk}/").content.decode()
    StrategyVersionFactory(strategy=strategy, code=CHANGED_CODE)
    two = owner_web.get(f"/strategies/{strategy.pk}/").content.decode()

    assert 'class="compare-form"' not in one
    assert f'action="/strategies/{strategy.pk}/diff/" class="compare-form"' in two
    assert '<option value="1" selected>v1</option>' in two  # from: the previous version
    assert '<option value="2" selected>v2</option>' in two  # to: the latest
    assert f'href="/backtests/new/?strategy={strategy.pk}"' in two


def test_diff_of_version_one_asks_what_to_compare_with(owner, owner_web):
    strategy = StrategyFactory(owner=owner)
    response = owner_web.get(f"/strategies/{strategy.pk}/versions/1/diff/")
    assert response.status_code == 200
    assert "Pick a version to compare with." in response.content.decode()


def test_delete_archives_after_confirmation(owner, owner_web):
    strategy = StrategyFactory(owner=owner)

    assert owner_web.get(f"/strategies/{strategy.pk}/delete/").status_code == 200
    response = owner_web.post(f"/strategies/{strategy.pk}/delete/")

    assert response["Location"] == "/strategies/"
    strategy.refresh_from_db()
    assert strategy.is_archived
    assert owner_web.get(f"/strategies/{strategy.pk}/").status_code == 404


def test_pages_use_no_inline_scripts_or_styles(owner, owner_web):
    strategy = StrategyFactory(owner=owner)
    StrategyVersionFactory(strategy=strategy, code=CHANGED_CODE)
    pages = ("", "new/", f"{strategy.pk}/", f"{strategy.pk}/edit/", f"{strategy.pk}/diff/")
    for path in [f"/strategies/{page}" for page in pages] + [
        f"/strategies/{strategy.pk}/versions/1/"
    ]:
        html = owner_web.get(path).content.decode()
        assert "<script>" not in html
        assert "<style" not in html
        assert "style=" not in html


# --------------------------------------------------------------------------- list


def test_list_search_matches_name_or_description_case_insensitively(owner, owner_web):
    StrategyFactory(owner=owner, name="Breakout", description="Donchian channel")
    StrategyFactory(owner=owner, name="Mean reversion", description="RSI dips")
    StrategyFactory(owner=owner, name="Channel surfer", description="")

    html = owner_web.get("/strategies/?q=CHANNEL").content.decode()

    assert "Breakout" in html and "Channel surfer" in html
    assert "Mean reversion" not in html
    assert "2 strategies matching “CHANNEL”" in html
    assert 'value="CHANNEL"' in html  # the box keeps the search


def test_list_search_never_reveals_another_users_private_strategy(owner, other_user, owner_web):
    StrategyFactory(owner=other_user, name="Secret channel")
    html = owner_web.get("/strategies/?q=channel").content.decode()
    assert "Secret channel" not in html
    assert "No strategies match “channel”." in html


def test_list_paginates_25_a_page_keeping_the_search(owner, owner_web):
    for n in range(27):
        StrategyFactory(owner=owner, name=f"Trend {n:02d}")

    first = owner_web.get("/strategies/?q=trend").content.decode()
    last = owner_web.get("/strategies/?q=trend&page=2").content.decode()

    assert first.count('class="row-actions"') == 25
    assert "Trend 26" in first and "Trend 00" not in first  # newest first
    assert last.count('class="row-actions"') == 2
    assert "Trend 00" in last and "Trend 01" in last
    assert 'href="?q=trend&amp;page=2"' in first
    assert "page 2 of 2" in last


def test_list_rows_show_version_owner_and_actions(owner, other_user, owner_web):
    mine = StrategyFactory(owner=owner, name="Mine")
    StrategyVersionFactory(strategy=mine, code=CHANGED_CODE)
    StrategyFactory(owner=other_user, name="Theirs", is_shared=True)

    html = owner_web.get("/strategies/").content.decode()

    assert ">v2</td>" in html
    assert '<td data-label="Owner">other</td>' in html
    assert '<td data-label="Owner">you</td>' in html
    assert f'href="/backtests/new/?strategy={mine.pk}">Run backtest</a>' in html


def test_an_empty_list_points_to_the_templates(owner_web):
    html = owner_web.get("/strategies/").content.decode()
    assert "No strategies yet — start from a template." in html
    assert 'href="/strategies/new/">Pick a template</a>' in html


def test_user_text_is_escaped_on_the_list_and_detail(owner, owner_web):
    strategy = StrategyFactory(owner=owner, name="<b>x</b>", description="<img src=x onerror=1>")
    for path in ("/strategies/", f"/strategies/{strategy.pk}/", "/strategies/?q=<b>"):
        html = owner_web.get(path).content.decode()
        assert "<b>x</b>" not in html and "<img src=x" not in html, path
        assert "&lt;b&gt;x&lt;/b&gt;" in html, path


# --------------------------------------------------------------------------- editor


def test_create_page_offers_each_template_as_a_card(owner_web):
    html = owner_web.get("/strategies/new/?template=macd_trend").content.decode()
    assert html.count('<a class="template-card') == 6
    assert 'href="/strategies/new/?template=sma_crossover"' in html
    assert "the &quot;hello world&quot; of trend following" in html  # the one-line summary
    assert 'data-template="macd_trend" aria-current="true"' in html


def test_editor_pages_load_the_editor_over_the_textarea(owner, owner_web):
    strategy = StrategyFactory(owner=owner)
    for path in ("/strategies/new/", f"/strategies/{strategy.pk}/edit/"):
        html = owner_web.get(path).content.decode()
        assert '<script type="module" src="/static/js/strategy-editor.js">' in html
        assert 'name="code"' in html and "data-code-editor" in html
        assert 'data-validate-url="/strategies/validate.json"' in html


def test_editor_page_csp_admits_the_nonce_it_hands_to_the_editor(owner_web):
    response = owner_web.get("/strategies/new/")
    nonce = re.search(r'data-csp-nonce="([^"]+)"', response.content.decode())[1]
    csp = response["Content-Security-Policy"]
    assert f"style-src 'self' 'nonce-{nonce}';" in csp
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    # A new nonce per response: one seen once cannot be reused.
    again = owner_web.get("/strategies/new/")["Content-Security-Policy"]
    assert nonce not in again


def test_pages_without_the_editor_keep_the_csp_without_a_nonce(owner_web):
    csp = owner_web.get("/strategies/")["Content-Security-Policy"]
    assert "style-src 'self';" in csp and "nonce-" not in csp


def test_a_failed_save_hands_its_problems_to_the_editor(owner, owner_web):
    strategy = StrategyFactory(owner=owner)
    response = owner_web.post(f"/strategies/{strategy.pk}/edit/", form_data(code=BAD_CODE))
    html = response.content.decode()
    data = re.search(r'<script id="code-problems" type="application/json">(.*?)</script>', html)
    problems = json.loads(data[1])
    assert {"line": 1, "column": 1, "code": "forbidden_import"}.items() <= problems[0].items()


def test_validate_returns_each_problem_with_line_and_column_and_stores_nothing(owner, owner_web):
    before = (Strategy.objects.count(), StrategyVersion.objects.count())

    response = owner_web.post("/strategies/validate.json", {"code": BAD_CODE})

    assert response.status_code == 200
    data = response.json()
    assert data["ok"] is False
    forbidden = next(p for p in data["problems"] if p["code"] == "forbidden_import")
    assert (forbidden["line"], forbidden["column"]) == (1, 1)
    assert '"os" is not allowed' in forbidden["message"]
    assert all({"line", "column", "code", "message"} <= p.keys() for p in data["problems"])
    assert (Strategy.objects.count(), StrategyVersion.objects.count()) == before


def test_validate_of_clean_code_answers_ok_with_the_parameters(owner_web):
    data = owner_web.post("/strategies/validate.json", {"code": SMA_CROSS_CODE}).json()
    assert data["ok"] is True and data["problems"] == []
    assert [p["name"] for p in data["parameters"]] == ["fast", "slow"]
    assert not Strategy.objects.exists() and not StrategyVersion.objects.exists()


def test_validate_reports_a_syntax_error_at_its_line(owner_web):
    data = owner_web.post("/strategies/validate.json", {"code": SMA_CROSS_CODE + "\ndef (:\n"})
    problem = data.json()["problems"][0]
    assert problem["code"] == "syntax_error"
    assert problem["line"] == len(SMA_CROSS_CODE.splitlines()) + 2


def test_validate_refuses_oversized_code_with_a_message(owner_web):
    response = owner_web.post("/strategies/validate.json", {"code": "#" * 300_000})
    assert response.status_code == 400
    assert "at most" in response.json()["error"]


def test_validate_needs_a_signed_in_user_a_post_and_the_csrf_token(owner, client):
    anonymous = client.post("/strategies/validate.json", {"code": SMA_CROSS_CODE})
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    assert strict.post("/strategies/validate.json", {"code": SMA_CROSS_CODE}).status_code == 403
    assert client_for(owner).get("/strategies/validate.json").status_code == 405
