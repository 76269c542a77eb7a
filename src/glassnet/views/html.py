"""A model shows itself in a notebook: its layers, parameter counts and first layer's weights.

    model_html(model)        an HTML fragment: the architecture in one line, a table of the
                             layers (name, output shape, activation, weights' shape, parameters)
                             with the total, and a picture of the first layer's weights
    first_layer_png(model)   that picture as PNG bytes, with its (height, width)
    png(rgb)                 PNG bytes of an (h, w, 3) uint8 image: NumPy and zlib, no matplotlib
    show_in_notebooks()      gives every kind of model a ``_repr_html_`` that returns
                             ``model_html(self)``: Jupyter, VS Code and any notebook that shows
                             ``text/html`` then draw a model left as a cell's last expression

``glassnet/__init__.py`` calls ``show_in_notebooks()`` once, so ``import glassnet`` is all a
notebook needs.  The core defines no ``_repr_html_`` of its own and imports nothing from here
(it is NumPy only): the method is set on its classes from above, in the open, by that one call
(``NOTEBOOK_MODELS`` lists which classes), and ``glassnet.Network._repr_html_`` is then
``model_html`` under another name.  Everything is asked through the model protocol
(``core.model``: ``members``, ``describe``, ``summary``, ``layer_names``, ``named_parameters``,
``first_layer_weights``); network2's networks, which wrap a core network, answer through
their ``core``.

The picture is the live page's (``glassnet train --watch``): one tile per first-layer neuron
(the first ``MAX_TILES``), its incoming weights drawn in the input's shape (28 x 28 for MNIST),
a convolutional layer's filters as kernels (the mean over input channels, small kernels
enlarged to ``KERNEL_PIXELS``), red for positive weights and blue for negative ones, each tile
scaled to its own largest weight, tiles one light pixel apart.
"""

from __future__ import annotations

import base64
import html
import math
import re
import struct
import zlib

import numpy as np

from ..core.dataforms import square_side

__all__ = [
    "model_html",
    "first_layer_png",
    "first_layer_tiles",
    "png",
    "show_in_notebooks",
    "NOTEBOOK_MODELS",
    "MAX_TILES",
]

#: tiles in the picture at most: the first this many neurons (filters) of the first layer
MAX_TILES = 100
#: a small kernel's tile is enlarged to about this many pixels a side (a 5x5 kernel: 15x15)
KERNEL_PIXELS = 16
#: the colour of the lines between tiles
GAP = 214
#: "module:Class" of every kind of model that gets ``_repr_html_`` from ``show_in_notebooks``
NOTEBOOK_MODELS = (
    "glassnet.core.network:Network",
    "glassnet.core.layernet:LayerNetwork",
    "glassnet.core.ensemble:Ensemble",
    "glassnet.network2:Network",
)


def show_in_notebooks(classes=None):
    """Give each class in ``classes`` (default: those ``NOTEBOOK_MODELS`` names, which covers
    network3's networks, a kind of ``LayerNetwork``) a ``_repr_html_`` returning
    ``model_html(self)``.  Returns the classes."""
    if classes is None:
        import importlib

        classes = [
            getattr(importlib.import_module(module), name)
            for module, name in (entry.split(":") for entry in NOTEBOOK_MODELS)
        ]
    for cls in classes:
        cls._repr_html_ = _repr_html_
    return list(classes)


def _repr_html_(self):
    """The model as HTML for a notebook (``glassnet.views.html.model_html``)."""
    return model_html(self)


# -- the page fragment ------------------------------------------------------------------------------
def model_html(model):
    """An HTML fragment (a string, every text escaped) describing ``model``: see the module."""
    model = getattr(model, "core", model)  # network2's Network computes with its core network
    members = model.members
    alone = len(members) == 1 and members[0] is model
    rows = _layer_rows(model) if alone else _member_rows(members)
    total = sum(_count(model).values())
    shape = "\u00d7".join(map(str, model.input_shape))
    facts = [model.kind, f"{total:,} parameters", f"{model.dtype}", f"input {shape}"]
    if model.seed is not None:
        facts.append(f"seed {model.seed}")
    parts = [
        f'<div class="glassnet-model" style="{_BOX}">',
        f'<div style="font-weight:600;font-size:14px">{_e(model.describe())}</div>',
        f'<div style="color:#667085;margin:2px 0 8px">{_e(_DOT.join(facts))}</div>',
        '<div style="display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start">',
        _table(rows, total, alone),
        _picture(model, alone),
        "</div></div>",
    ]
    return "".join(parts)


_DOT = " \u00b7 "
_BOX = "font-family:system-ui,sans-serif;font-size:13px;color:#1d2433;max-width:100%"
_CELL = "padding:2px 10px;border-bottom:1px solid #e3e6ec;text-align:{}"


def _e(text):
    return html.escape(str(text), quote=True)


def _count(model):
    """``{layer index (or member's name): parameters}`` from ``named_parameters()``: "w0" and
    "b0" are layer 0's; an ensemble's "m1_w0" are member 1's."""
    counts = {}
    for name, array in model.named_parameters().items():
        found = re.match(r"(m\d+)_", name) or re.search(r"(\d+)$", name)
        key = found.group(1) if found else name
        counts[key] = counts.get(key, 0) + int(np.size(array))
    return counts


def _layer_rows(model):
    """One row per layer with parameters: name, output shape, activation, weights, parameters."""
    params = model.named_parameters()
    counts = _count(model)
    layers = model.summary().get("layers") or []
    rows = []
    for l, name in enumerate(model.layer_names()):
        info = layers[l] if l < len(layers) and len(layers) == len(model.layer_names()) else {}
        w = params.get(f"w{l}")
        rows.append(
            [
                name,
                "\u00d7".join(map(str, info.get("shape", []))) or "",
                info.get("activation") or "",
                "\u00d7".join(map(str, np.shape(w))) if w is not None else "",
                counts.get(str(l), 0),
            ]
        )
    return rows


