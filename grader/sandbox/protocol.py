"""Wire format between the grader and the student-code worker: data only, never pickles.

A frame is an 8-byte big-endian length and a UTF-8 JSON header {"n": number of arrays,
"m": message}, then for each array an 8-byte length and the array in `.npy` format. Inside
the message an array is {"$nd": i}, a worker-side object {"$h": id, "type": name}, a tuple
{"$tuple": [...]}, a dict with a "$"-key {"$dict": {...}}, and a numeric dtype or numpy scalar
type (as in `dtype=np.float64`) {"$dtype": "float64"}, decoded as the scalar type.

The grader-side decoder is the guard against a compromised worker: it rebuilds only plain
numeric/bool ndarrays and JSON values, with caps on sizes and nesting. This module needs
only numpy and the standard library, so the worker can load it by path.
"""
import io
import json
import os
import struct
from dataclasses import dataclass, field

import numpy as np

MAX_FRAME_BYTES = 1 << 30      # whole frame: header plus arrays
MAX_HEADER_BYTES = 64 << 20    # the JSON part
MAX_DEPTH = 20                 # nesting of lists/tuples/dicts
MAX_ARRAYS = 100_000
NUMERIC_KINDS = "biufc"        # bool, signed, unsigned, float, complex

_LEN = struct.Struct(">Q")
_NPY_MAGIC = b"\x93NUMPY"


class ProtocolError(Exception):
    """A frame or value that does not follow the wire format."""


@dataclass(frozen=True, eq=False)
class Handle:
    """Opaque reference to an object that lives in the worker (a cache, a model)."""

    id: int
    type: str = "object"
    token: object = field(default=None, repr=False, compare=False)

    def __repr__(self):
        return f"<Handle #{self.id} {self.type}>"


# ---------------------------------------------------------------------------
# values <-> (JSON tree, array blobs)
# ---------------------------------------------------------------------------

def is_data_dtype(dt):
    """True for a dtype the decoder accepts: plain numeric or bool, no fields, no subarray."""
    return dt.kind in NUMERIC_KINDS and dt.names is None and dt.subdtype is None


def is_data_array(a):
    """True for an ndarray the decoder accepts (see is_data_dtype)."""
    return is_data_dtype(a.dtype)


def array_to_npy(a):
    """A numeric array as `.npy` bytes of a plain (non-subclass) ndarray."""
    plain = np.array(a, copy=True, subok=False)
    if type(plain) is not np.ndarray or not is_data_array(plain):
        raise ProtocolError(f"cannot send an array of dtype {plain.dtype}")
    buf = io.BytesIO()
    np.lib.format.write_array(buf, plain, allow_pickle=False)
    return buf.getvalue()


def npy_to_array(blob):
    """Rebuild a plain, writable, native-endian numeric ndarray from `.npy` bytes."""
    view = memoryview(blob)
    if bytes(view[:6]) != _NPY_MAGIC:
        raise ProtocolError("array blob is not in .npy format")
    f = io.BytesIO(view)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ProtocolError(f"unsupported .npy version {version}")
    except ProtocolError:
        raise
    except Exception as e:  # numpy raises ValueError/SyntaxError/... on a bad header
        raise ProtocolError(f"bad .npy header: {e}") from None
    if not is_data_dtype(dtype):
        raise ProtocolError(f"array dtype {dtype} is not a numeric or bool dtype")
    if not all(type(n) is int and n >= 0 for n in shape):
        raise ProtocolError(f"bad array shape {shape!r}")
    count = 1
    for n in shape:
        count *= n
    offset = f.tell()
    if len(view) - offset != count * dtype.itemsize:
        raise ProtocolError(
            f"array data has {len(view) - offset} bytes, shape {shape} of {dtype} needs "
            f"{count * dtype.itemsize}")
    flat = np.frombuffer(view[offset:], dtype=dtype, count=count)
    arr = flat.reshape(shape, order="F" if fortran else "C")
    return np.array(arr, dtype=dtype.newbyteorder("="), order="K", copy=True)


def encode(obj, default=None):
    """Turn `obj` into (JSON-able tree, list of .npy blobs).

    `default(obj)` is called for anything that is not data and must return the JSON to put
    in its place (the worker stores the object and returns a handle reference); without it
    such a value raises ProtocolError.
    """
    encoder = _Encoder(default)
    tree = encoder.enc(obj, 0)
    if len(encoder.blobs) > MAX_ARRAYS:
        raise ProtocolError(f"more than {MAX_ARRAYS} arrays in one message")
    return tree, encoder.blobs


