"""Images in, MNIST rows out: real MNIST test digits written as image files in many
shapes and modes must read as the same digit the network sees in the original array."""

import io
import struct
import sys
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import glassnet
from glassnet.datasets.preprocess import RAMP, ImageError, load_image, prepare, preview, to_mnist

N_DIGITS = 100


@pytest.fixture(scope="module")
def net(mnist):
    training = mnist.training
    net = glassnet.Network([784, 30, 10], seed=0)
    net.SGD((training.X, training.y), 1, 10, 3.0, log=None)
    return net


@pytest.fixture(scope="module")
def Image():
    return pytest.importorskip("PIL.Image")


def com(x):
    a = np.asarray(x, dtype=np.float64).reshape(28, 28)
    i = np.arange(28)
    return a.sum(axis=1) @ i / a.sum(), a.sum(axis=0) @ i / a.sum()


def bbox(x):
    a = np.asarray(x).reshape(28, 28) > 0
    rows, cols = np.flatnonzero(a.any(axis=1)), np.flatnonzero(a.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


# -- one MNIST digit, many files -----------------------------------------------------------------


def variants(Image, x, rng):
    """name -> (file suffix, PIL image): the digit x (784,) in [0, 1] as people store digits."""
    u8 = np.round(x * 255).astype(np.uint8).reshape(28, 28)
    paper = 255 - u8
    canvas = np.full((45, 60), 255, np.uint8)  # off-centre on a 60x45 page
    top, left = rng.integers(0, 45 - 28 + 1), rng.integers(0, 60 - 28 + 1)
    canvas[top : top + 28, left : left + 28] = paper
    garbage = rng.integers(0, 256, (28, 28, 3)).astype(np.uint8)
    t = x.reshape(28, 28, 1)
    blue_on_cream = np.round(np.array([250, 240, 210]) * (1 - t) + np.array([30, 40, 160]) * t)
    enlarged = Image.fromarray(paper).resize((84, 84), Image.BICUBIC)
    return {
        # unmodified: the same 784 numbers, so exactly the same prediction
        "white-on-black": (".png", Image.fromarray(u8), True),
        "black-on-white": (".png", Image.fromarray(paper), True),
        "16-bit": (".png", Image.fromarray(u8.astype(np.uint16) * 257), True),
        "LA-opaque": (".png", Image.fromarray(np.dstack([paper, np.full_like(u8, 255)]), "LA"), True),
        "RGBA-black-ink-on-transparent": (
            ".png",
            Image.fromarray(np.dstack([np.zeros((28, 28, 3), np.uint8), u8]), "RGBA"),
            True,
        ),
        "RGBA-white-ink-on-transparent-garbage": (
            ".png",
            Image.fromarray(np.dstack([np.where(u8[..., None] > 0, 255, garbage).astype(np.uint8), u8]), "RGBA"),
            True,
        ),
        "enlarged-3x-nearest": (".png", Image.fromarray(paper).resize((84, 84), Image.NEAREST), True),
        "shifted-60x45": (".png", Image.fromarray(canvas), True),
        # changed a little: most predictions agree
        "palette-16-colours": (".png", Image.fromarray(paper).convert("RGB").quantize(16), False),
        "blue-ink-on-cream-RGB": (".png", Image.fromarray(blue_on_cream.astype(np.uint8), "RGB"), False),
        "enlarged-3x-bicubic": (".png", enlarged, False),
        "1-bit-scan": (
            ".png",
            Image.fromarray(paper)
            .resize((84, 84), Image.BILINEAR)
            .point(lambda p: 255 if p >= 128 else 0)
            .convert("1"),
            False,
        ),
        "jpeg": (".jpg", enlarged.convert("RGB"), False),
    }


@pytest.fixture(scope="module")
def digit_files(mnist, Image, tmp_path_factory):
    """{variant: [path per digit]}, {variant: exact?} for the first N_DIGITS test digits."""
    test = mnist.test
    folder = tmp_path_factory.mktemp("digits")
    rng = np.random.default_rng(0)
    files, exact = {}, {}
    for i, x in enumerate(test.X[:N_DIGITS]):
        for name, (suffix, im, same) in variants(Image, x, rng).items():
            path = folder / f"{i:03d}-{name}{suffix}"
            im.save(path, **({"quality": 75} if suffix == ".jpg" else {}))
            files.setdefault(name, []).append(path)
            exact[name] = same
    return files, exact


VARIANTS = [
    "white-on-black",
    "black-on-white",
    "16-bit",
    "LA-opaque",
    "RGBA-black-ink-on-transparent",
    "RGBA-white-ink-on-transparent-garbage",
    "enlarged-3x-nearest",
    "shifted-60x45",
    "palette-16-colours",
    "blue-ink-on-cream-RGB",
    "enlarged-3x-bicubic",
    "1-bit-scan",
    "jpeg",
]


@pytest.mark.parametrize("variant", VARIANTS)
def test_an_mnist_digit_file_reads_as_the_network_reads_the_array(variant, mnist, net, digit_files):
    test = mnist.test
    files, exact = digit_files
    X = np.stack([prepare(path) for path in files[variant]])
    assert X.shape == (N_DIGITS, 784) and X.dtype == np.float32
    assert X.min() >= 0 and X.max() <= 1
    agree = np.mean(net.predict(X) == net.predict(test.X[:N_DIGITS]))
    if exact[variant]:
        assert agree == 1.0, f"{variant}: only {agree:.0%} agree"
        # the preparation is MNIST's own: an MNIST digit comes back nearly unchanged
        assert np.mean(np.abs(X - test.X[:N_DIGITS]).max(axis=1) < 0.1) >= 0.75
    else:
        assert agree >= 0.90, f"{variant}: only {agree:.0%} agree"


@pytest.mark.mnist
def test_an_mnist_digit_is_a_fixed_point(mnist):
    """Digits that reach 1 somewhere and have no faint outer rows pass through unchanged."""
    test = mnist.test
    X = test.X[:300]
    same = [np.array_equal(to_mnist(x.reshape(28, 28), threshold=0, min_stroke=0), x) for x in X]
    assert np.mean(same) >= 0.85


def test_thin_pen_strokes_are_thickened_to_mnist_strokes(mnist, net, Image):
    """MNIST digits redrawn 10x larger with a thin pen (eroded to about a third of their
    stroke width) read better once thickened; without that, many are lost."""
    from PIL import ImageFilter

    test = mnist.test
    X = test.X[:N_DIGITS]
    thin = []
    for x in X:
        big = Image.fromarray(np.round(x * 255).astype(np.uint8).reshape(28, 28)).resize((280, 280), Image.BILINEAR)
        thin.append(np.asarray(big.point(lambda p: 255 if p > 127 else 0).filter(ImageFilter.MinFilter(13))))
    base = net.predict(X)
    thickened = np.mean(net.predict(np.stack([to_mnist(t) for t in thin])) == base)
    as_drawn = np.mean(net.predict(np.stack([to_mnist(t, min_stroke=0) for t in thin])) == base)
    assert thickened >= 0.8 and thickened >= as_drawn + 0.1, (thickened, as_drawn)


def test_a_one_pixel_line_becomes_about_two_pixels_wide():
    page = np.zeros((400, 300))
    page[50:350, 100] = 1.0  # an L drawn with a 1-pixel pen
    page[349, 100:250] = 1.0

    def width(x):
        b = np.pad(x.reshape(28, 28) > 0.5, 1)
        return 2 * b.sum() / ((b[1:] != b[:-1]).sum() + (b[:, 1:] != b[:, :-1]).sum())

    assert 1.5 <= width(to_mnist(page)) <= 3
    assert width(to_mnist(page, min_stroke=0)) < 1


def test_grain_on_grey_paper_is_taken_off(mnist, net):
    """Digits on grey paper with strong grain everywhere: the border shows the noise level."""
    test = mnist.test
    X = test.X[:N_DIGITS]
    rng = np.random.default_rng(0)
    prepared = []
    for x in X:
        page = np.zeros((60, 45))
        page[16:44, 8:36] = x.reshape(28, 28)
        page = np.clip(page + 0.3 * rng.random(page.shape), 0, 1)
        prepared.append(to_mnist(0.95 - 0.8 * page))
    assert np.mean(net.predict(np.stack(prepared)) == net.predict(X)) >= 0.9


def test_path_bytes_and_file_object_read_the_same(digit_files):
    files, _ = digit_files
    path = files["blue-ink-on-cream-RGB"][0]
    data = path.read_bytes()
    a = load_image(path)
    assert np.array_equal(a, load_image(str(path)))
    assert np.array_equal(a, load_image(data))
    assert np.array_equal(a, load_image(io.BytesIO(data)))


# -- modes ---------------------------------------------------------------------------------------


def square(Image, mode):
    """A dark square on a light page (40x30) in the given mode."""
    g = np.full((30, 40), 230, np.uint8)
    g[10:20, 15:25] = 20
    L = Image.fromarray(g)
    if mode == "I;16":
        return Image.fromarray(g.astype(np.uint16) * 257)
    if mode == "1":
        return L.convert("1", dither=0)
    if mode == "P":
        return L.convert("RGB").quantize(4)
    if mode == "LA":
        return Image.merge("LA", [L, Image.new("L", L.size, 255)])
    return L.convert(mode)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "P", "1", "I;16", "I", "F", "CMYK"])
