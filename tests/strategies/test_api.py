"""The strategies API: owner, another trader, a viewer, an operator and anonymous."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.access import mark_otp_verified
from strategies.library import example_list
from strategies.models import Strategy, StrategyVersion
from tests.factories import SMA_CROSS_CODE, StrategyFactory, StrategyVersionFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/strategies/"
BAD_CODE = "import os\n\nclass X:\n    pass\n"
CHANGED_CODE = SMA_CROSS_CODE.replace("Param(10,", "Param(12,")


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def detail_url(strategy: Strategy) -> str:
    return f"{LIST_URL}{strategy.pk}/"


def error(response) -> dict:
    return response.json()["error"]


# --------------------------------------------------------------------------- list


def test_list_shows_my_strategies_and_shared_ones_but_not_other_private_ones(
    owner, other_user, owner_client
):
    mine = StrategyFactory(owner=owner, name="Mine")
    shared = StrategyFactory(owner=other_user, name="Shared", is_shared=True)
    StrategyFactory(owner=other_user, name="Private")

    response = owner_client.get(LIST_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    by_id = {row["id"]: row for row in body["results"]}
    assert set(by_id) == {mine.pk, shared.pk}
    assert by_id[mine.pk]["can_edit"] is True
    assert by_id[shared.pk]["can_edit"] is False
    assert by_id[shared.pk]["owner"] == "other"
    assert by_id[mine.pk]["latest_version"] == 1


def test_list_hides_archived_strategies(owner, owner_client):
    StrategyFactory(owner=owner, archived_at="2026-01-01T00:00:00Z")
    assert owner_client.get(LIST_URL).json()["count"] == 0


def test_list_takes_a_fixed_number_of_queries(
    owner, other_user, owner_client, django_assert_num_queries
):
    for n in range(3):
        StrategyFactory(owner=owner, name=f"Mine {n}")
        StrategyVersionFactory(strategy=StrategyFactory(owner=other_user, is_shared=True))
    # One COUNT for the paginator and one SELECT with the owner joined and the version annotated.
    with django_assert_num_queries(2):
        response = owner_client.get(LIST_URL)
    assert response.json()["count"] == 6


def test_list_requires_authentication(api_client):
    response = api_client.get(LIST_URL)
    assert response.status_code == 401
    assert error(response)["code"] == "not_authenticated"


def test_a_viewer_can_list_shared_strategies(viewer, other_user):
    StrategyFactory(owner=other_user, is_shared=True)
    response = client_for(viewer).get(LIST_URL)
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_a_verified_operator_sees_every_strategy(operator, owner, other_user):
    StrategyFactory(owner=owner)
    StrategyFactory(owner=other_user)
    mark_otp_verified(operator)
    assert client_for(operator).get(LIST_URL).json()["count"] == 2


# --------------------------------------------------------------------------- create


def test_create_stores_the_strategy_and_version_one(owner, owner_client):
    payload = {"name": "SMA", "description": "d", "code": SMA_CROSS_CODE, "shared": True}

    response = owner_client.post(LIST_URL, payload, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "SMA"
    assert body["shared"] is True
    assert body["version"]["number"] == 1
    assert body["version"]["class_name"] == "SmaCross"
    assert [p["name"] for p in body["version"]["parameters"]] == ["fast", "slow"]
    assert body["version"]["parameters"][0]["default"] == 10
    strategy = Strategy.objects.get(pk=body["id"])
    assert strategy.owner == owner
    assert strategy.versions.get().code == SMA_CROSS_CODE


def test_create_with_invalid_code_answers_400_with_every_problem_and_stores_nothing(owner_client):
    response = owner_client.post(LIST_URL, {"name": "Bad", "code": BAD_CODE}, format="json")

    assert response.status_code == 400
    body = error(response)
    assert body["code"] == "invalid_strategy_code"
    problems = body["details"]["problems"]
    assert len(problems) >= 2  # the forbidden import and the missing Strategy subclass
    assert {"line", "column", "code", "message"} <= set(problems[0])
    assert any(p["line"] == 1 and p["code"] == "forbidden_import" for p in problems)
    assert not Strategy.objects.exists()


def test_create_with_missing_fields_answers_400_with_field_errors(owner_client):
    response = owner_client.post(LIST_URL, {"description": "no name"}, format="json")
    assert response.status_code == 400
    details = error(response)["details"]
    assert set(details) == {"name", "code"}


def test_create_rejects_a_name_i_already_use(owner, owner_client):
    StrategyFactory(owner=owner, name="Taken")
    response = owner_client.post(LIST_URL, {"name": "Taken", "code": SMA_CROSS_CODE}, format="json")
    assert response.status_code == 400
    assert "name" in error(response)["details"]


def test_a_viewer_cannot_create(viewer):
    response = client_for(viewer).post(
        LIST_URL, {"name": "x", "code": SMA_CROSS_CODE}, format="json"
    )
    assert response.status_code == 403
    assert not Strategy.objects.exists()


def test_create_beyond_the_strategy_quota_is_refused(owner, owner_client, settings):
    settings.QUOTAS = {**settings.QUOTAS, "trader": {**settings.QUOTAS["trader"], "strategies": 1}}
    StrategyFactory(owner=owner)

    response = owner_client.post(LIST_URL, {"name": "Two", "code": SMA_CROSS_CODE}, format="json")

    assert response.status_code == 403
    assert error(response)["code"] == "quota_exceeded"
    assert Strategy.objects.count() == 1


def test_create_requires_authentication(api_client):
    response = api_client.post(LIST_URL, {"name": "x", "code": SMA_CROSS_CODE}, format="json")
    assert response.status_code == 401


# --------------------------------------------------------------------------- detail


def test_detail_includes_the_latest_code_and_parameters(owner, owner_client):
    strategy = StrategyFactory(owner=owner)
    StrategyVersionFactory(strategy=strategy, code=CHANGED_CODE)

    body = owner_client.get(detail_url(strategy)).json()

    assert body["latest_version"] == 2
    assert body["version"]["number"] == 2
    assert body["version"]["code"] == CHANGED_CODE


def test_another_users_private_strategy_is_404(other_user, owner_client):
    strategy = StrategyFactory(owner=other_user)
    for method in ("get", "patch", "delete"):
        response = getattr(owner_client, method)(detail_url(strategy), {}, format="json")
        assert response.status_code == 404, method
    assert owner_client.get(f"{detail_url(strategy)}versions/").status_code == 404
    assert owner_client.post(f"{detail_url(strategy)}clone/").status_code == 404


def test_detail_requires_authentication(api_client, owner):
    strategy = StrategyFactory(owner=owner)
    assert api_client.get(detail_url(strategy)).status_code == 401


def test_a_shared_strategy_is_readable_but_not_writable_by_others(other_user, owner_client):
    strategy = StrategyFactory(owner=other_user, is_shared=True)

    assert owner_client.get(detail_url(strategy)).status_code == 200
    patch = owner_client.patch(detail_url(strategy), {"name": "Hijack"}, format="json")
    delete = owner_client.delete(detail_url(strategy))

    assert patch.status_code == 403
    assert delete.status_code == 403
    strategy.refresh_from_db()
    assert strategy.name != "Hijack"
    assert strategy.archived_at is None


# --------------------------------------------------------------------------- update


def test_patch_with_changed_code_makes_a_new_version(owner, owner_client):
    strategy = StrategyFactory(owner=owner)

    response = owner_client.patch(detail_url(strategy), {"code": CHANGED_CODE}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["version_created"] is True
    assert body["version"]["number"] == 2
    assert list(strategy.versions.values_list("number", flat=True).order_by("number")) == [1, 2]
    assert strategy.versions.get(number=1).code == SMA_CROSS_CODE


def test_patch_with_the_same_code_makes_no_new_version(owner, owner_client):
    strategy = StrategyFactory(owner=owner)
    payload = {"code": SMA_CROSS_CODE.replace("\n", "\r\n"), "description": "new"}

    body = owner_client.patch(detail_url(strategy), payload, format="json").json()

    assert body["version_created"] is False
    assert body["description"] == "new"
    assert strategy.versions.count() == 1


def test_patch_with_invalid_code_stores_nothing(owner, owner_client):
    strategy = StrategyFactory(owner=owner, name="Keep")
    payload = {"name": "Renamed", "code": BAD_CODE}

    response = owner_client.patch(detail_url(strategy), payload, format="json")

    assert response.status_code == 400
    assert error(response)["details"]["problems"]
    strategy.refresh_from_db()
    assert strategy.name == "Keep"
    assert strategy.versions.count() == 1


def test_patch_with_a_bad_field_answers_400_with_field_errors(owner, owner_client):
    strategy = StrategyFactory(owner=owner)
    response = owner_client.patch(detail_url(strategy), {"shared": "maybe"}, format="json")
    assert response.status_code == 400
    assert "shared" in error(response)["details"]


def test_a_viewer_cannot_patch_even_a_shared_strategy(viewer, other_user):
    strategy = StrategyFactory(owner=other_user, is_shared=True)
    response = client_for(viewer).patch(detail_url(strategy), {"name": "x"}, format="json")
    assert response.status_code == 403


def test_a_verified_operator_can_edit_anyones_strategy(operator, other_user):
    strategy = StrategyFactory(owner=other_user)
    mark_otp_verified(operator)

    response = client_for(operator).patch(
        detail_url(strategy), {"code": CHANGED_CODE}, format="json"
    )

    assert response.status_code == 200
    assert strategy.versions.get(number=2).author == operator


# --------------------------------------------------------------------------- delete


def test_delete_archives_the_strategy_and_keeps_its_versions(owner, owner_client):
    strategy = StrategyFactory(owner=owner)

    response = owner_client.delete(detail_url(strategy))

    assert response.status_code == 204
    strategy.refresh_from_db()
    assert strategy.archived_at is not None
    assert strategy.versions.count() == 1
    assert owner_client.get(detail_url(strategy)).status_code == 404


# --------------------------------------------------------------------------- versions


def test_versions_are_listed_newest_first_without_code(owner, owner_client):
    strategy = StrategyFactory(owner=owner)
    StrategyVersionFactory(strategy=strategy, code=CHANGED_CODE)

    body = owner_client.get(f"{detail_url(strategy)}versions/").json()

    assert [row["number"] for row in body["results"]] == [2, 1]
    assert "code" not in body["results"][0]
    assert body["results"][0]["author"] == "owner"


def test_a_version_can_be_read_with_its_code(owner, owner_client):
    strategy = StrategyFactory(owner=owner)
    body = owner_client.get(f"{detail_url(strategy)}versions/1/").json()
    assert body["code"] == SMA_CROSS_CODE
    assert len(body["code_sha256"]) == 64


def test_a_missing_version_is_404(owner, owner_client):
    strategy = StrategyFactory(owner=owner)
    assert owner_client.get(f"{detail_url(strategy)}versions/9/").status_code == 404


def test_diff_compares_with_the_previous_version_by_default(owner, owner_client):
    strategy = StrategyFactory(owner=owner)
    StrategyVersionFactory(strategy=strategy, code=CHANGED_CODE)

    body = owner_client.get(f"{detail_url(strategy)}versions/2/diff/").json()

    assert body["from_version"] == 1
    assert body["to_version"] == 2
    assert body["diff"].startswith("--- v1\n+++ v2\n")
    assert "-    fast = Param(10," in body["diff"]
    assert "+    fast = Param(12," in body["diff"]


def test_diff_against_a_named_version(owner, owner_client):
    strategy = StrategyFactory(owner=owner)
    StrategyVersionFactory(strategy=strategy, code=CHANGED_CODE)
    body = owner_client.get(f"{detail_url(strategy)}versions/1/diff/?against=2").json()
    assert (body["from_version"], body["to_version"]) == (2, 1)


def test_diff_with_bad_against_answers_400_or_404(owner, owner_client):
    strategy = StrategyFactory(owner=owner)
    base = f"{detail_url(strategy)}versions/1/diff/"
    assert "against" in error(owner_client.get(f"{base}?against=zero"))["details"]
    assert "against" in error(owner_client.get(base))["details"]  # version 1 has no previous
    assert owner_client.get(f"{base}?against=5").status_code == 404


# --------------------------------------------------------------------------- validate


def test_validate_returns_the_parameters_and_stores_nothing(owner_client):
    response = owner_client.post(f"{LIST_URL}validate/", {"code": SMA_CROSS_CODE}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["class_name"] == "SmaCross"
    assert body["parameters"][1] == {
        "name": "slow",
        "type": "int",
        "default": 20,
        "min": 5,
        "max": 400,
        "step": 1,
        "choices": None,
        "description": "Slow SMA period (bars)",
    }
    assert not Strategy.objects.exists()


def test_validate_answers_400_with_problems_for_bad_code(owner_client):
    response = owner_client.post(f"{LIST_URL}validate/", {"code": BAD_CODE}, format="json")
    assert response.status_code == 400
    problems = error(response)["details"]["problems"]
    assert problems[0]["line"] == 1
    assert problems[0]["column"] >= 1
    assert problems[0]["message"]


def test_validate_needs_code(owner_client, api_client):
    response = owner_client.post(f"{LIST_URL}validate/", {}, format="json")
    assert "code" in error(response)["details"]
    assert api_client.post(f"{LIST_URL}validate/", {"code": "x"}, format="json").status_code == 401


# --------------------------------------------------------------------------- clone


def test_clone_copies_a_shared_strategy_into_my_own(owner, other_user, owner_client):
    source = StrategyFactory(owner=other_user, name="Trend", is_shared=True)
    StrategyVersionFactory(strategy=source, code=CHANGED_CODE)

    response = owner_client.post(f"{detail_url(source)}clone/", {}, format="json")

    assert response.status_code == 201, response.json()
    clone = Strategy.objects.get(pk=response.json()["id"])
    assert clone.owner == owner
    assert clone.name == "Trend"
    assert clone.is_shared is False
    assert clone.cloned_from == source.versions.get(number=2)
    assert clone.versions.get().code == CHANGED_CODE
    assert response.json()["cloned_from"] == source.pk


def test_cloning_my_own_strategy_picks_a_free_name(owner, owner_client):
    source = StrategyFactory(owner=owner, name="Trend")
    body = owner_client.post(f"{detail_url(source)}clone/", {}, format="json").json()
    assert body["name"] == "Trend (copy)"


def test_a_viewer_cannot_clone(viewer, other_user):
    source = StrategyFactory(owner=other_user, is_shared=True)
    assert client_for(viewer).post(f"{detail_url(source)}clone/").status_code == 403


# --------------------------------------------------------------------------- templates


def test_templates_lists_the_example_library(owner_client):
    body = owner_client.get(f"{LIST_URL}templates/").json()
    assert [row["slug"] for row in body] == [example.slug for example in example_list()]
    assert len(body) >= 6
    assert all(row["code"] and row["name"] and row["title"] and row["parameters"] for row in body)


def test_templates_require_authentication(api_client):
    assert api_client.get(f"{LIST_URL}templates/").status_code == 401


def test_versions_are_untouched_by_api_updates(owner, owner_client):
    strategy = StrategyFactory(owner=owner)
    first = StrategyVersion.objects.get(strategy=strategy)
    owner_client.patch(detail_url(strategy), {"code": CHANGED_CODE, "name": "n"}, format="json")
    assert StrategyVersion.objects.get(pk=first.pk).code == first.code


def test_int_parameter_bounds_stay_integers_in_json(owner_client):
    response = owner_client.post(
        "/api/v1/strategies/validate/", {"code": SMA_CROSS_CODE}, format="json"
    )
    assert response.status_code == 200
    fast = next(p for p in response.json()["parameters"] if p["name"] == "fast")
    assert fast["type"] == "int"
    assert isinstance(fast["min"], int) and isinstance(fast["max"], int)
