"""IDX reading and writing: round trips, every malformed case, hostile sizes."""

import gzip
import io
import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from glassnet.datasets import IDXError, encode_idx, read_idx, write_idx

DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32, 0x0E: np.float64}


def header(code, dims):
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def sample(dtype, shape=(3, 4, 5)):
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    rng = np.random.default_rng(0)
    if info is not None:
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    return rng.standard_normal(shape).astype(dtype)


def assert_same(got, want):
    assert got.dtype == np.dtype(want.dtype).newbyteorder("=")
    assert got.dtype.isnative
    assert got.shape == want.shape
    assert got.flags.c_contiguous and got.flags.writeable
    assert got.tobytes() == np.ascontiguousarray(want, dtype=got.dtype).tobytes()


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("code", sorted(DTYPES))
def test_round_trip_file_each_type(tmp_path, code):
    a = sample(DTYPES[code])
    path = write_idx(tmp_path / "a.idx", a)
    raw = path.read_bytes()
    assert raw[:4] == bytes([0, 0, code, 3])
    assert struct.unpack(">3I", raw[4:16]) == (3, 4, 5)
    assert_same(read_idx(path), a)
    assert_same(read_idx(str(path)), a)


@pytest.mark.parametrize("code", sorted(DTYPES))
def test_round_trip_gzip_each_type(tmp_path, code):
    a = sample(DTYPES[code])
    path = tmp_path / "a.idx.gz"
    path.write_bytes(gzip.compress(encode_idx(a)))
    assert_same(read_idx(path), a)
    assert_same(read_idx(path.read_bytes()), a)


def test_big_endian_on_disk_and_byte_order_of_input_irrelevant():
    a = np.array([1, 256, -2], dtype=">i4")
    data = encode_idx(a)
    assert data[8:] == b"\x00\x00\x00\x01\x00\x00\x01\x00\xff\xff\xff\xfe"
    assert encode_idx(a.astype("<i4")) == data
    assert read_idx(data).tolist() == [1, 256, -2]


@pytest.mark.parametrize("shape", [(0,), (7,), (2, 0, 3), (1, 2, 3, 4)])
def test_shapes(shape):
    a = np.arange(int(np.prod(shape)), dtype=np.uint8).reshape(shape)
    assert_same(read_idx(encode_idx(a)), a)


def test_accepts_bytearray_and_memoryview():
    data = encode_idx(np.arange(6, dtype=np.int16).reshape(2, 3))
    assert read_idx(bytearray(data)).tolist() == [[0, 1, 2], [3, 4, 5]]
    assert read_idx(memoryview(data)).tolist() == [[0, 1, 2], [3, 4, 5]]


def test_write_is_atomic_and_overwrites(tmp_path):
    path = tmp_path / "a.idx"
    write_idx(path, np.zeros(3, np.uint8))
    write_idx(path, np.ones(5, np.uint8))
    assert read_idx(path).tolist() == [1] * 5
    assert [p.name for p in tmp_path.iterdir()] == ["a.idx"]


@pytest.mark.parametrize("bad", [np.zeros(3, np.int64), np.zeros(3, bool), np.zeros((1,) * 5, np.uint8), np.uint8(3)])
def test_write_refuses_unrepresentable(tmp_path, bad):
    with pytest.raises(IDXError):
        write_idx(tmp_path / "a.idx", bad)
    assert list(tmp_path.iterdir()) == []


def test_missing_file_is_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


# --------------------------------------------------------------------------- malformed


GOOD = encode_idx(np.arange(12, dtype=np.uint8).reshape(3, 4))


