"""Reading and writing IDX files, the format MNIST is distributed in.

An IDX file is a 4-byte magic number ``00 00 TT NN`` (TT: element type code, NN:
number of dimensions), then NN big-endian uint32 dimension sizes, then the
elements in big-endian C order.  Files are often gzip-compressed; ``read_idx``
detects that by the gzip magic ``1f 8b`` and decompresses no more than the header
announces (plus one byte, to notice trailing data), so a small hostile file can
neither make it allocate a huge array nor decompress without end.

Every size the header claims is checked before anything is allocated: against
``max_bytes`` (ResourceLimitError), against the file's real size for a raw file, and
against the most a gzip file of that size could inflate to (deflate's best ratio is
about 1032:1) for a compressed one.  A path that is not a regular file (a folder, a
FIFO, a device) is refused before it is opened.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import DataFormatError, ResourceLimitError, one_line
from ..files import atomic_output
from ..safeload import format_bytes, open_regular_file

__all__ = ["IDXError", "IDXLimitError", "read_idx", "write_idx", "encode_idx", "MAX_IDX_BYTES"]

#: IDX type code -> big-endian dtype of the elements.
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
#: Largest payload read_idx accepts (2 GiB); MNIST's biggest file is 47 MB.
MAX_IDX_BYTES = 2 * 1024**3
MAX_NDIM = 4
GZIP_MAGIC = b"\x1f\x8b"
#: a deflate stream inflates at most about 1032-fold (258-byte matches in ~2 bits); gzip adds 18 bytes
_MAX_INFLATE = 1032
_CHUNK = 1 << 20

Source = str | os.PathLike | bytes | bytearray | memoryview


class IDXError(DataFormatError):
    """The data is not a well-formed IDX file (or gzip of one)."""


class IDXLimitError(IDXError, ResourceLimitError):
    """The header claims more bytes than the reader allows (both an IDXError and a ResourceLimitError)."""


# --------------------------------------------------------------------------- reading


def read_idx(source: Source, *, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX file, raw or gzip-compressed.

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray or memoryview
        A path to a regular file, or its contents.
    max_bytes : int, default MAX_IDX_BYTES (2 GiB)
        Refuse a header announcing more bytes of data than this.

    Returns
    -------
    ndarray of shape dims (1 to 4 dimensions)
        Native-endian, C-contiguous, writable, with the dtype the type code names
        (uint8, int8, int16, int32, float32 or float64).

    Raises
    ------
    IDXError
        The data is malformed: bad magic, unknown type code, 0 or more than 4
        dimensions, truncated data, trailing bytes, a corrupt gzip stream, or a
        path that is not a regular file (folder, FIFO, device).
    IDXLimitError
        The header announces more than ``max_bytes`` (also a ResourceLimitError).
    OSError
        The path cannot be read (FileNotFoundError if it does not exist).
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _read_stream(io.BytesIO(bytes(source)), "<bytes>", len(source), max_bytes)
    path = Path(source)
    with open_regular_file(path, error=IDXError) as f:
        return _read_stream(f, str(path), os.fstat(f.fileno()).st_size, max_bytes)


def _read_stream(f: BinaryIO, name: str, size: int, max_bytes: int) -> np.ndarray:
    """Read IDX from the start of ``f``, which holds ``size`` bytes."""
    if f.read(2) != GZIP_MAGIC:
        f.seek(0)
        return _read_raw(f, name, size, max_bytes)
    f.seek(0)
    try:
        with gzip.GzipFile(fileobj=f, mode="rb") as gz:
            return _read_decompressed(gz, name, size, max_bytes)
    except (OSError, EOFError, zlib.error) as exc:
        raise IDXError(f"{name}: corrupt gzip stream ({one_line(exc)})") from None


def _read_raw(f: BinaryIO, name: str, size: int, max_bytes: int) -> np.ndarray:
    """Uncompressed file of known size: check the length before allocating."""
    dtype, dims, nbytes = _read_header(f, name, max_bytes)
    available = size - f.tell()
    if available < nbytes:
        raise IDXError(f"{name}: truncated data: header {dims} needs {nbytes} bytes, file has {available}")
    if available > nbytes:
        raise IDXError(
            f"{name}: trailing bytes: {available - nbytes} bytes after the {nbytes} the header {dims} announces"
        )
    buf = bytearray(nbytes)
    got = f.readinto(buf)
    if got != nbytes:  # the file shrank while we read it
        raise IDXError(f"{name}: truncated data: header {dims} needs {nbytes} bytes, read {got}")
    return _to_array(buf, dtype, dims)


def _read_decompressed(gz: BinaryIO, name: str, size: int, max_bytes: int) -> np.ndarray:
    """Gzip stream of unknown size: grow the buffer only as data really arrives."""
    dtype, dims, nbytes = _read_header(gz, name, max_bytes)
    if nbytes > _MAX_INFLATE * size:
        raise IDXError(
            f"{name}: truncated data: header {dims} needs {nbytes} bytes, more than a gzip "
            f"file of {size} bytes can hold (at most {_MAX_INFLATE * size})"
        )
    buf = bytearray()
    while len(buf) < nbytes:
        chunk = gz.read(min(_CHUNK, nbytes - len(buf)))
        if not chunk:
            raise IDXError(f"{name}: truncated data: header {dims} needs {nbytes} bytes, stream has {len(buf)}")
        buf += chunk
    if gz.read(1):
        raise IDXError(f"{name}: trailing bytes after the {nbytes} the header {dims} announces")
    return _to_array(buf, dtype, dims)


def _read_header(f: BinaryIO, name: str, max_bytes: int) -> tuple[np.dtype, tuple[int, ...], int]:
    """Parse magic and dimensions; return (big-endian dtype, dims, payload bytes)."""
    magic = f.read(4)
    if len(magic) < 4:
        raise IDXError(f"{name}: truncated header: {len(magic)} bytes, need at least 4")
    if magic[0] != 0 or magic[1] != 0:
        raise IDXError(f"{name}: bad magic {magic.hex()}: the first two bytes of an IDX file are 00 00")
    code, ndim = magic[2], magic[3]
    if code not in IDX_TYPES:
        raise IDXError(f"{name}: unsupported IDX type code 0x{code:02x} (known: 08 09 0b 0c 0d 0e)")
    if not 1 <= ndim <= MAX_NDIM:
        raise IDXError(f"{name}: unsupported number of dimensions {ndim} (need 1..{MAX_NDIM})")
    raw_dims = f.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise IDXError(f"{name}: truncated header: {ndim} dimensions need {4 * ndim} bytes, got {len(raw_dims)}")
    dims = tuple(int(d) for d in np.frombuffer(raw_dims, dtype=">u4"))
    dtype = IDX_TYPES[code]
    nbytes = dtype.itemsize
    for d in dims:  # Python ints: no overflow
        nbytes *= d
    if nbytes > max_bytes:
        raise IDXLimitError(
            f"{name}: header {dims} announces {nbytes} bytes ({format_bytes(nbytes)}), more than "
            f"the {max_bytes} ({format_bytes(max_bytes)}) allowed"
        )
    # an empty array whose other dimensions are huge is no array NumPy can shape either
    span = dtype.itemsize
    for d in dims:
        span *= max(d, 1)
    if span > max_bytes:
        raise IDXLimitError(
            f"{name}: header {dims} has dimensions too large for any array "
            f"(more than {max_bytes} bytes once the zero dimension is filled)"
        )
    return dtype, dims, nbytes


def _to_array(buf: bytearray, dtype: np.dtype, dims: tuple[int, ...]) -> np.ndarray:
    """Wrap ``buf`` (no copy) as a native-endian array of shape ``dims``."""
    arr = np.frombuffer(buf, dtype=dtype).reshape(dims)
    if not dtype.isnative:
        arr = arr.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return arr


# --------------------------------------------------------------------------- writing


def encode_idx(array: np.ndarray) -> bytes:
    """Encode an array as raw IDX bytes.

    Parameters
    ----------
    array : ndarray with 1 to 4 dimensions
        dtype uint8, int8, int16, int32, float32 or float64 (any byte order).

    Returns
    -------
    bytes
        Header followed by the big-endian elements in C order.
    """
    code, big = _type_code(array)
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=big).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as a raw (uncompressed) IDX file, atomically.

    The data goes to a temporary file in the same directory, which is flushed to
    disk and then renamed over ``path``: readers see the old file or the complete
    new one, never a partial one.

    Parameters
    ----------
    path : str or os.PathLike
    array : ndarray with 1 to 4 dimensions
        dtype uint8, int8, int16, int32, float32 or float64.

    Returns
    -------
    Path
        ``path``.
    """
    array = np.asarray(array)
    _type_code(array)  # validate before creating anything
    path = Path(path)
    with atomic_output(path) as out:
        out.write(encode_idx(array))
    return path


def _type_code(array: np.ndarray) -> tuple[int, np.dtype]:
    """Return the IDX type code and big-endian dtype for ``array``, or raise IDXError."""
    if not 1 <= array.ndim <= MAX_NDIM:
        raise IDXError(f"cannot write a {array.ndim}-dimensional array as IDX (need 1..{MAX_NDIM})")
    if any(d >= 2**32 for d in array.shape):
        raise IDXError(f"cannot write shape {array.shape} as IDX: dimensions must be below 2**32")
    for code, big in IDX_TYPES.items():
        if array.dtype.newbyteorder(">") == big:
            return code, big
    raise IDXError(f"cannot write dtype {array.dtype} as IDX (uint8, int8, int16, int32, float32, float64)")
