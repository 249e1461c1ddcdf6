"""Monitoring as code names only what the app really exports, and its offline checks pass.

Every metric an alert rule or a Grafana panel queries is looked up in real expositions: the
web's /metrics (after a request, so the per-view series exist) and the worker container's
exporter (deploy/docker/worker_metrics.py). A renamed metric in the code, or a typo in a
rule, fails here instead of leaving an alert that can never fire.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from django.test import Client
from prometheus_client import generate_latest

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy/monitoring"
ALERTS = MONITORING / "alerts.yml"
DASHBOARDS = sorted((MONITORING / "grafana/dashboards").glob("*.json"))
ALERTS_DOC = ROOT / "docs/alerts.md"
# Series Prometheus makes itself for every scrape target.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                "unless", "bool", "offset", "inf", "nan"}  # fmt: skip
SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
    "gauge": ("",),
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (no functions, labels or keywords)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values and strings
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # range and subquery durations
    expr = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", expr)  # offset durations
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![0-9.])[A-Za-z_:][A-Za-z0-9_:]*", expr):
        following = expr[match.end() :].lstrip()
        if following.startswith("(") or match.group().lower() in PROMQL_WORDS:
            continue
        names.add(match.group())
    return names


def exported_names(exposition: str) -> set[str]:
    """Every sample name the exposition has or declares (a labelled family without children yet
    still declares its TYPE, so its samples' names count as exported)."""
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split()[:4]
            base = family.removesuffix("_total") if kind == "counter" else family
            names |= {base + suffix for suffix in SAMPLE_SUFFIXES.get(kind, ("",))}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def alert_rules() -> Iterator[dict]:
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        yield from group["rules"]


def dashboard_queries() -> Iterator[tuple[str, str]]:
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                yield f"{path.name}: {panel['title']}", target["expr"]


def load_worker_exporter() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "worker_metrics", ROOT / "deploy/docker/worker_metrics.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def exported(tmp_path: Path) -> set[str]:
    client = Client()
    assert client.get("/live").status_code == 200  # the per-view request series now exist
    web = client.get("/metrics")
    assert web.status_code == 200
    worker = generate_latest(load_worker_exporter().worker_registry(str(tmp_path))).decode()
    return exported_names(web.content.decode()) | exported_names(worker) | PROMETHEUS_SERIES


def test_metric_names_are_read_from_promql_not_functions_labels_or_keywords() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, queue) (rate(a_bucket{view!~"x|y"}[5m])))'
        ' > 1e3 and on (queue) b_total offset 5m unless absent(up{job="w"}) or c == bool 2'
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "up", "c"}


def test_every_metric_an_alert_or_a_panel_queries_is_exported(exported: set[str]) -> None:
    queries = [(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()]
    queries += list(dashboard_queries())
    assert len(queries) > 30
    missing = {
        f"{where}: {name}"
        for where, expr in queries
        for name in metric_names(expr)
        if name not in exported
    }
    assert not missing, sorted(missing)


def test_the_exposition_has_the_series_the_alerts_lean_on(exported: set[str]) -> None:
    # The check above is only as good as the exposition it reads: these must be in it.
    assert {
        "django_http_responses_total_by_status_view_method_total",
        "django_http_requests_latency_seconds_by_view_method_bucket",
        "tradeplatform_queue_depth",
        "tradeplatform_backtest_queue_wait_seconds_bucket",
        "tradeplatform_dead_letters_total",
        "tradeplatform_disk_bytes",
        "tradeplatform_sandbox_isolation",
    } <= exported
    assert "tradeplatform_no_such_metric_total" not in exported


def test_every_alert_has_a_runbook_entry_in_docs_alerts_md() -> None:
    headings = {
        line.removeprefix("### ").strip()
        for line in ALERTS_DOC.read_text().splitlines()
        if line.startswith("### ")
    }
    for rule in alert_rules():
        assert rule["alert"] in headings, rule["alert"]
        assert rule["annotations"]["runbook_url"] == f"docs/alerts.md#{rule['alert'].lower()}"
        assert rule["labels"]["severity"] in ("warning", "critical")


def test_the_offline_deployment_checks_pass() -> None:
    done = subprocess.run(
        ["bash", str(ROOT / ".ci/check-deploy-containers")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "deploy containers: all checks passed" in done.stdout
    assert "Unit Testing:  alerts.test.yml\n  SUCCESS" in done.stdout
