"""A corpus of malformed inputs, each fed through the command line as a user would.

Every case writes its bad input into its own ``tmp_path`` and runs ``glassnet.cli.main``
on it; a refused case must end with exit code 2 and exactly one line on stderr that
names the problem (and the file, when there is one), no traceback, nothing on stdout,
and no file created, changed or left half-written in the folder.  Cases that claim huge
sizes are run a second time under ``tracemalloc``: they must fail without allocating
what they claim.  Cases whose input is a FIFO (or a link to one) run with a watchdog:
the command must refuse it without opening it, not wait for a writer.  A few inputs
that look unusual but are fine (16-bit and palette images) must succeed.

The library-level tests (test_idx, test_io, test_preprocess, test_web, ...) check the
same refusals one function at a time; this file checks what the user sees.  ``CASES``
is the corpus: its size is in every test id ("007of96-...") and in docs/robustness.md.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import os
import re
import socket
import struct
import threading
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hostile_files import IMAGE_HEADERS, array_member, member, npy_header, zeros_stream, zip_bytes

import glassnet
import glassnet.io
from glassnet.cli import main
from glassnet.datasets.idx import encode_idx
from glassnet.io import save

MAX_PEAK = 8 * 2**20  # bytes a hostile size claim may make the command allocate


@dataclass(frozen=True)
class Case:
    kind: str  # idx, image, model, train
    name: str
    make: Callable  # make(tmp_path, env) -> argv; writes the bad input into tmp_path
    words: tuple = ()  # regular expressions the stderr line must match (case-insensitive)
    code: int = 2
    hostile: bool = False  # claims a huge size: check the peak allocation
    special: bool = False  # a FIFO: run with a watchdog, never wait for a writer


# -- helpers that write inputs -----------------------------------------------------------------
def write(tmp, name, data):
    path = tmp / name
    path.write_bytes(data)
    return path


def idx_header(code, dims):
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


LABELS = np.arange(20, dtype=np.uint8) % 10
IMAGES = np.random.default_rng(0).integers(0, 256, (20, 28, 28)).astype(np.uint8)
GOOD_LABELS = encode_idx(LABELS)
GOOD_IMAGES = encode_idx(IMAGES)


def corrupt_crc(data):
    """A gzip member whose CRC-32 trailer is wrong (the data itself decompresses)."""
    packed = bytearray(gzip.compress(data))
    packed[-8] ^= 0xFF
    return bytes(packed)


def png_header(width, height):
    """A PNG whose header claims width x height 8-bit gray pixels, with a few bytes of data."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def seven(side=56):
    """A handwritten-looking 7: ink 1 on background 0, float64 (side, side)."""
    a = np.zeros((side, side))
    a[10:15, 12:45] = 1.0
    for r in range(14, 49):
        c = int(44 - (r - 14) * 22 / 34)
        a[r, max(0, c - 2) : c + 3] = 1.0
    return a


def image(tmp, name, mode):
    from PIL import Image

    ink = seven()
    if mode == "white":
        im = Image.new("L", (40, 40), 255)
    elif mode == "black":
        im = Image.new("L", (40, 40), 0)
    elif mode == "transparent":  # a drawing never drawn: every pixel alpha 0
        im = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    elif mode == "16-bit":  # dark ink on light paper, 16 bits per pixel
        im = Image.fromarray((65535 - ink * 60000).astype(np.uint16))
        assert im.mode.startswith("I;16")
    elif mode == "palette":  # blue ink on yellow paper, quantized to a palette
        rgb = np.empty(ink.shape + (3,), np.uint8)
        rgb[ink == 0], rgb[ink > 0] = (250, 240, 160), (20, 40, 200)
        im = Image.fromarray(rgb).quantize(colors=8)
        assert im.mode == "P"
    else:
        raise AssertionError(mode)
    path = tmp / name
    im.save(path)
    if mode == "16-bit":
        with Image.open(path) as back:
            assert back.mode.startswith("I;16"), back.mode
    return path