@pytest.mark.parametrize(
    "data, match",
    [
        (b"", "truncated header"),
        (b"\x00\x00\x08", "truncated header"),
        (b"\x00\x01\x08\x01" + b"\x00\x00\x00\x01x", "bad magic"),
        (b"\x01\x00\x08\x01" + b"\x00\x00\x00\x01x", "bad magic"),
        (b"\x00\x00\x0a\x01" + b"\x00\x00\x00\x01x", "type code 0x0a"),
        (b"\x00\x00\x07\x01" + b"\x00\x00\x00\x01x", "type code 0x07"),
        (b"\x00\x00\x08\x00", "dimensions 0"),
        (header(0x08, (1, 1, 1, 1, 1)) + b"x", "dimensions 5"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x03\x00\x00", "truncated header"),
        (GOOD[:-1], "truncated data"),
        (GOOD[:16], "truncated data"),
        (GOOD + b"\x00", "trailing bytes"),
        (GOOD + b"\x00" * 100, "trailing bytes"),
    ],
)
def test_malformed(tmp_path, data, match):
    with pytest.raises(IDXError, match=match):
        read_idx(data)
    path = tmp_path / "f"
    path.write_bytes(data)
    with pytest.raises(IDXError, match=match):
        read_idx(path)
    with pytest.raises(IDXError, match=match):
        read_idx(gzip.compress(data))


def test_error_is_valueerror_and_one_line():
    with pytest.raises(ValueError) as info:
        read_idx(GOOD[:-1])
    assert "\n" not in str(info.value)
    assert "12" in str(info.value) and "11" in str(info.value)


def test_error_names_path(tmp_path):
    path = tmp_path / "broken.idx"
    path.write_bytes(GOOD + b"!")
    with pytest.raises(IDXError, match="broken.idx"):
        read_idx(path)


def test_corrupt_gzip():
    packed = bytearray(gzip.compress(GOOD))
    packed[12] ^= 0xFF
    with pytest.raises(IDXError):
        read_idx(bytes(packed))
    with pytest.raises(IDXError, match="gzip"):
        read_idx(gzip.compress(GOOD)[:-4])
    with pytest.raises(IDXError, match="gzip"):
        read_idx(b"\x1f\x8b")


# --------------------------------------------------------------------------- hostile sizes


def peak_allocation(fn):
    """Run fn(); return (exception, peak traced bytes, seconds)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - returned to the test
        error = exc
    else:
        error = None
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return error, peak, elapsed


@pytest.mark.parametrize("dims", [(10**6, 10**6), (1000, 1000, 1000), (40000, 50000)])
@pytest.mark.parametrize("compress", [False, True])
def test_huge_claim_in_tiny_file_fails_fast_without_allocating(tmp_path, dims, compress):
    data = header(0x08, dims) + b"\x00" * (20 - 4 - 4 * len(dims))
    assert len(data) == 20
    if compress:
        data = gzip.compress(data)
    path = tmp_path / "f"
    path.write_bytes(data)
    error, peak, elapsed = peak_allocation(lambda: read_idx(path))
    assert isinstance(error, IDXError)
    assert "more than" in str(error) or "truncated" in str(error)
    assert peak < 4 * 2**20  # one read chunk, not the 10**9..10**12 bytes claimed
    assert elapsed < 1.0


def test_huge_float_claim_refused_by_size_limit():
    with pytest.raises(IDXError, match="more than"):
        read_idx(header(0x0E, (65536, 65536)))


def test_gzip_bomb_is_not_decompressed_past_the_header():
    """A header announcing 1 KB, followed by 64 MB of zeros compressed to ~64 KB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(header(0x08, (1024,)))]
    block = bytes(2**20)
    parts += [compressor.compress(block) for _ in range(64)]
    parts.append(compressor.flush())
    bomb = b"".join(parts)
    assert len(bomb) < 2**20
    error, peak, elapsed = peak_allocation(lambda: read_idx(bomb))
    assert isinstance(error, IDXError) and "trailing bytes" in str(error)
    assert peak < 8 * 2**20
    assert elapsed < 1.0


# --------------------------------------------------------------------------- properties


idx_dtypes = st.sampled_from([np.dtype(t) for t in DTYPES.values()])
idx_arrays = hnp.arrays(dtype=idx_dtypes, shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5))


@settings(max_examples=150, deadline=None)
@given(a=idx_arrays, compress=st.booleans())
def test_property_round_trip(a, compress):
    data = encode_idx(a)
    if compress:
        data = gzip.compress(data)
    assert_same(read_idx(data), a)


