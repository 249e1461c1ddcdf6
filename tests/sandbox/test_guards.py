"""The run-time guards on their own: code compiled with plain RestrictedPython (without our
validator) must still be stopped, so a validator bug alone is never an escape."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from RestrictedPython import compile_restricted

from backtesting.sandbox import guards
from backtesting.sandbox.facades import build_facades
from backtesting.sandbox.guards import BoundedLog, guarded_getattr, restricted_globals


def run_restricted(source: str, log_bytes: int = 4096) -> tuple[dict[str, Any], BoundedLog]:
    log = BoundedLog(log_bytes)
    namespace = restricted_globals(build_facades(), log)
    exec(compile_restricted(source, "<strategy>", "exec"), namespace)  # noqa: S102
    return namespace, log


@pytest.mark.parametrize(
    "source",
    [
        'x = getattr((), "__class__")',
        'x = getattr(1, "__subclasses__")',
        'def g():\n    yield 1\nx = getattr(g(), "gi_frame")',
        'def g():\n    yield 1\nx = getattr(g(), "gi_code")',
        'x = getattr(getattr(1, "real"), "f_globals")',
        'setattr(1, "__class__", int)',
        'x = "{0.__class__}".format(1)',
        'x = "{0}".format_map({})',
        'x = str.format("{0.__class__}", 1)',
        'x = getattr(str, "format_map")',
        "x = int.mro()",
        "try:\n    1 / 0\nexcept Exception as e:\n    x = e.with_traceback",
        'x = hasattr(1, "__class__") or getattr(1, "__doc__")',
    ],
)
def test_object_graph_walks_are_refused_at_run_time(source: str) -> None:
    with pytest.raises(AttributeError, match="not allowed"):
        run_restricted(source)


@pytest.mark.parametrize(
    "attribute",
    ["load", "save", "fromfile", "memmap", "ctypeslib", "lib", "testing", "frombuffer", "ndarray",
     "random", "f2py", "DataSource", "genfromtxt", "loadtxt", "savetxt", "os", "sys"],
)  # fmt: skip
def test_the_numpy_facade_has_no_file_io_raw_memory_or_submodules(attribute: str) -> None:
    with pytest.raises(AttributeError):
        run_restricted(f"import numpy as np\nx = np.{attribute}")


@pytest.mark.parametrize("attribute", ["ctypes", "base", "data", "flags", "setflags", "tofile"])
def test_array_attributes_that_reach_memory_or_files_are_refused(attribute: str) -> None:
    with pytest.raises(AttributeError, match="not allowed"):
        run_restricted(f"import numpy as np\nx = np.zeros(3).{attribute}")


def test_facades_are_namespaces_not_modules() -> None:
    for facade in build_facades().values():
        assert type(facade).__name__ == "SimpleNamespace"


def test_every_run_gets_its_own_facade_objects() -> None:
    # Their contents are looked up once per process; the namespaces are new for every run, so
    # one changed from outside the guards (a bug of ours) cannot reach the next combination.
    first, second = build_facades(), build_facades()
    for name, facade in first.items():
        assert facade is not second[name] and vars(facade) == vars(second[name])
    setattr(first["numpy"], "mean", max)  # noqa: B010 - a facade is typed as a plain object
    assert vars(build_facades()["numpy"])["mean"] is np.mean


def test_imports_outside_the_allow_list_fail() -> None:
    for name in ("os", "sys", "numpy.lib", "ctypes", "importlib", "subprocess"):
        with pytest.raises(ImportError):
            run_restricted(f"import {name}")


@pytest.mark.parametrize(
    "source",
    ["import numpy as np\nnp.mean = max", "import math\nsetattr(math, 'pi', 3)",
     "import numpy as np\ndelattr(np, 'mean')", "class A:\n    pass\nA.x = 1"],
)  # fmt: skip
def test_facades_and_classes_cannot_be_modified(source: str) -> None:
    with pytest.raises(TypeError, match="cannot modify"):
        run_restricted(source)


def test_real_modules_are_never_handed_out_through_attributes() -> None:
    class Holder:
        mod = np

    with pytest.raises(AttributeError, match="not available"):
        guarded_getattr(Holder(), "mod")


def test_missing_attributes_raise_attribute_error() -> None:
    with pytest.raises(AttributeError):
        run_restricted("x = (1).no_such_name")


def test_read_only_arrays_cannot_be_made_writable() -> None:
    arr = np.frombuffer(b"\0" * 16, dtype="<f8")
    namespace, _ = run_restricted("def poke(a):\n    a[0] = 1.0\n")
    with pytest.raises(ValueError, match="read-only"):
        namespace["poke"](arr)
    with pytest.raises(AttributeError):
        guarded_getattr(arr, "setflags")


def test_print_goes_to_a_bounded_log() -> None:
    _, log = run_restricted("for i in range(1000):\n    print('spam', i)\n", log_bytes=100)
    assert log.truncated
    assert len(log.text().encode()) <= 100
    assert log.text().startswith("spam 0\n")


def test_print_ignores_a_file_argument() -> None:
    _, log = run_restricted("print('x', file=None)\nprint('y', file=1)\n")
    assert log.text() == "x\ny\n"


def test_user_classes_and_containers_are_writable() -> None:
    namespace, _ = run_restricted(
        "class A:\n    pass\na = A()\na.x = 1\nsetattr(a, 'y', 2)\nd = {}\nd['k'] = 2\n"
        "import numpy\nz = numpy.zeros(2)\nz[1] = 5.0\n"
    )
    assert namespace["a"].x == 1 and namespace["a"].y == 2 and namespace["d"] == {"k": 2}
    assert namespace["z"][1] == 5.0


def test_builtins_exclude_dangerous_names() -> None:
    builtins = restricted_globals({}, BoundedLog(10))["__builtins__"]
    for name in ("open", "eval", "exec", "compile", "globals", "vars", "type", "object",
                 "memoryview", "breakpoint", "input", "super", "dir", "help"):  # fmt: skip
        assert name not in builtins
    for name in ("min", "max", "sum", "abs", "round", "len", "range", "enumerate", "zip",
                 "sorted", "any", "all", "float", "int", "bool", "str", "list", "dict",
                 "tuple", "set", "isinstance"):  # fmt: skip
        assert name in builtins


# The fast path: a name found allowed on every object is remembered and skips the full check.


def test_a_str_subclass_that_lies_about_startswith_is_checked_by_its_characters() -> None:
    # Before the fast path the guard asked the name itself (name.startswith) and let this through.
    source = (
        "class Name(str):\n    def startswith(self, *args):\n        return False\n"
        "x = getattr((), Name('__class__'))\n"
    )
    with pytest.raises(AttributeError, match="not allowed"):
        run_restricted(source)
    with pytest.raises(AttributeError, match="not allowed"):
        run_restricted(
            source.replace(
                "x = getattr((), Name('__class__'))", "setattr(Name('x'), Name('__class__'), int)"
            )
        )


def test_a_str_subclass_posing_as_a_remembered_name_is_still_refused() -> None:
    guarded_getattr(SimpleNamespace(close=1), "close")  # "close" is now a remembered name

    class Posing(str):
        def __hash__(self) -> int:
            return hash("close")

        def __eq__(self, other: object) -> bool:
            return other == "close"

    with pytest.raises(AttributeError, match="not allowed"):
        guarded_getattr((), Posing("__class__"))
    assert all(type(name) is str for name in guards._PLAIN_NAMES)


@pytest.mark.parametrize(
    "attribute", sorted(guards._TYPE_DEPENDENT_ATTRIBUTES - guards.FORBIDDEN_ATTRIBUTES)
)
def test_names_refused_only_on_arrays_or_str_stay_refused_after_an_allowed_read(
    attribute: str,
) -> None:
    assert guarded_getattr(SimpleNamespace(**{attribute: 1}), attribute) == 1
    assert attribute not in guards._PLAIN_NAMES
    target: Any = "text" if attribute in guards.FORBIDDEN_STR_ATTRIBUTES else np.zeros(3)
    with pytest.raises(AttributeError, match="not allowed"):
        guarded_getattr(target, attribute)


def test_refused_names_are_never_remembered() -> None:
    for name in ("__class__", "_private", "gi_frame", "f_globals", "mro"):
        with pytest.raises(AttributeError):
            guarded_getattr((), name)
    assert not {"__class__", "_private", "gi_frame", "f_globals", "mro"} & guards._PLAIN_NAMES


def test_a_remembered_name_still_never_hands_out_a_module() -> None:
    guarded_getattr(SimpleNamespace(mod=1), "mod")
    assert "mod" in guards._PLAIN_NAMES
    with pytest.raises(AttributeError, match="not available"):
        guarded_getattr(SimpleNamespace(mod=np), "mod")


def test_once_the_memory_is_full_every_name_gets_the_full_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(guards, "_PLAIN_NAMES", set())
    monkeypatch.setattr(guards, "_MAX_PLAIN_NAMES", 2)
    namespace, _ = run_restricted(
        "class A:\n    pass\na = A()\nfor i in range(10):\n    setattr(a, 'v' + str(i), i)\n"
        "total = sum(getattr(a, 'v' + str(i)) for i in range(10))\n"
    )
    assert namespace["total"] == 45 and len(guards._PLAIN_NAMES) == 2
    with pytest.raises(AttributeError, match="not allowed"):
        guarded_getattr((), "__class__")