def test_every_mode_reads_as_ink_on_background(mode, Image, tmp_path):
    im = square(Image, mode)
    path = tmp_path / ("x.tiff" if mode in ("I", "F", "CMYK") else "x.png")
    im.save(path)
    ink = load_image(path)
    assert ink.shape == (30, 40) and ink.dtype == np.float64
    inside = np.zeros((30, 40), bool)
    inside[10:20, 15:25] = True
    assert ink[inside].min() > 0.5 and ink[~inside].max() < 0.2
    assert 0 <= ink.min() and ink.max() <= 1


def test_transparency_is_background_whatever_the_colour_underneath(Image, tmp_path):
    inside = np.zeros((30, 40), bool)
    inside[10:20, 15:25] = True
    rgba = np.random.default_rng(1).integers(0, 256, (30, 40, 4)).astype(np.uint8)
    rgba[..., 3] = 0  # garbage colours, all transparent ...
    rgba[inside] = (10, 10, 10, 255)  # ... around an opaque black square
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    ink = load_image(tmp_path / "t.png")
    assert ink[inside].min() > 0.9 and ink[~inside].max() == 0
    # a palette image whose transparent entry is black, under dark grey ink
    p = Image.fromarray(inside.astype(np.uint8), "P")
    p.putpalette([0, 0, 0, 40, 40, 40] + [0] * 762)
    p.save(tmp_path / "p.png", transparency=0)
    ink = load_image(tmp_path / "p.png")
    assert ink[inside].min() > 0.8 and ink[~inside].max() == 0


