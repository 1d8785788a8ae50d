"""Grader-side client of the student-code worker (grader/sandbox/worker.py).

`Worker` spawns the worker lazily, sends requests with a deadline, and turns every failure of
student code into a `StudentError`. After a timeout, crash, memory error or unreadable reply
the worker is killed (its whole process group) and the next request starts a fresh one;
handles from the old worker then fail with kind 'protocol'.
"""
import os
import pwd
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

from grader import config
from grader.sandbox import walls
from grader.sandbox.protocol import Handle, ProtocolError, TooLarge, pack, read_message

WORKER_SCRIPT = Path(__file__).with_name("worker.py")

# The limits the worker sets on itself, by the name it reports when the OS refuses one
# (grader/sandbox/worker.py): what a student is told it means that it is missing.
LIMITS = {
    "RLIMIT_AS": "memory cap",
    "RLIMIT_FSIZE": "file size cap",
    "RLIMIT_CORE": "no core dumps",
    "RLIMIT_NPROC": "process count cap",
    "PR_SET_PDEATHSIG": "killed when the grader dies",
    **walls.WALLS,
}

KINDS = ("not_implemented", "exception", "timeout", "crash", "memory", "bad_return",
         "import_error", "protocol")


class StudentError(Exception):
    """A failure of student code, as the checks report it."""

    def __init__(self, kind, message, detail="", output="", target=None, causes=(),
                 error_type="", error_message=""):
        super().__init__(message)
        self.kind = kind        # one of KINDS
        self.message = message  # one line, names the target
        self.detail = detail    # traceback trimmed to the student's frames
        self.output = output    # the student's prints during the request, truncated
        self.target = target
        # Likely causes a check adds from what it knows (a failing dependency). The causes that
        # the exception itself explains are worked out once, when the result is recorded
        # (grader.feedback.pointers.error_causes), from these two raw strings.
        self.causes = list(causes)
        self.error_type = error_type        # the student's exception type name, e.g. "ValueError"
        self.error_message = error_message  # and its message

    def __str__(self):
        return self.message


class WorkerStartError(RuntimeError):
    """The worker could not be started at all: a grader setup problem, not the student's."""


class _Timeout(Exception):
    pass


class _Eof(Exception):
    pass


def _truncate(text, limit=None):
    limit = config.OUTPUT_LIMIT_CHARS if limit is None else limit
    if len(text) <= limit + 100:  # slack for the worker's own truncation marker
        return text
    return text[:limit] + f"\n[... {len(text) - limit} more characters]"


def _one_line(text, limit=300):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe_target(target):
    if isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], Handle):
        return f"{target[0].type}.{target[1]}"
    return str(target)


