"""``glassnet universality``: chapter 4's visual proof on a page, beside what SGD learns.

Serves ``glassnet.web.universality`` on 127.0.0.1: drag a step, set a bump's height, draw
f(x) with the mouse and see the book's construction (``glassnet.universality``) and its error
live; press "learn" to watch glassnet's SGD train a network of the same sizes on samples of f;
the two-input towers in a second view.  Needs the ``web`` extra (Flask, waitress).
"""

from __future__ import annotations

from .common import EXIT_OK, CLIError, at_least, local_host, positive

NAME = "universality"
HELP = "serve chapter 4's visual proof: any function built from sigmoid steps, beside what SGD learns"


def add_arguments(p):
    p.description = (
        "Serve chapter 4 of the book on a page: one sigmoid neuron with a large weight is a step "
        "at s = -b/w, two make a bump, many bumps (with the output's sigma^-1 correction) make "
        "any f(x) you draw, and two inputs make towers. Press 'learn' to train a network with as "
        "many hidden neurons on samples of f with glassnet's SGD, side by side with the "
        "construction. Its address is printed on stderr; Ctrl-C stops the server. Needs the "
        "'web' extra: pip install 'glassnet[web]'."
    )
    p.add_argument(
        "--host",
        type=local_host,
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this computer only; the page answers "
        "requests for this computer's own names only)",
    )
    p.add_argument(
        "--port",
        type=at_least(int, 0, high=65535),
        default=8004,
        help="port to listen on (default 8004; 0 picks a free one)",
    )
    p.add_argument(
        "--max-seconds",
        type=positive(float, high=3600),
        default=60.0,
        help="the longest a 'learn' run may train, in seconds (default 60, at most 3600)",
    )


def run(args, out, err):
    try:
        from ..web.server import Server
        from ..web.universality import Learner, create_app
    except ImportError as e:
        raise CLIError(f"glassnet universality needs the 'web' extra ({e}): pip install 'glassnet[web]'") from None
    learner = Learner(max_seconds=args.max_seconds)
    server = Server(create_app(learner), host=args.host, port=args.port)
    # the address goes to stderr, as every glassnet page's does: stdout holds results only
    print(
        f"glassnet: serving chapter 4, a visual proof that neural nets can compute any function, at {server.url}",
        file=err,
    )
    print("glassnet: press Ctrl-C to stop", file=err, flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        learner.stop()
    print("glassnet: stopped", file=err)
    return EXIT_OK