def test_exif_orientation_is_applied(Image, tmp_path):
    g = np.full((20, 40), 255, np.uint8)
    g[5:15, 2:8] = 0  # ink on the left
    im = Image.fromarray(g)
    exif = Image.Exif()
    exif[0x0112] = 3  # rotated 180 degrees
    im.save(tmp_path / "r.jpg", exif=exif, quality=95)
    ink = load_image(tmp_path / "r.jpg")
    assert ink[5:15, -8:-2].mean() > 0.8 and ink[:, :-10].max() < 0.1


# -- bad input -----------------------------------------------------------------------------------


def png_header(width, height):
    """A PNG that claims width x height 8-bit grayscale pixels (and holds almost none)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def check_one_line(error, *words):
    message = str(error.value)
    assert "\n" not in message and message.strip() == message
    for w in words:
        assert w in message, message


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("notes.png", b"this is not a picture\n", ["notes.png", "not an image"]),
        ("empty.png", b"", ["empty.png", "0 bytes"]),
        ("bomb.png", png_header(100_000, 100_000), ["bomb.png", "too large"]),
        ("big.png", png_header(8000, 6000), ["big.png", "8000x6000", "too large", "40,000,000"]),
    ],
)
def test_bad_files_are_refused_in_one_line(name, content, words, Image, tmp_path):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageError) as e:
        load_image(path)
    check_one_line(e, *words)


def test_max_pixels_is_a_parameter(Image, tmp_path):
    Image.fromarray(np.zeros((45, 60), np.uint8)).save(tmp_path / "x.png")
    with pytest.raises(ImageError) as e:
        load_image(tmp_path / "x.png", max_pixels=1000)
    check_one_line(e, "60x45", "2,700 pixels", "1,000")


def test_damaged_missing_and_folder(Image, tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200)).astype(np.uint8)).save(buf, "PNG")
    (tmp_path / "cut.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    for path, word in [
        (tmp_path / "cut.png", "damaged"),
        (tmp_path / "nope.png", "no such file"),
        (tmp_path, "folder"),
    ]:
        with pytest.raises(ImageError) as e:
            load_image(path)
        check_one_line(e, str(path), word)
    with pytest.raises(ImageError) as e:
        load_image(b"")
    check_one_line(e, "0 bytes")


@pytest.mark.parametrize("shade", [0, 255, 128])
def test_a_blank_image_holds_no_digit(shade, Image, tmp_path):
    Image.fromarray(np.full((40, 30), shade, np.uint8)).save(tmp_path / "blank.png")
    with pytest.raises(ImageError) as e:
        prepare(tmp_path / "blank.png")
    check_one_line(e, "blank.png", "no digit found")


def test_without_pillow_the_error_says_how_to_get_it(monkeypatch, tmp_path):
    (tmp_path / "x.png").write_bytes(b"whatever")
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r'pip install "glassnet\[image\]"'):
        load_image(tmp_path / "x.png")


@pytest.mark.parametrize(
    "bad", [np.zeros((3, 4, 5)), np.zeros((0, 5)), np.full((5, 5), np.nan), np.full((5, 5), 2.0), np.array([["a"]])]
)
def test_to_mnist_refuses_arrays_that_are_not_images(bad):
    with pytest.raises(ImageError):
        to_mnist(bad)


# -- to_mnist's properties -----------------------------------------------------------------------

shapes = st.tuples(st.integers(1, 60), st.integers(1, 60))
images = shapes.flatmap(lambda s: arrays(np.float64, s, elements=st.floats(0, 1), fill=st.floats(0, 1)))


def contrast(a):
    """How far the ink stands out: the background is the median of the 1-pixel border ring."""
    ring = np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])
    background = np.median(ring)
    return a.max() - background if background <= 0.5 else background - a.min()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(images)
def test_any_image_with_ink_becomes_an_mnist_row(a):
    c = contrast(a)
    if c < 0.1 - 1e-9:
        with pytest.raises(ImageError, match="no digit found"):
            to_mnist(a)
        return
    assume(c > 0.1 + 1e-9)
    x = to_mnist(a)
    assert x.shape == (784,) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() == 1.0
    cy, cx = com(x)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1
    h, w = bbox(x)
    assert h <= 21 and w <= 21 and max(h, w) >= 14


@settings(max_examples=100, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 30), st.integers(1, 30)), elements=st.floats(0, 1), fill=st.just(0.0)),
    st.integers(1, 20),
    st.integers(1, 20),
    st.integers(1, 20),
    st.integers(1, 20),
)
def test_where_the_digit_sits_on_the_page_does_not_matter(ink, top, left, bottom, right):
    assume(ink.max() >= 0.1)
    page = np.pad(ink, ((1, 1), (1, 1)))
    moved = np.pad(ink, ((top, bottom), (left, right)))
    assert np.array_equal(to_mnist(page), to_mnist(moved))


@settings(max_examples=50, deadline=None)
@given(st.tuples(st.integers(1, 60), st.integers(1, 60)), st.floats(0, 1))
def test_one_shade_throughout_is_blank(shape, shade):
    with pytest.raises(ImageError, match="no digit found"):
        to_mnist(np.full(shape, shade))


def test_a_lopsided_digit_is_shrunk_rather_than_cut():
    ink = np.zeros((100, 100))
    ink[2:14, 2:14] = 1.0  # a heavy blob in a corner ...
    ink[97, 97] = 0.5  # ... and a faint dot far away
    x = to_mnist(ink)
    cy, cx = com(x)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    h, w = bbox(x)
    assert h == w and 14 <= h < 20  # centred by mass, a 20x20 box would spill over
    x = x.reshape(28, 28)
    rows, cols = np.flatnonzero(x.any(axis=1)), np.flatnonzero(x.any(axis=0))
    assert x[rows[-1], cols[-1]] > 0  # the far dot is still there


def test_polarity_and_dtypes_do_not_matter(mnist):
    test = mnist.test
    x = test.X[0].reshape(28, 28)
    u8 = np.round(x * 255).astype(np.uint8)
    reference = to_mnist(x)
    assert np.allclose(to_mnist(1 - x), reference, atol=1e-6)
    assert np.allclose(to_mnist(u8), reference, atol=1e-6)
    assert np.allclose(to_mnist(255 - u8), reference, atol=1e-6)
    assert np.allclose(to_mnist(u8.astype(np.uint16) * 257), reference, atol=1e-6)


def test_grey_paper_and_grey_ink_are_stretched(mnist):
    test = mnist.test
    x = test.X[1].reshape(28, 28).astype(np.float64)
    faded = 0.7 - 0.4 * x  # grey pencil on grey paper: contrast 0.4
    assert np.allclose(to_mnist(faded), to_mnist(x), atol=1e-5)


# -- preview -------------------------------------------------------------------------------------


def test_preview_draws_the_28x28_field(mnist):
    test = mnist.test
    x = test.X[0]
    text = preview(x)
    lines = text.splitlines()
    assert len(lines) == 30 and all(len(l) == 30 for l in lines)
    assert lines[0] == "+" + "-" * 28 + "+" and set("".join(l[1:-1] for l in lines[1:-1])) <= set(RAMP)
    body = [l[1:-1] for l in lines[1:-1]]
    ink = x.reshape(28, 28)
    for r in range(28):
        for c in range(28):
            assert (body[r][c] == " ") == (ink[r, c] < 1 / 18)
    assert "@" in text
    wide = preview(x, width=56, frame=False).splitlines()
    assert len(wide) == 28 and all(len(l) == 56 for l in wide) and wide[7][0::2] == body[7]
    assert preview(np.zeros(784), frame=False) == "\n".join([" " * 28] * 28)
    with pytest.raises(ValueError):
        preview(np.zeros(100))


# -- size claims and special files: refused before anything is decoded or opened -----------------


@pytest.mark.parametrize("fmt", ["png", "bmp", "gif", "jpg", "tif", "pgm"])
@pytest.mark.parametrize("width, height", [(65000, 65000), (8000, 6000)])
def test_a_header_claiming_too_many_pixels_is_refused_before_decoding(fmt, width, height, Image, tmp_path):
    import tracemalloc

    from hostile_files import IMAGE_HEADERS

    from glassnet.errors import ResourceLimitError

    path = tmp_path / f"claim.{fmt}"
    path.write_bytes(IMAGE_HEADERS[fmt](width, height))
    with pytest.raises(ResourceLimitError):  # once untraced: Pillow imports its plugins
        load_image(path)
    tracemalloc.start()
    try:
        with pytest.raises(ImageError) as e:
            load_image(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    check_one_line(e, str(path), "too large")
    assert peak < 4 << 20, peak


@pytest.mark.parametrize("kind", ["fifo", "link-to-fifo", "device"])
def test_special_files_are_refused_without_blocking(kind, Image, tmp_path):
    import os
    import threading

    pipe = tmp_path / "drawing.png"
    target = {"device": "/dev/zero", "fifo": pipe, "link-to-fifo": tmp_path / "link.png"}[kind]
    if kind != "device":
        os.mkfifo(pipe)
    if kind == "link-to-fifo":
        target.symlink_to(pipe)
    outcome = []

    def attempt():
        try:
            load_image(target)
        except ImageError as e:
            outcome.append(str(e))

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("load_image blocked on a special file")
    word = "character device" if kind == "device" else "named pipe (FIFO)"
    assert outcome == [f"{target}: is a {word}, not a regular file"]


def test_a_file_object_is_read_up_to_a_limit(Image):
    from glassnet.datasets.preprocess import ImageTooLargeError
    from glassnet.errors import ResourceLimitError

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64)).astype(np.uint8)).save(buf, "PNG")
    size = len(buf.getvalue())
    buf.seek(0)
    assert load_image(buf, max_stream_bytes=size).shape == (64, 64)
    buf.seek(0)
    with pytest.raises(ImageTooLargeError) as e:
        load_image(buf, max_stream_bytes=size - 1)
    check_one_line(e, "more than")
    assert issubclass(ImageTooLargeError, ResourceLimitError) and issubclass(ImageError, ValueError)
