"""How ``glassnet serve`` refuses a request: in JSON, and without resetting the connection.

waitress refuses a request body over its limit as soon as it reads the headers, answers
413 and closes the socket. A client that is still sending the body (Python's http.client,
requests, curl without ``Expect``) then has unread data in flight; closing a socket with
unread input makes the kernel send a reset, which throws away the answer waiting in the
client's buffer: the client sees "connection reset", not 413. Bodies that fit in the
socket buffers (about 1 MB) got through in time, larger ones did not.

The fix is the "lingering close" of Apache and nginx. After the refusal is sent, the
channel shuts its sending side (the client reads the answer, then end of file) and keeps
reading -- and discarding -- what the client still sends, until the client closes, the
declared body has arrived, or a bound is reached (``LINGER_BYTES``, ``LINGER_SECONDS``,
``LINGER_IDLE``); only then is the socket closed. Nothing is stored, so a large body costs
bandwidth only. A client that says ``Expect: 100-continue`` gets the 413 instead of the
go-ahead and never sends the body.

waitress's own error pages are plain text; here they are JSON ``{"error": ...}`` with the
app's security headers, like every other error of the app.

This module relies on waitress's channel, parser and task classes (waitress 2.1 - 3.x).
"""

from __future__ import annotations

import json
import socket
import struct
import time

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.task import ErrorTask, WSGITask
from waitress.utilities import RequestEntityTooLarge

__all__ = ["LINGER_BYTES", "LINGER_SECONDS", "LINGER_IDLE", "install", "JSONErrorTask", "LingeringChannel", "unsent"]

#: the most bytes read and discarded after a refusal before the socket is closed anyway
LINGER_BYTES = 1 << 30
#: the longest a refused connection is kept open to drain, in seconds ...
LINGER_SECONDS = 30.0
#: ... and the longest it may stay silent meanwhile
LINGER_IDLE = 5.0
_CHUNK = 1 << 18  # bytes per read while draining

try:  # the kernel's count of a socket's bytes not yet taken by the other side (Linux)
    import fcntl
    import termios

    _OUTQ = termios.TIOCOUTQ
except (ImportError, AttributeError):  # elsewhere: waitress's own buffers only
    fcntl = None  # type: ignore[assignment]
    _OUTQ = None


def unsent(sock):
    """Bytes in ``sock``'s send queue that the other side has not acknowledged (0 where the
    system does not say)."""
    if _OUTQ is None:
        return 0
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), _OUTQ, b"\0\0\0\0"))[0]
    except (OSError, ValueError):
        return 0


class StreamTask(WSGITask):
    """waitress's task whose environ also carries ``glassnet.stalled``: the connection's
    ``LingeringChannel.stalled`` (a streaming answer asks it whether its reader is still there)."""

    def get_environment(self):
        environ = super().get_environment()
        environ["glassnet.stalled"] = self.channel.stalled
        return environ


class JSONErrorTask(ErrorTask):
    """waitress's error answer (400, 413, 431, 500, 501) as JSON ``{"error": message}``.

    ``messages`` maps a status code to the message to send (the app's own wording);
    ``headers`` are added to the answer (the app's security headers).
    """

    messages: dict = {}
    headers: dict = {}

    def execute(self):
        e = self.request.error
        message = self.messages.get(e.code) or f"{e.reason.lower()} ({e.body})"
        body = json.dumps({"error": message}).encode()
        self.status = f"{e.code} {e.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.response_headers.extend(self.headers.items())
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Parser(HTTPRequestParser):
    """waitress's request parser that tells its channel when it refuses a request."""

    def __init__(self, adj, channel):
        super().__init__(adj)
        self._channel = channel

    def received(self, data):
        n = super().received(data)
        if self.completed and self.error is not None:
            self.expect_continue = False  # answer the refusal, never "100 Continue"
            self._channel.refused(self)
        return n


class _Discard:
    """Takes the place of the next request after a refusal: everything after it is swallowed."""

    completed = empty = expect_continue = headers_finished = False
    error = None

    def __init__(self, channel):
        self._channel = channel

    def received(self, data):
        self._channel.discarded(len(data))
        return len(data)

    def close(self):
        pass


