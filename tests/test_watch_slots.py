"""The live page's places: a viewer that stops reading loses its stream, a reading one keeps up.

``glassnet train --watch`` streams to at most ``MAX_STREAMS`` pages at once.  A client that
connects and never reads must not keep a place for the whole run: its stream ends when its
bytes wait ``write_timeout`` seconds untaken, and every stream ends after ``lifetime``
seconds; a page that reads comes back at once with ``Last-Event-ID`` and gets only what it
has not seen.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import numpy as np
import pytest

try:
    import flask  # noqa: F401  (CI must have the web extra)
    import waitress  # noqa: F401
except ImportError:
    pytest.importorskip("flask", reason="needs the web extra: pip install -e '.[web]'")
    pytest.importorskip("waitress", reason="needs the web extra: pip install -e '.[web]'")

from glassnet import Network  # noqa: E402
from glassnet.training import TrainingConfig, fit  # noqa: E402
from glassnet.web.channel import unsent  # noqa: E402
from glassnet.web.watch import Watch  # noqa: E402
from glassnet.web.watchapp import MAX_STREAMS, WatchServer  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(0, 1, (300, 16)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int64) + 2 * (X[:, 1] > 0)


def trained_watch(epochs=3, meta=None):
    """A Watch that has seen ``epochs`` epochs of a small run (records to stream), and its network."""
    watch = Watch(filter_interval=0.0)
    net = Network([16, 8, 4], seed=0, cost="cross-entropy")
    watch.attach(net, test=(X[:100], Y[:100]), image_shape=(4, 4), meta=meta or {"dataset": "blobs"})
    fit(net, (X, Y), TrainingConfig(epochs=epochs, mini_batch_size=10, eta=0.5), callbacks=[watch.callback])
    watch.network = net
    return watch


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


def silent_client(server):
    """A connection that asks for the stream and never reads a byte of the answer."""
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect((server._server.host, int(server._server.port)))
    client.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return client


def open_stream(server, last_id=None):
    conn = http.client.HTTPConnection(server._server.host, server._server.port, timeout=10)
    conn.request("GET", "/events", headers={"Last-Event-ID": last_id} if last_id is not None else {})
    return conn, conn.getresponse()


def next_event(response):
    """The next event's fields ({"id", "event", "data", "retry"}), comments skipped; None at the end."""
    fields = {}
    while True:
        line = response.readline()
        if not line:
            return None
        line = line.decode().rstrip("\n")
        if not line:
            if fields:
                return fields
            continue
        if not line.startswith(":"):
            key, _, value = line.partition(": ")
            fields[key] = value


def updates_until_end(response):
    events = []
    while (event := next_event(response)) is not None:
        events.append(event)
    return events


# -- cursors as event ids ---------------------------------------------------------------------------
def test_an_event_id_names_the_cursor_it_came_from():
    watch = trained_watch()
    message, cursor = watch.updates(None)
    assert message["reset"] and len(message["records"]) == 3
    resumed = watch.cursor_from_id(watch.cursor_id(cursor))
    assert resumed == dict(cursor, status=None)
    again, _ = watch.updates(resumed)
    assert set(again) == {"status"}  # nothing it has seen, the status once more


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "x",
        "1.0.0.0",
        "1.0.0.0.0.0",
        "2.0.0.0.0",
        "1.4.0.0.0",
        "1.0.99.0.0",
        "1.-1.0.0.0",
        "1.0.0.0.0\n",
        " 1.0.0.0.0",
        "1." + "9" * 16 + ".0.0.0",
        "1.0.0.0." + "9" * 400,
        12345,
    ],
)
def test_an_id_it_cannot_have_sent_means_everything_again(text):
    watch = trained_watch()  # 3 records, no measures yet
    assert watch.cursor_from_id(text) is None
    assert watch.updates(watch.cursor_from_id(text))[0]["reset"] is True


