"""The strategy pages: owner, another trader, a viewer and anonymous."""

from __future__ import annotations

import pytest
from django.test import Client

from strategies.models import Strategy
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
    "path", ["/strategies/", "/strategies/new/", "/strategies/1/", "/strategies/1/edit/"]
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


def test_another_users_private_strategy_pages_are_404(other_user, owner_web):
    strategy = StrategyFactory(owner=other_user)
    for suffix in ("", "edit/", "delete/", "versions/1/", "versions/1/diff/"):
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


def test_version_and_diff_pages(owner, owner_web):
    strategy = StrategyFactory(owner=owner)
    StrategyVersionFactory(strategy=strategy, code=CHANGED_CODE)

    version = owner_web.get(f"/strategies/{strategy.pk}/versions/1/").content.decode()
    diff = owner_web.get(f"/strategies/{strategy.pk}/versions/2/diff/").content.decode()

    assert "Param(10," in version
    assert '<span class="diff-removed">-    fast = Param(10,' in diff
    assert '<span class="diff-added">+    fast = Param(12,' in diff


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
    for path in ("/strategies/", "/strategies/new/", f"/strategies/{strategy.pk}/"):
        html = owner_web.get(path).content.decode()
        assert "<script>" not in html
        assert "<style" not in html
        assert "style=" not in html
