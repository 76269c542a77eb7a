"""The web app behind ``glassnet serve``: one page, one model, two JSON endpoints.

    GET  /              the drawing page (static/index.html)
    GET  /static/<f>    the page's script and style sheet, from the package's static folder only
    GET  /api/model     the model's kind and shape (``model_info``), dataset and test accuracy
                        from its header
    POST /api/predict   {"pixels": [784 numbers in 0..1]} (28x28 row-major, ink = 1), and
                        optionally "digit": 0..9 (which output to explain) ->
                        {"prediction", "probabilities" (10, sum 1), "outputs" (the raw output
                        layer), "input" (what the network received), "hidden" (one list of
                        activations per hidden fully connected layer), "maps" (one
                        {"shape": [f, h, w], "values": [f*h*w]} per convolutional layer: its
                        feature maps after convolution, pooling and activation), "saliency"
                        (784: why this digit -- glassnet.views.explain.saliency for
                        "saliency_digit", the prediction unless "digit" was given)}

The model is any that ``glassnet.io.load`` returns with 784 inputs and 10 outputs: the
book's ``Network``, a chapter-6 ``LayerNetwork`` (its convolutional layers' feature maps
are drawn on the page) or an ``Ensemble`` (its answer and "why" are those of the mean of
its members' probabilities; its members' insides are not shown).

Every error is JSON ``{"error": "..."}`` with a 4xx status: a body over ``MAX_BODY`` bytes
is 413, a body that is not JSON 400, JSON that is not 784 numbers in 0..1 is 422. Served
by ``Server``, a body over the limit is refused by waitress as soon as its length is known,
in the same JSON, and the rest of it is read and discarded so that every client gets the
answer (see ``channel``).

The page turns the drawing into MNIST's format itself (crop, scale into 20x20, centre
the centre of mass in 28x28), so the server only ever sees the 784 inputs.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import numpy as np
from flask import Flask, Response, request, send_from_directory
from werkzeug.exceptions import HTTPException

from .. import errors
from ..views.explain import as_float64, saliency
from .models import architecture, io_sizes, reading

__all__ = [
    "MAX_BODY",
    "STATIC",
    "Server",
    "activations",
    "create_app",
    "model_info",
    "parse_pixels",
    "parse_predict",
    "InputError",
]

#: largest request body accepted, in bytes: 784 numbers written with 17 digits fit in 15 KB
MAX_BODY = 64 * 1024
TOO_LARGE = f"the request body is larger than {MAX_BODY // 1024} KB"
STATIC = Path(__file__).resolve().parent / "static"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'",
}


def add_security_headers(app, headers=None):
    """Send ``headers`` (default ``SECURITY_HEADERS``: no sniffing, no framing, no referrer, a
    same-origin content policy) with every response of ``app``."""
    headers = SECURITY_HEADERS if headers is None else headers

    @app.after_request
    def add(response):
        response.headers.update(headers)
        return response


#: the host names a page of glassnet answers under (a DNS-rebinding site uses its own)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def add_local_only(app, answer):
    """One policy for every page glassnet serves: answer only requests for this computer's own
    host names (``LOCAL_HOSTS``: a DNS-rebinding site sends its own name) and, when a browser
    says where a request comes from (``Origin``), only the page's own origin; anything else
    gets ``answer(message, 403)``."""

    @app.before_request
    def local_only():
        host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
        origin = request.headers.get("Origin")
        if host not in LOCAL_HOSTS or (origin is not None and origin != request.host_url.rstrip("/")):
            return answer("this page answers its own origin on this computer only", 403)
        return None


class InputError(errors.InputError):
    """A request the server refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message, status=422):
        super().__init__(message)
        self.status = status


def _reject_constant(name):
    raise InputError(f"{name} is not a number JSON allows", 400)


def _json(body):
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise InputError("the body is not UTF-8 text", 400) from None
    except json.JSONDecodeError as e:
        raise InputError(f"the body is not valid JSON ({e.msg} at character {e.pos})", 400) from None
    except RecursionError:
        raise InputError("the body is nested too deeply", 400) from None