def test_places_are_counted_and_taken_at_once():
    watch, taken = Watch(), []
    barrier = threading.Barrier(40)

    def ask():
        barrier.wait()
        taken.append(watch.reserve_stream(MAX_STREAMS))

    threads = [threading.Thread(target=ask) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert taken.count(True) == MAX_STREAMS == watch.open_streams
    watch.release_stream()
    assert watch.reserve_stream(MAX_STREAMS) and not watch.reserve_stream(MAX_STREAMS)


# -- the server -------------------------------------------------------------------------------------
def test_a_stream_ends_with_again_and_the_page_resumes_where_it_left_off():
    server = WatchServer(trained_watch(), interval=0.01, lifetime=0.3)
    try:
        conn, response = open_stream(server)
        assert response.status == 200
        events = updates_until_end(response)  # the server ends it after 0.3 s
        conn.close()
        updates = [e for e in events if e.get("event") == "update"]
        assert json.loads(updates[0]["data"])["reset"] is True
        assert events[-1] == {"retry": "100", "event": "again", "data": "{}"}  # come back at once
        server.watch.callback(server.watch.network, {"epoch": 3, "validation_accuracy": 0.5})  # something new meanwhile
        conn, response = open_stream(server, last_id=updates[-1]["id"])
        first = json.loads(next(e for e in iter(lambda: next_event(response), None) if e.get("event"))["data"])
        conn.close()
        assert "reset" not in first and "meta" not in first  # only what the page has not seen
        assert [r["epoch"] for r in first["records"]] == [3]
        conn, response = open_stream(server, last_id="1.999.0.0.0")  # not one it sent: everything
        first = json.loads(next(e for e in iter(lambda: next_event(response), None) if e.get("event"))["data"])
        conn.close()
        assert first["reset"] is True and len(first["records"]) == 4
    finally:
        server.close(timeout=0.1)


def test_viewers_that_never_read_lose_their_places_to_readers():
    """The issue's case: 20 connections that never read, then 8 pages that do."""
    server = WatchServer(trained_watch(), interval=0.01, lifetime=0.5)
    silent = []
    try:
        silent = [silent_client(server) for _ in range(20)]
        wait_for(lambda: server.watch.open_streams == MAX_STREAMS)  # they took every place ...
        wait_for(lambda: server.watch.open_streams == 0, timeout=5)  # ... and lost them
        readers = [open_stream(server) for _ in range(MAX_STREAMS)]
        assert [r.status for _, r in readers] == [200] * MAX_STREAMS
        for conn, response in readers:
            assert json.loads(next_event(response) and next_event(response)["data"])["reset"] is True
            conn.close()
    finally:
        for client in silent:
            client.close()
        server.close(timeout=0.1)


def test_a_reader_that_stops_reading_loses_its_place_before_the_stream_ends():
    """A 3 MB first message fills the silent client's window and the server's queue: its bytes
    wait, untaken, and after ``write_timeout`` the stream ends, long before its lifetime."""
    watch = trained_watch(meta={"dataset": "blobs", "note": "x" * 3_000_000})
    server = WatchServer(watch, interval=0.01, lifetime=60.0, write_timeout=0.3)
    client = silent_client(server)
    try:
        wait_for(lambda: watch.open_streams == 1)
        wait_for(lambda: watch.open_streams == 0, timeout=5)
        conn, response = open_stream(server)  # one that reads keeps its place
        assert next_event(response)["retry"] == "2000"
        assert len(next_event(response)["data"]) > 3_000_000
        time.sleep(1.0)
        assert watch.open_streams == 1
        conn.close()
    finally:
        client.close()
        server.close(timeout=0.1)


def test_unsent_counts_what_the_other_side_has_not_taken():
    listener = socket.create_server(("127.0.0.1", 0))
    b = socket.socket()
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    b.connect(listener.getsockname())
    a, _ = listener.accept()
    listener.close()
    try:
        a.setblocking(False)
        sent = 0
        try:
            while True:
                sent += a.send(b"x" * 65536)
        except BlockingIOError:
            pass
        assert 0 < unsent(a) <= sent
        before = unsent(a)
        while b.recv(1 << 20) and unsent(a) == before:
            pass
        assert unsent(a) < before
    finally:
        a.close()
        b.close()