class _Encoder:
    """One message being encoded: its blobs so far, and what to do with a value that is not data."""

    def __init__(self, default):
        self.default = default
        self.blobs = []

    def fallback(self, x, why):
        """`default(x)`'s reference to a non-data value, or ProtocolError(why) without one."""
        if self.default is None:
            raise ProtocolError(why)
        return self.default(x)

    def array(self, a):
        """A reference to `a`, stored as the next .npy blob."""
        self.blobs.append(array_to_npy(a))
        return {"$nd": len(self.blobs) - 1}

    def enc(self, x, depth):
        """The JSON of `x` at nesting `depth`: plain JSON values as they are, the rest by kind."""
        t = type(x)
        if x is None or t is bool or t is str:
            return x
        if t is int or t is float:
            return x
        if isinstance(x, Handle):
            return self.fallback(x, "cannot send a handle here")
        if isinstance(x, np.dtype) or (isinstance(x, type) and issubclass(x, np.generic)):
            return self.dtype(x)
        if depth > MAX_DEPTH:
            return self.fallback(x, f"value nested deeper than {MAX_DEPTH} levels")
        if isinstance(x, (np.ndarray, np.generic)):
            return self.numpy(x)
        if isinstance(x, (bool, int, float, str, complex)):
            return self.builtin(x)
        if isinstance(x, (tuple, list, dict)):
            return self.container(x, depth)
        return self.fallback(x, f"cannot send a value of type {t.__name__}")

    def dtype(self, x):
        """A numeric dtype (or numpy scalar type) argument, such as dtype=np.float64."""
        dt = np.dtype(x)
        if not is_data_dtype(dt):
            return self.fallback(x, f"cannot send the dtype {dt}")
        return {"$dtype": dt.newbyteorder("=").name}

    def numpy(self, x):
        """A numpy array or scalar: numeric ones as data, anything else through the fallback."""
        if isinstance(x, np.ndarray):
            if not is_data_array(x):
                return self.fallback(x, f"cannot send an array of dtype {x.dtype}")
            return self.array(x)
        if isinstance(x, (np.bool_, np.integer, np.floating)):
            return x.item() if not isinstance(x, np.floating) else float(x)
        if isinstance(x, np.complexfloating):
            return self.array(np.asarray(x))
        return self.fallback(x, f"cannot send a numpy {type(x).__name__}")

    def builtin(self, x):
        """A subclass of bool, int, float, str or complex, sent as the plain value."""
        if isinstance(x, bool):
            return bool(x)
        if isinstance(x, int):
            return int(x)
        if isinstance(x, float):
            return float(x)
        if isinstance(x, str):
            return str(x)
        return self.array(np.asarray(complex(x)))

    def container(self, x, depth):
        """A tuple, list or dict (str keys only), item by item, read without its own methods."""
        if isinstance(x, tuple):
            return {"$tuple": [self.enc(v, depth + 1) for v in tuple.__iter__(x)]}
        if isinstance(x, list):
            return [self.enc(v, depth + 1) for v in list.__iter__(x)]
        items = list(dict.items(x))
        if not all(isinstance(k, str) for k, _ in items):
            return self.fallback(x, "dict keys must be str")
        out = {str(k): self.enc(v, depth + 1) for k, v in items}
        if any(k.startswith("$") for k in out):
            return {"$dict": out}
        return out


def decode(tree, blobs, handle=None):
    """Rebuild a value from (JSON tree, blobs); every blob must be used exactly once.

    `handle(id, type)` turns a {"$h": ...} reference into an object; without it a handle
    reference raises ProtocolError.
    """
    decoder = _Decoder(blobs, handle)
    try:
        value = decoder.dec(tree, 0)
    except RecursionError:
        raise ProtocolError("value nested too deeply") from None
    if len(decoder.used) != len(blobs):
        raise ProtocolError(f"{len(blobs) - len(decoder.used)} array(s) sent but not referenced")
    return value


class _Decoder:
    """One message being decoded: its blobs, which of them were used, the handle resolver."""

    def __init__(self, blobs, handle):
        self.blobs, self.handle, self.used = blobs, handle, set()

    def dec(self, x, depth):
        """The value of JSON `x` at nesting `depth`; a dict with a "$" key is a special value."""
        if depth > MAX_DEPTH:
            raise ProtocolError(f"value nested deeper than {MAX_DEPTH} levels")
        t = type(x)
        if x is None or t in (bool, int, float, str):
            return x
        if t is list:
            return [self.dec(v, depth + 1) for v in x]
        if t is not dict:
            raise ProtocolError(f"unexpected JSON value of type {t.__name__}")
        special = [k for k in x if k.startswith("$")]
        if not special:
            return {k: self.dec(v, depth + 1) for k, v in x.items()}
        return self.special(x, special[0], depth)

    def special(self, x, key, depth):
        """An array, tuple, $-keyed dict, dtype or handle reference, checked strictly."""
        if key == "$nd":
            return self.array(x)
        if key == "$tuple":
            return tuple(self.dec(e, depth + 1) for e in self.wrapped(x, key, list, "tuple"))
        if key == "$dict":
            v = self.wrapped(x, key, dict, "dict")
            return {k: self.dec(e, depth + 1) for k, e in v.items()}
        if key == "$dtype":
            return self.dtype(x)
        if key == "$h":
            return self.handle_ref(x)
        raise ProtocolError(f"unknown special key {key!r}"[:200])

    @staticmethod
    def wrapped(x, key, kind, name):
        """The JSON inside {key: ...}, which must be its only key and of type `kind`."""
        v = x[key]
        if len(x) != 1 or type(v) is not kind:
            raise ProtocolError(f"bad {name} encoding")
        return v

    def array(self, x):
        """The array a {"$nd": i} reference names; each blob may be used once."""
        i = x["$nd"]
        if len(x) != 1 or type(i) is not int or not 0 <= i < len(self.blobs):
            raise ProtocolError(f"bad array reference {x!r}"[:200])
        if i in self.used:
            raise ProtocolError(f"array {i} referenced twice")
        self.used.add(i)
        return npy_to_array(self.blobs[i])

    def dtype(self, x):
        """The numpy scalar type of a numeric or bool {"$dtype": name}."""
        name = x["$dtype"]
        if len(x) != 1 or type(name) is not str or len(name) > 20:
            raise ProtocolError("bad dtype encoding")
        try:
            dt = np.dtype(name)
        except (TypeError, ValueError, SyntaxError):
            raise ProtocolError(f"unknown dtype {name!r}") from None
        if not is_data_dtype(dt):
            raise ProtocolError(f"dtype {name!r} is not a numeric or bool dtype")
        return dt.type

    def handle_ref(self, x):
        """The object a {"$h": id, "type": name} reference names, through `handle`."""
        hid, name = x["$h"], x.get("type", "object")
        if (type(hid) is not int or type(name) is not str or len(name) > 200
                or set(x) - {"$h", "type"}):
            raise ProtocolError(f"bad handle reference {x!r}"[:200])
        if self.handle is None:
            raise ProtocolError("unexpected handle reference")
        return self.handle(hid, name)


