"""The zygote: one warm jailed process per worker process, one forked child per job.

What a fork would share if we let it (memory, random state, the jail's namespaces) must not
carry anything from one job to the next; a zygote that dies or is killed costs no job; and the
jailed side never loads the worker's modules.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backtesting.sandbox import SandboxError, SandboxLimits, zygote
from backtesting.sandbox.supervisor import readable_within, tree_cpu_seconds
from tests.sandbox.conftest import HEADER, PROJECT_ROOT, SMA_CROSS

MIB = 1024 * 1024
WAIT_SECONDS = 30.0  # a bound on waiting for an event, not a timing assertion

# Each child reports its pid, a value the previous child left in a module the zygote imported,
# and one draw from each random generator the zygote had loaded before forking.
STATE_PROBE = (
    "import sys; sys.path.insert(0, sys.argv[1])\n"
    "import json, os, random\n"
    "import numpy.random\n"
    "from backtesting.sandbox import runner, zygote_jailed\n"
    "def job():\n"
    "    report = {'pid': os.getpid(), 'left': getattr(runner, 'LEFT_BY_A_JOB', None),\n"
    "              'random': random.random(), 'numpy': numpy.random.random()}\n"
    "    runner.LEFT_BY_A_JOB = os.getpid()\n"
    "    os.write(1, json.dumps(report).encode())\n"
    "    os._exit(0)\n"
    "zygote_jailed.main(job)\n"
)

# Module-level and class-level values a strategy writes: a second job must not see them.
REMEMBERS = HEADER + (
    "RUNS = []\n"
    "class Remembers(Strategy):\n"
    "    seen = []\n"
    "    def init(self):\n"
    "        RUNS.append(1)\n"
    "        self.seen.append(1)\n"
    "        print(len(RUNS), len(self.seen))\n"
    "    def next(self):\n"
    "        pass\n"
)
SPIN = HEADER + (
    "class Spin(Strategy):\n    def next(self):\n        while True:\n            pass\n"
)


@pytest.fixture(autouse=True)
def fresh_zygote(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with the zygote on and none running yet."""
    monkeypatch.setenv(zygote.ENABLED_VARIABLE, "1")
    zygote.zygote_stop()


def two_jobs_from_one_zygote(program: str) -> list[dict[str, Any]]:
    started = zygote.Zygote(program)
    try:
        reports = []
        for _ in range(2):
            job = started.job_start()
            job.stdin.close()
            reports.append(json.loads(job.stdout.read()))
            exit_report = job.wait(None)
            assert exit_report is not None and exit_report.returncode == 0
            for stream in (job.stdout, job.stderr):
                stream.close()
    finally:
        started.stop()
    return reports


def test_a_child_is_never_reused_and_sees_nothing_the_previous_one_left() -> None:
    first, second = two_jobs_from_one_zygote(STATE_PROBE)
    assert first["pid"] != second["pid"]
    assert first["left"] is None and second["left"] is None


def test_each_child_draws_its_own_random_numbers() -> None:
    # A fork copies the generators' state: without reseeding, both children draw the same.
    first, second = two_jobs_from_one_zygote(STATE_PROBE)
    assert first["random"] != second["random"]
    assert first["numpy"] != second["numpy"]


# Each job reports whether the process it runs in rehearsed before the job arrived (the spare),
# and whether a rehearsal was made to fail in this zygote.
SPARE_PROBE = (
    "import sys; sys.path.insert(0, sys.argv[1])\n"
    "import json, os, time\n"
    "from backtesting.sandbox import rehearsal, zygote_jailed\n"
    "FAIL, STUCK = {fail}, {stuck}\n"
    "zygote_jailed.SPARE_READY_TIMEOUT_SECONDS = 1.0\n"
    "def rehearse():\n"
    "    rehearsal.REHEARSED_BY = os.getpid()\n"
    "    if STUCK:\n"
    "        time.sleep(3600)\n"
    "    return not FAIL and rehearsal.rehearse()\n"
    "zygote_jailed.rehearse = rehearse\n"
    "def job():\n"
    "    report = {{'pid': os.getpid(),\n"
    "              'rehearsed_by': getattr(rehearsal, 'REHEARSED_BY', None)}}\n"
    "    os.write(1, json.dumps(report).encode())\n"
    "    os._exit(0)\n"
    "zygote_jailed.main(job)\n"
)