def cut_png():
    """The first half of a PNG of noise: the header is fine, the pixel data stops short."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (100, 100)).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()[: len(buf.getvalue()) // 2]


def rewrite_model(src, dst, *, header=None, **arrays):
    """Copy the model ``src`` to ``dst`` with header fields and arrays changed (None removes)."""
    with np.load(src, allow_pickle=False) as npz:
        content = {k: npz[k] for k in npz.files}
    if header:
        fields = json.loads(content["header"].tobytes())
        fields.update(header)
        content["header"] = np.frombuffer(json.dumps(fields).encode(), np.uint8)
    for k, v in arrays.items():
        if v is None:
            content.pop(k)
        else:
            content[k] = v
    np.savez(dst, **content)  # np.savez pickles object arrays: the "pickled" case
    return dst


# -- the corpus ---------------------------------------------------------------------------------
def inspect(*args):
    return lambda tmp, env: ["inspect", *[a(tmp) if callable(a) else a for a in args]]


def file(name, data):
    return lambda tmp: str(write(tmp, name, data))


IDX_CASES = [
    Case(
        "idx",
        "wrong-magic",
        inspect(file("magic.idx", b"\x00\x01\x08\x01" + GOOD_LABELS[4:])),
        ("magic.idx", "bad magic"),
    ),
    Case("idx", "text-not-idx", inspect(file("notes.idx", b"label,image\n1,2\n")), ("notes.idx", "bad magic")),
    Case(
        "idx",
        "type-code-0x0a",
        inspect(file("code0a.idx", b"\x00\x00\x0a" + GOOD_LABELS[3:])),
        ("code0a.idx", "unsupported IDX type code 0x0a"),
    ),
    Case(
        "idx",
        "type-code-0xff",
        inspect(file("codeff.idx", b"\x00\x00\xff" + GOOD_LABELS[3:])),
        ("codeff.idx", "type code 0xff"),
    ),
    Case(
        "idx",
        "zero-dimensions",
        inspect(file("dims0.idx", b"\x00\x00\x08\x00")),
        ("dims0.idx", "number of dimensions 0"),
    ),
    Case(
        "idx",
        "five-dimensions",
        inspect(file("dims5.idx", idx_header(8, (1,) * 5) + b"x")),
        ("dims5.idx", "number of dimensions 5"),
    ),
    Case("idx", "empty-file", inspect(file("empty.idx", b"")), ("empty.idx", "truncated header")),
    Case("idx", "truncated-header", inspect(file("head.idx", GOOD_IMAGES[:10])), ("head.idx", "truncated header")),
    Case(
        "idx",
        "truncated-data",
        inspect(file("short.idx", GOOD_IMAGES[:-1])),
        ("short.idx", "truncated data", "15680 bytes"),
    ),
    Case(
        "idx",
        "truncated-data-gzip",
        inspect(file("short.idx.gz", gzip.compress(GOOD_IMAGES[:-100]))),
        ("short.idx.gz", "truncated data"),
    ),
    Case(
        "idx",
        "trailing-bytes",
        inspect(file("long.idx", GOOD_LABELS + b"\x00\x00\x00")),
        ("long.idx", "trailing bytes", "3 bytes"),
    ),
    Case(
        "idx",
        "trailing-bytes-gzip",
        inspect(file("long.idx.gz", gzip.compress(GOOD_LABELS + b"\x07"))),
        ("long.idx.gz", "trailing bytes"),
    ),
    Case(
        "idx",
        "claims-47MB-holds-100B",
        inspect(file("claim.idx", idx_header(8, (60000, 28, 28)) + bytes(100))),
        ("claim.idx", "truncated data", "47040000 bytes"),
        hostile=True,
    ),
    Case(
        "idx",
        "claims-2GB-gzip",
        inspect(file("claim.idx.gz", gzip.compress(idx_header(8, (2000, 1000, 1000)) + bytes(100)))),
        ("claim.idx.gz", "truncated data"),
        hostile=True,
    ),
    Case(
        "idx",
        "claims-1TB",
        inspect(file("tera.idx", idx_header(8, (10**6, 10**6)) + bytes(8))),
        ("tera.idx", "more than the .* allowed"),
        hostile=True,
    ),
    Case(
        "idx",
        "claims-8GB-float64",
        inspect(file("f8.idx", idx_header(0x0E, (2**15, 2**15)))),
        ("f8.idx", "more than"),
        hostile=True,
    ),
    Case(
        "idx",
        "labels-outside-0-9",
        inspect("--labels", file("y.idx", encode_idx(np.r_[LABELS, 10, 255].astype(np.uint8)))),
        ("y.idx", "2 labels outside 0..9", "index 20: 10"),
    ),
    Case(
        "idx",
        "labels-file-by-name-outside-0-9",
        inspect(file("train-labels-idx1-ubyte", encode_idx(np.r_[LABELS, 42].astype(np.uint8)))),
        ("train-labels-idx1-ubyte", "outside 0..9"),
    ),
    Case(
        "idx",
        "labels-not-1d-uint8",
        inspect("--labels", file("imgs.idx", GOOD_IMAGES)),
        ("imgs.idx", "not a labels file", r"uint8 \(20, 28, 28\)"),
    ),
    Case(
        "idx",
        "labels-int32",
        inspect("--labels", file("y32.idx", encode_idx(LABELS.astype(np.int32)))),
        ("y32.idx", "not a labels file", "int32"),
    ),
    Case(
        "idx",
        "pair-counts-differ",
        inspect("--pair", file("images.idx", GOOD_IMAGES), file("labels.idx", encode_idx(LABELS[:19]))),
        ("images.idx holds 20 images but .*labels.idx holds 19 labels",),
    ),
    Case(
        "idx",
        "pair-labels-outside-0-9",
        inspect("--pair", file("images.idx", GOOD_IMAGES), file("labels.idx", encode_idx(LABELS + 1))),
        ("labels.idx", "outside 0..9"),
    ),
    Case(
        "idx",
        "pair-images-1d",
        inspect("--pair", file("images.idx", GOOD_LABELS), file("labels.idx", GOOD_LABELS)),
        ("images.idx", "not a stack of images"),
    ),
    Case("idx", "gzip-bad-crc", inspect(file("crc.idx.gz", corrupt_crc(GOOD_IMAGES))), ("crc.idx.gz", "corrupt gzip")),
    Case(
        "idx",
        "gzip-cut-short",
        inspect(file("cut.idx.gz", gzip.compress(GOOD_IMAGES)[:-12])),
        ("cut.idx.gz", "corrupt gzip"),
    ),
    Case("idx", "gzip-magic-only", inspect(file("magic.gz", b"\x1f\x8b")), ("magic.gz", "corrupt gzip")),
    Case(
        "idx",
        "gzip-garbage-deflate",
        inspect(file("junk.gz", b"\x1f\x8b\x08\x00" + bytes(6) + b"\xff" * 64)),
        ("junk.gz", "corrupt gzip"),
    ),
    Case("idx", "missing-file", inspect(lambda tmp: str(tmp / "absent.idx")), ("absent.idx", "no such file")),
    Case("idx", "a-directory", inspect(lambda tmp: str(tmp)), ("is a folder",)),
]


# -- special files: each must be refused before it is opened -----------------------------------
def fifo(name):
    def make(tmp):
        os.mkfifo(tmp / name)
        return str(tmp / name)

    return make


def link_to_fifo(name):
    def make(tmp):
        os.mkfifo(tmp / "pipe")
        (tmp / name).symlink_to(tmp / "pipe")
        return str(tmp / name)

    return make


def unix_socket(name):
    """A socket file (it stays after the socket is closed)."""

    def make(tmp):
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.bind(str(tmp / name))
        finally:
            sock.close()
        return str(tmp / name)

    return make


def link_to_dir(name):
    def make(tmp):
        (tmp / "folder").mkdir()
        (tmp / name).symlink_to(tmp / "folder")
        return str(tmp / name)

    return make


def dangling(name):
    def make(tmp):
        (tmp / name).symlink_to(tmp / "gone")
        return str(tmp / name)

    return make


NOT_REGULAR = "not a regular file|FIFO|named pipe|device|socket"


@functools.cache
def gzip_bomb():
    """An IDX header announcing 1 KB, then 64 MiB of zeros: about 64 KB of gzip."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [c.compress(idx_header(8, (1024,)))] + [c.compress(bytes(1 << 20)) for _ in range(64)]
    return b"".join(parts) + c.flush()


