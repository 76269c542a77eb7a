"""The errors glassnet raises for things a user can fix, in one small family.

Every layer may import this module (it imports nothing of glassnet). The command line
turns a ``GlassnetError`` into one line on stderr and exit code 2; any other exception
is a bug and keeps its traceback. Each class is also a ``ValueError`` (or ``OSError``
for ``FetchError``) so that code written against the built-in types keeps working.
"""

from __future__ import annotations

__all__ = [
    "plural",
    "GlassnetError",
    "InputError",
    "LabelError",
    "ModelFormatError",
    "CheckpointError",
    "TrainingDiverged",
    "DataFormatError",
    "ResourceLimitError",
    "one_line",
]


class GlassnetError(ValueError):
    """Base of every error the user can fix: a bad option, file, label or setting."""


class InputError(GlassnetError):
    """An argument or input that the call cannot use (named in the message)."""


class LabelError(InputError):
    """Labels that are not integers in 0..n_classes-1."""


class ModelFormatError(GlassnetError):
    """A model file that cannot be trusted: wrong format, version, arrays, shapes or values."""


class CheckpointError(GlassnetError):
    """A checkpoint that is unreadable or does not match the run it is asked to resume."""


class TrainingDiverged(GlassnetError):
    """The cost or the weights stopped being finite numbers."""


class DataFormatError(GlassnetError):
    """A data file (IDX, image) that is malformed or not what it claims to be."""


class ResourceLimitError(GlassnetError):
    """A file or an option asks for more memory or work than glassnet allows."""


#: the longest message a command prints for an error (a file may embed a megabyte in a field)
MAX_MESSAGE = 280


def one_line(error: BaseException, limit: int = MAX_MESSAGE) -> str:
    """An exception's message as one short line (its type's name when it has none), cut to
    ``limit`` characters with an ellipsis when longer."""
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


def plural(n: int, noun: str) -> str:
    """ "1 epoch", "2 epochs", "0 epochs": a count with its noun, for messages."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
