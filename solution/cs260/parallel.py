"""Run a batch computation on all cores: each thread takes a slice of the batch.

For the small matrices of a convolution layer, two single-threaded matrix multiplies on two
halves of the batch are faster than one two-threaded multiply per image (see bench/). So while
the threads run, BLAS is switched to one thread with threadpoolctl; without threadpoolctl
everything runs in the calling thread, as before.

CS260_THREADS=n sets the number of threads (1 turns threading off); by default it is the number
of threads BLAS itself would use (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, else the cores).
"""
import contextlib
import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

try:
    import threadpoolctl
except ImportError:  # optional: without it every call runs in one thread
    threadpoolctl = None

_lock = threading.Lock()
_state = {}  # "threads", "blas" (a threadpoolctl controller), "pool"; reset in forked children


def _setup():
    """(threads, BLAS controller, executor), created on first use."""
    with _lock:
        if "threads" not in _state:
            blas = None
            threads = 1
            if threadpoolctl is not None:
                blas = threadpoolctl.ThreadpoolController().select(user_api="blas")
                threads = max([lib["num_threads"] for lib in blas.info()] or [1])
            if os.environ.get("CS260_THREADS"):
                try:
                    threads = int(os.environ["CS260_THREADS"])
                except ValueError:
                    value = os.environ["CS260_THREADS"]
                    raise ValueError(f"CS260_THREADS must be an integer, got {value!r}") from None
            if blas is None or not blas.lib_controllers:
                threads = 1  # BLAS threads cannot be limited, so do not add ours on top
            if threads > 1:
                _shorten_blas_spin(blas)
                _keep_freed_memory()
            pool = _start_threads(threads - 1) if threads > 1 else None
            _state["threads"] = threads if pool else 1
            _state["blas"] = blas
            _state["pool"] = pool
        return _state["threads"], _state["blas"], _state["pool"]


# OpenBLAS's idle threads spin (busy-wait) this many CPU cycles, as a power of two, after each
# multi-threaded call before they sleep. Its default, 2**28 cycles, is about 0.1 s here: a core
# taken from our threads (and from anything else) after every matrix multiply numpy spreads over
# the cores. 2**18 cycles (~0.1 ms) still lets back-to-back calls skip the wake-up.
_OPENBLAS_SPIN_LOG2 = 18
_spin_shortened = False


def _shorten_blas_spin(blas):
    """Make OpenBLAS's idle threads sleep soon after their work instead of spinning ~0.1 s.

    Measured on the 2-core machine of bench/: without this, the fast layers called right after
    a two-threaded numpy matrix multiply run up to 1.8x slower (bench/bench_notebook_cell.py).
    OpenBLAS reads the spin time (OPENBLAS_THREAD_TIMEOUT) only when it starts its threads, so
    they are stopped and restarted here, once, with the shorter time. That is only safe while
    no other thread can be inside BLAS: it is done only while the calling thread is the only
    Python thread, and it is skipped if the user set OPENBLAS_THREAD_TIMEOUT, for BLAS
    libraries other than OpenBLAS with its own threads, or if a function is missing.
    """
    global _spin_shortened
    if _spin_shortened or "OPENBLAS_THREAD_TIMEOUT" in os.environ or threading.active_count() > 1:
        return
    _spin_shortened = True  # once per process (forked children keep OpenBLAS's setting)
    for lib in blas.lib_controllers:
        if lib.internal_api != "openblas" or lib.threading_layer != "pthreads":
            continue
        try:
            cdll = ctypes.CDLL(lib.filepath)
            read_env, stop, start = cdll.openblas_read_env, cdll.blas_thread_shutdown_, cdll.blas_thread_init
        except (OSError, AttributeError):
            continue
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(_OPENBLAS_SPIN_LOG2)
        try:
            read_env()  # OpenBLAS re-reads its settings from the environment ...
            stop()      # ... and the threads it now starts spin only as long as that says
            start()
        finally:
            del os.environ["OPENBLAS_THREAD_TIMEOUT"]


# glibc's malloc gives large blocks back to the OS when they are freed, so the next layer's output
# of the same size starts on fresh pages, and touching them costs a page fault per 4 KB: measured
# ~4,000 faults and ~9 ms of CPU in each 30 ms float32 ThreeLayerConvNet step on this VM. With
# these two settings freed blocks stay in the heap for reuse (0 faults per step; the peak memory
# of the step unchanged). Blocks above 32 MB (a dataset) still go straight back to the OS.
_MMAP_THRESHOLD = 32 << 20  # the largest glibc accepts
_TRIM_THRESHOLD = 128 << 20
_memory_kept = False


def _keep_freed_memory():
    """Ask glibc's malloc to keep freed memory (up to 128 MB) for reuse; elsewhere do nothing."""
    global _memory_kept
    if _memory_kept:
        return
    _memory_kept = True
    try:
        mallopt = ctypes.CDLL(None).mallopt  # glibc only (not macOS or musl)
    except (OSError, AttributeError):
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # from glibc's malloc.h
    mallopt(M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    mallopt(M_TRIM_THRESHOLD, _TRIM_THRESHOLD)


def _start_threads(n):
    """An executor with all n threads already started (so no later call has to start one),
    or None if they cannot be started (e.g. under a tight address-space limit)."""
    pool = ThreadPoolExecutor(n, thread_name_prefix="cs260")
    everyone = threading.Barrier(n + 1)  # each task holds its thread until all n have started
    try:
        for _ in range(n):
            pool.submit(everyone.wait, 10)
        everyone.wait(10)
    except (RuntimeError, threading.BrokenBarrierError):
        everyone.abort()
        pool.shutdown(wait=False)
        return None
    return pool


def thread_count():
    """How many threads over_slices uses for a large enough N."""
    return _setup()[0]


def over_slices(fn, N, min_size=1):
    """Call fn(n0, n1) on contiguous slices [n0, n1) that cover range(N), one per thread (each
    slice at least min_size long; below that, starting a thread costs more than it saves), with
    BLAS single-threaded meanwhile; return the results in slice order.

    fn must only write to its own slice of any shared output.
    """
    threads, blas, pool = _setup()
    threads = min(threads, N // max(1, min_size))
    if threads <= 1:
        return [fn(0, N)]
    bounds = [N * t // threads for t in range(threads + 1)]
    results = [None] * threads
    futures = {}
    with blas.limit(limits=1):
        for t in range(1, threads):
            try:
                futures[t] = pool.submit(fn, bounds[t], bounds[t + 1])
            except RuntimeError:  # the interpreter is shutting down
                break
        try:
            for t in range(threads):  # the first slice, and any that got no thread, run here
                if t not in futures:
                    results[t] = fn(bounds[t], bounds[t + 1])
        finally:
            wait(futures.values())  # never leave a thread writing after we return or raise
    for t, future in futures.items():
        results[t] = future.result()
    return results


@contextlib.contextmanager
def single_threaded_blas():
    """Run the block with BLAS on one thread; the fast layers still split batches over the cores.

    Solver.train runs its loop this way: for a network's small matrix multiplies (the affine
    layers of a minibatch) one BLAS thread beside the fast layers' threads is a little faster
    than two. Nobody else needs it: the layers are as fast called plainly, since OpenBLAS's idle
    threads no longer spin after a multi-threaded call (see _shorten_blas_spin).
    """
    threads, blas, pool = _setup()
    if threads <= 1:  # nothing of ours to make room for: leave BLAS as it is
        yield
        return
    with blas.limit(limits=1):
        yield


def _forget_threads():
    """After fork the child has none of the parent's threads: start afresh on next use."""
    global _lock
    _lock = threading.Lock()
    _state.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads)
