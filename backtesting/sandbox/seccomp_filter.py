"""A seccomp denylist for the jailed child: built in the parent, installed by the child launcher.

The parent compiles the filter to BPF with libseccomp's Python binding (Debian's
python3-seccomp, loaded by file path because it lives outside our virtualenv). The child only
needs ctypes and prctl() to install the bytes, so the binding never enters the jail. Denied
calls fail with EPERM, which Python turns into a clean PermissionError for the user.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import glob
import importlib.machinery
import importlib.util
import logging
import os
import sysconfig
import tempfile
from types import ModuleType

logger = logging.getLogger(__name__)

BINDING_DIRS = ("/usr/lib/python3/dist-packages", "/usr/lib/python3/site-packages")

# Nothing the strategy legitimately needs once the interpreter and NumPy are loaded: no new
# processes, no sockets, no filesystem mutation, no kernel attack surface (bpf, keyrings,
# user namespaces, io_uring, perf), no peeking at other processes and no IPC objects.
DENIED_SYSCALLS: tuple[str, ...] = (
    "fork", "vfork", "clone", "clone3", "execve", "execveat",
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    "ptrace", "process_vm_readv", "process_vm_writev", "kill", "tkill", "pidfd_open",
    "pidfd_getfd", "pidfd_send_signal",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree", "move_mount",
    "fsopen", "fsmount", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
    "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "acct", "settimeofday", "clock_settime", "adjtimex",
    "personality", "open_by_handle_at", "name_to_handle_at", "ioperm", "iopl", "quotactl",
    "memfd_create", "creat", "openat2", "mkdir", "mkdirat", "mknod", "mknodat", "unlink",
    "unlinkat", "rmdir", "rename", "renameat", "renameat2", "link", "linkat", "symlink",
    "symlinkat", "truncate", "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown",
    "fchownat", "setxattr", "lsetxattr", "fsetxattr", "utimes", "utimensat", "futimesat",
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "capset",
    # State that outlives the process in the jail's shared namespaces: consecutive children of
    # one zygote share its IPC and UTS namespaces, so a SysV segment, queue or semaphore set
    # (or a POSIX queue) one job leaves behind would be readable by the next one.
    "shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl",
    "semget", "semop", "semtimedop", "semctl", "ipc",
    "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    "sethostname", "setdomainname",
    # Signals and scheduling aimed at another process. Under a user namespace (an unprivileged
    # worker) the zygote and its child share one uid, so the kernel would let a job stop,
    # signal or starve the zygote that forks the next user's job.
    "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "setpriority", "ioprio_set",
)  # fmt: skip
# The same, for calls whose argument `index` names a process: allowed only on the caller itself
# (0), which is how glibc's setrlimit() (prlimit64) and the batch runner's CPU share use them.
SELF_ONLY_SYSCALLS: dict[str, int] = {
    "prlimit64": 0, "sched_setaffinity": 0, "sched_setparam": 0, "sched_setscheduler": 0,
    "sched_setattr": 0, "migrate_pages": 0, "move_pages": 0,
}  # fmt: skip
# open()/openat() stay allowed for reading (NumPy may import a submodule lazily) but any flag
# that could create or modify a file is refused.
WRITE_FLAGS = (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND)

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


@functools.cache
def _load_binding() -> ModuleType | None:
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    for directory in BINDING_DIRS:
        for path in glob.glob(os.path.join(directory, "seccomp*" + suffix)):  # noqa: PTH118, PTH207
            try:
                return _load_extension(path)
            except (ImportError, OSError) as exc:
                logger.warning("seccomp binding at %s unusable: %s", path, exc)
    return None


def _load_extension(path: str) -> ModuleType:
    loader = importlib.machinery.ExtensionFileLoader("seccomp", path)
    spec = importlib.util.spec_from_file_location("seccomp", path, loader=loader)
    if spec is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@functools.cache
def build_filter_bpf() -> bytes | None:
    """The compiled BPF program for this host's architecture, or None without libseccomp."""
    seccomp = _load_binding()
    if seccomp is None:
        return None
    try:
        return _export(seccomp, _make_filter(seccomp))
    except Exception:  # the binding raises bare RuntimeError/OSError on kernel quirks
        logger.exception("building the seccomp filter failed; running without seccomp")
        return None


def _make_filter(seccomp: ModuleType) -> object:
    deny = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            rules.add_rule(deny, name)
        except (RuntimeError, ValueError):  # not a syscall on this architecture
            continue
    for name, index in SELF_ONLY_SYSCALLS.items():
        try:
            rules.add_rule(deny, name, seccomp.Arg(index, seccomp.NE, 0))
        except (RuntimeError, ValueError):
            continue
    for flag in WRITE_FLAGS:
        rules.add_rule(deny, "open", seccomp.Arg(1, seccomp.MASKED_EQ, flag, flag))
        rules.add_rule(deny, "openat", seccomp.Arg(2, seccomp.MASKED_EQ, flag, flag))
    return rules


def _export(seccomp: ModuleType, rules: object) -> bytes:
    with tempfile.TemporaryFile() as handle:
        rules.export_bpf(handle)  # type: ignore[attr-defined]
        handle.seek(0)
        program = handle.read()
    if not program or len(program) % 8:
        raise ValueError("libseccomp exported a malformed BPF program")
    return program


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_filter(program: bytes) -> None:
    """Install a BPF program on the calling (single-threaded) process; irreversible.

    Raises OSError if the kernel refuses, so the launcher can abort instead of running
    user code with less isolation than the parent reported.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP failed")
