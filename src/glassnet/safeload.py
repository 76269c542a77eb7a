"""Reading files a user may be handed, without trusting a single number in them.

A file states sizes (an array's shape, a zip member's uncompressed length, an
image's width and height) and a reader that believes them can be made to allocate
hundreds of gigabytes, inflate a few kilobytes into gigabytes, or wait forever on a
named pipe.  Everything here checks each such claim against a limit *before* any
memory is allocated or any data inflated, and refuses anything that is not a regular
file *before* opening it for reading:

    check_regular_file(path)   stat -> refuse a folder, FIFO, socket or device
    open_regular_file(path)    the same, then open without blocking and check again
    read_npz(path)             every array of an .npz (np.savez) file, read safely
    open_npz(path)             the same file member by member, each checked against
                               the shape the caller expects before its data is read

How ``read_npz`` / ``open_npz`` read an .npz (a zip of .npy files):

1. refuse a path that is not a regular file (symlinks are followed: a link to a
   FIFO is refused too);
2. read the zip's end record and refuse a central directory larger than
   ``max_members`` entries could need (``zipfile`` would parse all of it);
3. check every member's declared uncompressed size (``ZipInfo.file_size``) against
   ``max_member_bytes`` and their sum against ``max_bytes``; refuse members that
   are encrypted, compressed other than stored or deflate, named twice, or not .npy;
4. for each member, parse the .npy header from the first bytes of the stream
   (``numpy.lib.format``: a literal, never evaluated code) and refuse object
   (pickled) and non-allowed dtypes, negative or mismatched shapes, and a
   shape x itemsize that exceeds the limits or differs from the declared size;
5. only then allocate the array and inflate into it in 1 MiB chunks; a stream
   that goes on past its declared size is refused at the first extra byte, a
   short one or one whose CRC-32 is wrong is refused too.

So the memory a hostile file can cost is bounded by the limits, whatever it claims.
Nothing is ever unpickled.

Default limits (all keyword arguments, lower them where the expected content is known):

    MAX_BYTES         1 GiB    all arrays of one file together
    MAX_MEMBER_BYTES  256 MiB  one array (a float64 784-800-800-10 network's largest
                               is 5 MB; 256 MiB is a 5800 x 5800 float64 matrix)
    MAX_MEMBERS       1024     arrays in one file (a checkpoint of a 10-layer network
                               with velocities and best weights has about 80)

Errors: the format error the caller names (``error=``, ModelFormatError by
default), or ResourceLimitError when a limit is exceeded, each a one-line message
naming the file.  A missing file raises FileNotFoundError (an OSError) as ``open``
would, so callers keep their own "no such file" wording.
"""

from __future__ import annotations

import math
import os
import stat
import struct
import zipfile
import zlib

import numpy as np
from numpy.lib import format as npy_format

from .errors import DataFormatError, GlassnetError, ModelFormatError, ResourceLimitError, one_line

__all__ = [
    "read_npz",
    "open_npz",
    "NpzArchive",
    "check_regular_file",
    "open_regular_file",
    "MAX_BYTES",
    "MAX_MEMBER_BYTES",
    "MAX_MEMBERS",
    "format_bytes",
]

MAX_BYTES = 1 << 30
MAX_MEMBER_BYTES = 256 << 20
MAX_MEMBERS = 1024
#: central-directory bytes allowed per member (46 fixed + name + extra fields)
_DIRECTORY_BYTES_PER_MEMBER = 1024
_CHUNK = 1 << 20
_NUMERIC_KINDS = "biufc"  # bool, signed, unsigned, float, complex
_FILE_KINDS = [
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
]


def format_bytes(n):
    """``n`` bytes for a message: '298 GiB', '512 MiB', '4.0 KiB', '17 bytes'."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"
    return f"{n} bytes"


# -- regular files only -------------------------------------------------------------------------
def _kind(mode):
    for test, name in _FILE_KINDS:
        if test(mode):
            return name
    return "a special file"


def check_regular_file(path, *, error=DataFormatError):
    """``os.stat(path)`` if ``path`` is a regular file (after symlinks); raise ``error`` otherwise.

    Call it before opening: opening a FIFO for reading blocks until a writer comes,
    reading a character device (/dev/zero) never ends.  FileNotFoundError and other
    OSErrors of ``os.stat`` propagate unchanged.
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{path}: is {_kind(st.st_mode)}, not a regular file")
    return st