# ---------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------

def pack(msg, default=None):
    """Encode a message into the list of byte strings that make one frame."""
    tree, blobs = encode(msg, default)
    try:
        header = json.dumps({"n": len(blobs), "m": tree}, allow_nan=True,
                            separators=(",", ":")).encode("ascii")
    except (TypeError, ValueError, RecursionError) as e:
        raise ProtocolError(f"cannot encode the message: {e}") from None
    if len(header) > MAX_HEADER_BYTES:
        raise ProtocolError(f"message header is {len(header)} bytes (limit {MAX_HEADER_BYTES})")
    chunks = [_LEN.pack(len(header)), header]
    for b in blobs:
        chunks += [_LEN.pack(len(b)), b]
    if sum(len(c) for c in chunks) > MAX_FRAME_BYTES:
        raise ProtocolError(f"message is larger than {MAX_FRAME_BYTES} bytes")
    return chunks


class TooLarge(ProtocolError):
    """A frame over the reader's size limits (refused before it is read)."""


def read_message(read_exact, handle=None, max_bytes=MAX_FRAME_BYTES, max_header=MAX_HEADER_BYTES):
    """Read one frame with `read_exact(n) -> bytes` and decode it.

    Lengths are checked against the caps before anything is read or allocated, so a
    hostile length fails at once instead of waiting for (or allocating) the data.
    """
    budget = min(max_bytes, MAX_FRAME_BYTES)
    (hlen,) = _LEN.unpack(read_exact(_LEN.size))
    if hlen > min(MAX_HEADER_BYTES, max_header, budget):
        raise TooLarge(f"its non-array part is {hlen / 1e6:.1f} MB, over the limit of "
                       f"{min(MAX_HEADER_BYTES, max_header, budget) / 1e6:.1f} MB")
    if hlen == 0:
        raise ProtocolError(f"frame header length {hlen} is out of range")
    budget -= hlen
    raw = read_exact(hlen)
    try:
        head = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ProtocolError(f"frame header is not valid JSON: {str(e)[:200]}") from None
    if type(head) is not dict or set(head) != {"n", "m"} or type(head["n"]) is not int:
        raise ProtocolError("frame header must be {\"n\": count, \"m\": message}")
    n = head["n"]
    if not 0 <= n <= MAX_ARRAYS:
        raise ProtocolError(f"bad array count {n}")
    blobs = []
    for _ in range(n):
        (blen,) = _LEN.unpack(read_exact(_LEN.size))
        budget -= _LEN.size
        if blen > budget:
            raise TooLarge(f"it is over the limit of {max_bytes / 1e6:.0f} MB")
        budget -= blen
        blobs.append(read_exact(blen))
    return decode(head["m"], blobs, handle)


def write_frame(fd, msg, default=None):
    """Blocking write of one message to a file descriptor (the worker side)."""
    for chunk in pack(msg, default):
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]


def read_frame(fd, handle=None, max_bytes=MAX_FRAME_BYTES):
    """Blocking read of one message from a file descriptor; EOFError at end of stream."""

    def read_exact(n):
        # Into one buffer of the final size: no regrowth and no copy, so the memory a message
        # takes does not depend on how the pipe happened to split it (docs/ENVIRONMENT.md).
        buf = bytearray(n)
        view, got = memoryview(buf), 0
        while got < n:
            read = os.readv(fd, [view[got:got + (1 << 20)]])
            if not read:
                raise EOFError("end of stream")
            got += read
        return buf

    return read_message(read_exact, handle, max_bytes)
