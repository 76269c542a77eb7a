"""A corpus of malformed inputs, each fed through the command line as a user would.

Every case writes its bad input into its own ``tmp_path`` and runs ``glassnet.cli.main``
on it; a refused case must end with exit code 2 and exactly one line on stderr that
names the problem (and the file, when there is one), no traceback, nothing on stdout,
and no file created, changed or left half-written in the folder.  Cases that claim huge
sizes are run a second time under ``tracemalloc``: they must fail without allocating
what they claim.  A few inputs that look unusual but are fine (16-bit and palette
images) must succeed.

The library-level tests (test_idx, test_io, test_preprocess, test_web, ...) check the
same refusals one function at a time; this file checks what the user sees.  ``CASES``
is the corpus: its size is in every test id ("007of96-...") and in docs/robustness.md.
"""
from __future__ import annotations

import gzip
import io
import json
import re
import struct
import tracemalloc
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import glassnet
from glassnet.cli import main
from glassnet.datasets.idx import encode_idx
from glassnet.io import save

MAX_PEAK = 8 * 2**20      # bytes a hostile size claim may make the command allocate


@dataclass(frozen=True)
class Case:
    kind: str                       # idx, image, model, train
    name: str
    make: Callable                  # make(tmp_path, env) -> argv; writes the bad input into tmp_path
    words: tuple = ()               # regular expressions the stderr line must match (case-insensitive)
    code: int = 2
    hostile: bool = False           # claims a huge size: check the peak allocation


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
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


def seven(side=56):
    """A handwritten-looking 7: ink 1 on background 0, float64 (side, side)."""
    a = np.zeros((side, side))
    a[10:15, 12:45] = 1.0
    for r in range(14, 49):
        c = int(44 - (r - 14) * 22 / 34)
        a[r, max(0, c - 2):c + 3] = 1.0
    return a


