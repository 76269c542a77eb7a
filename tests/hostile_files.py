"""Builders of hostile files whose every stated size may lie: zips, .npy headers, image headers.

Shared by test_safeload, test_preprocess and test_corpus.  Zips are written by hand
(``zip_bytes``) so that a member's declared size, CRC and method, and the end
record's entry count and directory size, can each say anything.
"""

from __future__ import annotations

import struct
import zlib

from numpy.lib import format as npy_format


# -- .npy and zip -------------------------------------------------------------------------------
class _Sink:
    def __init__(self):
        self.data = b""

    def write(self, b):
        self.data += b


def npy_header(shape, descr="<f8", fortran=False, version=(1, 0)):
    """The bytes of an .npy header (magic included) stating ``shape`` and ``descr``; no data."""
    d = {"descr": descr, "fortran_order": fortran, "shape": tuple(shape)}
    out = _Sink()
    write = npy_format.write_array_header_1_0 if version == (1, 0) else npy_format.write_array_header_2_0
    write(out, d)
    return out.data


def deflate(data):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def zeros_stream(head, n_zeros):
    """(raw deflate stream, CRC-32) of ``head`` then ``n_zeros`` zero bytes (a multiple of 1 MiB).

    Built in a fraction of a second: after a full flush every 1 MiB block of zeros
    compresses to the same bytes, so the block is compressed once and repeated.
    """
    mib = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
    assert c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH) == block
    crc = zlib.crc32(head)
    for _ in range(n_zeros >> 20):
        crc = zlib.crc32(mib, crc)
    return first + block * (n_zeros >> 20) + c.flush(), crc


def member(name, payload, *, method=8, size=None, crc=None, raw=None, flags=0):
    """One zip member holding ``payload``, stored (0) or deflated (8); ``size``, ``crc``, ``raw``
    (the bytes actually in the file) and ``flags`` override what would be honest."""
    if raw is None:
        raw = deflate(payload) if method == 8 else payload
    return dict(
        name=name.encode(),
        raw=raw,
        method=method,
        flags=flags,
        size=len(payload) if size is None else size,
        crc=zlib.crc32(payload) if crc is None else crc,
    )


def array_member(name, a, **kw):
    """A member ``name``.npy holding the array ``a`` as np.save writes it."""
    return member(name + ".npy", npy_header(a.shape, a.dtype.str) + a.tobytes(), **kw)


def zip_bytes(*members, entries=None, directory_size=None):
    """A zip file of ``members`` (from ``member``); the end record's counts may lie too."""
    body, central = b"", b""
    for m in members:
        offset = len(body)
        body += (
            struct.pack(
                "<4sHHHHHIIIHH",
                b"PK\x03\x04",
                20,
                m["flags"],
                m["method"],
                0,
                0x21,
                m["crc"],
                len(m["raw"]),
                m["size"],
                len(m["name"]),
                0,
            )
            + m["name"]
            + m["raw"]
        )
        central += (
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                20,
                20,
                m["flags"],
                m["method"],
                0,
                0x21,
                m["crc"],
                len(m["raw"]),
                m["size"],
                len(m["name"]),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + m["name"]
        )
    n = len(members) if entries is None else entries
    size = len(central) if directory_size is None else directory_size
    return body + central + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, n, n, size, len(body), 0)


# -- images whose header claims width x height, with a few bytes of data ------------------------
def png_header(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def bmp_header(width, height):
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 16, 0, 0, 54) + info + bytes(16)


def gif_header(width, height):
    return (
        b"GIF89a"
        + struct.pack("<HHBBB", width, height, 0, 0, 0)
        + b","
        + struct.pack("<HHHHB", 0, 0, width, height, 0)
        + b"\x02\x02\x44\x01\x00;"
    )


def jpeg_header(width, height):
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + sof + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + bytes(16) + b"\xff\xd9"


def tiff_header(width, height):
    tags = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, 8),
        (277, 3, 1, 1),
        (278, 4, 1, height),
        (279, 4, 1, 16),
    ]
    ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", *t) for t in tags) + bytes(4)
    return b"II*\x00" + struct.pack("<I", 24) + bytes(16) + ifd


def pgm_header(width, height):
    return b"P5\n%d %d\n255\n" % (width, height) + bytes(16)


IMAGE_HEADERS = {
    "png": png_header,
    "bmp": bmp_header,
    "gif": gif_header,
    "jpg": jpeg_header,
    "tif": tiff_header,
    "pgm": pgm_header,
}