def test_each_job_runs_in_a_spare_that_rehearsed_in_its_own_process() -> None:
    first, second = two_jobs_from_one_zygote(SPARE_PROBE.format(fail=False, stuck=False))
    # The job ran in the very process that rehearsed (forked ahead, before the job came), and
    # the next job in another one: a spare serves one job, like any child.
    assert first["rehearsed_by"] == first["pid"] and second["rehearsed_by"] == second["pid"]
    assert first["pid"] != second["pid"]


@pytest.mark.parametrize(("fail", "stuck"), [(True, False), (False, True)], ids=["fails", "stuck"])
def test_a_failed_or_stuck_rehearsal_costs_no_job(fail: bool, stuck: bool) -> None:
    # The spare exits (or, silent past the zygote's timeout, is killed); the zygote forks the
    # job's child when the job comes, as before spares.
    first, second = two_jobs_from_one_zygote(SPARE_PROBE.format(fail=fail, stuck=stuck))
    assert first["pid"] != second["pid"]
    assert first["rehearsed_by"] != first["pid"] and second["rehearsed_by"] != second["pid"]


def test_the_rehearsal_runs_the_jobs_code_to_a_result() -> None:
    from backtesting.sandbox.rehearsal import rehearse

    assert rehearse() is True


def test_a_waiting_spare_ends_with_its_zygote() -> None:
    started = zygote.Zygote()
    try:
        started.wait_ready()

        # After "ready" the zygote forks its first spare: a second interpreter with the zygote's
        # command line (a fork), below the zygote itself.
        wait_for(lambda: len(zygote_interpreters(started.pid)) == 2, "the zygote's spare")
        tree = process_tree(started.pid)
    finally:
        started.stop()
    wait_for(lambda: not live(tree), f"the zygote's processes {live(tree)} to end")


