"""The container pieces that can be checked without Docker: the worker's seccomp profile,
the entrypoint's roles and the healthcheck's choice of probe.

The profile is installed with libseccomp (Debian's python3-seccomp, the binding the sandbox
itself uses) on a process that then runs the sandbox's own isolation probe, as an
unprivileged user like the image's uid 10001: this is the kernel enforcing the same rules
Docker would load, only without Docker.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "deploy/docker/seccomp-worker.json"
SYSTEM_PYTHON = "/usr/bin/python3"
NAMESPACE_CALLS = {"unshare", "mount", "umount2", "pivot_root", "chroot"}

# Run by Debian's python3 (which has the seccomp binding): load the profile, drop to "nobody"
# when we are root, then exec the probe. Unknown names on this architecture are skipped, as
# Docker's runtime does.
APPLY_PROFILE = """
import json, os, sys, seccomp
profile = json.load(open(sys.argv[1]))
rules = seccomp.SyscallFilter(defaction=seccomp.ERRNO(profile["defaultErrnoRet"]))
for group in profile["syscalls"]:
    for name in group["names"]:
        try:
            rules.add_rule(seccomp.ALLOW, name)
        except (RuntimeError, ValueError):
            pass
if os.geteuid() == 0:
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
rules.load()
os.execv(sys.argv[2], sys.argv[2:])
"""
PROBE = """
import sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from backtesting.sandbox.isolation import isolation_level
print(isolation_level())
"""


def profile() -> dict:
    return json.loads(PROFILE.read_text())


def isolation_under(profile_path: Path) -> str:
    done = subprocess.run(
        [SYSTEM_PYTHON, "-c", APPLY_PROFILE, str(profile_path), SYSTEM_PYTHON, "-c", PROBE,
         str(ROOT), sysconfig.get_paths()["purelib"]],
        capture_output=True, text=True, timeout=120, check=False, cwd="/",
        env={"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_worker_profile_denies_by_default_and_never_allows_kernel_attack_surface() -> None:
    loaded = profile()
    allowed = {name for group in loaded["syscalls"] for name in group["names"]}
    assert loaded["defaultAction"] == "SCMP_ACT_ERRNO"
    assert all(group["action"] == "SCMP_ACT_ALLOW" for group in loaded["syscalls"])
    assert NAMESPACE_CALLS | {"clone", "clone3"} <= allowed
    forbidden = {"kexec_load", "init_module", "finit_module", "bpf", "perf_event_open", "ptrace",
                 "keyctl", "add_key", "setns", "open_by_handle_at", "io_uring_setup", "reboot",
                 "userfaultfd", "process_vm_readv", "mknod", "swapon", "settimeofday"}  # fmt: skip
    assert not forbidden & allowed


def test_worker_profile_lets_bubblewrap_jail_an_unprivileged_user() -> None:
    assert isolation_under(PROFILE) == "bubblewrap+seccomp"


def test_without_its_namespace_rules_the_sandbox_falls_back_to_rlimits(tmp_path: Path) -> None:
    # The control: the same profile minus unshare/mount/pivot_root/... is what Docker's
    # default gives a process without CAP_SYS_ADMIN, and bubblewrap cannot work under it.
    stripped = profile()
    for group in stripped["syscalls"]:
        group["names"] = [name for name in group["names"] if name not in NAMESPACE_CALLS]
    path = tmp_path / "no-namespaces.json"
    path.write_text(json.dumps(stripped))
    assert isolation_under(path) == "rlimits"


@pytest.mark.parametrize(
    ("role", "expected"),
    [("web", "http://127.0.0.1:8000/live"), ("worker", "http://127.0.0.1:9808/metrics"),
     ("beat", None), ("migrate", None)],
)  # fmt: skip
def test_healthcheck_probes_what_the_role_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, role: str, expected: str | None
) -> None:
    sys.path.insert(0, str(ROOT / "deploy/docker"))
    try:
        import healthcheck
    finally:
        sys.path.remove(str(ROOT / "deploy/docker"))
    role_file = tmp_path / "role"
    role_file.write_text(role + "\n")
    monkeypatch.setattr(healthcheck, "ROLE_FILE", role_file)
    monkeypatch.setenv("GUNICORN_BIND", "0.0.0.0:8000")
    monkeypatch.setenv("ALLOWED_HOSTS", ".example.com,web")
    assert healthcheck.probe_url() == expected
    assert healthcheck.probe_host() == "example.com"


def test_entrypoint_runs_any_command_and_records_its_role(tmp_path: Path) -> None:
    role_file = tmp_path / "role"
    done = subprocess.run(
        ["sh", str(ROOT / "deploy/docker/entrypoint.sh"), "echo", "hello"],
        capture_output=True, text=True, check=False, timeout=30,
        env={**os.environ, "HEALTHCHECK_ROLE_FILE": str(role_file)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "hello"
    assert role_file.read_text().strip() == "echo"


def test_every_role_finds_its_metrics_directory_and_keeps_what_is_in_it(tmp_path: Path) -> None:
    """beat, migrate and manage import the metrics code too; it fails without the directory."""
    metrics = tmp_path / "prometheus"
    for role in ("sh", "manage"):  # any command (`sh`), then a Django command
        args = ["check"] if role == "manage" else ["-c", "ls -d $PROMETHEUS_MULTIPROC_DIR"]
        done = subprocess.run(
            ["sh", str(ROOT / "deploy/docker/entrypoint.sh"), role, *args],
            capture_output=True, text=True, check=False, timeout=60,
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics),
                 "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                 "HEALTHCHECK_ROLE_FILE": str(tmp_path / "role")},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert metrics.is_dir()
        (metrics / "counter_1.db").write_bytes(b"web's samples")
    assert (metrics / "counter_1.db").read_bytes() == b"web's samples"  # never emptied here


def env_example(name: str) -> dict[str, str]:
    lines = (ROOT / f"deploy/docker/{name}.env.example").read_text().splitlines()
    pairs = [line.partition("=") for line in lines if line and not line.startswith("#")]
    return {key: value for key, _, value in pairs}


def compose() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_app_env_names_only_variables_the_app_reads() -> None:
    readers = [ROOT / "deploy/gunicorn.conf.py", ROOT / "deploy/docker/entrypoint.sh"]
    readers += sorted((ROOT / "tradeplatform").rglob("*.py"))
    source = "\n".join(path.read_text() for path in readers)
    unknown = [
        key
        for key in env_example("app")
        if not re.search(rf"[\"']{key}[\"']|\$\{{?{key}\b", source)
    ]
    assert not unknown, unknown


def test_compose_examples_hold_placeholders_never_secrets() -> None:
    app, postgres = env_example("app"), env_example("postgres")
    assert app["SECRET_KEY"] == "CHANGE_ME"
    assert env_example("grafana")["GF_SECURITY_ADMIN_PASSWORD"] == "CHANGE_ME"
    password = postgres["POSTGRES_PASSWORD"]
    assert password == postgres["DB_PASSWORD"] == "CHANGE_ME_DB_PASSWORD"
    assert f":{password}@pgbouncer:" in app["DATABASE_URL"]
    assert f":{password}@postgres:" in app["MIGRATE_DATABASE_URL"]


def test_compose_lets_prometheus_scrape_web_and_jails_the_worker() -> None:
    import ipaddress

    import yaml

    services = compose()["services"]
    app = env_example("app")
    prometheus_ip = services["prometheus"]["networks"]["default"]["ipv4_address"]
    allowed = [ipaddress.ip_network(net) for net in app["METRICS_ALLOWED_NETWORKS"].split(",")]
    assert any(ipaddress.ip_address(prometheus_ip) in net for net in allowed)
    scrape = yaml.safe_load((ROOT / "deploy/monitoring/prometheus.yml").read_text())
    web_job = next(j for j in scrape["scrape_configs"] if j["job_name"] == "tradeplatform-web")
    web_host = web_job["static_configs"][0]["targets"][0].split(":")[0]
    assert web_host in app["ALLOWED_HOSTS"].split(",")
    for name in ("worker", "web"):
        options = services[name]["security_opt"]
        assert "seccomp=deploy/docker/seccomp-worker.json" in options
        assert services[name]["cap_drop"] == ["ALL"] and "cap_add" not in services[name]
    assert services["worker"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
