"""The student-code worker: the only process in which student code runs.

Started by grader/sandbox/client.py as `python -s [-P] grader/sandbox/worker.py --fd-in R --fd-out W --root DIR`
with a clean environment; fds 1 and 2 are already the client's capture file. The worker sets
its resource limits, optionally drops to an unprivileged user, then answers requests (call,
batch, batch_item, new, getattr, setitem, release, ping, import) read from fd R with replies
on fd W. It assumes nothing about its own integrity once student code has run: the grader
side decodes every reply as untrusted data.
"""
import argparse
import importlib
import importlib.util
import os
import random
import resource
import signal
import sys
import time
import traceback
import warnings

import numpy as np

TRACEBACK_LINES = 15
MESSAGE_CHARS = 300
RESERVE_BYTES = 4 << 20
MAX_WARNINGS = 20   # distinct warnings kept per request (grader/feedback/numpy_notes.py reads them)


class Keep:
    """Wraps a result that must come back as a handle even if it is data (`new`)."""

    def __init__(self, obj):
        self.obj = obj


def _load_protocol(name="protocol"):
    """Load protocol.py (or walls.py) by path so the grader package need not be importable here."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    spec = importlib.util.spec_from_file_location("_cs260_" + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _one_line(text, limit=MESSAGE_CHARS):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _safe_str(exc):
    try:
        return str(exc)
    except BaseException:  # a student exception whose __str__ fails
        return "<unprintable>"


class Fail(Exception):
    """An error reply prepared by the worker itself (not a student exception)."""

    def __init__(self, kind, message, **info):
        super().__init__(message)
        self.info = {"kind": kind, "message": _one_line(message), **info}


class Server:
    """Request loop, handle table and student-error reporting."""

    def __init__(self, args, protocol):
        self.args = args
        self.proto = protocol
        self.root = os.path.realpath(args.root)
        self.student_paths = {
            os.path.realpath(os.path.join(self.root, rel)): rel for rel in args.student}
        self.objects = {}
        self.next_id = 1
        self.capture_fd = os.dup(1)  # survives a student closing fd 1
        os.set_inheritable(self.capture_fd, False)
        self.reserve = bytearray(RESERVE_BYTES)  # given back on MemoryError to build the reply
        self.warned = {}  # (category, message, file, line) -> count, for the current request

    # -- values ------------------------------------------------------------------------

    def store(self, obj):
        """Keep a non-data object here and send a reference to it."""
        hid = self.next_id
        self.next_id += 1
        self.objects[hid] = obj
        return {"$h": hid, "type": type(obj).__name__[:100]}

    def lookup(self, hid, _type):
        """The object a Handle names; a protocol error if it was released or is foreign."""
        try:
            return self.objects[hid]
        except KeyError:
            raise Fail("protocol", f"unknown handle #{hid} (released, or from another worker)")

    def fresh(self, x):
        """A copy of decoded arguments so one call cannot change the next call's inputs."""
        if type(x) is np.ndarray:
            return x.copy()
        if type(x) is list:
            return [self.fresh(v) for v in x]
        if type(x) is tuple:
            return tuple(self.fresh(v) for v in x)
        if type(x) is dict:
            return {k: self.fresh(v) for k, v in x.items()}
        return x

    # -- student code ----------------------------------------------------------------

    def module_file(self, module_name):
        """The file of a cs260 module inside the overlay, for import-error messages."""
        rel = module_name.replace(".", "/")
        for cand in (rel + ".py", rel + "/__init__.py"):
            if os.path.exists(os.path.join(self.root, cand)):
                return cand
        return rel + ".py"

    def import_module(self, dotted):
        """Import cs260.<dotted>; any failure becomes an import_error naming the file."""
        name = "cs260." + dotted
        try:
            module = importlib.import_module(name)
            package = sys.modules["cs260"]
            if not os.path.realpath(package.__file__).startswith(self.root + os.sep):
                raise Fail("protocol", f"cs260 was imported from {package.__file__}, not from "
                           f"the submission overlay {self.root}")
            return module
        except (MemoryError, Fail):
            raise
        except BaseException as e:
            info = self.describe(e)
            where, line = info.get("file") or self.module_file(name), info.get("line")
            if isinstance(e, SyntaxError) and e.filename:
                where, line = self.relative(e.filename), e.lineno
            raise Fail("import_error", f"importing {where} failed: {info['type']}: "
                       f"{info['message']}", type=info["type"], file=where, line=line,
                       traceback=info["traceback"]) from None

    def resolve(self, target):
        """A callable from "module.attr" (module path inside cs260) or [handle, "method"]."""
        if isinstance(target, str):
            mod, _, attr = target.rpartition(".")
            if not mod or not attr:
                raise Fail("protocol", f"bad target {target!r}")
            module = self.import_module(mod)
            try:
                return getattr(module, attr)
            except AttributeError:
                raise Fail("import_error", f"{self.module_file('cs260.' + mod)} does not "
                           f"define {attr}", file=self.module_file("cs260." + mod)) from None
        if isinstance(target, (list, tuple)) and len(target) == 2 and isinstance(target[1], str):
            obj, method = target
            try:
                return getattr(obj, method)
            except AttributeError:
                raise Fail("exception", f"{type(obj).__name__} object has no attribute {method}",
                           type="AttributeError") from None
        raise Fail("protocol", "target must be 'module.attr' or [handle, method]")

    def relative(self, filename):
        """A traceback file name as the student knows it (cs260/layers.py), not the overlay path."""
        real = os.path.realpath(filename)
        if real in self.student_paths:
            return self.student_paths[real]
        if real.startswith(self.root + os.sep):
            return os.path.relpath(real, self.root)
        return filename

    def describe(self, exc):
        """Error info for a student exception, traceback trimmed to the student's files."""
        if isinstance(exc, NotImplementedError):
            kind = "not_implemented"
        elif isinstance(exc, MemoryError):
            kind = "memory"
        else:
            kind = "exception"
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if os.path.realpath(f.filename) in self.student_paths]
        lines = []
        for f in frames:
            lines.append(f'  File "{self.relative(f.filename)}", line {f.lineno}, in {f.name}')
            if f.line:
                lines.append(f"    {f.line.strip()}")
        try:
            tail = traceback.format_exception_only(type(exc), exc)
        except BaseException:
            tail = [f"{type(exc).__name__}: <unprintable>"]
        for chunk in tail:
            for line in chunk.rstrip("\n").split("\n"):
                lines.append(line.replace(self.root + os.sep, ""))
        if frames:
            lines.insert(0, "Traceback (student code, most recent call last):")
        info = {
            "kind": kind,
            "type": type(exc).__name__[:100],
            "message": _one_line(_safe_str(exc)),
            "traceback": "\n".join(lines[-TRACEBACK_LINES:]),
        }
        if frames:
            info["file"] = self.relative(frames[-1].filename)
            info["line"] = frames[-1].lineno
        return info

    def seed(self, req):
        """Seed numpy's and Python's global generators when the request asks for it."""
        seed = req.get("seed")
        if seed is not None:
            np.random.seed(seed)
            random.seed(seed)

    def picked(self, result, pick, i, n):
        """result[pick] as an array, for one item of a batch."""
        where = f"batch item {i} of {n}"
        if pick is not None:
            if not isinstance(result, (tuple, list)):
                raise Fail("bad_return", f"returned {type(result).__name__}, expected a tuple "
                           f"({where})")
            if not -len(result) <= pick < len(result):
                raise Fail("bad_return", f"returned a tuple of length {len(result)}, "
                           f"expected at least {pick + 1} items ({where})")
            result = result[pick]
        arr = np.asarray(result)
        if not self.proto.is_data_array(arr):
            raise Fail("bad_return", f"returned {type(result).__name__}, expected a number or "
                       f"a numeric array ({where})")
        return arr

    def stacked(self, results):
        """Stack a batch's results; a bad_return when their shapes differ."""
        shapes = {a.shape for a in results}
        if len(shapes) > 1:
            raise Fail("bad_return", f"batch results have different shapes {sorted(shapes)[:4]}")
        return np.stack(results) if results else np.zeros((0,))

    # -- operations ------------------------------------------------------------------

    def op_ping(self, req):
        """Answer a ping: pid, uid and the limits that could not be applied."""
        return {"pid": os.getpid(), "uid": os.getuid(),
                "unapplied": list(getattr(self.args, "unapplied", []))}

    def op_import(self, req):
        """Import a student module, so an import error shows before any call."""
        self.import_module(req["module"])
        return None

    def op_call(self, req):
        """Call a target function with the request's arguments (and return them if asked)."""
        fn = self.resolve(req["target"])
        args, kwargs = list(req.get("args") or []), dict(req.get("kwargs") or {})
        self.seed(req)
        result = fn(*args, **kwargs)
        if req.get("return_args"):
            return (result, tuple(args))
        return result

    def op_new(self, req):
        """Construct an object (the student's model) and keep it behind a Handle."""
        cls = self.resolve(req["cls"])
        self.seed(req)
        obj = cls(*(req.get("args") or []), **(req.get("kwargs") or {}))
        return Keep(obj)

    def op_batch(self, req):
        """Call a target once per value of one argument; the stacked results."""
        fn = self.resolve(req["target"])
        args, kwargs = list(req.get("args") or []), dict(req.get("kwargs") or {})
        vary, values, pick = req["vary"], req["values"], req.get("pick", 0)
        n = len(values)
        results = []
        for i in range(n):
            a, k = self.fresh(args), self.fresh(kwargs)
            if isinstance(vary, str):
                k[vary] = self.fresh(values[i])
            else:
                a[vary] = self.fresh(values[i])
            self.seed(req)
            results.append(self.picked(self.annotated(fn, a, k, i, n), pick, i, n))
        return self.stacked(results)

    def op_batch_item(self, req):
        """Per value: set one entry of an attribute, call a method; the stacked results."""
        obj = req["handle"]
        attr, key, values = req.get("attr"), req["key"], req["values"]
        method, pick = req["method"], req.get("pick", 0)
        args, kwargs = list(req.get("args") or []), dict(req.get("kwargs") or {})
        container = getattr(obj, attr) if attr else obj
        fn = self.resolve([obj, method])
        original = container[key]
        n = len(values)
        results = []
        try:
            for i in range(n):
                container[key] = self.fresh(values[i])
                self.seed(req)
                result = self.annotated(fn, self.fresh(args), self.fresh(kwargs), i, n)
                results.append(self.picked(result, pick, i, n))
        finally:
            container[key] = original
        return self.stacked(results)

    def annotated(self, fn, args, kwargs, i, n):
        """Call fn; a student exception carries which batch item raised it."""
        try:
            return fn(*args, **kwargs)
        except BaseException as e:
            e._cs260_item = f"batch item {i} of {n}"
            raise

    def op_getattr(self, req):
        """An attribute of a kept object."""
        return getattr(req["handle"], req["name"])

    def op_setitem(self, req):
        """Set an item of a kept object (or of one of its attributes)."""
        obj, attr = req["handle"], req.get("attr")
        container = getattr(obj, attr) if attr else obj
        container[req["key"]] = req["value"]
        return None

    def op_release(self, req):
        """Forget kept objects the grader no longer needs."""
        for hid in req.get("ids") or []:
            self.objects.pop(hid, None)
        return None

    # -- loop ------------------------------------------------------------------------

    def take_output(self):
        """Captured fd 1/2 text since the last request; the capture file is emptied."""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        limit = self.args.output_limit
        try:
            size = os.fstat(self.capture_fd).st_size
            data = os.pread(self.capture_fd, min(size, 4 * limit), 0)
            os.ftruncate(self.capture_fd, 0)
        except OSError:
            return ""
        for fd in (1, 2):  # undo a student closing or redirecting them
            try:
                os.dup2(self.capture_fd, fd)
            except OSError:
                pass
        text = data.decode("utf-8", "replace")
        if len(text) > limit or size > len(data):
            text = text[:limit] + f"\n[... output truncated, {size} bytes in total]"
        return text

    def on_warning(self, message, category, filename, lineno, file=None, line=None):
        """warnings.showwarning while a request runs: count each distinct warning (as data)."""
        try:
            key = (getattr(category, "__name__", "Warning")[:100], _one_line(_safe_str(message)),
                   self.relative(str(filename)), lineno if type(lineno) is int else None)
        except BaseException:
            return
        if key in self.warned or len(self.warned) < MAX_WARNINGS:
            self.warned[key] = self.warned.get(key, 0) + 1

    def warnings_data(self):
        """The current request's warnings as data, then forgotten."""
        data = [{"category": c, "message": m, "file": f, "line": n, "count": k,
                 "student": f in self.student_paths.values()}
                for (c, m, f, n), k in self.warned.items()]
        self.warned = {}
        return data

    def run_op(self, fn, req):
        """fn(req) with the warnings it raises recorded (each location once per request), not
        printed: they come back as data in the reply."""
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = self.on_warning
            return fn(req)

    def handle_request(self, req):
        """Run one request; its reply: the value, or the error with the student's frames."""
        op = req.get("op") if isinstance(req, dict) else None
        fn = getattr(self, f"op_{op}", None) if isinstance(op, str) else None
        started = time.perf_counter()
        try:
            if fn is None:
                raise Fail("protocol", f"unknown request {op!r}")
            value = self.run_op(fn, req)
            reply = {"ok": True, "value": value}
        except Fail as f:
            reply = {"ok": False, "error": f.info}
        except MemoryError as e:
            self.reserve = None
            e.__traceback__ = None
            reply = {"ok": False, "error": {"kind": "memory", "type": type(e).__name__,
                                             "message": _one_line(_safe_str(e)) or "MemoryError",
                                             "traceback": ""}}
        except BaseException as e:  # SystemExit, KeyboardInterrupt too: fail this call only
            info = self.describe(e)
            item = getattr(e, "_cs260_item", None)
            if isinstance(item, str):
                info["item"] = item
            reply = {"ok": False, "error": info}
            e.__traceback__ = None
        reply["elapsed"] = time.perf_counter() - started
        warned = self.warnings_data()
        if warned:
            reply["warnings"] = warned
        return reply

    def send(self, reply):
        """Write a reply; a value that cannot be encoded becomes a bad_return error."""
        def default(obj):
            return self.store(obj.obj if isinstance(obj, Keep) else obj)

        reply["output"] = self.take_output()
        try:
            chunks = self.proto.pack(reply, default)
        except BaseException as e:
            reply = {"ok": False, "output": reply["output"], "elapsed": reply.get("elapsed", 0.0),
                     "error": {"kind": "bad_return", "type": type(e).__name__,
                               "message": _one_line(f"the return value cannot be sent: "
                                                    f"{type(e).__name__} {_safe_str(e)}"), "traceback": ""}}
            chunks = self.proto.pack(reply)
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                view = view[os.write(self.args.fd_out, view):]

    def serve(self):
        """Answer requests until the grader closes the pipe."""
        self.send({"ok": True, "value": self.op_ping({})})  # "ready"
        while True:
            try:
                req = self.proto.read_frame(self.args.fd_in, handle=self.lookup)
            except EOFError:
                return
            except (self.proto.ProtocolError, Fail) as e:
                msg = e.info if isinstance(e, Fail) else {"kind": "protocol", "message":
                                                          _one_line(_safe_str(e))}
                self.send({"ok": False, "error": msg})
                continue
            reply = self.handle_request(req)
            self.send(reply)
            if self.reserve is None:
                try:
                    self.reserve = bytearray(RESERVE_BYTES)
                except MemoryError:
                    pass