IDX_CASES += [
    Case("idx", "a-fifo", inspect(fifo("images.idx")), ("images.idx", NOT_REGULAR), special=True),
    Case("idx", "symlink-to-a-fifo", inspect(link_to_fifo("labels.idx")), ("labels.idx", NOT_REGULAR), special=True),
    Case(
        "idx",
        "pair-images-a-fifo",
        inspect("--pair", fifo("images.idx"), file("labels.idx", GOOD_LABELS)),
        ("images.idx", NOT_REGULAR),
        special=True,
    ),
    Case("idx", "a-character-device", inspect("/dev/zero"), ("/dev/zero", NOT_REGULAR)),
    Case("idx", "a-socket", inspect(unix_socket("s.idx")), ("s.idx", NOT_REGULAR)),
    Case("idx", "dangling-symlink", inspect(dangling("gone.idx")), ("gone.idx", "no such file")),
    Case(
        "idx",
        "claims-4-dims-of-2**32-1",
        inspect(file("max.idx", idx_header(8, (2**32 - 1,) * 4))),
        ("max.idx", "more than"),
        hostile=True,
    ),
    Case(
        "idx",
        "claims-2GiB-plus-1-byte",
        inspect(file("over.idx", idx_header(8, (2**31 + 1,)) + bytes(64))),
        ("over.idx", "more than"),
        hostile=True,
    ),
    Case(
        "idx",
        "int32-claims-4GiB",
        inspect(file("i4.idx", idx_header(0x0C, (2**30,)))),
        ("i4.idx", "more than"),
        hostile=True,
    ),
    Case(
        "idx",
        "zero-dimension-beside-huge-ones",
        inspect(file("zero.idx", idx_header(8, (0, 2**32 - 1, 2**32 - 1)))),
        ("zero.idx", "too large for any array"),
        hostile=True,
    ),
    Case(
        "idx",
        "gzip-claims-47MB-in-40-bytes",
        inspect(file("tiny.idx.gz", gzip.compress(idx_header(8, (60000, 28, 28))))),
        ("tiny.idx.gz", "more than a gzip file"),
        hostile=True,
    ),
    Case(
        "idx",
        "gzip-bomb-64MiB-after-a-1KB-header",
        inspect(lambda tmp: str(write(tmp, "bomb.idx.gz", gzip_bomb()))),
        ("bomb.idx.gz", "trailing bytes"),
        hostile=True,
    ),
]


def predict(make_image):
    return lambda tmp, env: ["predict", env["model"], str(make_image(tmp))]