def _kill_group(proc):
    """SIGKILL the worker's process group (it runs in its own session) and reap it."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


_LIVE = set()   # pids of the workers this process runs now (never swept)
PR_SET_CHILD_SUBREAPER = 36


def user_ids(user):
    """(uid, gid) of a run-as user: a name, or a number (a uid of its own, e.g. grade-all's)."""
    if str(user).isdigit():
        return int(user), int(user)
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def _set_subreaper():
    """Linux: orphans of student code (double forks, setsid) become this process's children
    instead of init's, so `sweep` finds them."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _status(pid):
    """{field: first value} of /proc/<pid>/status ({} when gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return {k: v.split()[0] for k, _, v in (line.partition(":") for line in f)
                    if v.split()}
    except (OSError, IndexError):
        return {}


def _stray(worker_pid, uid, me, mine):
    """Pids of live processes that student code started: the orphans adopted by this (subreaper)
    process that carry more seccomp filters than it does, what is left in the worker's session,
    and with a uid of its own, every process of that uid under no_new_privs (as every process of
    student code is). Zombies adopted here are reaped."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in _LIVE or int(name) == me:
            continue
        st = _status(name)
        if not st:
            continue
        adopted = st.get("PPid") == str(me)
        if st.get("State") == "Z":
            if adopted:
                _reap(int(name))
            continue
        if ((adopted and int(st.get("Seccomp_filters", 0)) > mine)
                or (worker_pid and st.get("NSsid") == str(worker_pid))
                or (uid is not None and st.get("Uid") == str(uid) and st.get("NoNewPrivs") == "1")):
            found.append(int(name))
    return found


def _reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def sweep(worker_pid, uid=None, rounds=50):
    """SIGKILL every process a finished worker left behind (Linux /proc); see `_stray`."""
    if not os.path.isdir("/proc"):
        return
    me = os.getpid()
    mine = int(_status(me).get("Seccomp_filters", 0))
    for _ in range(rounds):
        stray = _stray(worker_pid, uid, me, mine)
        if not stray:
            return
        for pid in stray:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in stray:   # adopted ones are this process's children: reap them
            _reap(pid)
        time.sleep(0.01)


def _scratch_bytes(folder):
    """Disk space the files under `folder` take (blocks, so sparse files count as written)."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total


def _secrets():
    """Folders student code must never read even where a wider folder is allowed: the grader's
    tree and the data it uses (grader/sandbox/walls.py `without`)."""
    repo = Path(config.__file__).resolve().parents[1]
    data = os.environ.get("CS260_DATA_DIR")
    return [str(repo)] + [data] * bool(data) + [p for p in ("/autograder",) if os.path.isdir(p)]


class _Process:
    """One running worker: its pipes, capture file and scratch dir."""

    def __init__(self, proc, req_w, rep_r, capture, tmp, uid=None):
        self.proc, self.req_w, self.rep_r, self.capture, self.tmp = proc, req_w, rep_r, capture, tmp
        self.uid = uid         # the worker's own uid when it runs as another user
        self.token = object()  # handles from this process carry it

    def close(self):
        """Kill the worker's process group, every process it started (however detached), and
        close its pipes and capture file; its scratch folder goes."""
        _kill_group(self.proc)
        _LIVE.discard(self.proc.pid)
        sweep(self.proc.pid, self.uid)
        for fd in (self.req_w, self.rep_r):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.capture.close()
        except OSError:
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)


class WorkerGroup:
    """Workers of which at most one runs at a time: starting one stops the others.

    A grading run's memory then holds one worker, never two, and a worker never runs next to
    another one's private copy of its overlay (which, with run_as_user, its user could read).
    """

    def __init__(self):
        self._members = weakref.WeakSet()

    def add(self, worker):
        """Make `worker` a member, so starting it stops the others."""
        self._members.add(worker)

    def stop_others(self, keep):
        """Close every member but `keep` (they start again when next used)."""
        for worker in list(self._members):
            if worker is not keep:
                worker.close()


class Worker:
    """Runs student code in a separate, resource-limited process; see docs/ARCHITECTURE.md."""

    def __init__(self, submission_root, *, timeout=None, memory_mb=None, run_as_user=None,
                 python=sys.executable, start_timeout=None, student_files=None,
                 block_imports=(), block_reason="", group=None):
        self.root = Path(submission_root).resolve()
        self.timeout = config.WORKER_TIMEOUT_S if timeout is None else timeout
        self.memory_mb = config.WORKER_MEMORY_MB if memory_mb is None else memory_mb
        self.run_as_user = run_as_user
        self.python = python
        self.start_timeout = (config.WORKER_START_TIMEOUT_S if start_timeout is None
                              else start_timeout)
        self.student_files = list(config.STUDENT_FILES.values() if student_files is None
                                  else student_files)
        # Modules (and their submodules) the worker refuses to import, and the reason it gives.
        self.block_imports, self.block_reason = tuple(block_imports), block_reason
        self.group = group     # a WorkerGroup: starting this worker stops the others
        if group is not None:
            group.add(self)
        self.last_elapsed = 0.0
        self.restarts = 0      # number of times a worker was killed after a failure
        self._timeouts = {}    # target -> number of timeouts so far (see config.RETRY_TIMEOUT_S)
        self.info = None       # the worker's ready message: pid, uid, unapplied limits
        self.unapplied_limits = set()  # LIMITS names some worker of this Worker could not set
        self.memory_peak_kb = {}  # "virtual"/"resident" peaks of its processes so far (Linux)
        self._proc = None
        self._output = []
        self._warnings = []    # warnings student code raised, as data (grader/feedback/numpy_notes.py)
        self._slot = [None]  # the live process, for the finalizer (kills it on garbage collection)
        self._finalizer = weakref.finalize(self, Worker._cleanup, self._slot)

    # -- lifecycle -----------------------------------------------------------------------

    @staticmethod
    def _cleanup(slot):
        if slot[0] is not None:
            slot[0].close()
            slot[0] = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Stop the worker (if any). The Worker can still be used: it starts a new one."""
        if self._proc is not None:
            self._note_peak()
            self._proc.close()
        self._proc = self._slot[0] = None

    def _note_peak(self):
        """Keep the largest virtual and resident peak of this Worker's processes (Linux /proc;
        read by the grader, not reported by the worker): docs/ENVIRONMENT.md's margins."""
        peak = process_peak_kb(self._proc.proc.pid)
        for key, value in peak.items():
            self.memory_peak_kb[key] = max(self.memory_peak_kb.get(key, 0), value)

    def restart(self):
        """Drop the current worker; the next request starts a fresh one."""
        self.close()

    @property
    def pid(self):
        """The running worker's process id (None when none runs)."""
        return self._proc.proc.pid if self._proc else None

    def _env(self, home):
        env = {
            "PATH": os.defpath,
            "HOME": str(home),
            "TMPDIR": str(home),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8:backslashreplace",
            "MPLBACKEND": "Agg",
        }
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
            env[var] = "1"
        # A predictable address space under RLIMIT_AS (glibc reads these before numpy loads;
        # measured in docs/ENVIRONMENT.md): one malloc arena whatever threads start (each extra
        # arena reserves 64 MB), and a fixed mmap threshold, so large blocks always go back to
        # the OS when freed instead of the threshold growing with the allocation history.
        env.update(config.WORKER_MALLOC_ENV)
        # Nothing else from the grader's environment (never where the data or the grader is),
        # except the package's own switches and what the interpreter may need to load.
        for var, value in os.environ.items():
            if var in config.WORKER_ENV_PASSED:
                env[var] = value
        # One thread whatever the grader's environment says: the same results and memory on
        # every machine (cs260/parallel.py would otherwise split batches over the cores).
        env["CS260_THREADS"] = "1"
        return env

    def _spawn(self):
        """Start the worker process and wait for its ready message (limits it could not apply)."""
        if self.group is not None:
            self.group.stop_others(self)
        tmp = Path(tempfile.mkdtemp(prefix="cs260-worker-"))
        home = tmp / "home"   # the private scratch folder: HOME, TMPDIR, cwd; gone at close
        home.mkdir(mode=0o700)
        user = self.run_as_user if (self.run_as_user and os.geteuid() == 0) else None
        root = self._private_overlay(tmp, home, user) if user else self.root
        self._uid = user_ids(user)[0] if user else None
        _set_subreaper()
        capture = open(os.open(tmp / "output.txt", os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600),
                       "a+b")   # the worker writes to the inherited fd; no one else reads it
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        try:
            proc = subprocess.Popen(self._command(req_r, rep_w, root, user, home),
                                    stdin=subprocess.DEVNULL, stdout=capture,
                                    stderr=capture, pass_fds=(req_r, rep_w), cwd=home,
                                    env=self._env(home), start_new_session=True)
        except OSError as e:
            for fd in (req_r, req_w, rep_r, rep_w):
                os.close(fd)
            capture.close()
            shutil.rmtree(tmp, ignore_errors=True)
            raise WorkerStartError(f"cannot start the worker ({self.python}): {e}") from e
        os.close(req_r)
        os.close(rep_w)
        os.set_blocking(req_w, False)  # a stuck worker must not block the grader in write()
        self._proc = self._slot[0] = _Process(proc, req_w, rep_r, capture, tmp, self._uid)
        _LIVE.add(proc.pid)
        self._await_ready()

    def _private_overlay(self, tmp, home, user):
        """A read-only copy of the overlay that only `user`'s group can read (root owns it), and
        a home only `user` can enter: no other uid (another student's) sees either."""
        uid, gid = user_ids(user)
        os.chmod(tmp, 0o711)
        root = tmp / "overlay"
        shutil.copytree(self.root, root, ignore=shutil.ignore_patterns("__pycache__"))
        for dirpath, dirnames, filenames in os.walk(root):
            os.chown(dirpath, 0, gid)
            os.chmod(dirpath, 0o750)
            for name in filenames:
                os.chown(os.path.join(dirpath, name), 0, gid)
                os.chmod(os.path.join(dirpath, name), 0o640)
        os.chown(home, uid, gid)
        return root

    def _command(self, fd_in, fd_out, root, user, cwd):
        """The worker's command line: the script by path, its pipes, root and limits."""
        cmd = [self.python, "-s"]
        if sys.version_info >= (3, 11):
            cmd.append("-P")
        cmd += [str(WORKER_SCRIPT), "--fd-in", str(fd_in), "--fd-out", str(fd_out),
                "--root", str(root), "--memory-mb", str(self.memory_mb),
                "--fsize-mb", str(config.WORKER_FSIZE_MB),
                "--output-limit", str(config.OUTPUT_LIMIT_CHARS)]
        for rel in self.student_files:
            cmd += ["--student", rel]
        cmd += ["--scratch", str(Path(cwd).resolve())]
        for path in _secrets():
            cmd += ["--secret", path]
        for name in self.block_imports:
            cmd += ["--block-import", name]
        if self.block_imports and self.block_reason:
            cmd += ["--block-reason", self.block_reason]
        if user:
            cmd += ["--user", user, "--nproc", str(config.WORKER_NPROC)]
        return cmd

    def _await_ready(self):
        """Read the worker's ready message; a worker that does not send one is stopped."""
        try:
            ready = self._receive(time.monotonic() + self.start_timeout)
            if not (isinstance(ready, dict) and ready.get("ok")):
                raise ProtocolError("no ready message")
        except (_Timeout, _Eof, ProtocolError) as e:
            reason = {_Timeout: f"no ready message within {self.start_timeout:g} s",
                      _Eof: "it exited"}.get(type(e), str(e))
            leftover = self._leftover_output()
            status = self._exit_status()
            self.close()
            raise WorkerStartError(f"the worker did not start ({reason}; {status}); "
                                   f"its output:\n{leftover[-3000:]}") from None
        value = ready.get("value")
        self.info = value if isinstance(value, dict) else {}
        unapplied = self.info.get("unapplied")  # sent before any student code ran
        if isinstance(unapplied, list):
            self.unapplied_limits.update(n for n in unapplied if n in LIMITS)
        self._leftover_output()  # anything printed at start-up is not the student's

    # -- low-level I/O ---------------------------------------------------------------------

    def _wait(self, fd, event, deadline):
        """Block until `fd` is ready for `event` (select.POLLIN/POLLOUT) or the deadline passes.

        Waits in short slices so a worker that died while a child of it still holds the pipe
        open is seen as a crash, not a timeout.
        """
        poller = select.poll()
        poller.register(fd, event | select.POLLERR | select.POLLHUP)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout()
            if poller.poll(min(remaining, 0.25) * 1000):
                return
            if self._proc.proc.poll() is not None:
                raise _Eof()

    def _send(self, chunks, deadline):
        fd = self._proc.req_w
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                self._wait(fd, select.POLLOUT, deadline)
                try:
                    view = view[os.write(fd, view[: 1 << 20]):]
                except BlockingIOError:
                    continue
                except BrokenPipeError:
                    raise _Eof() from None

    def _receive(self, deadline):
        fd = self._proc.rep_r
        token = self._proc.token

        def read_exact(n):
            buf = bytearray()
            while len(buf) < n:
                self._wait(fd, select.POLLIN, deadline)
                chunk = os.read(fd, min(n - len(buf), 1 << 20))
                if not chunk:
                    raise _Eof()
                buf += chunk
            return bytes(buf)

        def handle(hid, type_name):
            return Handle(hid, type_name, token)

        # The grader's own memory: a reply is refused before it is read when it is larger than
        # config.REPLY_MAX_MB (its non-array part: REPLY_HEADER_MAX_KB; JSON costs ~10x in Python).
        return read_message(read_exact, handle, max_bytes=config.REPLY_MAX_MB << 20,
                            max_header=config.REPLY_HEADER_MAX_KB << 10)

    def _leftover_output(self):
        """Read and empty what the worker printed but did not report (before a crash)."""
        if self._proc is None:
            return ""
        f = self._proc.capture
        try:
            size = os.fstat(f.fileno()).st_size
            data = os.pread(f.fileno(), min(size, 4 * config.OUTPUT_LIMIT_CHARS), 0)
            os.ftruncate(f.fileno(), 0)
        except OSError:
            return ""
        return _truncate(data.decode("utf-8", "replace"))

    def _exit_status(self):
        proc = self._proc.proc if self._proc else None
        if proc is None:
            return "not running"
        try:
            code = proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "still running"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            hint = " - out of memory?" if -code == signal.SIGKILL else ""
            return f"killed by signal {name}{hint}"
        return f"exit code {code}"

    def _encode_arg(self, obj):
        if isinstance(obj, Handle):
            if self._proc is None or obj.token is not self._proc.token:
                raise StudentError("protocol", f"{obj!r} belongs to a worker that has been "
                                   "restarted since (after an earlier failure); it is gone")
            return {"$h": obj.id}
        raise StudentError("protocol", f"cannot send a {type(obj).__name__} to the worker")

    # -- requests --------------------------------------------------------------------------

    def _request(self, msg, what, timeout=None):
        """Send one request and return the reply value, or raise StudentError."""
        timeout = self.timeout if timeout is None else timeout
        timed_out = self._timeouts.get(what, 0)
        if timed_out >= 2:
            raise StudentError("timeout", f"{what} was not run again: it did not finish in time "
                               "twice earlier in this grading run", target=what)
        if timed_out:
            timeout = min(timeout, config.RETRY_TIMEOUT_S)
        if self._proc is None:
            self._spawn()
        try:
            chunks = pack(msg, self._encode_arg)
        except ProtocolError as e:
            raise StudentError("protocol", f"{what}: cannot send the arguments: {e}",
                               target=what) from None
        start = time.monotonic()
        deadline = start + timeout
        try:
            self._send(chunks, deadline)
            reply = self._receive(deadline)
        except _Timeout:
            self.last_elapsed = time.monotonic() - start
            output = self._leftover_output()
            self._remember(output)
            self._fail_and_kill()
            self._timeouts[what] = timed_out + 1
            raise StudentError("timeout", f"{what} did not finish within {timeout:g} s",
                               output=output, target=what) from None
        except _Eof:
            self.last_elapsed = time.monotonic() - start
            status = self._exit_status()
            output = self._leftover_output()
            self._remember(output)
            self._fail_and_kill()
            raise StudentError("crash", f"{what} crashed the worker process ({status})",
                               detail=_crash_detail(output), output=output,
                               target=what) from None
        except ProtocolError as e:
            self.last_elapsed = time.monotonic() - start
            output = self._leftover_output()
            self._remember(output)
            self._fail_and_kill()
            why = (f"its reply was refused: {_one_line(e, 200)}; return smaller values"
                   if isinstance(e, TooLarge) else
                   f"the worker sent an unreadable reply ({_one_line(e, 200)})")
            raise StudentError("bad_return", f"{what}: {why}", output=output,
                               target=what) from None
        self.last_elapsed = time.monotonic() - start
        if _scratch_bytes(self._proc.tmp / "home") > config.WORKER_SCRATCH_MB << 20:
            self._fail_and_kill()   # its scratch folder goes with it
            raise StudentError("memory", f"{what} wrote more than {config.WORKER_SCRATCH_MB} MB "
                               "of files to its scratch folder", target=what)
        return self._unwrap(reply, what)

    def _fail_and_kill(self):
        self.restarts += 1
        self.close()

    def _remember(self, output):
        if output:
            self._output.append(output)

    def _unwrap(self, reply, what):
        if type(reply) is not dict or type(reply.get("ok")) is not bool:
            self._fail_and_kill()
            raise StudentError("bad_return", f"{what}: the worker sent a malformed reply",
                               target=what)
        output = reply.get("output", "")
        output = _truncate(output) if type(output) is str else ""
        self._remember(output)
        self._warnings += _valid_warnings(reply.get("warnings"))
        if reply["ok"]:
            return reply.get("value")
        error = reply.get("error")
        if type(error) is not dict:
            error = {}
        kind = error.get("kind") if error.get("kind") in KINDS else "protocol"
        detail = error.get("traceback") if type(error.get("traceback")) is str else ""
        message = _compose(what, kind, error)
        etype, emsg = error.get("type"), error.get("message")
        if kind == "memory":
            self._fail_and_kill()
        raise StudentError(kind, message, detail=_truncate(detail, 3000), output=output,
                           target=what, error_type=etype if isinstance(etype, str) else "",
                           error_message=emsg if isinstance(emsg, str) else "")

    # -- the API used by the checks ----------------------------------------------------------

    def ping(self, timeout=None):
        """The worker's pid and uid (starts the worker if needed)."""
        return self._request({"op": "ping"}, "ping", timeout)

    def import_module(self, module, timeout=None):
        """Import cs260.<module> in the worker; raises StudentError(import_error) on failure."""
        return self._request({"op": "import", "module": module}, f"import of {module}",
                             timeout)

    def call(self, target, *args, timeout=None, return_args=False, seed=None, **kwargs):
        """Call "module.func" (inside cs260) or (Handle, "method") with data arguments."""
        msg = {"op": "call", "target": _wire_target(target), "args": list(args),
               "kwargs": kwargs, "return_args": bool(return_args), "seed": seed}
        value = self._request(msg, _describe_target(target), timeout)
        if return_args:
            if not (isinstance(value, tuple) and len(value) == 2):
                raise StudentError("bad_return", f"{_describe_target(target)}: malformed reply",
                                   target=_describe_target(target))
            return value[0], tuple(value[1]) if isinstance(value[1], (list, tuple)) else ()
        return value

    def batch(self, target, args, vary, values, pick=0, timeout=None, kwargs=None, seed=None):
        """Call target once per values[i], with args[vary] (or kwargs[vary]) replaced.

        Returns np.stack of result[pick] (the whole result when pick is None).
        """
        msg = {"op": "batch", "target": _wire_target(target), "args": list(args),
               "kwargs": kwargs or {}, "vary": vary, "values": list(values), "pick": pick,
               "seed": seed}
        return self._request(msg, _describe_target(target), timeout)

    def batch_item(self, handle, attr, key, values, method, args, pick=0, timeout=None,
                   kwargs=None, seed=None):
        """For each value: handle.<attr>[key] = value; collect handle.<method>(*args)[pick].

        The original handle.<attr>[key] is put back afterwards.
        """
        msg = {"op": "batch_item", "handle": handle, "attr": attr, "key": key,
               "values": list(values), "method": method, "args": list(args),
               "kwargs": kwargs or {}, "pick": pick, "seed": seed}
        return self._request(msg, f"{handle.type}.{method}", timeout)

    def new(self, cls, *args, timeout=None, seed=None, **kwargs):
        """Instantiate "module.Class" in the worker; returns a Handle."""
        msg = {"op": "new", "cls": cls, "args": list(args), "kwargs": kwargs, "seed": seed}
        return self._request(msg, cls, timeout)

    def getattr(self, handle, name, timeout=None):
        """handle.<name> as data (or a Handle if it is not data)."""
        return self._request({"op": "getattr", "handle": handle, "name": name},
                             f"{handle.type}.{name}", timeout)

    def setitem(self, handle, attr, key, value, timeout=None):
        """handle.<attr>[key] = value (handle[key] = value when attr is None)."""
        return self._request({"op": "setitem", "handle": handle, "attr": attr, "key": key,
                              "value": value}, f"{handle.type}.{attr}[{key!r}]", timeout)

    def release(self, *handles):
        """Let the worker drop objects it keeps for these handles."""
        live = [h.id for h in handles if self._proc is not None and h.token is self._proc.token]
        if live:
            self._request({"op": "release", "ids": live}, "release")

    def drain_warnings(self):
        """The warnings student code raised since the last drain (dicts of plain data)."""
        warned, self._warnings = self._warnings, []
        return warned

    def drain_output(self):
        """The student's captured prints since the last drain (truncated), then cleared."""
        text = "".join(self._output)
        self._output.clear()
        return _truncate(text)


