"""``glassnet serve MODEL``: a page where a person draws a digit and the network reads it.

Any saved MNIST model: the book's network, a chapter-6 layer network (its convolutional
layers' feature maps are drawn) or an ensemble (the mean of its members' answers).
Needs the ``web`` extra (``pip install 'glassnet[web]'``): Flask and waitress.
"""

from __future__ import annotations

from .common import EXIT_OK, CLIError, describe_network, io_sizes, load_model, local_host, model_kind, port

NAME = "serve"
HELP = "serve a page where you draw a digit and watch the network read it"


def add_arguments(p):
    p.description = (
        "Serve a web page for a saved MNIST model: draw a digit with the mouse or a "
        "finger and see the 28x28 input the network receives, its hidden neurons (a "
        "convolutional network's feature maps) and its output for every digit, live. "
        "Its address is printed on stderr; Ctrl-C stops the server. Needs the 'web' extra: "
        "pip install 'glassnet[web]'."
    )
    p.add_argument(
        "model",
        metavar="MODEL",
        help="a model saved by 'glassnet train --save': a network, "
        "a layer network or an ensemble (784 inputs, 10 outputs)",
    )
    p.add_argument(
        "--host",
        type=local_host,
        default="127.0.0.1",
        help="the loopback address to listen on (default 127.0.0.1; ::1 or localhost): the page "
        "answers this computer only",
    )
    p.add_argument("--port", type=port, default=8000, help="port to listen on (default 8000; 0 picks a free one)")


def run(args, out, err):
    try:
        from ..web import Server, create_app
    except ImportError as e:
        raise CLIError(f"glassnet serve needs the 'web' extra ({e}): pip install 'glassnet[web]'") from None
    net, header = load_model(args.model)
    n_in, n_out = io_sizes(net)
    if (n_in, n_out) != (784, 10):
        raise CLIError(
            f"{args.model} is a {describe_network(net)} {model_kind(net)} ({n_in} inputs, {n_out} "
            f"outputs); the drawing page needs 784 inputs (28x28 pixels) and 10 outputs, an MNIST model"
        )
    server = Server(create_app(net, header), host=args.host, port=args.port)
    dataset = f" ({header['dataset']})" if header.get("dataset") else ""
    # the address goes to stderr, as every glassnet page's does (train --watch, watch): stdout
    # holds results only (a transcript, a table, predictions), and a page is none
    print(f"glassnet: serving {describe_network(net)}{dataset} from {args.model} at {server.url}", file=err)
    print("glassnet: press Ctrl-C to stop", file=err, flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    print("glassnet: stopped", file=err)
    return EXIT_OK