IMAGE_CASES = [
    Case(
        "image", "not-an-image", predict(file("notes.png", b"this is not a picture\n")), ("notes.png", "not an image")
    ),
    Case("image", "zero-bytes", predict(file("empty.png", b"")), ("empty.png", "0 bytes")),
    Case(
        "image",
        "100000x100000-header",
        predict(file("bomb.png", png_header(100_000, 100_000))),
        ("bomb.png", "too large"),
        hostile=True,
    ),
    Case(
        "image",
        "8000x6000-header",
        predict(file("big.png", png_header(8000, 6000))),
        ("big.png", "8000x6000", "too large"),
        hostile=True,
    ),
    Case("image", "cut-in-half", predict(lambda tmp: write(tmp, "cut.png", cut_png())), ("cut.png", "damaged")),
    Case("image", "all-white", predict(lambda tmp: image(tmp, "white.png", "white")), ("white.png", "no digit found")),
    Case("image", "all-black", predict(lambda tmp: image(tmp, "black.png", "black")), ("black.png", "no digit found")),
    Case(
        "image",
        "fully-transparent",
        predict(lambda tmp: image(tmp, "clear.png", "transparent")),
        ("clear.png", "no digit found"),
    ),
    Case("image", "missing-file", predict(lambda tmp: tmp / "absent.png"), ("absent.png", "no such file")),
    Case("image", "a-directory", predict(lambda tmp: tmp), ("is a folder",)),
    Case("image", "16-bit-grayscale-works", predict(lambda tmp: image(tmp, "deep.png", "16-bit")), code=0),
    Case("image", "palette-works", predict(lambda tmp: image(tmp, "palette.png", "palette")), code=0),
]

IMAGE_CASES += [
    *[
        Case(
            "image",
            f"{fmt}-header-65000x65000",
            predict(file(f"huge.{fmt}", IMAGE_HEADERS[fmt](65000, 65000))),
            (f"huge.{fmt}", "too large"),
            hostile=True,
        )
        for fmt in ("bmp", "gif", "jpg", "tif", "pgm")
    ],
    Case(
        "image",
        "jpg-header-8000x6000",
        predict(file("big.jpg", IMAGE_HEADERS["jpg"](8000, 6000))),
        ("big.jpg", "8000x6000", "too large"),
        hostile=True,
    ),
    Case(
        "image",
        "tif-header-8000x6000",
        predict(file("big.tif", IMAGE_HEADERS["tif"](8000, 6000))),
        ("big.tif", "8000x6000", "too large"),
        hostile=True,
    ),
    Case("image", "a-fifo", predict(fifo("digit.png")), ("digit.png", NOT_REGULAR), special=True),
    Case("image", "symlink-to-a-fifo", predict(link_to_fifo("seven.png")), ("seven.png", NOT_REGULAR), special=True),
    Case("image", "a-character-device", predict(lambda tmp: "/dev/zero"), ("/dev/zero", NOT_REGULAR)),
    Case("image", "a-socket", predict(unix_socket("s.png")), ("s.png", NOT_REGULAR)),
    Case("image", "symlink-to-a-directory", predict(link_to_dir("album.png")), ("album.png", "folder|directory")),
    Case("image", "dangling-symlink", predict(dangling("gone.png")), ("gone.png", "no such file")),
]

