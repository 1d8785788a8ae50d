"""The kernel walls around student code: no network (seccomp), files (Landlock), signals.

The worker (grader/sandbox/worker.py) loads this file by path and calls `build` after its
rlimits and uid change and before any student code runs; the grader imports it to say in its
header which walls this kernel can build (`probe`). Everything here works unprivileged on Linux
(both need only PR_SET_NO_NEW_PRIVS). Each wall that the kernel refuses is named in the worker's
ready message and in the run's notes; grading goes on without it (docs/SECURITY.md).

Why written here with ctypes rather than with the `pyseccomp` or `landlock` packages: the whole
filter is about 20 BPF instructions and three Landlock system calls; as a dependency they would
have to be installed for the run-as user on every path, and pyseccomp needs libseccomp's shared
library, which Gradescope's base image does not have.
"""
import ctypes
import os
import platform
import struct

# The walls, by the name the ready message and the notes use; what each one means.
WALLS = {
    "NO_NEW_PRIVS": "no setuid programs",
    "SECCOMP_NET": "no network: every socket() refused",
    "LANDLOCK_FS": "files: reads only Python and its own package, writes only its scratch folder",
    "LANDLOCK_SCOPE": "no signals to, and no abstract sockets of, processes outside the worker",
}

PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
EACCES = 13

# Per machine: (seccomp audit arch, seccomp(2), socket(2), io_uring_setup(2)). io_uring can open
# sockets of its own (IORING_OP_SOCKET), so it is refused too.
ARCHES = {
    "x86_64": (0xC000003E, 317, 41, 425),
    "aarch64": (0xC00000B7, 277, 198, 425),
}
X32_BIT = 0x40000000   # x86_64's x32 ABI: the same calls under other numbers

LL_CREATE, LL_ADD_RULE, LL_RESTRICT = 444, 445, 446   # the same on every Linux architecture
LL_VERSION = 1
LL_RULE_PATH_BENEATH = 1
# Filesystem rights (bit i), by Landlock ABI version: v1 has bits 0-12, v2 adds REFER (13),
# v3 TRUNCATE (14), v5 IOCTL_DEV (15).
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1, 2, 4, 8
FS_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | (1 << 14) | (1 << 15)
FS_READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
SCOPE_ABSTRACT_UNIX, SCOPE_SIGNAL = 1, 2   # v6
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2        # v4