def _pixels(data, n_inputs):
    if not isinstance(data, dict) or "pixels" not in data:
        raise InputError('expected a JSON object {"pixels": [...]}')
    pixels = data["pixels"]
    if not isinstance(pixels, list):
        raise InputError(f'"pixels" must be a list of {n_inputs} numbers, got {type(pixels).__name__}')
    if len(pixels) != n_inputs:
        raise InputError(f'"pixels" must hold {n_inputs} numbers (28x28, row by row), got {len(pixels)}')
    for i, v in enumerate(pixels):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InputError(f"pixels[{i}] is not a number: {json.dumps(v)[:40]}")
        if isinstance(v, float) and not math.isfinite(v):
            raise InputError(f"pixels[{i}] is not finite")
        if not 0 <= v <= 1:
            raise InputError(f"pixels[{i}] = {str(v)[:40]} is outside 0..1")
    return np.array(pixels, dtype=np.float64)


def parse_pixels(body, n_inputs=784):
    """The ``pixels`` of a predict request body (bytes) as a float64 array (n_inputs,).

    Raises InputError: status 400 when the body is not JSON, 422 when it is JSON but not
    ``{"pixels": [n_inputs numbers in 0..1]}``.
    """
    return _pixels(_json(body), n_inputs)


def parse_predict(body, n_inputs=784, n_outputs=10):
    """``(pixels (n_inputs,), digit)`` of a predict request body: ``digit`` is the optional
    ``"digit"`` to explain, an integer 0..n_outputs-1, or None. InputError as ``parse_pixels``."""
    data = _json(body)
    pixels = _pixels(data, n_inputs)
    digit = data.get("digit")
    if digit is not None and (isinstance(digit, bool) or not isinstance(digit, int) or not 0 <= digit < n_outputs):
        raise InputError(f'"digit" must be an integer 0..{n_outputs - 1} or null, got {json.dumps(digit)[:40]}')
    return pixels, digit


def activations(network, x):
    """Every layer's activations of the book's Network for one input x (n_in,): a list,
    input first, output last."""
    layers = network.activations(np.asarray(x, dtype=network.dtype).reshape(1, -1))
    return [a[0] for a in layers]


def _shape_info(network):
    """The part of ``model_info`` that the model's ``summary()`` gives: kind, sizes, the
    hidden fully connected layers and the convolutional layers' maps."""
    summary = network.summary()
    inner = summary.pop("layers")[:-1]
    dense = [layer for layer in inner if len(layer["shape"]) == 1]
    return {
        "kind": network.kind,
        **summary,
        "hidden": [layer["shape"][0] for layer in dense],
        "hidden_names": [layer["name"] for layer in dense],
        "maps": [layer for layer in inner if len(layer["shape"]) == 3],
    }


def model_info(network, header=None):
    """What ``GET /api/model`` answers: the model's kind, shape and one-line ``description``
    (``models.architecture``), and what its header says (dataset, last test accuracy)."""
    header = header or {}
    history = header.get("history") or []
    last = history[-1] if history and isinstance(history[-1], dict) else {}
    accuracy = last.get("accuracy")
    return {
        "description": architecture(network),
        **_shape_info(network),
        "dataset": header.get("dataset"),
        "accuracy": accuracy if isinstance(accuracy, (int, float)) else None,
        "epochs": len(history) or None,
        "glassnet_version": header.get("glassnet_version"),
    }


def _answer(network, network64, x, digit):
    """The JSON of ``POST /api/predict`` for pixels x (n_in,) and the digit to explain."""
    r = reading(network, x)
    explained = r["prediction"] if digit is None else digit
    return {
        "prediction": r["prediction"],
        "probabilities": r["probabilities"].tolist(),
        "outputs": r["outputs"].tolist(),
        "input": x.tolist(),
        "hidden": [h.tolist() for h in r["hidden"]],
        "maps": [{"shape": list(m.shape), "values": np.round(m.reshape(-1), 5).tolist()} for m in r["maps"]],
        "saliency": saliency(network64, x, explained).tolist(),
        "saliency_digit": explained,
    }


