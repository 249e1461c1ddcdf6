"""Resource limits for one sandboxed run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class SandboxLimits:
    """Per-run limits; the defaults suit a daily-bar backtest of a few instruments.

    cpu_seconds: RLIMIT_CPU soft limit (SIGXCPU), hard limit one second later (SIGKILL).
    wall_seconds: the parent kills the process group after this, whatever the child is doing.
    memory_bytes: RLIMIT_AS of the child (address space, so it includes NumPy's mappings).
    output_bytes: bytes the parent accepts on the result pipe before killing the child.
    max_open_files: RLIMIT_NOFILE inside the child.
    log_bytes: the user's print() output kept and returned with the result.
    """

    cpu_seconds: int = 60
    wall_seconds: float = 120.0
    memory_bytes: int = 1024 * MIB
    output_bytes: int = 32 * MIB
    max_open_files: int = 32
    log_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        if self.cpu_seconds < 1:
            raise ValueError("cpu_seconds must be at least 1 (RLIMIT_CPU has 1 s granularity)")
        if self.wall_seconds <= 0:
            raise ValueError("wall_seconds must be positive")
        if self.memory_bytes < 256 * MIB:
            raise ValueError("memory_bytes below 256 MiB cannot even load NumPy")
        if self.output_bytes < 4096 or self.log_bytes < 0:
            raise ValueError("output_bytes must be at least 4096 and log_bytes non-negative")
        if not 8 <= self.max_open_files <= 4096:
            raise ValueError("max_open_files must be within 8..4096")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
