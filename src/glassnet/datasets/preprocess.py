"""Turn a picture of a digit into the 784 numbers an MNIST network expects.

MNIST's digits were prepared in a fixed way (LeCun, Cortes & Burges): white ink on
black, the digit's bounding box scaled to fit a 20x20 box keeping its aspect ratio
(anti-aliased, so edges are grey), then placed in a 28x28 field so that its centre
of mass sits at the centre.  A network trained on MNIST has only ever seen inputs
like that, so a photo or a drawing must go through the same steps before the
network can read it:

    load_image(path)  ->  ink (H, W) in [0, 1]: grayscale, 0 = background, 1 = ink
    to_mnist(ink)     ->  x (784,) float32 in [0, 1], laid out like an MNIST row
    prepare(path)     =   to_mnist(load_image(path))
    preview(x)        ->  the 28x28 input drawn with characters, for a terminal

Two steps are added to MNIST's recipe, both idle on a clean MNIST-like image: noise
seen on the border (the background) is taken off, and strokes much thinner than
MNIST's (a thin pen on a big page) are thickened -- see ``to_mnist``.

Reading image files needs Pillow (the extra ``image``); ``to_mnist`` and
``preview`` are NumPy only, so an array from anywhere (a drawing canvas, a camera)
can be prepared without it.
"""

from __future__ import annotations

import io as _io
import math
import os
import stat
import warnings
from pathlib import Path

import numpy as np

from ..errors import DataFormatError, ResourceLimitError, one_line
from ..safeload import format_bytes, open_regular_file

__all__ = [
    "ImageError",
    "ImageTooLargeError",
    "load_image",
    "to_mnist",
    "prepare",
    "preview",
    "MAX_PIXELS",
    "MAX_STREAM_BYTES",
    "SIDE",
    "BOX",
    "RAMP",
]

#: refuse images with more pixels than this (a decompression-bomb guard), judged from the
#: header before anything is decoded
MAX_PIXELS = 40_000_000
#: read at most this much from a file object (it is held in memory; a path is read lazily)
MAX_STREAM_BYTES = 64 << 20
#: MNIST's field and the box the digit is scaled into
SIDE, BOX = 28, 20
#: MNIST's median stroke width, in pixels of the 28x28 field
MNIST_STROKE = 2.0
#: characters for ``preview``, from no ink to full ink
RAMP = " .:-=+*#%@"
#: images larger than this on a side are first reduced (box filter) by an integer factor:
#: the digit ends up 20 pixels tall anyway, and it keeps memory small
_WORKING_SIDE = 2048

_NEEDS_PILLOW = 'reading images needs Pillow: pip install "glassnet[image]"'


class ImageError(DataFormatError):
    """An image that cannot be read or holds no digit; the message is one line."""


class ImageTooLargeError(ImageError, ResourceLimitError):
    """An image whose header claims more pixels (or a stream more bytes) than allowed."""


# -- reading -----------------------------------------------------------------------------------


def load_image(source, *, max_pixels=MAX_PIXELS, max_stream_bytes=MAX_STREAM_BYTES):
    """Read an image file as ink intensity: (H, W) float64, 0 background, 1 ink.

    source : a path (str or PathLike), the file's bytes, or a binary file object.
    max_pixels : refuse images with more pixels than this (checked from the header,
        before anything is decoded).
    max_stream_bytes : read at most this many bytes from a file object (a path is
        never read whole; bytes are already in memory).

    Any mode Pillow reads is converted to grayscale (ITU-R 601 luma for colour;
    16-bit images keep their precision); transparent pixels become the background
    (a drawing on a transparent canvas reads as ink on plain paper, whatever the
    ink's colour); EXIF orientation is applied; the first frame of an animation is
    used.  Polarity is decided as in ``to_mnist``: whichever shade dominates the
    border is the background, so dark-on-light and light-on-dark both come back as
    ink = 1 on background = 0.  Images wider or taller than 2048 pixels are reduced
    by an integer factor first (so H, W may be smaller than the file's size).

    Raises ImageError (one line, naming the file) for a missing or empty file, a
    path that is not a regular file (folder, FIFO, device: refused before it is
    opened), anything that is not an image, a damaged image; ImageTooLargeError
    (also a ResourceLimitError) for one that is too large.
    """
    try:
        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError:
        raise ImportError(_NEEDS_PILLOW) from None
    name, fp = _open_source(source, max_stream_bytes)
    try:
        with warnings.catch_warnings():
            # Pillow warns above ~89 megapixels and refuses above twice that; both are errors here
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open_image(Image, UnidentifiedImageError, fp, name, max_pixels) as im:
                try:
                    im.load()
                    im = _upright(im, ImageOps)
                    gray, alpha = _gray_and_alpha(im)
                except (MemoryError, ImageError):
                    raise
                except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
                    raise ImageTooLargeError(f"{name}: the image is too large to read safely ({one_line(e)})") from None
                except Exception as e:  # a decoder meeting damaged data raises many kinds
                    raise ImageError(
                        f"{name}: the image data is damaged or unsupported ({type(e).__name__}: {one_line(e)})"
                    ) from None
    finally:
        if fp is not source and hasattr(fp, "close"):
            fp.close()
    darkness = 1.0 - _composite(gray, alpha)
    return _orient(darkness)[0]