def process_peak_kb(pid):
    """{"virtual": VmPeak, "resident": VmHWM} of a live process in KiB ({} without /proc)."""
    fields = {"VmPeak:": "virtual", "VmHWM:": "resident"}
    try:
        with open(f"/proc/{pid}/status") as f:
            return {fields[line.split()[0]]: int(line.split()[1]) for line in f
                    if line.split()[:1] and line.split()[0] in fields}
    except (OSError, ValueError, IndexError):
        return {}


def unapplied_note(names):
    """One line saying which worker limits this OS did not apply ("" if none)."""
    if not names:
        return ""
    listed = ", ".join(f"{name} ({LIMITS.get(name, 'limit')})" for name in sorted(names))
    return (f"This OS did not apply some limits to the process running your code: {listed}. "
            "Grading works without them; only a runaway function can take more of this "
            "machine than it could on Gradescope.")


def _valid_warnings(value, limit=20):
    """The well-formed warning records of a reply (untrusted data), at most `limit`."""
    fields = {"category": str, "message": str, "file": str, "line": (int, type(None)),
              "count": int, "student": bool}
    if type(value) is not list:
        return []
    return [{k: w[k] for k in fields} for w in value[:limit]
            if type(w) is dict and all(isinstance(w.get(k), t) for k, t in fields.items())]


