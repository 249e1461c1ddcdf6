"""The isolation this machine gives user code: CI's hosts must give the whole jail."""

from __future__ import annotations

import pytest

from backtesting.sandbox.isolation import isolation_level


@pytest.mark.requires_component("bubblewrap", "seccomp")
def test_a_host_with_bubblewrap_and_seccomp_jails_user_code_with_both() -> None:
    # Where both are installed nothing less will do; where either is missing, CI fails
    # here naming the package, and a laptop skips it loudly (tests/components.py).
    assert isolation_level() == "bubblewrap+seccomp"