def _only_idx_errors(data):
    try:
        out = read_idx(data)
    except IDXError:
        return
    assert isinstance(out, np.ndarray) and out.dtype.isnative


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_property_random_bytes_only_raise_idxerror(data):
    _only_idx_errors(data)
    _only_idx_errors(b"\x1f\x8b" + data)


@settings(max_examples=300, deadline=None)
@given(
    code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x0A, 0xFF]),
    dims=st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 6), min_size=0, max_size=5),
    body=st.binary(max_size=200),
    compress=st.booleans(),
)
def test_property_plausible_headers_only_raise_idxerror(code, dims, body, compress):
    data = header(code, dims) + body
    _only_idx_errors(gzip.compress(data) if compress else data)


def test_reads_from_bytesio_contents_not_object():
    with pytest.raises(TypeError):
        read_idx(io.BytesIO(GOOD))


# --------------------------------------------------------------------------- limits and special files


def test_errors_belong_to_glassnets_family():
    from glassnet.datasets.idx import IDXLimitError
    from glassnet.errors import DataFormatError, ResourceLimitError

    assert issubclass(IDXError, DataFormatError) and issubclass(IDXError, ValueError)
    assert issubclass(IDXLimitError, IDXError) and issubclass(IDXLimitError, ResourceLimitError)


def test_max_bytes_is_a_parameter_and_checked_before_reading(tmp_path):
    from glassnet.errors import ResourceLimitError

    a = np.zeros((100, 28, 28), np.uint8)
    path = write_idx(tmp_path / "a.idx", a)
    assert read_idx(path, max_bytes=78400).shape == (100, 28, 28)
    for source in (path, encode_idx(a), gzip.compress(encode_idx(a))):
        with pytest.raises(ResourceLimitError, match=r"announces 78400 bytes \(77 KiB\), more than the 78399"):
            read_idx(source, max_bytes=78399)
    error, peak, _ = peak_allocation(lambda: read_idx(header(0x08, (60000, 28, 28)), max_bytes=10**6))
    assert isinstance(error, ResourceLimitError) and peak < 2**20


def test_gzip_claim_beyond_any_deflate_ratio_is_refused_at_the_header():
    """60000x28x28 bytes cannot come out of a 40-byte gzip file (deflate inflates at most ~1032-fold)."""
    small = gzip.compress(header(0x08, (60000, 28, 28)))
    error, peak, elapsed = peak_allocation(lambda: read_idx(small))
    assert isinstance(error, IDXError) and "more than a gzip file of" in str(error)
    assert peak < 2**20 and elapsed < 0.5
    # an honest highly compressed file still reads
    zeros = np.zeros((600, 28, 28), np.uint8)
    assert read_idx(gzip.compress(encode_idx(zeros), 9)).shape == zeros.shape


@pytest.mark.parametrize("kind", ["fifo", "link-to-fifo", "directory", "device"])
def test_special_files_are_refused_before_opening(tmp_path, kind):
    import os
    import threading

    target = {"directory": tmp_path, "device": "/dev/zero"}.get(kind, tmp_path / "pipe.idx")
    if kind in ("fifo", "link-to-fifo"):
        os.mkfifo(target)
    if kind == "link-to-fifo":
        (tmp_path / "link.idx").symlink_to(target)
        target = tmp_path / "link.idx"
    outcome = []
    t = threading.Thread(target=lambda: outcome.append(_error_of(lambda: read_idx(target))), daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():
        os.close(os.open(tmp_path / "pipe.idx", os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("read_idx blocked on a special file")
    word = {"fifo": "named pipe", "link-to-fifo": "named pipe", "directory": "directory", "device": "character device"}[
        kind
    ]
    assert isinstance(outcome[0], IDXError) and f"is a {word}" in str(outcome[0]), outcome
    assert str(outcome[0]).startswith(str(target))


def _error_of(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - returned to the test
        return exc
    return None