class LingeringChannel(HTTPChannel):
    """waitress's connection, with a lingering close after a refused request (see the module)."""

    error_task_class = JSONErrorTask
    task_class = StreamTask
    _handed = 0  # bytes the app has written to this connection
    _taken, _taken_at = -1, 0.0  # bytes the client had taken at the last look, and since when
    _refused = False  # a request was refused: the rest of the input is discarded
    _left = None  # bytes of the refused body still to come (None: unknown)
    _drained = 0
    _drain_start = None  # time.monotonic() when draining began, None while not draining
    _drain_last = 0.0  # time.monotonic() of the last bytes drained

    def parser_class(self, adj):
        return _Discard(self) if self._refused else _Parser(adj, self)

    def refused(self, request):
        self._refused = True
        if isinstance(request.error, RequestEntityTooLarge) and not request.chunked:
            self._left = request.content_length - request.body_bytes_received

    def discarded(self, n):
        self._drained += n
        if self._left is not None:
            self._left -= n

    # -- a reader that stops reading ---------------------------------------------------------
    def write_soon(self, data):
        n = super().write_soon(data)
        self._handed += n
        return n

    def stalled(self, seconds):
        """Whether bytes have waited ``seconds`` for the client without it taking any: taken =
        handed to this connection - still in waitress's buffers - still in the kernel's send
        queue.  A client that stops reading fills its receive window, then the queue: its
        taken count stops.  (Called from the app's thread, now and then, by a stream.)"""
        waiting = self.total_outbufs_len + (unsent(self.socket) if self.connected else 0)
        taken, now = self._handed - waiting, time.monotonic()
        if taken != self._taken or not waiting:
            self._taken, self._taken_at = taken, now
            return False
        return now - self._taken_at >= seconds

    # -- the loop's questions and events ----------------------------------------------------
    def readable(self):
        if self._drain_start is None:
            return super().readable()
        now = time.monotonic()
        if now - self._drain_last > LINGER_IDLE or now - self._drain_start > LINGER_SECONDS:
            self.will_close = True  # writable() now says yes: handle_write closes
        return not self.will_close

    def writable(self):
        return self.will_close if self._drain_start is not None else super().writable()

    def handle_write(self):
        if self._drain_start is None:
            super().handle_write()
        elif self.will_close:
            super().handle_close()

    def handle_read(self):
        if self._drain_start is None:
            return super().handle_read()
        try:
            data = self.recv(_CHUNK)  # b"" (end of file) has closed the channel already
        except OSError:
            super().handle_close()
            return
        if data:
            self._drain_last = time.monotonic()
            self.last_activity = time.time()
            self.discarded(len(data))
            if (self._left is not None and self._left <= 0) or self._drained > LINGER_BYTES:
                super().handle_close()

    def handle_close(self):
        if self._drain_start is None and self._should_linger() and self._start_draining():
            return
        super().handle_close()

    # -- draining ------------------------------------------------------------------------------
    def _should_linger(self):
        """After a refusal that is answered in full, while more of its body may come."""
        return (
            self._refused
            and self.connected
            and not self.requests
            and not self.total_outbufs_len
            and (self._left is None or self._left > 0)
        )

    def _start_draining(self):
        try:
            self.socket.shutdown(socket.SHUT_WR)  # the answer, then end of file, reach the client
        except OSError:
            return False
        self.will_close = self.close_when_flushed = False
        self._drain_start = self._drain_last = time.monotonic()
        return True


def install(server, messages, headers):
    """Make every listening socket of a waitress ``server`` use ``LingeringChannel``, with
    JSON error answers worded by ``messages`` ({status: text}) and carrying ``headers``."""
    from waitress.server import BaseWSGIServer, MultiSocketServer

    task = type("AppErrorTask", (JSONErrorTask,), {"messages": dict(messages), "headers": dict(headers)})
    channel = type("AppChannel", (LingeringChannel,), {"error_task_class": task})
    listeners = server.map.values() if isinstance(server, MultiSocketServer) else [server]
    for listener in listeners:
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = channel