# Read-only for student code wherever they exist (Python's own files are added by the worker).
SYSTEM_READ = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/etc", "/proc",
               "/sys/devices/system/cpu", "/dev/urandom", "/dev/random", "/dev/zero")


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi():
    """The kernel's Landlock ABI version (0: none or disabled)."""
    if platform.system() != "Linux":
        return 0
    try:
        n = _libc().syscall(LL_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(LL_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(int(n), 0)


def probe():
    """The walls this kernel can build ({name: bool}), without building any."""
    linux = platform.system() == "Linux"
    abi = landlock_abi()
    return {"NO_NEW_PRIVS": linux, "SECCOMP_NET": linux and platform.machine() in ARCHES,
            "LANDLOCK_FS": abi >= 1, "LANDLOCK_SCOPE": abi >= 6}


def walls_data(down=None):
    """{wall: True when up}: from the names a worker refused (`down`), else from `probe`."""
    if down is None:
        return probe()
    return {name: name not in down for name in WALLS}


def header_line():
    """The run's header line: which walls stand around student code here, which do not."""
    state = probe()
    up = [n for n in WALLS if state[n]]
    down = [n for n in WALLS if not state[n]]
    text = "walls around student code: " + (", ".join(up) or "none")
    if down:
        text += (f"; NOT available on this system: {', '.join(down)} "
                 f"({'; '.join(WALLS[n] for n in down)})")
    return text


def _bpf(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


def socket_filter(arch):
    """The seccomp BPF program: socket() and io_uring_setup() fail with EACCES, a call made
    through another ABI (32-bit int 0x80, x32) fails, everything else is allowed."""
    audit_arch, _, nr_socket, nr_uring = ARCHES[arch]
    ld_w, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | EACCES
    prog = [
        _bpf(ld_w, 0, 0, 4),                 # A = seccomp_data.arch
        _bpf(jeq, 1, 0, audit_arch),         # native: go on; else deny
        _bpf(ret, 0, 0, deny),
        _bpf(ld_w, 0, 0, 0),                 # A = seccomp_data.nr
        _bpf(jge, 3, 0, X32_BIT),            # x32 ABI: deny
        _bpf(jeq, 2, 0, nr_socket),
        _bpf(jeq, 1, 0, nr_uring),
        _bpf(ret, 0, 0, allow),
        _bpf(ret, 0, 0, deny),
    ]
    return b"".join(prog)


def no_new_privs():
    """PR_SET_NO_NEW_PRIVS: no setuid program regains privileges; needed by both walls."""
    return _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0


def deny_sockets():
    """Install the seccomp filter on every thread of this process; True when it holds."""
    arch = platform.machine()
    if platform.system() != "Linux" or arch not in ARCHES:
        return False
    code = socket_filter(arch)
    filt = ctypes.create_string_buffer(code, len(code))
    prog = struct.pack("HxxxxxxQ", len(code) // 8, ctypes.addressof(filt))
    buf = ctypes.create_string_buffer(prog, len(prog))
    libc = _libc()
    nr_seccomp = ARCHES[arch][1]
    if libc.syscall(nr_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, buf) != 0:
        return False
    try:  # proof, not trust: a socket must now be refused
        import socket
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
        return False
    except OSError:
        return True


def _fs_handled(abi):
    bits = 13 + (abi >= 2) + (abi >= 3)
    mask = (1 << bits) - 1
    return mask | ((1 << 15) if abi >= 5 else 0)


def _add_path(libc, ruleset, path, rights, handled):
    """One path-beneath rule; a path that does not exist is skipped."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not os.path.isdir(path):
            rights &= FS_FILE_RIGHTS
        attr = struct.pack("=Qi", rights & handled, fd)
        buf = ctypes.create_string_buffer(attr, len(attr))
        if libc.syscall(LL_ADD_RULE, ruleset, LL_RULE_PATH_BENEATH, buf, 0) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
    finally:
        os.close(fd)


def without(paths, secrets):
    """`paths` with every one that holds a secret path replaced by its children that do not
    (recursively), so an allowed folder never grants a folder beneath it that must stay shut."""
    secrets = [os.path.realpath(s) for s in secrets if s]
    out = []
    for path in paths:
        real = os.path.realpath(path)
        inside = [s for s in secrets if s == real or s.startswith(real.rstrip("/") + "/")]
        if not inside:
            out.append(real)
        elif real not in inside and os.path.isdir(real):
            try:
                children = [os.path.join(real, c) for c in sorted(os.listdir(real))]
            except OSError:
                continue
            out += without(children, secrets)
    return out


def restrict_files(read, write, secrets, abi):
    """Landlock: from now on this process and its children read only under `read` (minus
    `secrets`), write only under `write`, and (ABI 6+) signal nothing outside themselves.
    Returns the walls built."""
    libc = _libc()
    fs = _fs_handled(abi)
    scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL if abi >= 6 else 0
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    attr = struct.pack("=QQQ", fs, net, scoped)
    size = 24 if abi >= 6 else (16 if abi >= 4 else 8)
    buf = ctypes.create_string_buffer(attr[:size], size)
    ruleset = libc.syscall(LL_CREATE, buf, ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return []
    try:
        for path in without(read, secrets):
            _add_path(libc, ruleset, path, FS_READ, fs)
        for path in write:
            _add_path(libc, ruleset, path, fs, fs)
        _add_path(libc, ruleset, "/dev/null", FS_READ_FILE | FS_WRITE_FILE, fs)
        if libc.syscall(LL_RESTRICT, ruleset, 0) != 0:
            return []
    except OSError:
        return []
    finally:
        os.close(ruleset)
    return ["LANDLOCK_FS"] + ["LANDLOCK_SCOPE"] * bool(scoped)


def build(read, write, secrets):
    """Build every wall this kernel allows; returns the names of those it refused."""
    built = []
    try:
        if no_new_privs():
            built.append("NO_NEW_PRIVS")
            abi = landlock_abi()
            if abi:
                built += restrict_files(read, write, secrets, abi)
            if deny_sockets():
                built.append("SECCOMP_NET")
    except (OSError, AttributeError, TypeError, ValueError):
        pass
    return [name for name in WALLS if name not in built]