def open_regular_file(path, *, error=DataFormatError):
    """Open ``path`` for binary reading if, and only if, it is a regular file.

    Checks with ``stat`` first, then opens with O_NONBLOCK (so a file swapped for a
    FIFO in between cannot block the open) and checks the opened file again with
    ``fstat``.  Returns a buffered binary file object; the caller closes it.
    """
    check_regular_file(path, error=error)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error(f"{path}: is {_kind(mode)}, not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


# -- .npz files ---------------------------------------------------------------------------------
def read_npz(
    path,
    *,
    max_bytes=MAX_BYTES,
    max_member_bytes=MAX_MEMBER_BYTES,
    max_members=MAX_MEMBERS,
    allowed=None,
    error=ModelFormatError,
    what="npz file",
):
    """Every array of the .npz file ``path``, as ``np.load(path)`` would give them, read safely.

    max_bytes : the arrays together may hold at most this many bytes.
    max_member_bytes : each array may hold at most this many bytes.
    max_members : the file may hold at most this many arrays.
    allowed : None (any bool, integer, float or complex dtype) or an iterable of dtypes
        (either byte order accepted), e.g. ``(np.float32, np.float64, np.uint8)``.
    error : the exception class for a malformed file (a GlassnetError subclass).
    what : how messages name the file: "<path>: not a readable <what> (<reason>)".

    Returns a dict name -> ndarray (the member name without ".npy"; arrays keep the
    dtype and byte order stored).  Raises ``error`` or ResourceLimitError (see the
    module docstring), FileNotFoundError/OSError for a path that cannot be opened.
    """
    with open_npz(
        path,
        max_bytes=max_bytes,
        max_member_bytes=max_member_bytes,
        max_members=max_members,
        allowed=allowed,
        error=error,
        what=what,
    ) as archive:
        return {name: archive.read(name) for name in archive.names}


def open_npz(path, **limits):
    """An NpzArchive over ``path`` (a context manager); ``limits`` as for ``read_npz``.

    Use it when the expected shapes are known from a first member (a header)::

        with open_npz(path, error=ModelFormatError, what="glassnet model") as npz:
            header = npz.read("header", dtype=np.uint8, max_bytes=1 << 20)
            w0 = npz.read("w0", shape=(30, 784))

    A member whose header states another shape is refused before its data is read.
    """
    return NpzArchive(path, **limits)


class NpzArchive:
    """The members of one .npz file, every size checked as it is opened (see the module doc).

    Attributes: ``path``; ``names`` (list of str, file order, without ".npy");
    ``declared`` (dict name -> declared uncompressed bytes).
    """

    def __init__(
        self,
        path,
        *,
        max_bytes=MAX_BYTES,
        max_member_bytes=MAX_MEMBER_BYTES,
        max_members=MAX_MEMBERS,
        allowed=None,
        error=ModelFormatError,
        what="npz file",
        max_inflation=None,
    ):
        self.path, self.error, self.what = path, error, what
        self.max_inflation = max_inflation
        self.max_member_bytes = max_member_bytes
        self.allowed = None if allowed is None else {np.dtype(a).newbyteorder("=") for a in allowed}
        self._file = open_regular_file(path, error=error)
        try:
            size = os.fstat(self._file.fileno()).st_size
            self._check_directory(size, max_members)
            try:
                self._zip = zipfile.ZipFile(self._file)
            except (
                zipfile.BadZipFile,
                zipfile.LargeZipFile,
                EOFError,
                OSError,
                ValueError,
                OverflowError,
                NotImplementedError,
                UnicodeDecodeError,
                struct.error,
            ) as e:
                reason = "not a zip file" if size < 4 or not _starts_like_zip(self._file) else one_line(e)
                raise self._bad(reason) from None
            self._infos = self._check_members(max_bytes, max_members)
        except BaseException:
            self._file.close()
            raise
        self.names = list(self._infos)
        self.declared = {name: info.file_size for name, info in self._infos.items()}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if hasattr(self, "_zip"):
            self._zip.close()
        self._file.close()

    def _bad(self, reason):
        return self.error(f"{self.path}: not a readable {self.what} ({reason})")

    def _too_big(self, claim, limit, what):
        return ResourceLimitError(f"{self.path}: {claim}, more than the {format_bytes(limit)} allowed {what}")

    def _check_directory(self, size, max_members):
        """Refuse a central directory bigger than ``max_members`` entries need, before zipfile parses it."""
        entries, directory = _end_record(self._file, size)
        if entries is None:
            return  # no end record: zipfile will say what is wrong
        limit = max_members * _DIRECTORY_BYTES_PER_MEMBER
        if entries > max_members:
            raise self._too_big_count(entries, max_members)
        if directory > limit:
            raise self._too_big(
                f"its zip directory claims {format_bytes(directory)}", limit, f"for {max_members} members"
            )

    def _too_big_count(self, count, max_members):
        return ResourceLimitError(f"{self.path}: holds {count:,} members, more than the {max_members:,} allowed")

    def _check_inflation(self, info):
        """With ``max_inflation``, a compressed member may declare at most that many times its
        compressed size (plus 1 MiB): a small file cannot make the reader fill a large array."""
        if self.max_inflation is None or info.compress_type == zipfile.ZIP_STORED:
            return
        limit = self.max_inflation * info.compress_size + (1 << 20)
        if info.file_size > limit:
            raise self._too_big(
                f"member {info.filename!r} would inflate {format_bytes(info.compress_size)} "
                f"to {format_bytes(info.file_size)}",
                limit,
                "for it",
            )

    def _check_members(self, max_bytes, max_members):
        """{name: ZipInfo} after checking every member's declared size, method and name."""
        infos = self._zip.infolist()
        if len(infos) > max_members:
            raise self._too_big_count(len(infos), max_members)
        found, total = {}, 0
        for info in infos:
            name = info.filename[:-4] if info.filename.endswith(".npy") else None
            if name is None:
                raise self._bad(f"member {info.filename!r} is not an .npy array")
            if name in found:
                raise self._bad(f"member {info.filename!r} appears twice")
            if info.flag_bits & 0x1:
                raise self._bad(f"member {info.filename!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self._bad(
                    f"member {info.filename!r} uses compression method {info.compress_type}; "
                    f"only stored and deflate are read"
                )
            if info.file_size > self.max_member_bytes:
                raise self._too_big(
                    f"member {info.filename!r} declares {format_bytes(info.file_size)}",
                    self.max_member_bytes,
                    "per array",
                )
            self._check_inflation(info)
            total += info.file_size
            if total > max_bytes:
                raise self._too_big(
                    f"its members declare {format_bytes(total)} or more together", max_bytes, "per file"
                )
            found[name] = info
        return found

    def describe(self, name):
        """(shape, dtype) of member ``name`` from its .npy header; no data is read."""
        with self._member(name) as stream:
            shape, _, dtype = self._array_header(name, stream, self.max_member_bytes)
        return shape, dtype

    def read(self, name, *, shape=None, dtype=None, max_bytes=None):
        """Member ``name`` as an ndarray, checked before its data is read.

        shape : if given, the shape the header must state (tuple of int).
        dtype : if given, the dtype (either byte order) the header must state.
        max_bytes : a lower limit for this member than ``max_member_bytes``.
        """
        if name not in self._infos:
            raise self._bad(f"no array {name!r}")
        info = self._infos[name]
        limit = self.max_member_bytes if max_bytes is None else min(max_bytes, self.max_member_bytes)
        if info.file_size > limit:
            raise self._too_big(f"member {info.filename!r} declares {format_bytes(info.file_size)}", limit, "for it")
        with self._member(name) as stream:
            found, fortran, kind = self._array_header(name, stream, limit)
            if shape is not None and found != tuple(shape):
                raise self._bad(f"array {name!r} has shape {found}, expected {tuple(shape)}")
            if dtype is not None and kind.newbyteorder("=") != np.dtype(dtype).newbyteorder("="):
                raise self._bad(f"array {name!r} is {kind}, expected {np.dtype(dtype)}")
            nbytes = math.prod(found) * kind.itemsize  # <= limit: checked with the header
            if stream.produced + nbytes != info.file_size:
                raise self._bad(
                    f"array {name!r} claims {found} {kind} = {nbytes:,} bytes of data, but the "
                    f"member declares {info.file_size - stream.produced:,}"
                )
            flat = np.empty(math.prod(found), dtype=kind)
            stream.fill(memoryview(flat.view(np.uint8)))
            stream.finish()
        return flat.reshape(found[::-1]).T if fortran else flat.reshape(found)

    def _member(self, name):
        if name not in self._infos:
            raise self._bad(f"no array {name!r}")
        return _MemberStream(self._file, self._infos[name], self._bad)

    def _array_header(self, name, stream, limit):
        """(shape, fortran_order, dtype) from the .npy header at the start of ``stream``, checked."""
        try:
            version = npy_format.read_magic(stream)
            if version == (1, 0):
                shape, fortran, dtype = npy_format.read_array_header_1_0(stream)
            elif version == (2, 0):
                shape, fortran, dtype = npy_format.read_array_header_2_0(stream)
            else:
                raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
        except GlassnetError:
            raise
        except Exception as e:  # numpy's header parser raises ValueError, SyntaxError, TokenError, ...
            raise self._bad(f"array {name!r} has no valid .npy header: {type(e).__name__}: {one_line(e)}") from None
        if dtype.hasobject:
            raise self._bad(f"array {name!r} holds pickled objects (dtype {dtype}), which glassnet never loads")
        if self.allowed is None:
            if dtype.kind not in _NUMERIC_KINDS or dtype.shape or dtype.names:
                raise self._bad(f"array {name!r} has dtype {dtype}, not a plain number type")
        elif dtype.newbyteorder("=") not in self.allowed:
            names = ", ".join(sorted(str(a) for a in self.allowed))
            raise self._bad(f"array {name!r} has dtype {dtype}; allowed: {names}")
        if any(d < 0 for d in shape):
            raise self._bad(f"array {name!r} has a negative dimension in shape {shape}")
        # a zero dimension makes the array empty, but NumPy still refuses absurd other dimensions
        span = math.prod(max(d, 1) for d in shape) * dtype.itemsize
        if span > limit:
            note = " once its zero dimensions are filled" if 0 in shape else ""
            raise self._too_big(
                f"array {name!r} claims {tuple(shape)} {dtype} = {format_bytes(span)}{note}",
                limit,
                "for it" if limit < self.max_member_bytes else "per array",
            )
        return tuple(shape), fortran, dtype


class _MemberStream:
    """The uncompressed bytes of one zip member, inflated on demand from the raw file.

    ``read(n)`` never inflates more than ``n`` bytes at a time and never returns more
    than the member's declared size plus one (the extra byte proves a lie); ``produced``
    counts the bytes returned and ``crc`` their CRC-32.
    """

    def __init__(self, f, info, bad):
        self._f, self._info, self._bad = f, info, bad
        local = b""
        if 0 <= info.header_offset < os.fstat(f.fileno()).st_size:
            f.seek(info.header_offset)
            local = f.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise bad(f"member {info.filename!r}: damaged local header")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        self._pos = info.header_offset + 30 + name_len + extra_len
        self._raw_left = info.compress_size
        self._out_left = info.file_size + 1
        self._inflate = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
        self._tail = b""
        self.produced, self.crc = 0, 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def _raw(self, n):
        """Up to ``n`` compressed bytes, no more than the member's compressed size."""
        n = min(n, self._raw_left)
        if n <= 0:
            return b""
        self._f.seek(self._pos)
        data = self._f.read(n)
        if not data:
            raise self._bad(f"member {self._info.filename!r} is cut short (the file ends inside it)")
        self._pos += len(data)
        self._raw_left -= len(data)
        return data

    def read(self, n):
        n = min(n, self._out_left)
        out = b""
        while len(out) < n:
            if self._inflate is None:
                data = self._raw(n - len(out))
            else:
                data = self._inflated(n - len(out))
            if not data:
                break
            out += data
        self._out_left -= len(out)
        self.produced += len(out)
        self.crc = zlib.crc32(out, self.crc)
        return out

    def _inflated(self, n):
        """Up to ``n`` inflated bytes; b"" only at the end of the deflate stream or of the raw data."""
        while not self._inflate.eof:
            data = self._tail or self._raw(_CHUNK // 16)
            if not data:
                break
            try:
                out = self._inflate.decompress(data, n)
            except zlib.error as e:
                raise self._bad(f"member {self._info.filename!r}: damaged deflate data ({e})") from None
            self._tail = self._inflate.unconsumed_tail
            if out:
                return out
        return b""

    def fill(self, buf):
        """Fill ``buf`` (a writable byte memoryview) from the stream, in 1 MiB chunks."""
        pos = 0
        while pos < len(buf):
            chunk = self.read(min(_CHUNK, len(buf) - pos))
            if not chunk:
                raise self._bad(
                    f"member {self._info.filename!r} is cut short: {self.produced:,} of {self._info.file_size:,} bytes"
                )
            buf[pos : pos + len(chunk)] = chunk
            pos += len(chunk)

    def finish(self):
        """Refuse a stream that goes on past its declared size, ends early, or fails its CRC."""
        name, size = self._info.filename, self._info.file_size
        if self.read(1):
            raise self._bad(f"member {name!r} inflates beyond its declared {size:,} bytes")
        if self._inflate is not None and not self._inflate.eof:
            raise self._bad(f"member {name!r}: the deflate stream is cut short")
        if self.crc != self._info.CRC:
            raise self._bad(f"member {name!r} is damaged (CRC-32 mismatch)")


def _end_record(f, size):
    """(entries, central directory bytes) stated by the zip end record, found as zipfile finds it.

    Returns (None, None) when there is no end record (zipfile then refuses the file).
    """
    if size < 22:
        return None, None
    start = max(size - 22 - 65535, 0)
    f.seek(start)
    tail = f.read(size - start)
    at = len(tail) - 22 if tail[-22:-18] == b"PK\x05\x06" and tail[-2:] == b"\0\0" else tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None, None
    entries, directory = struct.unpack("<HI", tail[at + 10 : at + 16])
    end = start + at  # zip64: a locator just before, its record before that
    if end >= 20 + 56:
        f.seek(end - 20)
        locator = f.read(20)
        if locator[:4] == b"PK\x06\x07":
            f.seek(end - 20 - 56)
            record = f.read(56)
            if record[:4] == b"PK\x06\x06":
                entries, directory = struct.unpack("<QQ", record[32:48])
    return entries, directory


def _starts_like_zip(f):
    f.seek(0)
    return f.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