def json_app(name):
    """``(app, error)``: a Flask app as every JSON page of glassnet is made -- its static files,
    bodies up to ``MAX_BODY``, each error one JSON ``{"error": ...}`` (``error(message, status)``;
    a bug is a 500 that names no more than its type), the security headers and the local-only
    policy."""
    app = Flask(name, static_folder=str(STATIC), static_url_path="/static")
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY)
    app.json.sort_keys = False
    app.url_map.merge_slashes = False  # "/static//x" is not found, not redirected

    def error(message, status):
        return Response(json.dumps({"error": message}), status=status, mimetype="application/json")

    @app.errorhandler(HTTPException)
    def http_error(e):
        messages = {413: TOO_LARGE, 404: "not found", 405: f"{request.method} is not allowed here"}
        return error(messages.get(e.code, e.description or e.name), e.code or 500)

    @app.errorhandler(Exception)
    def unexpected(e):  # a bug, not bad input: say so without a traceback
        app.logger.exception("unexpected error")
        return error(f"internal error ({type(e).__name__})", 500)

    add_security_headers(app)
    add_local_only(app, error)
    return app, error


def create_app(network, header=None):
    """The Flask app serving ``network``: a Network, LayerNetwork or Ensemble with 784
    inputs (any n_in, n_out work; the page draws 28x28 digits and 10 bars)."""
    app, error = json_app(__name__)
    info = model_info(network, header)
    n_in, n_out = io_sizes(network)
    network64 = as_float64(network)  # for saliency, copied once

    @app.get("/")
    def index():
        return send_from_directory(STATIC, "index.html")

    @app.get("/api/model")
    def model():
        return info

    @app.post("/api/predict")
    def predict():
        try:
            x, digit = parse_predict(request.get_data(cache=False), n_in, n_out)
        except InputError as e:
            return error(str(e), e.status)
        return _answer(network, network64, x, digit)

    return app


class Server:
    """``app`` served by waitress on host:port (port 0: a free one); ``url`` says where.

    ``run()`` blocks until Ctrl-C or ``stop()``; ``start()`` runs it in a daemon thread.
    Raises OSError (one line) when the address cannot be bound.
    """

    def __init__(self, app, host="127.0.0.1", port=8000, threads=4):
        from waitress.server import create_server

        from .channel import install

        try:
            # waitress refuses what the app would refuse (a body over MAX_BODY), before reading it
            self._server = create_server(
                app,
                host=host,
                port=port,
                threads=threads,
                max_request_body_size=MAX_BODY + 1,
                clear_untrusted_proxy_headers=True,
                ident="glassnet",
            )
        except OSError as e:
            raise OSError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
        install(self._server, {413: TOO_LARGE}, SECURITY_HEADERS)
        listen = getattr(self._server, "effective_listen", None)
        host, self.port = listen[0][:2] if listen else (self._server.effective_host, self._server.effective_port)
        self.host = host
        self._thread = None

    @property
    def url(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def run(self):
        """Serve until Ctrl-C or ``stop()`` (waitress's loop swallows KeyboardInterrupt)."""
        try:
            self._server.run()
        finally:
            self._close()

    def _socket_map(self):
        from waitress.server import MultiSocketServer

        server = self._server
        return server.map if isinstance(server, MultiSocketServer) else server._map

    def _close(self):
        from waitress import wasyncore

        self._server.task_dispatcher.shutdown()
        wasyncore.close_all(self._socket_map())

    def start(self):
        self._thread = threading.Thread(target=self.run, name="glassnet-serve", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=10):
        """Stop serving (from any thread): the loop closes every socket and returns."""
        from waitress import wasyncore

        if self._thread is None:  # never started: just release the socket
            self._close()
            return
        sockets = self._socket_map()
        trigger = next((s for s in list(sockets.values()) if hasattr(s, "pull_trigger")), None)
        if trigger is not None:  # close every socket from inside the serving loop's thread
            try:
                trigger.pull_trigger(lambda: wasyncore.close_all(sockets))
            except OSError:  # the loop has closed its sockets (the trigger's too): it is ending
                pass
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