class BlockedImports:
    """Meta-path finder: importing one of `names` (or a submodule of one) raises ImportError."""

    def __init__(self, names, reason):
        self.names, self.reason = tuple(names), reason

    def find_spec(self, fullname, path=None, target=None):
        """Refuse to import a blocked module or any of its submodules, saying why."""
        for name in self.names:
            if fullname == name or fullname.startswith(name + "."):
                why = f": {self.reason}" if self.reason else ""
                raise ImportError(f"{fullname} cannot be imported in this grading worker{why}",
                                  name=fullname)
        return None


def block_imports(names, reason):
    """Install BlockedImports first on sys.meta_path, before any student code is imported."""
    if names:
        for loaded in [m for m in sys.modules if any(m == n or m.startswith(n + ".")
                                                     for n in names)]:
            del sys.modules[loaded]
        sys.meta_path.insert(0, BlockedImports(names, reason))


# Each limit below is applied where the OS supports it; the name of one it refuses (macOS has no
# prctl and may refuse RLIMIT_AS) goes back in the ready message, and the grader says once which
# ones are missing (grader/sandbox/client.py LIMITS describes them).

def _limit(name, value, unapplied):
    """setrlimit(resource.<name>, (value, value)); `name` goes into `unapplied` if it fails."""
    what = getattr(resource, name, None)
    try:
        if what is None:
            raise AttributeError(name)
        resource.setrlimit(what, (value, value))
        if resource.getrlimit(what) != (value, value):  # accepted but not kept
            raise ValueError(name)
    except (ValueError, OSError, AttributeError):
        unapplied.append(name)


