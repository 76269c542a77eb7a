"""The ``glassnet`` command: a thin layer over the library, one module per command.

``main(argv) -> int`` is the only place that chooses exit codes: 0 success, 2 bad input
or a failure the user can fix (one line on stderr: a ``GlassnetError``, a file the
system refuses, a missing optional package, memory the machine does not have), 130
Ctrl-C.  Any other exception is a bug and keeps its traceback.

To add a command: write ``cli/NAME.py`` with ``NAME``, ``HELP``, ``add_arguments(parser)``
and ``run(args, out, err) -> int`` and list it in ``COMMANDS`` below.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import re
import sys

from ..errors import GlassnetError, one_line
from ..version import __version__
from . import (
    baselines,
    ensemble,
    evaluate,
    export,
    inspect,
    plot,
    predict,
    reproduce,
    serve,
    sweep,
    trace,
    train,
    universality,
    watch,
)
from .common import EXIT_INTERRUPTED, EXIT_USAGE

__all__ = ["main", "entry", "build_parser", "COMMANDS"]

#: every command, in the order ``glassnet --help`` lists them
COMMANDS = [
    train,
    reproduce,
    evaluate,
    predict,
    plot,
    trace,
    serve,
    watch,
    universality,
    export,
    ensemble,
    baselines,
    sweep,
    inspect,
]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2, and a mistyped
    choice (a command, a plot) gets "did you mean ...?"."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {_suggest(message)} (see {self.prog} --help)\n")


def _suggest(message):
    """argparse's "invalid choice: 'trian' (choose from ...)" with the closest choice named."""
    found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if found is None:
        return message
    choices = re.findall(r"'([^']*)'", found.group(2)) or [c.strip() for c in found.group(2).split(",")]
    close = difflib.get_close_matches(found.group(1), choices, n=1)
    return f"{message}: did you mean {close[0]!r}?" if close else message


def build_parser():
    parser = _Parser(
        prog="glassnet",
        description="A neural network you can see through: Nielsen's network (sigmoid neurons, quadratic "
        "cost, backpropagation, mini-batch SGD) in NumPy.",
    )
    parser.add_argument("--version", action="version", version=f"glassnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        p = sub.add_parser(command.NAME, help=command.HELP)
        command.add_arguments(p)
        p.set_defaults(run=command.run)
    return parser


def main(argv=None, out=None, err=None):
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            args = parser.parse_args(argv)
    except SystemExit as e:  # argparse printed --help / --version or its one-line usage error
        return int(e.code or 0)
    if args.command is None:
        parser.print_help(out)
        return EXIT_USAGE
    try:
        return args.run(args, out, err)
    except KeyboardInterrupt:
        print("glassnet: interrupted", file=err)
        return EXIT_INTERRUPTED
    except (GlassnetError, OSError, ImportError) as e:
        print(f"glassnet: error: {one_line(e)}", file=err)
        return EXIT_USAGE
    except MemoryError:
        print(
            "glassnet: error: out of memory: the machine cannot hold what was asked for "
            "(smaller sizes, batches or files)",
            file=err,
        )
        return EXIT_USAGE


def entry():
    sys.exit(main())