def _member_rows(members):
    """One row per member of an ensemble: its architecture and its parameters."""
    return [[f"member {i}", m.describe(compact=True), "", "", sum(_count(m).values())] for i, m in enumerate(members)]


def _table(rows, total, alone):
    heads = (
        ["layer", "output", "activation", "weights", "parameters"]
        if alone
        else ["member", "architecture", "", "", "parameters"]
    )
    keep = [i for i in range(5) if heads[i]]
    head = "".join(f'<th style="{_CELL.format("right" if i == 4 else "left")}">{_e(heads[i])}</th>' for i in keep)
    body = []
    for row in rows + [["total", "", "", "", total]]:
        cells = "".join(
            f'<td style="{_CELL.format("right" if i == 4 else "left")}">{_e(f"{row[i]:,}" if i == 4 else row[i])}</td>'
            for i in keep
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<table style="border-collapse:collapse;font-variant-numeric:tabular-nums">'
        f'<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def _picture(model, alone):
    data, (height, width), (shown, total, conv) = first_layer_png(model, details=True)
    which = f"all {total}" if shown == total else f"the first {shown} of {total}"
    what = "filters (kernels, the mean over input channels)" if conv else "neurons' incoming weights"
    whose = "" if alone else "member 0's "
    caption = f"{whose}first layer: {which} {what}; red excites, blue inhibits"
    scale = max(1, min(3, 360 // max(width, 1)))
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return (
        f'<figure style="margin:0;max-width:{scale * width + 4}px">'
        f'<img src="{uri}" alt="{_e(caption)}" width="{scale * width}" height="{scale * height}" '
        f'style="image-rendering:pixelated;display:block">'
        f'<figcaption style="color:#667085;font-size:12px;margin-top:4px">{_e(caption)}</figcaption></figure>'
    )


# -- the picture of the first layer -----------------------------------------------------------------
def first_layer_tiles(model, max_tiles=MAX_TILES):
    """``(tiles (k, h, w) float64, total, conv)``: the first ``max_tiles`` first-layer neurons'
    weights as images, how many the layer has, and whether they are convolution kernels."""
    model = getattr(model, "core", model)
    W = np.asarray(model.first_layer_weights(), dtype=np.float64)
    total = len(W)
    W = W[:max_tiles]
    if W.ndim == 4:  # filters (f, c, kh, kw): one image per filter
        return W.mean(axis=1), total, True
    shape = tuple(model.input_shape)
    if len(shape) >= 2 and math.prod(shape) == W.shape[1]:
        images = W.reshape((len(W), -1) + shape[-2:]).mean(axis=1)  # (c, h, w) inputs: channels averaged
    else:
        side = square_side(W.shape[1])
        images = W.reshape(len(W), side, side) if side else W.reshape(len(W), 1, -1)
    return images, total, False


def first_layer_png(model, max_tiles=MAX_TILES, details=False):
    """``(png bytes, (height, width))`` of the first layer's weights as tiles (see the module);
    with ``details`` also ``(tiles shown, tiles in the layer, conv)``."""
    tiles, total, conv = first_layer_tiles(model, max_tiles)
    rgb = tile_image(tiles)
    out = (png(rgb), rgb.shape[:2])
    return out + ((len(tiles), total, conv),) if details else out


def tile_layout(count, h, w):
    """``(zoom, columns, rows)`` for ``count`` tiles of h x w: small kernels enlarged to
    about KERNEL_PIXELS a side, columns and rows as square as the tiles allow."""
    zoom = max(1, KERNEL_PIXELS // max(h, w))
    cols = max(1, math.ceil(math.sqrt(count * h / w)))
    return zoom, cols, max(1, math.ceil(count / cols))


def tile_image(tiles):
    """tiles (k, h, w) -> an RGB image (H, W, 3) uint8: each tile scaled to its own largest
    magnitude, red positive and blue negative on white, one GAP pixel around each tile."""
    k, h, w = tiles.shape
    zoom, cols, rows = tile_layout(k, h, w)
    th, tw = h * zoom, w * zoom
    image = np.full((rows * (th + 1) + 1, cols * (tw + 1) + 1, 3), GAP, np.uint8)
    scale = np.abs(tiles).reshape(k, -1).max(axis=1, initial=0.0)
    v = np.nan_to_num(tiles / np.where(scale > 0, scale, 1.0)[:, None, None]).clip(-1, 1)
    pos, neg = np.maximum(v, 0)[..., None], np.minimum(v, 0)[..., None]
    colour = 255 - pos * np.array([35, 217, 217]) + neg * np.array([218, 156, 20])  # as the live page
    colour = np.rint(colour).astype(np.uint8).repeat(zoom, axis=1).repeat(zoom, axis=2)
    for i in range(k):
        y, x = 1 + (i // cols) * (th + 1), 1 + (i % cols) * (tw + 1)
        image[y : y + th, x : x + tw] = colour[i]
    return image


def png(rgb):
    """PNG bytes of an 8-bit RGB image ``rgb`` (h, w, 3) uint8 (filter 0 on every row, zlib)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or not rgb.shape[0] or not rgb.shape[1]:
        raise ValueError(f"png needs an (h, w, 3) image with h, w > 0, got shape {rgb.shape}")
    height, width = rgb.shape[:2]
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rgb.reshape(height, -1)], axis=1).tobytes()

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