def set_limits(args, unapplied):
    """Resource limits for everything that runs in this process from now on (each where the OS
    supports it; the names of those it refused are added to `unapplied`)."""
    _limit("RLIMIT_CORE", 0, unapplied)
    if args.memory_mb > 0:
        _limit("RLIMIT_AS", args.memory_mb << 20, unapplied)
    if args.fsize_mb > 0:
        _limit("RLIMIT_FSIZE", args.fsize_mb << 20, unapplied)
    # Past RLIMIT_FSIZE, write() fails with EFBIG (an OSError in student code) instead of
    # the process being killed by SIGXFSZ.
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def drop_privileges(user, nproc, unapplied):
    """setgid/setuid to `user`, a name or a uid (only possible when running as root)."""
    import pwd
    if user.isdigit():   # a uid of its own (grade-all's job slots), with the same gid
        uid = gid = int(user)
    else:
        entry = pwd.getpwnam(user)
        uid, gid = entry.pw_uid, entry.pw_gid
    if nproc > 0:
        _limit("RLIMIT_NPROC", nproc, unapplied)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise RuntimeError("could not drop root privileges")
    for lib in (os.path.dirname(os.__file__), os.path.dirname(np.__file__)):
        try:
            os.listdir(lib)
        except OSError as e:
            raise RuntimeError(f"user {user} cannot read {lib} ({e.strerror}): install Python "
                               "and numpy where that user can read them, or do not use "
                               "run_as_user") from None


