"""The live page of ``glassnet train --watch``: a Flask app streaming a ``Watch``.

    GET  /              the page (static/watch.html, watch.js, watch.css: plain JS and canvas,
                        nothing from the internet)
    GET  /events        Server-Sent Events: one ``update`` event (JSON, ``Watch.updates``) at
                        most every ``INTERVAL`` seconds while anything changed, the first one
                        with everything so far; a comment line every ``HEARTBEAT`` seconds
                        otherwise; the stream ends after the final status
    GET  /api/state     everything so far as one JSON object (the first event's content)
    POST /api/control   {"action": "pause" | "resume" | "stop" | "close"} -> {"state": ...};
                        "close" (the page's Close button) only once the run is over (else
                        409): ``WatchServer.wait_closed`` returns and the process may end

The same page shows a run that is over: the one ``glassnet train --watch`` keeps up after
training, and a saved model's (``glassnet watch MODEL``, ``Watch.show_saved``).

Why Server-Sent Events over the house's waitress: the page only listens (its three
buttons are ordinary POSTs), EventSource reconnects by itself, and waitress 3 sends each
chunk a streamed response yields at once (``send_bytes`` = 1; tests/test_watch.py measures
the delay).  Each open stream holds one of waitress's threads, so ``MAX_STREAMS`` pages may
be open at once, with threads to spare for the rest; a place is checked and taken at once
(``Watch.reserve_stream``).  A page that stops reading only fills its own connection's
buffer (the training thread never writes to a stream), and loses its place: its stream
ends once its bytes have waited ``WRITE_TIMEOUT`` seconds without the client taking any
(``channel.LingeringChannel.stalled``), and every stream ends after ``STREAM_SECONDS``
anyway.  A page that is reading comes straight back: each update carries its cursor as the
event's id, the stream's last event says come back at once, and EventSource reconnects
with ``Last-Event-ID``, so the new stream sends only what the page has not seen.

The controls refuse what a page of another site could send: a body that is not JSON
(415) and a request from another origin or for another host name (403), so that a web
page elsewhere cannot pause or stop a training run.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from pathlib import Path

from flask import Flask, Response, request, send_from_directory
from werkzeug.exceptions import HTTPException

from .server import SECURITY_HEADERS, Server, add_local_only, add_security_headers
from .watch import FINAL_STATES, Watch

__all__ = [
    "create_watch_app",
    "WatchServer",
    "events",
    "INTERVAL",
    "HEARTBEAT",
    "MAX_STREAMS",
    "STREAM_SECONDS",
    "WRITE_TIMEOUT",
]

STATIC = Path(__file__).resolve().parent / "static"
#: the shortest time between two events of one stream, in seconds (the page redraws at most this often)
INTERVAL = 0.5
#: a comment line keeps an idle stream open (and finds out a closed page) this often, in seconds
HEARTBEAT = 10.0
#: pages that may stream at once
MAX_STREAMS = 8
#: a stream ends after this many seconds; a page that reads comes back for the next one at once
STREAM_SECONDS = 15.0
#: a stream whose reader has taken none of its waiting bytes for this many seconds ends
WRITE_TIMEOUT = 5.0

#: the drawing page's headers; this page also posts no forms anywhere
_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": SECURITY_HEADERS["Content-Security-Policy"] + "; form-action 'none'",
}


def events(
    watch,
    interval=INTERVAL,
    heartbeat=HEARTBEAT,
    sleep=time.sleep,
    *,
    cursor=None,
    lifetime=math.inf,
    stalled=None,
    write_timeout=WRITE_TIMEOUT,
    reserved=False,
):
    """The text of one Server-Sent Events stream of ``watch``, piece by piece: ends after
    the message that carries a final status (or when the page goes away).

    cursor : where the page left off (``Watch.cursor_from_id``; None: everything);
    lifetime : seconds after which the stream ends with an ``again`` event (the page comes
        back at once); stalled : None or a callable, ``stalled(write_timeout)`` says the
        reader has stopped taking bytes (the stream ends);
    reserved : the caller has counted this stream already (``Watch.reserve_stream``) and
        releases it; else the stream counts itself while it runs.
    """
    with contextlib.nullcontext() if reserved else watch.stream():
        started = time.monotonic()
        yield "retry: 2000\n\n"
        quiet_since = started
        while True:
            message, cursor = watch.updates(cursor)
            if message is not None:
                data = json.dumps(message, separators=(",", ":"), allow_nan=False)
                yield f"id: {watch.cursor_id(cursor)}\nevent: update\ndata: {data}\n\n"
                quiet_since = time.monotonic()
                if message.get("status", {}).get("state") in FINAL_STATES:
                    return
            elif time.monotonic() - quiet_since >= heartbeat:
                yield ": still training\n\n"
                quiet_since = time.monotonic()
            if stalled is not None and stalled(write_timeout):
                return  # the reader has gone quiet: its place goes to another page
            if time.monotonic() - started >= lifetime:
                yield "retry: 100\nevent: again\ndata: {}\n\n"
                return
            sleep(interval)


def create_watch_app(
    watch: Watch, interval=INTERVAL, heartbeat=HEARTBEAT, lifetime=STREAM_SECONDS, write_timeout=WRITE_TIMEOUT
):
    """The Flask app of ``watch``'s live page (``events`` says what the options mean)."""
    app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")
    app.config.update(MAX_CONTENT_LENGTH=4096)
    app.url_map.merge_slashes = False

    def error(message, status):
        return Response(json.dumps({"error": message}), status=status, mimetype="application/json")

    @app.errorhandler(HTTPException)
    def http_error(e):
        return error(e.description if e.code == 400 else e.name.lower(), e.code or 500)

    add_local_only(app, error)

    add_security_headers(app, _HEADERS)

    @app.get("/")
    def index():
        return send_from_directory(STATIC, "watch.html")

    @app.get("/api/state")
    def state():
        return Response(json.dumps(watch.updates(None)[0], allow_nan=False), mimetype="application/json")

    @app.get("/events")
    def stream():
        if not watch.reserve_stream(MAX_STREAMS):
            return error(f"{MAX_STREAMS} pages are watching already: close one", 503)
        release = _once(watch.release_stream)
        try:
            stream = events(
                watch,
                interval,
                heartbeat,
                cursor=watch.cursor_from_id(request.headers.get("Last-Event-ID")),
                lifetime=lifetime,
                stalled=request.environ.get("glassnet.stalled"),
                write_timeout=write_timeout,
                reserved=True,
            )
            response = Response(
                stream, mimetype="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
            )
            response.call_on_close(release)  # the server closes every answer, read or not
        except BaseException:
            release()
            raise
        return response

    @app.post("/api/control")
    def control():
        return _control(watch, error)

    return app


