"""Writing files so that a crash never leaves a half-written one: shared by every layer.

``atomic_output(path)`` yields a temporary file beside ``path`` named
``.{name}.{pid}.{random}.tmp``; on success it is flushed, fsynced and renamed over
``path`` (readers see the old file or the new one, never a mixture).  A process killed
mid-write (SIGKILL) leaves its temporary file behind: the next write to the same path
removes every such file whose process is gone (``remove_stale_temporaries``).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

__all__ = ["atomic_output", "atomic_write", "remove_stale_temporaries"]


def _read_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: read once, when glassnet is imported (before any thread of glassnet's starts): changing the
#: umask to read it is not thread-safe
_UMASK = _read_umask()


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, somebody else's
        return True
    return True


def remove_stale_temporaries(path):
    """Remove the temporary files of earlier writes to ``path`` whose writer has died.

    Returns the paths removed.  Only names of glassnet's own pattern are touched.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(\d+)\.[A-Za-z0-9_]+\.tmp$")
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = pattern.match(name)
        if match and int(match.group(1)) != os.getpid() and not _pid_alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
                os.unlink(folder / name)
                removed.append(folder / name)
    return removed


@contextlib.contextmanager
def atomic_output(path):
    """Yield a binary file object that becomes ``path`` when the block ends without error.

    On any exception (KeyboardInterrupt included) the temporary file is removed and
    ``path`` is untouched.  The file gets the permissions a plain ``open()`` would give.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path, write):
    """Call ``write(fileobj)`` inside :func:`atomic_output` for ``path``; returns the Path."""
    with atomic_output(path) as f:
        write(f)
    return Path(path)
