"""The seccomp filter of the bwrap backend, modelled on Docker's default profile.

Docker runs every container under a seccomp profile that refuses (EPERM) the system calls an ordinary
program never needs and that widen the kernel surface a process can reach: loading modules, mounting,
entering or creating namespaces, tracing other processes, keyrings, BPF, perf, the clock, reboot
(docs.docker.com, "Seccomp security profiles for Docker", the table of significant blocked calls). The
Docker backend gets that profile from the engine; this module gives bwrap sandboxes the same refusals, so
the two backends refuse the same things:

- refused with EPERM: the calls of Docker's table (below), ``ptrace`` and ``process_vm_*`` included, so
  an app cannot trace or read the sandbox's pid 1 (bubblewrap's init) or its own siblings;
- ``clone`` with a namespace flag and ``unshare`` refused, ``clone3`` answered ENOSYS so that the C library
  falls back to ``clone``, whose flags the filter can see (what Docker does);
- ``personality`` refused when it would turn off address-space randomisation or make reads executable;
- system calls of another ABI (i386, x32) kill the process, so none of this is bypassed through them.

The program is compiled to BPF by libseccomp — the library Docker's runc uses for the same purpose — through
``pyseccomp``, a ctypes binding with the API of libseccomp's own Python bindings. bwrap loads it with
``--seccomp FD`` before it runs the app. Everything else is allowed: the sandbox's other walls (namespaces,
no capabilities, no new privileges, cgroups, read-only root) do not depend on this filter.
"""

from __future__ import annotations

import errno
import os
from functools import cache

# Docker's table of significant calls its default profile blocks (those present on the machine's ABI are used),
# and the newer calls of the same kinds (io_uring, the new mount API, pidfd_getfd, process_madvise).
REFUSED = (
    "acct", "add_key", "adjtimex", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
    "fanotify_init", "finit_module", "get_kernel_syms", "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp",
    "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind", "mount", "move_pages", "name_to_handle_at",
    "nfsservctl", "open_by_handle_at", "perf_event_open", "pivot_root", "process_vm_readv", "process_vm_writev",
    "ptrace", "query_module", "quotactl", "reboot", "request_key", "set_mempolicy", "setns", "settimeofday", "stime",
    "swapon", "swapoff", "sysfs", "_sysctl", "syslog", "umount", "umount2", "unshare", "uselib", "userfaultfd",
    "ustat", "vhangup", "vm86", "vm86old",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
    "open_tree", "mount_setattr", "pidfd_getfd", "process_madvise", "quotactl_fd",
)
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
PERSONALITY_FLAGS = (0x0040000, 0x0400000)  # ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC


@cache
def program() -> bytes:
    """The filter as a BPF program, the bytes ``bwrap --seccomp FD`` reads."""
    import pyseccomp as seccomp

    refuse = seccomp.ERRNO(errno.EPERM)
    filt = seccomp.SyscallFilter(seccomp.ALLOW)
    filt.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
    for name in REFUSED:
        number = _native(seccomp, name)
        if number is not None:
            filt.add_rule(refuse, number)
    for flag in NAMESPACE_FLAGS:
        filt.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    filt.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    for flag in PERSONALITY_FLAGS:
        filt.add_rule(refuse, "personality", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    with os.fdopen(os.memfd_create("govmarket-seccomp-export", 0), "w+b") as out:
        filt.export_bpf(out)
        out.seek(0)
        return out.read()


def _native(seccomp, name: str) -> int | None:
    """The call's number on this machine's ABI, or None where the ABI has no such call (vm86 on x86_64)."""
    try:
        number = seccomp.resolve_syscall(seccomp.Arch.NATIVE, name)
    except (ValueError, OSError):
        return None
    return number if number >= 0 else None


def memfd() -> int:
    """A file descriptor holding the program, positioned at its start (for ``bwrap --seccomp``)."""
    fd = os.memfd_create("govmarket-seccomp", 0)
    os.write(fd, program())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