def _wire_target(target):
    if isinstance(target, str):
        return target
    if isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], Handle):
        return [target[0], target[1]]
    raise TypeError("target must be 'module.attr' or (Handle, 'method')")


def _compose(what, kind, error):
    """The one-line message of a StudentError from the worker's error info."""
    def field(name, limit=300):
        value = error.get(name)
        return _one_line(value, limit) if isinstance(value, (str, int)) else ""

    etype, msg, where = field("type", 100), field("message"), field("file", 100)
    line = error.get("line")
    if where and type(line) is int:
        where = f"{where}, line {line}"
    item = field("item", 60)
    suffix = "".join(f" ({p})" for p in (where, item) if p)
    if kind == "not_implemented":
        text = f"{what} is not implemented" + (f": {msg}" if msg else "")
    elif kind == "exception":
        text = f"{what} raised {etype or 'an exception'}" + (f": {msg}" if msg else "")
    elif kind == "memory":
        text = f"{what} ran out of memory ({etype or 'MemoryError'})"
    elif kind == "import_error":
        return _one_line(f"{what}: {msg}" if msg else f"{what}: import failed", 400)
    else:
        text = f"{what}: {msg or kind}"
    return _one_line(text + suffix, 400)


def _crash_detail(output):
    """The faulthandler report from the captured output, if the worker printed one."""
    start = output.find("Fatal Python error")
    return output[start:][-3000:] if start >= 0 else ""