def _open_image(Image, UnidentifiedImageError, fp, name, max_pixels):
    """``Image.open(fp)`` (lazy: only the header is read), refused if its size is over ``max_pixels``."""
    try:
        im = Image.open(fp)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageTooLargeError(f"{name}: the image is too large to read safely ({one_line(e)})") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image (or not a format Pillow can read)") from None
    except OSError as e:
        raise ImageError(f"{name}: cannot read the image ({one_line(e)})") from None
    width, height = im.size
    if width < 1 or height < 1 or width * height > max_pixels:
        im.close()
        if width < 1 or height < 1:
            raise ImageError(f"{name}: the image has no pixels ({width}x{height})")
        raise ImageTooLargeError(
            f"{name}: {width}x{height} is too large ({width * height:,} pixels; the limit is {max_pixels:,})"
        )
    return im


def _open_source(source, max_stream_bytes=MAX_STREAM_BYTES):
    """(name for messages, binary file object) for a path, bytes or a file object.

    A path must be a regular file: a folder, FIFO or device is refused before it is
    opened (opening a FIFO would wait for a writer).
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise ImageError("<bytes>: empty (0 bytes), not an image")
        return "<bytes>", _io.BytesIO(data)
    if hasattr(source, "read"):
        name = str(getattr(source, "name", "<file>"))
        data = source.read(max_stream_bytes + 1)
        if len(data) > max_stream_bytes:
            raise ImageTooLargeError(
                f"{name}: more than {format_bytes(max_stream_bytes)} of data, more than an image file may hold here"
            )
        if not data:
            raise ImageError(f"{name}: empty (0 bytes), not an image")
        return name, _io.BytesIO(data)
    try:
        path = Path(os.fspath(source))
    except TypeError:
        raise ImageError(f"expected a path, bytes or a file object, got {type(source).__name__}") from None
    name = str(path)
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise ImageError(f"{name}: is a folder, not an image")
        if stat.S_ISREG(st.st_mode) and st.st_size == 0:
            raise ImageError(f"{name}: empty file (0 bytes), not an image")
        return name, open_regular_file(path, error=ImageError)
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except OSError as e:
        raise ImageError(f"{name}: cannot read ({e.strerror or e})") from None


def _upright(im, ImageOps):
    """Apply the EXIF orientation tag (phone photos); a broken tag is ignored."""
    try:
        return ImageOps.exif_transpose(im) or im
    except Exception:
        return im


def _gray_and_alpha(im):
    """Grayscale (H, W) float64 in [0, 1] (1 = white) and alpha in [0, 1] or None."""
    mode, bits = im.mode, None
    if mode in ("La", "RGBa"):  # premultiplied alpha
        im, mode = im.convert(mode[:-1] + "A"), mode[:-1] + "A"
    if "transparency" in im.info and mode in ("1", "L", "P", "RGB"):
        im, mode = im.convert("RGBA"), "RGBA"  # a palette or colour key marked transparent
    elif mode in ("P", "PA"):
        im = im.convert("RGBA" if mode == "PA" else "RGB")
        mode = im.mode
    elif mode == "1":
        im, mode = im.convert("L"), "L"
    elif mode.startswith("I;16"):
        im, mode, bits = im.convert("I"), "I", 16
    elif mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
        im = im.convert("RGBA" if "A" in mode else "RGB")  # CMYK, YCbCr, LAB, HSV, ...
        mode = im.mode
    if max(im.size) > _WORKING_SIDE:
        im = _reduce(im, math.ceil(max(im.size) / _WORKING_SIDE))
    a = np.asarray(im)
    alpha = None
    if mode in ("LA", "RGBA"):
        alpha = a[..., -1].astype(np.float64) / 255.0
        a = a[..., :-1]
        if alpha.min() >= 1.0:
            alpha = None  # an alpha channel that is opaque everywhere
    if mode in ("RGB", "RGBA"):
        gray = (a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114) / 255.0
    elif mode in ("L", "LA"):
        gray = a.reshape(a.shape[:2]).astype(np.float64) / 255.0
    elif mode == "I":
        gray = a.astype(np.float64)
        top = gray.max(initial=0)
        # 32-bit integer pixels carry no bit depth: 16-bit files say so; else guess from the range
        scale = 65535.0 if bits == 16 or 255 < top <= 65535 else (255.0 if top <= 255 else top)
        gray = gray / scale
    else:  # "F": floating point of unknown range
        gray = a.astype(np.float64)
        gray[~np.isfinite(gray)] = 0.0
        lo, hi = gray.min(initial=0), gray.max(initial=0)
        if lo < 0 or hi > 255:
            gray = (gray - lo) / (hi - lo) if hi > lo else np.zeros_like(gray)
        elif hi > 1:
            gray = gray / 255.0
    return np.clip(gray, 0.0, 1.0), alpha


def _reduce(im, factor):
    try:
        return im.reduce(factor)
    except (ValueError, AttributeError):
        return im.resize((max(1, im.width // factor), max(1, im.height // factor)), 4)  # BOX


def _composite(gray, alpha):
    """Flatten a transparent image onto its background.

    When the border is mostly transparent, the transparent part is the background:
    it gets the shade opposite to the opaque pixels (the ink), so dark ink on a
    transparent canvas becomes dark on white and light ink becomes light on black.
    When the border is mostly opaque, the transparent parts take the border's shade.
    """
    if alpha is None:
        return gray
    opaque = alpha >= 0.5
    if np.median(_border(alpha)) < 0.5:
        ink = np.median(gray[opaque]) if opaque.any() else 0.0
        background = 1.0 if ink < 0.5 else 0.0
    else:
        edge = _border(gray)[_border(opaque)]
        background = float(np.median(edge)) if edge.size else 1.0
    return gray * alpha + background * (1.0 - alpha)


def _border(a):
    """The pixels of a ring around the image, about 2% of its smaller side thick (at least 1)."""
    k = max(1, round(0.02 * min(a.shape)))
    return np.concatenate([a[:k].ravel(), a[-k:].ravel(), a[k:-k, :k].ravel(), a[k:-k, -k:].ravel()])


def _orient(a):
    """(ink with background low, background level): inverted when the border is mostly light."""
    background = float(np.median(_border(a)))
    if background > 0.5:
        return 1.0 - a, 1.0 - background
    return a, background


# -- MNIST's preparation -----------------------------------------------------------------------


def _centre(ink):
    """Steps 5 and 6 of ``to_mnist``: the cropped ink (h, w) scaled into 20x20 and pasted into
    28x28 with its centre of mass at (14, 14); (784,) float32."""
    h, w = ink.shape
    for box in range(BOX, 0, -1):
        scale = box / max(h, w)
        nh, nw = max(1, int(h * scale + 0.5)), max(1, int(w * scale + 0.5))
        patch = _resample(nh, h) @ ink @ _resample(nw, w).T
        patch /= patch.max()
        mass = patch.sum()
        cy = patch.sum(axis=1) @ np.arange(nh) / mass
        cx = patch.sum(axis=0) @ np.arange(nw) / mass
        top, left = int(np.floor(SIDE / 2 - cy + 0.5)), int(np.floor(SIDE / 2 - cx + 0.5))
        if 0 <= top <= SIDE - nh and 0 <= left <= SIDE - nw:
            break
    out = np.zeros((SIDE, SIDE), dtype=np.float64)
    out[top : top + nh, left : left + nw] = patch
    return np.clip(out, 0.0, 1.0).astype(np.float32).reshape(-1)


def to_mnist(image, *, threshold=0.1, min_contrast=0.1, min_stroke=1.0):
    """Prepare a grayscale digit as MNIST prepared its digits: (784,) float32 in [0, 1].

    image : (H, W) array: floats in [0, 1], or uint8 / uint16 / bool pixels.  Either
        polarity: whichever shade dominates the border is taken as the background.
    threshold : after the contrast is stretched (background 0, darkest ink 1), the
        bounding box is that of the ink stronger than this, so paper texture, JPEG
        noise or a faint smudge far away does not stretch it (fainter ink inside the
        box is kept, as MNIST keeps its grey edges).
    min_contrast : an image whose ink differs from its background by less than this
        holds no digit.
    min_stroke : strokes that would be thinner than this many pixels in the 20-pixel
        box (a thin pen on a big page) are first thickened (a square max filter) to
        MNIST's typical 2 pixels; fewer than 1% of MNIST's own digits are that thin.
        0 turns this off, leaving MNIST's preparation alone.

    Steps (MNIST's, plus two marked +):
      1. invert if the background is light; subtract the background level and stretch
         the ink to [0, 1];
      2. + take off the noise level seen on the border (its 99th percentile, at most
         0.5): the border should be background, so grain, dithering or shading there
         is noise -- 0 for a clean image;
      3. crop to the ink's bounding box;
      4. + thicken strokes that would be thinner than ``min_stroke`` pixels;
      5. scale (anti-aliased: shrinking averages areas) so the longer side is 20
         pixels, keeping the aspect ratio, and set the darkest ink to 1;
      6. paste into a 28x28 field, shifted by whole pixels so the centre of mass is
         at (14, 14) (row, column in pixel indices: MNIST's average).  MNIST let a
         digit whose centre of mass lies far off its box spill over the field's edge;
         here such a digit is scaled a little smaller instead, so no ink is lost.

    Raises ImageError for an image with no digit (blank: all one shade) or a bad array.
    """
    if not (0 <= threshold < 1 and 0 < min_contrast <= 1 and 0 <= min_stroke <= BOX):
        raise ValueError(
            f"need 0 <= threshold < 1, 0 < min_contrast <= 1 and 0 <= min_stroke <= {BOX}, "
            f"got {threshold}, {min_contrast}, {min_stroke}"
        )
    a = _as_unit_array(image)
    a, background = _orient(a)
    contrast = float(a.max()) - background
    if contrast < min_contrast:
        raise ImageError("no digit found: the image is blank (all one shade)")
    ink = np.clip((a - background) / contrast, 0.0, 1.0)
    # the border is background: ink it shows there is noise (grain, dithering, shading), taken off
    noise = min(0.5, float(np.percentile(_border(ink), 99)))
    if noise > 0:
        ink = np.clip((ink - noise) / (1.0 - noise), 0.0, 1.0)
    ink = _crop(ink, threshold)
    stroke = _stroke_width(ink) * BOX / max(ink.shape)
    if stroke < min_stroke:
        ink = _crop(_dilate(ink, 1 + int(round((MNIST_STROKE - stroke) * max(ink.shape) / BOX))), threshold)
    return _centre(ink)


def _crop(ink, threshold):
    """The part of ``ink`` inside the bounding box of its values above ``threshold``."""
    strong = ink > threshold
    rows, cols = np.flatnonzero(strong.any(axis=1)), np.flatnonzero(strong.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _stroke_width(ink):
    """Mean stroke width in pixels: twice the inked area over its perimeter (ink > 0.5).

    A line k pixels wide and L long has area kL and perimeter about 2L.
    """
    b = np.pad(ink > 0.5, 1)
    perimeter = np.count_nonzero(b[1:] != b[:-1]) + np.count_nonzero(b[:, 1:] != b[:, :-1])
    return 2 * np.count_nonzero(b) / max(perimeter, 1)


def _dilate(a, k):
    """Grey dilation by a k x k square (the image grows by k - 1 pixels each way)."""
    if k <= 1:
        return a
    a = np.pad(a, k - 1)
    for axis in (0, 1):
        a = np.moveaxis(a, axis, 0)
        m, span = a, 1  # m[i] = max(a[i:i + span]), span doubling up to k
        while 2 * span <= k:
            m = np.maximum(m[:-span], m[span:])
            span *= 2
        a = np.moveaxis(np.maximum(m[: len(m) - (k - span)], m[k - span :]), 0, axis)
    return a


def _as_unit_array(image):
    a = np.asarray(image)
    if a.ndim != 2 or min(a.shape) < 1:
        raise ImageError(f"expected a 2-D grayscale image, got an array of shape {a.shape}")
    if a.dtype == bool:
        return a.astype(np.float64)
    if a.dtype == np.uint8:
        return a / 255.0
    if a.dtype == np.uint16:
        return a / 65535.0
    if a.dtype.kind not in "fiu":
        raise ImageError(f"expected numeric pixels, got {a.dtype}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ImageError("the image holds NaN or infinite values")
    if a.min() < 0 or a.max() > 1:
        raise ImageError(f"pixel values must lie in [0, 1], got {a.min():g}..{a.max():g}")
    return a


def _resample(n_out, n_in):
    """(n_out, n_in) matrix resampling a length-n_in signal to n_out samples.

    Shrinking averages areas (each output is the mean of the input it covers, as a
    sensor or MNIST's anti-aliasing would see it; shrinking a block-enlarged image
    by the same factor gives it back exactly); enlarging interpolates linearly.
    Every output is a weighted average of inputs, so values stay in [0, 1] (no
    ringing); n_out == n_in is the identity.
    """
    scale = n_in / n_out
    j = np.arange(n_in)[None, :]
    if scale > 1:
        lo = np.arange(n_out)[:, None] * scale
        weights = np.clip(np.minimum(lo + scale, j + 1) - np.maximum(lo, j), 0.0, None)
    else:
        centres = (np.arange(n_out)[:, None] + 0.5) * scale
        weights = np.maximum(0.0, 1.0 - np.abs(j + 0.5 - centres))
    return weights / weights.sum(axis=1, keepdims=True)


def prepare(source, *, max_pixels=MAX_PIXELS, threshold=0.1, min_contrast=0.1, min_stroke=1.0):
    """``to_mnist(load_image(source))``: an image file ready for an MNIST network, (784,) float32.

    A blank image raises ImageError naming the file.
    """
    ink = load_image(source, max_pixels=max_pixels)
    try:
        return to_mnist(ink, threshold=threshold, min_contrast=min_contrast, min_stroke=min_stroke)
    except ImageError as e:
        name = source if isinstance(source, (str, os.PathLike)) else getattr(source, "name", None)
        raise ImageError(f"{name}: {e}" if name is not None else str(e)) from None


def preview(x, width=SIDE, *, frame=True):
    """The 28x28 input as text: one line per row, ``width`` characters per line.

    Ink 0 is a space, ink 1 is '@' (the ramp `` .:-=+*#%@``).  A terminal cell is
    about twice as tall as wide, so width=56 looks closer to square.  With ``frame``
    a box marks the 28x28 field's edges.
    """
    a = np.asarray(x, dtype=np.float64)
    if a.size != SIDE * SIDE:
        raise ValueError(f"expected 784 values (a 28x28 image), got shape {a.shape}")
    width = int(width)
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    a = np.clip(np.nan_to_num(a.reshape(SIDE, SIDE)), 0.0, 1.0)
    cols = ((np.arange(width) + 0.5) * SIDE / width).astype(int)
    levels = np.floor(a[:, cols] * (len(RAMP) - 1) + 0.5).astype(int)
    lines = ["".join(RAMP[v] for v in row) for row in levels]
    if frame:
        lines = ["+" + "-" * width + "+"] + [f"|{l}|" for l in lines] + ["+" + "-" * width + "+"]
    return "\n".join(lines)