def die_with_parent(parent_pid, unapplied):
    """Linux: have the kernel SIGKILL this process when the grader that started it dies, however
    it dies (the worker runs in its own session, so killing the grader's process group misses it,
    and student code stuck in a loop never reads the closed pipe). Elsewhere (no prctl) the
    client's kill is all there is, and PR_SET_PDEATHSIG goes into `unapplied`."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        failed = libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) != 0  # 1 = PR_SET_PDEATHSIG
    except (ImportError, OSError, AttributeError, TypeError):
        failed = True
    if failed:
        unapplied.append("PR_SET_PDEATHSIG")
        return
    if os.getppid() != parent_pid:  # the grader died before prctl took effect
        os._exit(1)


def build_walls(args, repo, walls):
    """The kernel walls (grader/sandbox/walls.py, loaded before the uid change: the run-as user
    cannot read the grader), before any student code: no network, reads only Python, numpy and
    the overlay, writes only the scratch folder. Refused ones go into args.unapplied."""
    python = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
              os.path.dirname(os.__file__), os.path.dirname(os.path.dirname(np.__file__))}
    python.update(p for p in sys.path if p and os.path.isabs(p))
    scratch = [args.scratch] if args.scratch else []
    read = [*walls.SYSTEM_READ, *sorted(python), args.root, *scratch]
    args.unapplied += walls.build(read, scratch, [repo, *args.secret])


def main(argv=None):
    """The worker's entry point: apply the limits, drop privileges, then serve the grader."""
    parent_pid = os.getppid()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fd-in", type=int, required=True)
    parser.add_argument("--fd-out", type=int, required=True)
    parser.add_argument("--root", required=True, help="overlay dir holding cs260/")
    parser.add_argument("--student", action="append", default=[],
                        help="student file relative to root (for traceback trimming)")
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("--fsize-mb", type=int, default=0)
    parser.add_argument("--nproc", type=int, default=0)
    parser.add_argument("--output-limit", type=int, default=4000)
    parser.add_argument("--user", default=None, help="drop to this user (when root)")
    parser.add_argument("--block-import", action="append", default=[], metavar="MODULE",
                        help="refuse to import this module and its submodules (repeatable)")
    parser.add_argument("--block-reason", default="", help="why, for the ImportError message")
    parser.add_argument("--scratch", default=None, help="the one folder student code may write")
    parser.add_argument("--secret", action="append", default=[], metavar="PATH",
                        help="a folder student code must not read (the grader's tree, the data)")
    args = parser.parse_args(argv)
    for fd in (args.fd_in, args.fd_out):
        os.set_inheritable(fd, False)

    here = os.path.dirname(os.path.abspath(__file__))   # grader/sandbox
    grader_dir = os.path.dirname(here)
    repo = os.path.dirname(grader_dir)
    sys.path[:] = [os.path.abspath(args.root)] + [
        p for p in sys.path if p and os.path.abspath(p) not in (here, grader_dir, repo, os.getcwd())]

    args.unapplied = []  # limits this OS refused; the ready message tells the grader
    set_limits(args, args.unapplied)
    protocol = _load_protocol()
    walls = _load_protocol("walls")
    if args.user and os.geteuid() == 0:
        drop_privileges(args.user, args.nproc, args.unapplied)
    die_with_parent(parent_pid, args.unapplied)  # after the uid change, which would clear it
    build_walls(args, repo, walls)
    for stream in (sys.stdout, sys.stderr):
        # Prints reach the capture file at once, so a student stuck in a loop still shows them.
        stream.reconfigure(line_buffering=True)
    import faulthandler
    faulthandler.enable(file=sys.stderr)
    block_imports(args.block_import, args.block_reason)
    Server(args, protocol).serve()


if __name__ == "__main__":
    main()
