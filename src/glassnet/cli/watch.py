"""``glassnet watch MODEL``: a saved model's run on the live page of ``glassnet train --watch``.

The page shows what the model file holds and what can be measured of it: the learning curves
of its history (each epoch's test, validation and training figures as the run recorded them),
its first layer's weights as images, and the accuracy on each class and each layer's speed of
learning, measured once on the saved weights (its own test set and 500 of its training images:
MNIST's, Fashion-MNIST's, or the digits' split with the model's training seed).  Where the
data cannot be loaded, the page shows the curves and weights alone and says why on stderr.
Needs the ``web`` extra (``pip install 'glassnet[web]'``): Flask and waitress.
"""

from __future__ import annotations

from ..errors import plural
from .common import EXIT_OK, CLIError, add_data_options, at_least, describe_network, load_model, model_dataset

NAME = "watch"
HELP = "show a saved model's run (curves, weights, accuracy per digit) on the live page"

#: how ``glassnet train`` recorded the end of a run (the header's "stopped") -> the page's state
_STATES = {"completed": "finished", "interrupted": "interrupted"}


def add_arguments(p):
    p.description = (
        "Serve the page of 'glassnet train --watch' for a model saved by 'glassnet train --save': "
        "its learning curves (the history in its header), its first layer's weights, and the "
        "accuracy on each digit and each layer's speed of learning measured on the saved weights. "
        "The address is printed on stderr; Ctrl-C (or the page's Close button) stops the server. "
        "Needs the 'web' extra: pip install 'glassnet[web]'."
    )
    p.add_argument("model", metavar="MODEL", help="a network or layer network saved by 'glassnet train --save'")
    p.add_argument(
        "--port",
        type=at_least(int, 0, high=65535),
        default=0,
        metavar="PORT",
        help="the page's port on 127.0.0.1 (default 0: a free one)",
    )
    add_data_options(p)


def run(args, out, err):
    try:
        from ..web.watch import Watch
        from ..web.watchapp import WatchServer
    except ImportError as e:
        raise CLIError(f"glassnet watch needs the 'web' extra ({e}): pip install 'glassnet[web]'") from None
    net, header = load_model(args.model)
    if net.kind == "ensemble":
        raise CLIError(
            f"{args.model} is an {describe_network(net)}: the page shows one network's run; watch "
            f"one member's model file"
        )
    state = header.get("state") if isinstance(header.get("state"), dict) else {}  # a checkpoint's
    history = [r for r in header.get("history") or state.get("history") or [] if isinstance(r, dict) and "epoch" in r]
    data, image_shape = _data(args, net, header, err)
    stopped = header.get("stopped", "checkpoint" if state else "completed")
    training = header.get("training") if isinstance(header.get("training"), dict) else {}
    message = None if stopped in _STATES else f"stopped: {stopped}"
    if stopped == "checkpoint":
        message = f"a checkpoint: the run as it stood after {plural(len(history), 'epoch')}"
    watch = Watch().show_saved(
        net,
        history=history,
        state=_STATES.get(stopped, "finished"),
        message=message,
        image_shape=image_shape,
        test=data and (data[1].X, data[1].y),
        sample=data and (data[0].X[:500], data[0].y[:500]),
        meta=dict(
            dataset=header.get("dataset"),
            epochs=training.get("epochs") or len(history) or None,
            source=str(args.model),
            description=_description(training, stopped),
        ),
    )
    page = WatchServer(watch, port=args.port)
    print(
        f"glassnet: showing {describe_network(net)} from {args.model} ({plural(len(history), 'epoch')} of "
        f"history) at {page.url}",
        file=err,
    )
    print("glassnet: press Ctrl-C to stop", file=err, flush=True)
    try:
        page.wait_closed()
    except KeyboardInterrupt:
        pass
    finally:
        page.close()
    print("glassnet: stopped", file=err)
    return EXIT_OK


def _data(args, net, header, err):
    """``((training, test), image shape)`` of the data the model was trained on, or ``(None,
    shape)`` with a line on stderr where they cannot be loaded or do not fit the model."""
    from ..datasets import dataset_info, load_dataset

    name, seed = model_dataset(args.model, header)
    shape = tuple(dataset_info(name).image_shape[1:])
    try:
        training, _, test, _ = load_dataset(name, seed=seed, data_dir=args.data_dir, cache_dir=args.cache_dir)
    except (OSError, ImportError) as e:
        print(f"glassnet: {name} could not be loaded, so the page shows no accuracy per class: {e}", file=err)
        return None, shape
    if test.X.shape[1] != net.n_in or dataset_info(name).n_classes != net.n_out:
        print(
            f"glassnet: the {name} images do not fit {describe_network(net)} ({net.n_in} inputs, {net.n_out} "
            f"outputs), so the page shows no accuracy per class",
            file=err,
        )
        return None, None
    return (training, test), shape


def _description(training, stopped):
    """The run in a few words, from the header: mini-batch, eta, L2, seed, how it ended."""
    l2 = training.get("l2", training.get("lmbda"))  # "lmbda" in files written before the rename
    parts = [
        f"{name} {value:g}"
        for name, value in (("eta", training.get("eta")), ("L2", l2))
        if isinstance(value, (int, float)) and value
    ]
    if training.get("mini_batch_size"):
        parts.insert(0, f"mini-batch {training['mini_batch_size']}")
    if training.get("seed") is not None:
        parts.append(f"seed {training['seed']}")
    parts.append(f"saved: {stopped}")
    return ", ".join(parts)