#: (name, how to damage a good model in tmp -> path, what the message says)
BAD_MODELS = [
    (
        "pickled-object-array",
        lambda tmp, good: rewrite_model(good, tmp / "pickled.npz", w0=np.array([object()], dtype=object)),
        ("pickled.npz", "pickled objects"),
    ),
    (
        "missing-array",
        lambda tmp, good: rewrite_model(good, tmp / "missing.npz", b1=None),
        ("missing.npz", r"missing \['b1'\]"),
    ),
    (
        "extra-array",
        lambda tmp, good: rewrite_model(good, tmp / "extra.npz", w2=np.zeros((3, 10), np.float32)),
        ("extra.npz", r"unexpected array 'w2'"),
    ),
    (
        "shapes-disagree-with-header",
        lambda tmp, good: rewrite_model(good, tmp / "shapes.npz", header=dict(sizes=[784, 20, 10])),
        ("shapes.npz", r"array 'w0' has shape \(30, 784\), expected \(20, 784\)"),
    ),
    (
        "nan-weights",
        lambda tmp, good: rewrite_model(good, tmp / "nan.npz", w1=np.full((10, 30), np.nan, np.float32)),
        ("nan.npz", "w1 holds NaN or infinite"),
    ),
    (
        "infinite-weights",
        lambda tmp, good: rewrite_model(good, tmp / "inf.npz", b0=np.r_[np.inf, np.zeros(29)].astype(np.float32)),
        ("inf.npz", "b0 holds NaN or infinite"),
    ),
    (
        "unknown-format-version",
        lambda tmp, good: rewrite_model(good, tmp / "v99.npz", header=dict(format_version=99)),
        ("v99.npz", "unknown format version 99"),
    ),
    (
        "truncated",
        lambda tmp, good: write(tmp, "cut.npz", good.read_bytes()[: len(good.read_bytes()) // 2]),
        ("cut.npz", "not a readable glassnet model"),
    ),
    (
        "text-named-npz",
        lambda tmp, good: write(tmp, "text.npz", b"weights: lots\n"),
        ("text.npz", "not a readable glassnet model"),
    ),
    (
        "npz-without-header",
        lambda tmp, good: (np.savez(tmp / "plain.npz", w0=np.zeros(3)), tmp / "plain.npz")[1],
        ("plain.npz", "no glassnet header"),
    ),
    ("a-directory", lambda tmp, good: tmp, ("directory|folder",)),
    ("missing-file", lambda tmp, good: tmp / "absent.npz", ("absent.npz", "no such")),
]


# -- models whose zip or .npy headers lie (written by hand: tests/hostile_files.py) ----------------
BOMB_BYTES = 512 << 20
HUGE_SHAPE = (40_000_000_000,)  # float64: 298 GiB


@functools.cache
def bomb_stream():
    """(raw deflate, CRC-32, .npy header) of a 512 MiB float64 array of zeros: ~0.5 MB compressed."""
    head = npy_header((BOMB_BYTES // 8,))
    raw, crc = zeros_stream(head, BOMB_BYTES)
    return raw, crc, head


def model_zip(name, **replace):
    """damage(tmp, good): the good model rebuilt by hand, members replaced or added (name -> member)."""

    def damage(tmp, good):
        with np.load(good, allow_pickle=False) as npz:
            content = {k: npz[k] for k in npz.files}
        members = [replace[k]() if k in replace else array_member(k, v) for k, v in content.items()]
        members += [make() for k, make in replace.items() if k not in content]
        return write(tmp, name, zip_bytes(*members))

    return damage


def bomb(lying):
    """w0 inflating to 512 MiB; its zip entry declares that size, or (lying) 80 bytes of data."""

    def make():
        raw, crc, head = bomb_stream()
        return member("w0.npy", b"", size=len(head) + (80 if lying else BOMB_BYTES), crc=crc, raw=raw)

    return make


def overflowing():
    """w0 whose entry and .npy header agree on (10,) float64, but whose stream inflates to 512 MiB."""

    def make():
        raw, crc = zeros_stream(npy_header((10,)), BOMB_BYTES)
        return member("w0.npy", b"", size=len(npy_header((10,))) + 80, crc=crc, raw=raw)

    return make


def lying_member(key, payload, **kw):
    return lambda: member(f"{key}.npy", payload, **kw)


W0 = np.zeros((30, 784), np.float32)

#: (name, damage, words, flags): models that only glassnet.safeload reads safely
HOSTILE_MODELS = [
    (
        "npy-header-claims-298GiB",
        model_zip("huge.npz", w0=lying_member("w0", npy_header(HUGE_SHAPE) + bytes(64))),
        ("huge.npz", "w0", "298 GiB"),
        dict(hostile=True),
    ),
    (
        "header-member-claims-298GiB",
        model_zip("huge.npz", header=lying_member("header", npy_header(HUGE_SHAPE, "|u1") + bytes(64))),
        ("huge.npz", "header", "37 GiB"),
        dict(hostile=True),
    ),
    ("zip-bomb-512MiB", model_zip("bomb.npz", w0=bomb(lying=False)), ("bomb.npz", "w0"), dict(hostile=True)),
    (
        "zip-bomb-512MiB-declared-80-bytes",
        model_zip("bomb.npz", w0=bomb(lying=True)),
        ("bomb.npz", "w0"),
        dict(hostile=True),
    ),
    (
        "member-inflates-past-its-declared-size",
        model_zip("over.npz", w0=overflowing()),
        ("over.npz", "w0"),
        dict(hostile=True),
    ),
    (
        "member-declares-4GiB",
        model_zip("big.npz", w0=lambda: array_member("w0", W0, size=2**32 - 1)),
        ("big.npz", "w0", "4.0 GiB"),
        dict(hostile=True),
    ),
    (
        "zip-directory-claims-65535-members",
        lambda tmp, good: write(tmp, "dir.npz", _with_entries(model_zip("x.npz")(tmp, good).read_bytes(), 65535)),
        ("dir.npz", "65,535"),
        dict(hostile=True),
    ),
    (
        "member-appears-twice",
        model_zip("twice.npz", extra=lambda: array_member("w0", W0)),
        ("twice.npz", "twice"),
        dict(),
    ),
    (
        "encrypted-member",
        model_zip("secret.npz", w0=lambda: array_member("w0", W0, flags=1)),
        ("secret.npz", "encrypted"),
        dict(),
    ),
    (
        "lzma-member",
        model_zip("lzma.npz", w0=lambda: array_member("w0", W0, method=14, raw=b"\x09\x14\x05\x00")),
        ("lzma.npz", "compression method 14"),
        dict(),
    ),
    (
        "bzip2-member",
        model_zip("bz.npz", w0=lambda: array_member("w0", W0, method=12, raw=b"BZh91AY&SY")),
        ("bz.npz", "compression method 12"),
        dict(),
    ),
    (
        "not-an-npy-member",
        model_zip("notes.npz", extra=lambda: member("notes.txt", b"trained on a Tuesday\n")),
        ("notes.npz", "notes"),
        dict(),
    ),
    ("bad-crc", model_zip("crc.npz", w0=lambda: array_member("w0", W0, crc=12345)), ("crc.npz", "CRC-32"), {}),
    (
        "npy-header-is-code",
        model_zip(
            "code.npz",
            w0=lambda: member(
                "w0.npy", b"\x93NUMPY\x01\x00\x20\x00" + b"__import__('os').system('x')".ljust(31) + b"\n"
            ),
        ),
        ("code.npz",),
        {},
    ),
    (
        "negative-shape",
        model_zip("neg.npz", w0=lambda: member("w0.npy", npy_header((-30, 784), "<f4"))),
        ("neg.npz",),
        {},
    ),
    (
        "int32-weights",
        model_zip("int.npz", w0=lambda: array_member("w0", W0.astype(np.int32))),
        ("int.npz", "int32"),
        {},
    ),
    (
        "structured-weights",
        model_zip("rec.npz", w0=lambda: array_member("w0", np.zeros((30, 784), [("a", "<f4")]))),
        ("rec.npz", "w0|layer 0"),
        {},
    ),
    ("a-fifo", lambda tmp, good: Path(fifo("model.npz")(tmp)), ("model.npz", NOT_REGULAR), dict(special=True)),
    (
        "symlink-to-a-fifo",
        lambda tmp, good: Path(link_to_fifo("model.npz")(tmp)),
        ("model.npz", NOT_REGULAR),
        dict(special=True),
    ),
    ("a-character-device", lambda tmp, good: Path("/dev/zero"), ("/dev/zero", NOT_REGULAR), {}),
]


def _with_entries(data, entries):
    """A zip whose end record claims ``entries`` members (zipfile ignores the count)."""
    end = data.rindex(b"PK\x05\x06")
    return data[: end + 8] + struct.pack("<HH", entries, entries) + data[end + 12 :]


def model_case(command, bad):
    name, damage, words, *flags = bad

    def make(tmp, env):
        path = str(damage(tmp, Path(env["model"])))
        if command == "predict":
            return ["predict", path, env["image"]]
        return [command, path]

    return Case("model", f"{command}-{name}", make, words, **(flags[0] if flags else {}))


MODEL_CASES = [
    model_case(command, bad) for bad in BAD_MODELS + HOSTILE_MODELS for command in ("evaluate", "predict", "inspect")
]


def train(*args):
    def make(tmp, env):
        return ["train", "--dataset", "digits", *[a(tmp, env) if callable(a) else a for a in args]]

    return make


def under_a_file(name):
    """A path inside a regular file: no one, not even root, can create it."""

    def path(tmp, env):
        (tmp / "file.txt").write_text("a regular file\n")
        return str(tmp / "file.txt" / name)

    return path


TRAIN_CASES = [
    Case("train", "epochs-0", train("--epochs", "0"), ("--epochs", "must be > 0")),
    Case("train", "epochs-negative", train("--epochs", "-3"), ("--epochs", "must be > 0")),
    Case("train", "epochs-not-integer", train("--epochs", "1.5"), ("--epochs", "expected an integer")),
    Case("train", "mini-batch-0", train("--mini-batch-size", "0"), ("--mini-batch-size", "must be > 0")),
    Case("train", "mini-batch-negative", train("--mini-batch-size", "-10"), ("--mini-batch-size", "must be > 0")),
    Case("train", "eta-0", train("--eta", "0"), ("--eta", "must be > 0")),
    Case("train", "eta-negative", train("--eta", "-0.5"), ("--eta", "must be > 0")),
    Case("train", "eta-nan", train("--eta", "nan"), ("--eta", "must be > 0|finite number")),
    Case("train", "eta-infinite", train("--eta", "inf"), ("--eta", "must be > 0|finite number")),
    Case(
        "train",
        "sizes-input-784-for-digits",
        train("--sizes", "784,30,10", "--epochs", "1"),
        ("sizes 784,30,10 do not fit digits", "64 neurons"),
    ),
    Case("train", "sizes-output-5", train("--sizes", "64,30,5", "--epochs", "1"), ("output layer 10",)),
    Case("train", "sizes-one-layer", train("--sizes", "64"), ("--sizes", "at least two layers")),
    Case("train", "sizes-not-numbers", train("--sizes", "64,thirty,10"), ("--sizes", "must be integers")),
    Case(
        "train",
        "unknown-dataset",
        lambda tmp, env: ["train", "--dataset", "cifar10"],
        ("--dataset", "invalid choice: 'cifar10'"),
    ),
    Case(
        "train",
        "save-under-a-regular-file",
        train("--epochs", "1", "--save", under_a_file("model.npz")),
        (r"cannot (save to|write) .*file\.txt/model\.npz",),
    ),
    Case(
        "train",
        "save-onto-a-directory",
        train("--epochs", "1", "--save", lambda tmp, env: (tmp / "models").mkdir() or str(tmp / "models")),
        ("cannot (save to|write) .*models: it is a directory",),
    ),
    Case(
        "train",
        "checkpoint-under-a-regular-file",
        train("--epochs", "1", "--checkpoint", under_a_file("ck.npz")),
        (r"cannot (save to|write) .*file\.txt/ck\.npz",),
    ),
    Case(
        "train", "plots-under-a-regular-file", train("--epochs", "1", "--plots", under_a_file("plots")), (r"file\.txt",)
    ),
    Case(
        "train",
        "plots-is-a-regular-file",
        train("--epochs", "1", "--plots", lambda tmp, env: str(write(tmp, "plots.png", b"x"))),
        ("plots.png: not a directory",),
    ),
    Case("train", "resume-without-checkpoint", train("--epochs", "1", "--resume"), ("--resume needs --checkpoint",)),
    Case(
        "train",
        "resume-missing-checkpoint",
        train("--epochs", "1", "--resume", "--checkpoint", lambda tmp, env: str(tmp / "ck.npz")),
        ("no checkpoint at .*ck.npz",),
    ),
    Case(
        "train",
        "resume-text-checkpoint",
        train("--epochs", "1", "--resume", "--checkpoint", lambda tmp, env: str(write(tmp, "ck.npz", b"epoch 3\n"))),
        ("ck.npz: not a readable (glassnet )?checkpoint",),
    ),
    Case(
        "train",
        "resume-damaged-zip-checkpoint",
        train("--epochs", "1", "--resume", "--checkpoint", lambda tmp, env: str(write(tmp, "ck.npz", b"PK\x03\x04"))),
        ("ck.npz: not a readable (glassnet )?checkpoint",),
    ),
    Case(
        "train",
        "resume-from-a-model-file",
        train(
            "--epochs",
            "1",
            "--resume",
            "--checkpoint",
            lambda tmp, env: str(write(tmp, "model.npz", Path(env["model"]).read_bytes())),
        ),
        ("model.npz: not a glassnet checkpoint",),
    ),
]


def resume(damage):
    """train --resume from the checkpoint ``damage(tmp, good model)`` writes."""
    return train("--epochs", "1", "--resume", "--checkpoint", lambda tmp, env: str(damage(tmp, Path(env["model"]))))


CHECKPOINT_CASES = [
    Case("checkpoint", "a-fifo", resume(lambda tmp, good: fifo("ck.npz")(tmp)), ("ck.npz", NOT_REGULAR), special=True),
    Case(
        "checkpoint",
        "symlink-to-a-fifo",
        resume(lambda tmp, good: link_to_fifo("ck.npz")(tmp)),
        ("ck.npz", NOT_REGULAR),
        special=True,
    ),
    Case(
        "checkpoint",
        "a-directory",
        resume(lambda tmp, good: (tmp / "ck.npz").mkdir() or tmp / "ck.npz"),
        ("ck.npz", "folder|directory"),
    ),
    Case(
        "checkpoint",
        "npy-header-claims-298GiB",
        resume(model_zip("ck.npz", w0=lying_member("w0", npy_header(HUGE_SHAPE) + bytes(64)))),
        ("ck.npz", "298 GiB"),
        hostile=True,
    ),
    Case(
        "checkpoint",
        "zip-bomb-512MiB",
        resume(model_zip("ck.npz", w0=bomb(lying=False))),
        ("ck.npz", "w0"),
        hostile=True,
    ),
    Case(
        "checkpoint",
        "pickled-object-array",
        resume(lambda tmp, good: rewrite_model(good, tmp / "ck.npz", w0=np.array([object()], dtype=object))),
        ("ck.npz", "pickled objects"),
    ),
]

#: the corpus
CASES = IDX_CASES + IMAGE_CASES + MODEL_CASES + TRAIN_CASES + CHECKPOINT_CASES
IDS = [f"{i:03d}of{len(CASES)}-{c.kind}-{c.name}" for i, c in enumerate(CASES, 1)]
assert len(set(IDS)) == len(IDS)


PARAMS = [pytest.param(c, id=i) for c, i in zip(CASES, IDS)]


# -- running a case -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A good 784-30-10 model (untrained: predict only needs it to load) and a good digit image."""
    pytest.importorskip("PIL")
    folder = tmp_path_factory.mktemp("good")
    model = save(
        glassnet.Network([784, 30, 10], seed=0),
        folder / "good.npz",
        metadata=dict(dataset="mnist", training=dict(seed=0)),
    )
    from PIL import Image

    Image.fromarray((255 - seven() * 255).astype(np.uint8)).save(folder / "seven.png")
    return {"model": str(model), "image": str(folder / "seven.png")}


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


WATCHDOG = 20  # seconds a command may take on a FIFO before it counts as blocked


def run_watched(argv, folder):
    """``run(argv)`` in a thread; if it is still running after WATCHDOG seconds it is waiting on a
    FIFO: open every FIFO in ``folder`` for writing and close it (the reader sees end of file), fail."""
    done = []
    thread = threading.Thread(target=lambda: done.append(run(argv)), daemon=True)
    thread.start()
    thread.join(WATCHDOG)
    if thread.is_alive():
        for p in folder.iterdir():
            if p.is_fifo():
                try:
                    os.close(os.open(p, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:
                    pass
        thread.join(5)
        pytest.fail(f"the command blocked on a FIFO: glassnet {' '.join(map(str, argv))}")
    return done[0]


def snapshot(folder):
    """Every entry under ``folder`` (links not followed) with its type, size and modification time."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(folder))] = (st.st_mode, st.st_size if p.is_file() else 0, st.st_mtime_ns)
    return out


@pytest.mark.parametrize("case", PARAMS)
def test_malformed_input_is_one_clean_line(case, env, tmp_path):
    if case.kind in ("train", "checkpoint") or "sizes" in case.name:
        pytest.importorskip("sklearn")
    argv = case.make(tmp_path, env)
    before = snapshot(tmp_path)
    code, out, err = run_watched(argv, tmp_path) if case.special else run(argv)
    assert "Traceback" not in out + err
    assert snapshot(tmp_path) == before, "the command created, changed or left a file behind"
    if case.code == 0:
        assert code == 0 and err == "" and out.strip(), (code, out, err)
        return
    assert code == 2, (code, out, err)
    assert out == "", out
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), err
    assert "error:" in lines[0], err
    for pattern in case.words:
        assert re.search(pattern, lines[0], re.IGNORECASE), (pattern, lines[0])
    if case.hostile:  # again, measured: imports are done now
        tracemalloc.start()
        try:
            again = run(argv)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert again == (code, out, err)
        assert peak < MAX_PEAK, f"peak allocation {peak:,} bytes"


def test_the_corpus_covers_the_issue():
    by_kind = {}
    for c in CASES:
        by_kind.setdefault(c.kind, []).append(c.name)
    assert {k: len(v) for k, v in by_kind.items()} == {
        "idx": len(IDX_CASES),
        "image": len(IMAGE_CASES),
        "model": 3 * (len(BAD_MODELS) + len(HOSTILE_MODELS)),
        "train": len(TRAIN_CASES),
        "checkpoint": len(CHECKPOINT_CASES),
    }
    names = " ".join(c.name for c in CASES)
    for needed in [
        "wrong-magic",
        "type-code",
        "truncated-data",
        "trailing-bytes",
        "claims-",
        "labels-outside",
        "pair-counts-differ",
        "gzip-bad-crc",
        "not-an-image",
        "zero-bytes",
        "100000x100000",
        "all-white",
        "all-black",
        "fully-transparent",
        "16-bit",
        "palette",
        "pickled",
        "missing-array",
        "extra-array",
        "shapes-disagree",
        "nan-weights",
        "infinite-weights",
        "unknown-format-version",
        "truncated",
        "a-directory",
        "missing-file",
        "epochs-0",
        "mini-batch-0",
        "eta-0",
        "sizes-input",
        "unknown-dataset",
        "save-under-a-regular-file",
        "resume-without-checkpoint",
        # the issue "Found trying glassnet as a new user would": items 1, 2 and 6
        "npy-header-claims-298GiB",
        "zip-bomb-512MiB",
        "inspect-a-fifo",
        "predict-a-fifo",
        "symlink-to-a-fifo",
        "a-character-device",
        "a-socket",
        "gzip-bomb",
        "65000x65000",
        "member-inflates-past-its-declared-size",
        "claims-4-dims",
    ]:
        assert needed in names, needed


def test_the_robustness_page_states_the_corpus_size():
    page = Path(__file__).resolve().parents[1] / "docs" / "robustness.md"
    if not page.exists():
        pytest.skip("docs/robustness.md not written yet")
    assert f"{len(CASES)} cases" in page.read_text(), f"docs/robustness.md should say {len(CASES)} cases"


def test_inspect_describes_good_files(env, tmp_path):
    """The command the IDX cases go through also works: IDX raw and gzip, a pair, a model."""
    write(tmp_path, "t-images.idx.gz", gzip.compress(GOOD_IMAGES))
    write(tmp_path, "t-labels.idx", GOOD_LABELS)
    write(tmp_path, "floats.idx", encode_idx(np.array([0.5, np.nan, -2.0], np.float32)))
    code, out, err = run(
        [
            "inspect",
            tmp_path / "t-images.idx.gz",
            tmp_path / "t-labels.idx",
            tmp_path / "floats.idx",
            env["model"],
            "--pair",
            tmp_path / "t-images.idx.gz",
            tmp_path / "t-labels.idx",
        ]
    )
    assert code == 0 and err == "", err
    assert "IDX file (gzip), uint8 (20, 28, 28)" in out and "20 images of 28x28 pixels" in out
    assert "labels: 0: 2, 1: 2," in out and "all labels in 0..9" in out
    assert "uint8 (20,)" in out and "float32 (3,)" in out and "min -2, max 0.5" in out
    assert "1 element is NaN or infinite" in out
    assert "glassnet model, format glassnet-model version 1" in out and "network 784-30-10" in out
    assert "cost quadratic, activation sigmoid" in out and "dtype float32" in out and "seed 0" in out
    assert "history of 0 epochs" in out
    assert "pair: 20 images and 20 labels" in out
    code, _, err = run(["inspect"])
    assert code == 2 and err.count("\n") == 1 and "at least one FILE" in err
