"""Schema fuzz of the live API: schemathesis' CLI against a real gunicorn, from the schema
the server itself serves at /api/schema/.

Passes (PASSES) as a trader with a JWT (plus the seeded objects, so paths reach real rows)
and as an anonymous client. Every phase runs: the schema's examples, coverage of
boundaries and wrong types, random fuzzing, and stateful sequences along the links
schemathesis infers (create -> read -> update -> delete). The checks below must all hold.

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

from tests.strategies.samples import SMA_CROSS

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
# dictionary name -> (create operation's path, body field, a value its rules accept)
VALID_VALUES = {
    "strategy_code": ("/api/v1/strategies/", "code", SMA_CROSS),
    "webhook_url": ("/api/v1/webhooks/", "url", "https://93.184.216.34/hook"),
}


@dataclass(frozen=True)
class FuzzPass:
    """One schemathesis run: who calls, which phases, and its share of the time budget."""

    caller: str
    phases: str
    authenticated: bool
    share: float


# schemathesis counts its start-up (loading and analysing the schema) against --max-time:
# below this a pass on a loaded 2-core machine may generate nothing at all.
MIN_PASS_SECONDS = 10
# The stateful phase gets its own share: run after the others it would get no time at all.
PASSES = (
    FuzzPass("trader", "examples,coverage,fuzzing", authenticated=True, share=0.45),
    FuzzPass("trader, stateful", "stateful", authenticated=True, share=0.3),
    # Anonymous, every operation but sign-in and sign-up answers 401: no chain to follow.
    FuzzPass("anonymous", "examples,coverage,fuzzing", authenticated=False, share=0.25),
)


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
    links: str  # "covered / selected" links of the stateful phase, "" without it
    output: str

    def summary(self) -> str:
        links = f", links {self.links}" if self.links else ""
        return (
            f"schema fuzz ({self.caller}): {self.cases} generated cases, "
            f"{self.failures} failures{links}, {self.seconds:.0f} s"
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
    """schemathesis.toml for one run: the checks and, for the trader, the token, the seeded
    rows for templated paths (ids elsewhere stay random: 404s) and, half the time, a valid
    value where no generated one passes the API's rules, so creates succeed and the stateful
    phase can follow them (read, update, clone, delete)."""
    lines = []
    if seeded is not None:  # a top-level key: it must come before the first table
        lines.append('headers = { Authorization = "Bearer ${FUZZ_TOKEN}" }')
    lines += ["[checks]", "enabled = false"]
    lines += [f"{check}.enabled = true" for check in CHECKS]
    if seeded is not None:
        for dictionary, (path, field, valid) in VALID_VALUES.items():
            binding = f'{{ dictionary = "{dictionary}", probability = 0.5 }}'
            lines += [
                f"[dictionaries.{dictionary}]",
                f"values = [{json.dumps(valid)}]",
                "[[operations]]",
                f"include-path = {json.dumps(path)}",
                'include-method = "POST"',
                f'parameters = {{ "body.{field}" = {binding} }}',
            ]
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


def schema_fuzz(
    base_url: str, workdir: Path, *, token: str, seeded: SeededIds, budget: int, seed: int
) -> list[FuzzOutcome]:
    """Every pass in PASSES, within `budget` seconds in all (MIN_PASS_SECONDS at least each)."""
    schema = fuzz_schema_fetch(base_url, workdir / "schema.json")
    return [
        _run_pass(
            base_url, schema, workdir / f"pass-{index}", fuzz_pass,
            token=token if fuzz_pass.authenticated else None,
            seeded=seeded if fuzz_pass.authenticated else None,
            max_time=max(MIN_PASS_SECONDS, int(budget * fuzz_pass.share)), seed=seed,
        )
        for index, fuzz_pass in enumerate(PASSES)
    ]  # fmt: skip


def _run_pass(
    base_url: str,
    schema: Path,
    workdir: Path,
    fuzz_pass: FuzzPass,
    *,
    token: str | None,
    seeded: SeededIds | None,
    max_time: int,
    seed: int,
) -> FuzzOutcome:
    """One schemathesis run of at most `max_time` seconds of generation; never raises on
    findings (the outcome carries them)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = fuzz_config_write(workdir / "schemathesis.toml", seeded=seeded)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        str(schema),
        "--url",
        base_url,
        "--phases",
        fuzz_pass.phases,
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
        caller=fuzz_pass.caller,
        returncode=result.returncode,
        cases=_count(r"(\d+) generated", output),
        failures=_count(r"(\d+) (?:unique )?failures?", output),
        seconds=time.monotonic() - started,
        links=" / ".join(next(iter(re.findall(r"API Links:\s+(\d+) covered / (\d+)", output)), ())),
        output=output,
    )


def _count(pattern: str, output: str) -> int:
    found = re.findall(pattern, output)
    return int(found[-1]) if found else 0


def fuzz_seconds_from_env(default: int) -> int:
    """FUZZ_SECONDS (the budget of all passes together) or the suite's default."""
    return int(os.environ.get("FUZZ_SECONDS") or default)


def fuzz_seed_from_env() -> int:
    return int(os.environ.get("FUZZ_SEED") or DEFAULT_SEED)


def fuzz_report(outcomes: list[FuzzOutcome]) -> str:
    return "\n".join(outcome.summary() for outcome in outcomes)