def image(tmp, name, mode):
    from PIL import Image
    ink = seven()
    if mode == "white":
        im = Image.new("L", (40, 40), 255)
    elif mode == "black":
        im = Image.new("L", (40, 40), 0)
    elif mode == "transparent":        # a drawing never drawn: every pixel alpha 0
        im = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    elif mode == "16-bit":             # dark ink on light paper, 16 bits per pixel
        im = Image.fromarray((65535 - ink * 60000).astype(np.uint16))
        assert im.mode.startswith("I;16")
    elif mode == "palette":            # blue ink on yellow paper, quantized to a palette
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
    return buf.getvalue()[:len(buf.getvalue()) // 2]


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
    np.savez(dst, **content)           # np.savez pickles object arrays: the "pickled" case
    return dst


# -- the corpus ---------------------------------------------------------------------------------
def inspect(*args):
    return lambda tmp, env: ["inspect", *[a(tmp) if callable(a) else a for a in args]]


def file(name, data):
    return lambda tmp: str(write(tmp, name, data))


IDX_CASES = [
    Case("idx", "wrong-magic", inspect(file("magic.idx", b"\x00\x01\x08\x01" + GOOD_LABELS[4:])),
         ("magic.idx", "bad magic")),
    Case("idx", "text-not-idx", inspect(file("notes.idx", b"label,image\n1,2\n")), ("notes.idx", "bad magic")),
    Case("idx", "type-code-0x0a", inspect(file("code0a.idx", b"\x00\x00\x0a" + GOOD_LABELS[3:])),
         ("code0a.idx", "unsupported IDX type code 0x0a")),
    Case("idx", "type-code-0xff", inspect(file("codeff.idx", b"\x00\x00\xff" + GOOD_LABELS[3:])),
         ("codeff.idx", "type code 0xff")),
    Case("idx", "zero-dimensions", inspect(file("dims0.idx", b"\x00\x00\x08\x00")),
         ("dims0.idx", "number of dimensions 0")),
    Case("idx", "five-dimensions", inspect(file("dims5.idx", idx_header(8, (1,) * 5) + b"x")),
         ("dims5.idx", "number of dimensions 5")),
    Case("idx", "empty-file", inspect(file("empty.idx", b"")), ("empty.idx", "truncated header")),
    Case("idx", "truncated-header", inspect(file("head.idx", GOOD_IMAGES[:10])), ("head.idx", "truncated header")),
    Case("idx", "truncated-data", inspect(file("short.idx", GOOD_IMAGES[:-1])),
         ("short.idx", "truncated data", "15680 bytes")),
    Case("idx", "truncated-data-gzip", inspect(file("short.idx.gz", gzip.compress(GOOD_IMAGES[:-100]))),
         ("short.idx.gz", "truncated data")),
    Case("idx", "trailing-bytes", inspect(file("long.idx", GOOD_LABELS + b"\x00\x00\x00")),
         ("long.idx", "trailing bytes", "3 bytes")),
    Case("idx", "trailing-bytes-gzip", inspect(file("long.idx.gz", gzip.compress(GOOD_LABELS + b"\x07"))),
         ("long.idx.gz", "trailing bytes")),
    Case("idx", "claims-47MB-holds-100B", inspect(file("claim.idx", idx_header(8, (60000, 28, 28)) + bytes(100))),
         ("claim.idx", "truncated data", "47040000 bytes"), hostile=True),
    Case("idx", "claims-2GB-gzip", inspect(file("claim.idx.gz", gzip.compress(idx_header(8, (2000, 1000, 1000))
                                                                             + bytes(100)))),
         ("claim.idx.gz", "truncated data"), hostile=True),
    Case("idx", "claims-1TB", inspect(file("tera.idx", idx_header(8, (10**6, 10**6)) + bytes(8))),
         ("tera.idx", "more than the .* allowed"), hostile=True),
    Case("idx", "claims-8GB-float64", inspect(file("f8.idx", idx_header(0x0E, (2**15, 2**15)))),
         ("f8.idx", "more than"), hostile=True),
    Case("idx", "labels-outside-0-9", inspect("--labels", file("y.idx", encode_idx(np.r_[LABELS, 10, 255]
                                                                                   .astype(np.uint8)))),
         ("y.idx", "2 labels outside 0..9", "index 20: 10")),
    Case("idx", "labels-file-by-name-outside-0-9",
         inspect(file("train-labels-idx1-ubyte", encode_idx(np.r_[LABELS, 42].astype(np.uint8)))),
         ("train-labels-idx1-ubyte", "outside 0..9")),
    Case("idx", "labels-not-1d-uint8", inspect("--labels", file("imgs.idx", GOOD_IMAGES)),
         ("imgs.idx", "not a labels file", r"uint8 \(20, 28, 28\)")),
    Case("idx", "labels-int32", inspect("--labels", file("y32.idx", encode_idx(LABELS.astype(np.int32)))),
         ("y32.idx", "not a labels file", "int32")),
    Case("idx", "pair-counts-differ",
         inspect("--pair", file("images.idx", GOOD_IMAGES), file("labels.idx", encode_idx(LABELS[:19]))),
         ("images.idx holds 20 images but .*labels.idx holds 19 labels",)),
    Case("idx", "pair-labels-outside-0-9",
         inspect("--pair", file("images.idx", GOOD_IMAGES), file("labels.idx", encode_idx(LABELS + 1))),
         ("labels.idx", "outside 0..9")),
    Case("idx", "pair-images-1d",
         inspect("--pair", file("images.idx", GOOD_LABELS), file("labels.idx", GOOD_LABELS)),
         ("images.idx", "not a stack of images")),
    Case("idx", "gzip-bad-crc", inspect(file("crc.idx.gz", corrupt_crc(GOOD_IMAGES))),
         ("crc.idx.gz", "corrupt gzip")),
    Case("idx", "gzip-cut-short", inspect(file("cut.idx.gz", gzip.compress(GOOD_IMAGES)[:-12])),
         ("cut.idx.gz", "corrupt gzip")),
    Case("idx", "gzip-magic-only", inspect(file("magic.gz", b"\x1f\x8b")), ("magic.gz", "corrupt gzip")),
    Case("idx", "gzip-garbage-deflate", inspect(file("junk.gz", b"\x1f\x8b\x08\x00" + bytes(6) + b"\xff" * 64)),
         ("junk.gz", "corrupt gzip")),
    Case("idx", "missing-file", inspect(lambda tmp: str(tmp / "absent.idx")), ("absent.idx", "no such file")),
    Case("idx", "a-directory", inspect(lambda tmp: str(tmp)), ("is a folder",)),
]


def predict(make_image):
    return lambda tmp, env: ["predict", env["model"], str(make_image(tmp))]


IMAGE_CASES = [
    Case("image", "not-an-image", predict(file("notes.png", b"this is not a picture\n")),
         ("notes.png", "not an image")),
    Case("image", "zero-bytes", predict(file("empty.png", b"")), ("empty.png", "0 bytes")),
    Case("image", "100000x100000-header", predict(file("bomb.png", png_header(100_000, 100_000))),
         ("bomb.png", "too large"), hostile=True),
    Case("image", "8000x6000-header", predict(file("big.png", png_header(8000, 6000))),
         ("big.png", "8000x6000", "too large"), hostile=True),
    Case("image", "cut-in-half", predict(lambda tmp: write(tmp, "cut.png", cut_png())), ("cut.png", "damaged")),
    Case("image", "all-white", predict(lambda tmp: image(tmp, "white.png", "white")),
         ("white.png", "no digit found")),
    Case("image", "all-black", predict(lambda tmp: image(tmp, "black.png", "black")),
         ("black.png", "no digit found")),
    Case("image", "fully-transparent", predict(lambda tmp: image(tmp, "clear.png", "transparent")),
         ("clear.png", "no digit found")),
    Case("image", "missing-file", predict(lambda tmp: tmp / "absent.png"), ("absent.png", "no such file")),
    Case("image", "a-directory", predict(lambda tmp: tmp), ("is a folder",)),
    Case("image", "16-bit-grayscale-works", predict(lambda tmp: image(tmp, "deep.png", "16-bit")), code=0),
    Case("image", "palette-works", predict(lambda tmp: image(tmp, "palette.png", "palette")), code=0),
]

#: (name, how to damage a good model in tmp -> path, what the message says)
BAD_MODELS = [
    ("pickled-object-array", lambda tmp, good: rewrite_model(good, tmp / "pickled.npz",
                                                             w0=np.array([object()], dtype=object)),
     ("pickled.npz", "pickled objects")),
    ("missing-array", lambda tmp, good: rewrite_model(good, tmp / "missing.npz", b1=None),
     ("missing.npz", r"missing \['b1'\]")),
    ("extra-array", lambda tmp, good: rewrite_model(good, tmp / "extra.npz", w2=np.zeros((3, 10), np.float32)),
     ("extra.npz", r"unexpected \['w2'\]")),
    ("shapes-disagree-with-header", lambda tmp, good: rewrite_model(good, tmp / "shapes.npz",
                                                                    header=dict(sizes=[784, 20, 10])),
     ("shapes.npz", r"layer 0 has shapes \(30, 784\)")),
    ("nan-weights", lambda tmp, good: rewrite_model(good, tmp / "nan.npz",
                                                    w1=np.full((10, 30), np.nan, np.float32)),
     ("nan.npz", "layer 1 holds NaN or infinite")),
    ("infinite-weights", lambda tmp, good: rewrite_model(good, tmp / "inf.npz",
                                                         b0=np.r_[np.inf, np.zeros(29)].astype(np.float32)),
     ("inf.npz", "layer 0 holds NaN or infinite")),
    ("unknown-format-version", lambda tmp, good: rewrite_model(good, tmp / "v2.npz", header=dict(format_version=2)),
     ("v2.npz", "unknown format version 2")),
    ("truncated", lambda tmp, good: write(tmp, "cut.npz", good.read_bytes()[:len(good.read_bytes()) // 2]),
     ("cut.npz", "not a readable glassnet model")),
    ("text-named-npz", lambda tmp, good: write(tmp, "text.npz", b"weights: lots\n"),
     ("text.npz", "not a readable glassnet model")),
    ("npz-without-header", lambda tmp, good: (np.savez(tmp / "plain.npz", w0=np.zeros(3)), tmp / "plain.npz")[1],
     ("plain.npz", "no glassnet header")),
    ("a-directory", lambda tmp, good: tmp, ("directory|folder",)),
    ("missing-file", lambda tmp, good: tmp / "absent.npz", ("absent.npz", "no such")),
]


def model_case(command, bad):
    name, damage, words = bad

    def make(tmp, env):
        path = str(damage(tmp, Path(env["model"])))
        if command == "predict":
            return ["predict", path, env["image"]]
        return [command, path]
    return Case("model", f"{command}-{name}", make, words)


MODEL_CASES = [model_case(command, bad) for bad in BAD_MODELS for command in ("evaluate", "predict", "inspect")]


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
    Case("train", "eta-nan", train("--eta", "nan"), ("--eta", "must be > 0")),
    Case("train", "eta-infinite", train("--eta", "inf"), ("--eta", "must be > 0")),
    Case("train", "sizes-input-784-for-digits", train("--sizes", "784,30,10", "--epochs", "1"),
         ("sizes 784,30,10 do not fit digits", "64 neurons")),
    Case("train", "sizes-output-5", train("--sizes", "64,30,5", "--epochs", "1"), ("output layer 10",)),
    Case("train", "sizes-one-layer", train("--sizes", "64"), ("--sizes", "at least two layers")),
    Case("train", "sizes-not-numbers", train("--sizes", "64,thirty,10"), ("--sizes", "must be integers")),
    Case("train", "unknown-dataset", lambda tmp, env: ["train", "--dataset", "cifar10"],
         ("--dataset", "invalid choice: 'cifar10'")),
    Case("train", "save-under-a-regular-file", train("--epochs", "1", "--save", under_a_file("model.npz")),
         (r"cannot save to .*file\.txt/model\.npz",)),
    Case("train", "save-onto-a-directory",
         train("--epochs", "1", "--save", lambda tmp, env: (tmp / "models").mkdir() or str(tmp / "models")),
         ("cannot save to .*models: it is a directory",)),
    Case("train", "checkpoint-under-a-regular-file", train("--epochs", "1", "--checkpoint", under_a_file("ck.npz")),
         (r"cannot save to .*file\.txt/ck\.npz",)),
    Case("train", "plots-under-a-regular-file", train("--epochs", "1", "--plots", under_a_file("plots")),
         (r"file\.txt",)),
    Case("train", "plots-is-a-regular-file",
         train("--epochs", "1", "--plots", lambda tmp, env: str(write(tmp, "plots.png", b"x"))),
         ("plots.png: not a directory",)),
    Case("train", "resume-without-checkpoint", train("--epochs", "1", "--resume"),
         ("--resume needs --checkpoint",)),
    Case("train", "resume-missing-checkpoint",
         train("--epochs", "1", "--resume", "--checkpoint", lambda tmp, env: str(tmp / "ck.npz")),
         ("no checkpoint at .*ck.npz",)),
    Case("train", "resume-text-checkpoint",
         train("--epochs", "1", "--resume", "--checkpoint", lambda tmp, env: str(write(tmp, "ck.npz", b"epoch 3\n"))),
         ("ck.npz: not a readable checkpoint",)),
    Case("train", "resume-damaged-zip-checkpoint",
         train("--epochs", "1", "--resume", "--checkpoint", lambda tmp, env: str(write(tmp, "ck.npz", b"PK\x03\x04"))),
         ("ck.npz: not a readable checkpoint",)),
    Case("train", "resume-from-a-model-file",
         train("--epochs", "1", "--resume", "--checkpoint",
               lambda tmp, env: str(write(tmp, "model.npz", Path(env["model"]).read_bytes()))),
         ("model.npz: not a glassnet checkpoint",)),
]

#: the corpus
CASES = IDX_CASES + IMAGE_CASES + MODEL_CASES + TRAIN_CASES
IDS = [f"{i:03d}of{len(CASES)}-{c.kind}-{c.name}" for i, c in enumerate(CASES, 1)]
assert len(set(IDS)) == len(IDS)
PARAMS = [pytest.param(c, id=i) for c, i in zip(CASES, IDS)]


# -- running a case -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A good 784-30-10 model (untrained: predict only needs it to load) and a good digit image."""
    pytest.importorskip("PIL")
    folder = tmp_path_factory.mktemp("good")
    model = save(glassnet.Network([784, 30, 10], seed=0), folder / "good.npz",
                 metadata=dict(dataset="mnist", training=dict(seed=0)))
    from PIL import Image
    Image.fromarray((255 - seven() * 255).astype(np.uint8)).save(folder / "seven.png")
    return {"model": str(model), "image": str(folder / "seven.png")}


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def snapshot(folder):
    """Every file and folder under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.is_dir(), p.stat().st_size if p.is_file() else 0, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("case", PARAMS)
def test_malformed_input_is_one_clean_line(case, env, tmp_path):
    if case.kind == "train" or "sizes" in case.name:
        pytest.importorskip("sklearn")
    argv = case.make(tmp_path, env)
    before = snapshot(tmp_path)
    code, out, err = run(argv)
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
    if case.hostile:                      # again, measured: imports are done now
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
        "idx": len(IDX_CASES), "image": len(IMAGE_CASES), "model": 3 * len(BAD_MODELS), "train": len(TRAIN_CASES)}
    names = " ".join(c.name for c in CASES)
    for needed in ["wrong-magic", "type-code", "truncated-data", "trailing-bytes", "claims-", "labels-outside",
                   "pair-counts-differ", "gzip-bad-crc", "not-an-image", "zero-bytes", "100000x100000",
                   "all-white", "all-black", "fully-transparent", "16-bit", "palette", "pickled", "missing-array",
                   "extra-array", "shapes-disagree", "nan-weights", "infinite-weights", "unknown-format-version",
                   "truncated", "a-directory", "missing-file", "epochs-0", "mini-batch-0", "eta-0",
                   "sizes-input", "unknown-dataset", "save-under-a-regular-file", "resume-without-checkpoint"]:
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
    code, out, err = run(["inspect", tmp_path / "t-images.idx.gz", tmp_path / "t-labels.idx",
                          tmp_path / "floats.idx", env["model"],
                          "--pair", tmp_path / "t-images.idx.gz", tmp_path / "t-labels.idx"])
    assert code == 0 and err == "", err
    assert "IDX file (gzip), uint8 (20, 28, 28)" in out and "20 images of 28x28 pixels" in out
    assert "labels: 0: 2, 1: 2," in out and "all labels in 0..9" in out
    assert "uint8 (20,)" in out and "float32 (3,)" in out and "min -2, max 0.5" in out
    assert "1 element is NaN or infinite" in out
    assert "glassnet model, format glassnet-model version 1" in out and "sizes 784-30-10" in out
    assert "cost quadratic, activation sigmoid" in out and "dtype float32" in out and "seed 0" in out
    assert "history of 0 epochs" in out
    assert "pair: 20 images and 20 labels" in out
    code, _, err = run(["inspect"])
    assert code == 2 and err.count("\n") == 1 and "at least one FILE" in err
