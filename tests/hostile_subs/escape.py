"""Appended to the solution's layers.py: tries every way out of the worker at import time and
tells what worked through a visible check's output (relu_forward returns a wrong value and
prints the report). The test fills in the __NAMES__.

  network  TCP to a listener on 127.0.0.1 (the test's), UDP, IPv6, UNIX, netlink sockets
  scratch  files in /tmp, /dev/shm, /var/tmp (the normal worker plants, the naive one looks)
  reads    the grader's tree, the hidden cases, the data, Gradescope's metadata, the solution
  lifetime a detached process (double fork, setsid) that should outlive the worker
  kill     signals to the grader and to other processes running a worker
"""
import os as _os
import socket as _socket
import sys as _sys

_TOKEN = "__TOKEN__"
_PORT = int("__PORT__")
_SECRETS = __SECRETS__
_REPORT = []


def _try(what, fn):
    try:
        fn()
        _REPORT.append(f"ESCAPED {what}")
    except BaseException as e:  # refused: the wall held
        _REPORT.append(f"refused {what} ({type(e).__name__})")


def _tcp():
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect(("127.0.0.1", _PORT))
    s.sendall(f"LEAK {_TOKEN}".encode())
    s.close()


def _sock(family, kind):
    return lambda: _socket.socket(family, kind).close()


def _plant():
    for folder in ("/tmp", "/dev/shm", "/var/tmp"):
        _try(f"write {folder}", lambda: open(f"{folder}/cs260-{_TOKEN}", "w").write("fast layers"))


def _look():
    for folder in ("/tmp", "/dev/shm", "/var/tmp"):
        if _os.path.exists(f"{folder}/cs260-{_TOKEN}"):
            _REPORT.append(f"ESCAPED saw the other worker's file in {folder}")


def _daemon():
    if _os.fork() == 0:
        _os.setsid()
        if _os.fork() == 0:
            _os.execv(_sys.executable, [_sys.executable, "-c", "import time; time.sleep(300)",
                                        _TOKEN])
        _os._exit(0)
    _os.wait()


def _kill_others():
    me = _os.getpid()
    for name in _os.listdir("/proc"):
        if name.isdigit() and int(name) != me:
            try:
                cmd = open(f"/proc/{name}/cmdline", "rb").read()
            except OSError:
                continue
            if b"worker.py" in cmd or b"pytest" in cmd:
                _try(f"signal {b' '.join(cmd.split(bytes(1))[:2]).decode()[-60:]}",
                     lambda: _os.kill(int(name), 0))


for _family, _kind, _what in [(_socket.AF_INET, _socket.SOCK_DGRAM, "UDP socket"),
                              (_socket.AF_INET6, _socket.SOCK_STREAM, "IPv6 socket"),
                              (_socket.AF_UNIX, _socket.SOCK_STREAM, "UNIX socket"),
                              (16, _socket.SOCK_RAW, "netlink socket")]:
    _try(_what, _sock(_family, _kind))
_try("TCP to 127.0.0.1", _tcp)
for _path in _SECRETS:
    _try(f"read {_path}", lambda: open(_path, "rb").read(16) if not _os.path.isdir(_path)
         else _os.listdir(_path))
_try("read CS260_DATA_DIR", lambda: _os.environ["CS260_DATA_DIR"])
import glob as _glob
if _glob.glob(_os.path.join(_os.path.dirname(__file__), "im2col_cython*")):
    _plant()       # the normal worker: it has the compiled fast layers
    _daemon()
    _kill_others()
else:
    _look()        # the naive worker


def relu_forward(x):
    print("\n".join(_REPORT))
    return x * 0 - 1, x


def conv_forward_naive(x, w, b, conv_param):
    print("\n".join(_REPORT))
    return x * 0, None
