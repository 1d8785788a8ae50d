"""The wire format: round trips, and a decoder that refuses anything that is not plain data."""
import io
import json
import math
import os
import pickle
import struct

import numpy as np
import pytest

from grader.sandbox import protocol
from grader.sandbox.protocol import Handle, ProtocolError


def frame_bytes(msg, default=None):
    return b"".join(protocol.pack(msg, default))


def reader(data):
    stream = io.BytesIO(data)

    def read_exact(n):
        chunk = stream.read(n)
        if len(chunk) != n:
            raise EOFError
        return chunk

    return read_exact


def round_trip(msg, handle=None):
    return protocol.read_message(reader(frame_bytes(msg)), handle)


def raw_frame(header, blobs=()):
    """A frame built by hand, as a hostile worker could send it."""
    head = json.dumps(header).encode() if not isinstance(header, bytes) else header
    parts = [struct.pack(">Q", len(head)), head]
    for b in blobs:
        parts += [struct.pack(">Q", len(b)), b]
    return b"".join(parts)


def npy(arr):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "int8", "int64", "uint16",
                                   "bool", "complex128", ">f8"])
def test_array_dtypes_round_trip(dtype):
    a = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    b = round_trip({"x": a})["x"]
    assert type(b) is np.ndarray and b.shape == a.shape
    assert b.dtype == a.dtype.newbyteorder("=")
    assert b.flags.writeable and b.dtype.isnative
    np.testing.assert_array_equal(a, b)


def test_nested_structures_round_trip():
    a = np.random.RandomState(0).randn(3, 4)
    msg = {
        "ok": True,
        "value": (a, [1, 2.5, None, "s", True], {"k": (np.float64(1.5), np.int32(7))}),
        "$weird": {"$nd": 3},  # user keys that look like markers survive
        "empty": (), "fortran": np.asfortranarray(a), "view": a[:, ::2], "zero": np.zeros((0, 3)),
    }
    back = round_trip(msg)
    value = back["value"]
    assert isinstance(value, tuple) and isinstance(value[1], list)
    np.testing.assert_array_equal(value[0], a)
    assert value[1] == [1, 2.5, None, "s", True]
    assert value[2]["k"] == (1.5, 7) and type(value[2]["k"][1]) is int
    assert back["$weird"] == {"$nd": 3}
    assert back["empty"] == ()
    np.testing.assert_array_equal(back["fortran"], a)
    np.testing.assert_array_equal(back["view"], a[:, ::2])
    assert back["zero"].shape == (0, 3)


def test_special_floats_and_big_ints():
    back = round_trip([math.nan, math.inf, -math.inf, 10**30, np.float32(0.1)])
    assert math.isnan(back[0]) and back[1] == math.inf and back[2] == -math.inf
    assert back[3] == 10**30
    assert back[4] == float(np.float32(0.1))


def test_numeric_dtypes_round_trip_as_scalar_types():
    back = round_trip({"dtype": np.float64, "d32": np.dtype("float32"), "i": np.int8})
    assert back == {"dtype": np.float64, "d32": np.float32, "i": np.int8}
    for bad in (np.dtype("U3"), np.object_, np.dtype("f8,i4")):
        with pytest.raises(ProtocolError):
            protocol.pack(bad)
    for name in ("object", "U3", "f8,i4", "V8", 3, "x" * 30):
        with pytest.raises(ProtocolError):
            protocol.read_message(reader(raw_frame({"n": 0, "m": {"$dtype": name}})))


def test_ndarray_subclass_is_sent_as_plain_array():
    m = np.ma.masked_array([1.0, 2.0], mask=[False, True])
    back = round_trip(m)
    assert type(back) is np.ndarray
    np.testing.assert_array_equal(back, [1.0, 2.0])


def test_handles_need_a_resolver():
    data = raw_frame({"n": 0, "m": {"$h": 4, "type": "Model"}})
    with pytest.raises(ProtocolError, match="handle"):
        protocol.read_message(reader(data))
    h = protocol.read_message(reader(data), handle=lambda i, t: Handle(i, t))
    assert h.id == 4 and h.type == "Model"


@pytest.mark.parametrize("bad", [b"x", {1: 2}, {"a": object()}, np.array([None], dtype=object),
                                 np.zeros(2, dtype=[("a", "f8")]), np.array(["s"])])
def test_encoder_refuses_non_data_without_default(bad):
    with pytest.raises(ProtocolError):
        protocol.pack({"v": bad})


def test_encoder_default_replaces_non_data():
    stored = []

    def default(obj):
        stored.append(obj)
        return {"$h": len(stored), "type": type(obj).__name__}

    back = protocol.read_message(reader(frame_bytes([object(), {1: 2}], default)),
                                 handle=lambda i, t: (i, t))
    assert back == [(1, "object"), (2, "dict")]


