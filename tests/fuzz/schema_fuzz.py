"""Schema fuzz of the live API: schemathesis' CLI against a real gunicorn, from the schema
the server itself serves at /api/schema/.

One run per caller: a trader with a JWT (plus the seeded objects, so paths reach real
rows) and an anonymous client. Every phase runs (the schema's examples, coverage of
boundaries and wrong types, random fuzzing, and stateful sequences along the links
schemathesis infers: create -> read -> update -> delete). The checks below must all hold.

`tests/fuzz/test_schema_fuzz.py` runs it bounded in the suite; `make fuzz` runs it longer.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# Every check that compares a response with the schema or with HTTP's rules. Two of
# schemathesis' checks are left out, each for a reason the schema cannot change:
# - positive_data_acceptance wants every schema-valid body accepted, but business rules
#   no JSON Schema states refuse some (strategy code that does not compile, a weak
#   password, a webhook URL that resolves to a private address, a duplicate name);
# - negative_data_rejection wants every schema-invalid value refused, but DRF's fields
#   coerce by design (`0` is a boolean `false`, `?page=` is the first page, an empty
#   filter is no filter). docs/testing.md lists both.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
)
DEFAULT_SEED = 16  # the suite's run is reproducible; `make fuzz` may pass FUZZ_SEED


@dataclass(frozen=True)
class SeededIds:
    """Rows the authenticated run's path parameters point at (templated path -> value)."""

    backtest: int
    webhook: int
    symbol: str


@dataclass(frozen=True)
class FuzzOutcome:
    caller: str
    returncode: int
    cases: int
    failures: int
    seconds: float
    output: str

    def summary(self) -> str:
        return (
            f"schema fuzz ({self.caller}): {self.cases} generated cases, "
            f"{self.failures} failures, {self.seconds:.0f} s"
        )


def fuzz_schema_fetch(base_url: str, destination: Path) -> Path:
    """The schema the server serves, made strict: a response object may carry no field its
    schema does not name (request bodies stay as served, so extra input is still tried)."""
    with urllib.request.urlopen(f"{base_url}/api/schema/?format=json", timeout=60) as response:
        schema = json.loads(response.read())
    for name, component in schema["components"]["schemas"].items():
        if "properties" in component and not name.endswith("Request"):
            component.setdefault("additionalProperties", False)
    destination.write_text(json.dumps(schema))
    return destination


def fuzz_config_write(destination: Path, *, seeded: SeededIds | None) -> Path:
    """schemathesis.toml for one run: the checks and, for the trader, the token and the
    seeded rows for templated paths (ids elsewhere stay random: 404s)."""
    lines = []
    if seeded is not None:  # a top-level key: it must come before the first table
        lines.append('headers = { Authorization = "Bearer ${FUZZ_TOKEN}" }')
    lines += ["[checks]", "enabled = false"]
    lines += [f"{check}.enabled = true" for check in CHECKS]
    if seeded is not None:
        for path_regex, name, value in (
            (r"^/api/v1/backtests/\{id\}/", "id", seeded.backtest),
            (r"^/api/v1/webhooks/\{id\}/", "id", seeded.webhook),
            (r"\{symbol\}", "symbol", seeded.symbol),
        ):
            lines += [
                "[[operations]]",
                f"include-path-regex = {json.dumps(path_regex)}",
                f"parameters = {{ {json.dumps(name)} = {json.dumps(value)} }}",
            ]
    destination.write_text("\n".join(lines) + "\n")
    return destination


def schema_fuzz_run(
    base_url: str,
    workdir: Path,
    *,
    token: str | None,
    seeded: SeededIds | None,
    max_time: int,
    seed: int = DEFAULT_SEED,
) -> FuzzOutcome:
    """Run schemathesis against `base_url` for at most `max_time` seconds; never raises on
    findings (the outcome carries them)."""
    caller = "trader" if token else "anonymous"
    workdir.mkdir(parents=True, exist_ok=True)
    schema = fuzz_schema_fetch(base_url, workdir / "schema.json")
    config = fuzz_config_write(workdir / f"{caller}.toml", seeded=seeded if token else None)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        str(schema),
        "--url",
        base_url,
        "--max-time",
        str(max_time),
        "--seed",
        str(seed),
        "--workers",
        "1",  # a 2-core machine serving with one gunicorn worker
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
    ]
    env = {**os.environ, "FUZZ_TOKEN": token or ""}
    started = time.monotonic()
    result = subprocess.run(
        command,
        cwd=workdir,  # its reports and caches stay out of the checkout
        env=env,
        capture_output=True,
        text=True,
        timeout=max_time + 300,  # schema loading and the final report come on top
        check=False,
    )
    output = result.stdout + result.stderr
    return FuzzOutcome(
        caller=caller,
        returncode=result.returncode,
        cases=_count(r"(\d+) generated", output),
        failures=_count(r"(\d+) (?:unique )?failures?", output),
        seconds=time.monotonic() - started,
        output=output,
    )


def _count(pattern: str, output: str) -> int:
    found = re.findall(pattern, output)
    return int(found[-1]) if found else 0


def fuzz_seconds_from_env(default: int) -> int:
    """FUZZ_SECONDS (the total budget of both runs) or the suite's default."""
    return int(os.environ.get("FUZZ_SECONDS") or default)


def fuzz_seed_from_env() -> int:
    return int(os.environ.get("FUZZ_SEED") or DEFAULT_SEED)


def fuzz_report(outcomes: list[FuzzOutcome]) -> str:
    return "\n".join(outcome.summary() for outcome in outcomes)