def test_a_spare_whose_zygote_ends_exits_quietly() -> None:
    # The zygote ends (the worker stopped) without reading its spare's "ready": the kernel
    # resets the spare's socket. A normal stop, not an error: the spare exits as unused and
    # writes nothing to the worker's log (its stderr), where a traceback used to appear.
    import socket

    from backtesting.sandbox import zygote_jailed

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    control, _ = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    err_read, err_write = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the spare, as the zygote forks it (its stderr is the worker's log)
        os.dup2(err_write, 2)
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115 - as Python opens it
        ours.close()
        zygote_jailed._spare(control, theirs, parent, lambda: None)
    os.close(err_write)
    theirs.close()
    assert readable_within(ours.fileno(), WAIT_SECONDS), "the spare never said ready"
    ours.close()  # as the zygote's end closes when it exits, "ready" unread
    _, status = os.waitpid(pid, 0)
    with os.fdopen(err_read, "rb") as err:
        written = err.read().decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == zygote_jailed.EXIT_SPARE_UNUSED, written
    assert written == ""


def test_values_a_strategy_writes_are_unset_in_the_next_job(
    run: Callable[..., dict[str, Any]],
) -> None:
    assert run(REMEMBERS)["sandbox"]["logs"] == "1 1\n"
    assert zygote.zygote_pid() is not None, "the job ran in the zygote's child"
    assert run(REMEMBERS)["sandbox"]["logs"] == "1 1\n"


def test_the_jailed_side_imports_none_of_the_workers_modules() -> None:
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from backtesting.sandbox import child, zygote_jailed\n"
        "print(sorted(m for m in sys.modules if m.startswith('backtesting.sandbox.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(PROJECT_ROOT)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    loaded = {name.rsplit(".", 1)[1] for name in json.loads(done.stdout.replace("'", '"'))}
    worker_side = {"launcher", "isolation", "supervisor", "zygote", "batch", "results"}
    assert not loaded & worker_side
    assert {"child", "runner", "batch_runner", "zygote_jailed"} <= loaded


def test_a_killed_job_takes_its_zygote_along_and_a_new_one_serves_the_next_job(
    run: Callable[..., dict[str, Any]],
) -> None:
    run(SMA_CROSS)
    first = zygote.zygote_pid()
    assert first is not None
    with pytest.raises(SandboxError) as caught:
        run(SPIN, limits=SandboxLimits(cpu_seconds=30, wall_seconds=1.5, memory_bytes=512 * MIB))
    assert caught.value.code == "wall_clock_limit"
    assert not Path(f"/proc/{first}").exists(), "the old zygote was killed and reaped"
    second = zygote.zygote_pid()
    assert second is not None and second != first, "its successor started at once"
    assert run(SMA_CROSS)["sandbox"]["logs"] == ""
    assert zygote.zygote_pid() == second


def test_a_zygote_that_died_costs_no_job(
    run: Callable[..., dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    baseline = run(SMA_CROSS)
    dead = zygote.zygote_pid()
    assert dead is not None
    os.killpg(dead, signal.SIGKILL)  # as the OOM killer or an operator would
    with caplog.at_level(logging.WARNING, logger="backtesting.sandbox.zygote"):
        again = run(SMA_CROSS)
    assert again["statistics"] == baseline["statistics"]
    assert "running the job in a fresh process" in caplog.text
    assert zygote.zygote_pid() not in {None, dead}, "a new zygote replaced it"


def test_a_second_job_while_the_zygote_is_busy_runs_in_a_fresh_process(
    run: Callable[..., dict[str, Any]],
) -> None:
    baseline = run(SMA_CROSS)
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: results.append(run(SMA_CROSS))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r["statistics"] for r in results] == [baseline["statistics"]] * 2


@pytest.mark.parametrize("ready", [True, False], ids=["ready", "still_importing"])
def test_stopping_leaves_no_process_behind(ready: bool) -> None:
    zygote.zygote_start()
    pid = zygote.zygote_pid()
    assert pid is not None and zygote._zygote is not None
    if ready:
        zygote._zygote.wait_ready()
    else:  # the interpreter has started (under bubblewrap, which forks it) and is importing
        wait_for(lambda: any(comm(p).startswith("python") for p in process_tree(pid)), "python")
    tree = process_tree(pid)
    zygote.zygote_stop()
    assert zygote.zygote_pid() is None
    wait_for(lambda: not live(tree), f"the zygote's processes {live(tree)} to end")


def test_the_cpu_time_reported_is_the_jobs_not_the_zygotes(
    run: Callable[..., dict[str, Any]],
) -> None:
    reported = run(SMA_CROSS)["sandbox"]["cpu_seconds"]
    pid = zygote.zygote_pid()
    assert pid is not None
    # bubblewrap's own command line names the bootstrap too, and so does the zygote's spare
    # (a fork of it, below it): the zygote is the first interpreter.
    zygote_process = zygote_interpreters(pid)[0]
    # The zygote's imports cost far more CPU than this short run: counting them would show.
    assert reported < tree_cpu_seconds(zygote_process) - reported


def test_the_zygote_reports_the_isolation_level_unchanged(
    run: Callable[..., dict[str, Any]],
) -> None:
    from backtesting.sandbox import isolation_level

    assert run(SMA_CROSS)["sandbox"]["isolation_level"] == isolation_level()


def test_a_fork_of_the_worker_does_not_use_or_stop_its_parents_zygote(
    run: Callable[..., dict[str, Any]],
) -> None:
    zygote.zygote_start()
    parent_zygote = zygote.zygote_pid()
    pid = os.fork()
    if pid == 0:  # the forked process (a pool process forked by Celery's main one)
        code = 0 if zygote.zygote_pid() is None else 1
        zygote.zygote_stop()  # must leave the parent's zygote alone
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the fork saw its parent's zygote as its own"
    assert zygote.zygote_pid() == parent_zygote
    assert run(SMA_CROSS)["sandbox"]["logs"] == "", "the parent's zygote still serves"


def test_the_first_job_is_served_by_a_zygote_started_before_it(
    run: Callable[..., dict[str, Any]],
) -> None:
    zygote.zygote_start()  # what a pool process does as it starts
    started = zygote.zygote_pid()
    run(SMA_CROSS)
    assert zygote.zygote_pid() == started


def live(pids: list[int]) -> list[int]:
    """Those of `pids` still running. An exited process whose parent is gone stays a zombie
    until the host's init reaps it (in some containers, never): it holds nothing and runs
    nothing, so it does not count."""
    running = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in {"Z", "X"}:
            running.append(pid)
    return running


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.05)


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def zygote_interpreters(pid: int) -> list[int]:
    """The zygote's interpreter and its spare under `pid`, in that order (bubblewrap's own
    command line names the bootstrap too, but it is not a Python process)."""
    found = process_tree(pid)
    return [p for p in found if comm(p).startswith("python") and "zygote_jailed" in cmdline(p)]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, read from /proc (a process gone meanwhile has none)."""
    found = [pid]
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            children = [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += process_tree(child)
    return found