def test_decoder_refuses_object_arrays():
    data = raw_frame({"n": 1, "m": {"$nd": 0}}, [npy(np.array([1, "a"], dtype=object))])
    with pytest.raises(ProtocolError, match="dtype"):
        protocol.read_message(reader(data))


def test_decoder_refuses_structured_and_string_dtypes():
    for arr in (np.zeros(3, dtype=[("a", "<f8"), ("b", "<i4")]), np.array(["text"]),
                np.zeros(2, dtype="(2,)f8,i4"), np.array(["2020-01-01"], dtype="M8[D]")):
        data = raw_frame({"n": 1, "m": {"$nd": 0}}, [npy(arr)])
        with pytest.raises(ProtocolError):
            protocol.read_message(reader(data))


def test_decoder_refuses_pickles_and_npz():
    payload = pickle.dumps(np.arange(3))
    for blob in (payload, b"\x93NUMPY" + payload, b"PK\x03\x04" + payload):
        with pytest.raises(ProtocolError):
            protocol.read_message(reader(raw_frame({"n": 1, "m": {"$nd": 0}}, [blob])))


def test_decoder_checks_array_data_length():
    blob = npy(np.arange(10.0))
    for bad in (blob[:-8], blob + b"\0" * 8):
        with pytest.raises(ProtocolError, match="bytes"):
            protocol.read_message(reader(raw_frame({"n": 1, "m": {"$nd": 0}}, [bad])))
    # A header claiming an enormous shape fails before any allocation.
    header = blob.replace(b"(10,)", b"(10000000000000,)")
    with pytest.raises(ProtocolError):
        protocol.read_message(reader(raw_frame({"n": 1, "m": {"$nd": 0}}, [header])))


@pytest.mark.parametrize("header, blobs", [
    ({"n": 1, "m": {"$nd": 1}}, [npy(np.ones(1))]),               # index out of range
    ({"n": 2, "m": [{"$nd": 0}, {"$nd": 0}]}, [npy(np.ones(1))] * 2),  # reused, one unused
    ({"n": 1, "m": None}, [npy(np.ones(1))]),                     # sent but unused
    ({"n": 0, "m": {"$nd": "0"}}, []),
    ({"n": 0, "m": {"$nd": 0, "extra": 1}}, []),
    ({"n": 0, "m": {"$tuple": 3}}, []),
    ({"n": 0, "m": {"$pickle": "gASV"}}, []),
    ({"n": 0, "m": {"$h": "1"}}, []),
    ({"n": -1, "m": None}, []),
    ({"m": None}, []),
    ([1, 2], []),
])
def test_decoder_refuses_malformed_messages(header, blobs):
    with pytest.raises(ProtocolError):
        protocol.read_message(reader(raw_frame(header, blobs)), handle=lambda i, t: i)


def test_decoder_refuses_deep_nesting():
    deep = {"n": 0, "m": None}
    node = deep
    for _ in range(protocol.MAX_DEPTH + 5):
        node["m"] = {"m": None}
        node = node["m"]
    with pytest.raises(ProtocolError, match="deeper"):
        protocol.read_message(reader(raw_frame(deep)))
    very_deep = b'{"n":0,"m":' + b"[" * 100000 + b"]" * 100000 + b"}"
    with pytest.raises(ProtocolError):
        protocol.read_message(reader(raw_frame(very_deep)))


def test_oversized_and_garbage_frames_fail_before_reading_the_body():
    calls = []

    def read_exact(n):
        calls.append(n)
        if len(calls) == 1:
            return struct.pack(">Q", 1 << 40)
        raise AssertionError("should not read the body")

    with pytest.raises(protocol.TooLarge, match="over the limit"):
        protocol.read_message(read_exact)
    with pytest.raises(ProtocolError):
        protocol.read_message(reader(b"this is not a frame at all"))
    with pytest.raises(ProtocolError, match="JSON"):
        protocol.read_message(reader(raw_frame(b"\xff\xfe not json")))
    big = raw_frame({"n": 1, "m": {"$nd": 0}}, [npy(np.ones(1000))])
    with pytest.raises(protocol.TooLarge, match="over the limit"):
        protocol.read_message(reader(big), max_bytes=1000)
    with pytest.raises(protocol.TooLarge, match="non-array part"):
        protocol.read_message(reader(big), max_header=10)


def test_fd_helpers_round_trip():
    r, w = os.pipe()
    try:
        protocol.write_frame(w, {"a": np.arange(5), "b": ("x", 1)})
        os.close(w)
        w = None
        msg = protocol.read_frame(r)
        np.testing.assert_array_equal(msg["a"], np.arange(5))
        assert msg["b"] == ("x", 1)
        with pytest.raises(EOFError):
            protocol.read_frame(r)
    finally:
        os.close(r)
        if w is not None:
            os.close(w)