def _once(fn):
    """``fn`` to be called once, however often the result is."""
    lock, done = threading.Lock(), []

    def call():
        with lock:
            if done:
                return
            done.append(True)
        fn()

    return call


def _control(watch, error):
    if not request.is_json:
        return error('send JSON: {"action": "pause" | "resume" | "stop" | "close"}', 415)
    body = request.get_json(silent=True)
    action = body.get("action") if isinstance(body, dict) else None
    actions = {"pause": watch.pause, "resume": watch.resume, "stop": watch.request_stop}
    if action not in actions and action != "close":
        return error(f'"action" must be "pause", "resume", "stop" or "close", got {json.dumps(action)[:40]}', 422)
    if action != "close":
        actions[action]()
        return watch.status()
    if watch.status()["state"] not in FINAL_STATES:
        return error("the run is still going: stop it first", 409)
    response = Response(json.dumps(watch.status()), mimetype="application/json")
    response.call_on_close(watch.request_close)  # once the answer is sent: the server may end
    return response


class WatchServer:
    """A ``Watch`` and its page served on ``host:port`` (port 0: a free one) from a thread.

    ``url`` says where; ``wait_closed()`` blocks until the page's Close button (Ctrl-C raises
    KeyboardInterrupt in it as anywhere); ``close()`` ends the watch (see ``Watch.close``) and
    then the server.
    """

    def __init__(self, watch=None, host="127.0.0.1", port=0, **app_options):
        self.watch = watch if watch is not None else Watch()
        self._server = Server(
            create_watch_app(self.watch, **app_options), host=host, port=port, threads=MAX_STREAMS + 4
        ).start()
        self.url = self._server.url

    def wait_closed(self, poll=0.25):
        """Block until the page's Close button is pressed (``Watch.closed``)."""
        while not self.watch.closed.wait(poll):
            pass

    def close(self, timeout=2.0):
        self.watch.close(timeout)
        self._server.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
