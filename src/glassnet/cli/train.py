"""``glassnet train``: train a network and print the book's transcript.

With no options this is the book's run: MNIST, 784-30-10, 30 epochs, mini-batch 10, eta
3.0, printing ``Epoch j: correct / 10000`` after every epoch.  Dataset defaults, presets
and flags are merged in that order (a flag beats a preset beats the dataset's default).
The run itself -- network, configuration, data, augmenter, metadata -- is planned by
``glassnet.training.runs.plan_run``, as ``train_preset`` plans it from Python; this module
keeps the flags, the printing and the live page.
"""

from __future__ import annotations

import argparse
import textwrap

from .. import engines
from ..core.functions import COSTS
from ..errors import plural
from ..training.optimizers import OPTIMIZERS
from ..training.runs import DEFAULTS, FITTING, KINDS, OPTION_KEYS, PRESETS, check_run, plan_run, run_options
from ..training.schedules import SCHEDULES
from ..version import __version__
from .common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    CLIError,
    add_data_options,
    at_least,
    describe_network,
    non_negative,
    parse_sizes,
    plots_dir,
    positive,
    seed_type,
    writable,
)

NAME = "train"
HELP = "train a network and print the book's transcript"


def add_arguments(t):
    t.description = textwrap.fill(
        "Train a network by mini-batch SGD, printing 'Epoch j: correct / n' on the test set after every "
        "epoch. With no options this is the book's run: MNIST, 784-30-10, 30 epochs, mini-batch 10, eta "
        "3.0. Other kinds of network get an eta, L2 and epochs of their own (the table at the end) unless "
        "you give them.",
        78,
    )
    t.formatter_class = argparse.RawDescriptionHelpFormatter
    t.epilog = _defaults_table()
    _add_book_options(t.add_argument_group("the book's run (chapter 1)"))
    _add_chapter3_options(t.add_argument_group("beyond chapter 1 (chapters 3 and 5)"))
    _add_layer_options(t.add_argument_group("layer networks, presets and ensembles (chapter 6)"))
    _add_data_options(t.add_argument_group("data"))
    _add_output_options(t.add_argument_group("output"))
    _add_page_options(t.add_argument_group("the live page (needs the web extra)"))


def _defaults_table():
    """The epilog of ``train --help``: what each kind of network gets where no flag says
    (``training.runs.FITTING``)."""

    def cell(d):
        return f"eta {d['eta']:g}, L2 {d['l2']:g}, {d['epochs']} epochs"

    lines = [
        "defaults by kind of network, chosen on validation data (a flag beats them; with your",
        "own --eta, L2 is 0 unless --l2 says). A tanh network starts from scaled weights, a ReLU",
        "network from He's; the layers of a --layers network are ReLU unless --activation or",
        "the layers say otherwise.",
        f"  {'':41}{'mnist, fashion':30}digits",
    ]
    for kind, text in KINDS.items():
        lines.append(f"  {text:41}{cell(FITTING['mnist'][kind]):30}{cell(FITTING['digits'][kind])}")
    return "\n".join(lines)


def _add_book_options(g):
    g.add_argument(
        "--sizes",
        type=parse_sizes,
        metavar="N-N-...",
        help="neurons per layer, input first (default 784-30-10; 64-30-10 for digits; 784,30,10 works too)",
    )
    g.add_argument(
        "--epochs",
        type=positive(int, 1_000_000),
        help="passes over the training data (default 30; 10 for a --layers network on MNIST)",
    )
    g.add_argument(
        "--mini-batch-size", type=positive(int, 10_000_000), metavar="M", help="examples per gradient step (default 10)"
    )
    g.add_argument(
        "--eta",
        type=positive(float),
        help="learning rate (default 3.0 for the book's network, else by kind of network: see below)",
    )
    g.add_argument(
        "--seed",
        type=seed_type,
        default=0,
        help="seeds the one random generator behind initial weights, shuffling and the "
        "digits split (default 0): the same seed gives the same transcript",
    )
    g.add_argument("--log-every", type=positive(int), metavar="K", help="print every K-th epoch line (default 1)")


def _add_chapter3_options(g):
    g.add_argument(
        "--cost",
        choices=list(COSTS),
        help="the cost (default quadratic, the book's chapter 1-2; log-likelihood uses a softmax output layer)",
    )
    g.add_argument(
        "--activation",
        choices=["sigmoid", "tanh", "relu"],
        help="hidden-layer activation (default sigmoid; relu for a --layers network)",
    )
    g.add_argument(
        "--init",
        choices=["standard", "scaled", "he"],
        help="initial weights: standard N(0,1) (the book's ch. 1; default with sigmoid), scaled "
        "N(0,1/n_in) (ch. 3; default with tanh), he N(0,2/n_in) (default with relu)",
    )
    g.add_argument(
        "--l2",
        type=non_negative,
        metavar="LAMBDA",
        help="L2 regularisation: weights decay by (1 - eta*LAMBDA/n) each step (default 0 for the "
        "book's network, else by kind of network)",
    )
    g.add_argument(
        "--momentum",
        type=at_least(float, 0),
        metavar="MU",
        help="momentum coefficient in [0, 1) (default 0: plain SGD)",
    )
    g.add_argument(
        "--optimizer",
        choices=list(OPTIMIZERS),
        help="sgd (default: the book's, with --momentum if given) or adam (--eta is then Adam's "
        "step size, typically 0.001; not with --momentum)",
    )
    _add_schedule_options(g)


def _add_schedule_options(g):
    """Chapter 3's learning-rate schedule, early stopping and augmentation, in the group ``g``."""
    g.add_argument(
        "--schedule",
        choices=list(SCHEDULES),
        help="learning rate: constant (default), halve when validation accuracy has not "
        "improved for --patience epochs (stop after --max-halvings), cosine decay, or "
        "one-cycle (every mini-batch: up from eta/25 to eta over the first quarter of the "
        "run's steps, then down to eta/10000)",
    )
    g.add_argument(
        "--patience",
        type=positive(int),
        metavar="N",
        help="epochs without a new best validation accuracy before eta is halved (default 5)",
    )
    g.add_argument(
        "--max-halvings",
        type=at_least(int, 0),
        metavar="N",
        help="stop after eta has been halved N times (default 7, i.e. eta/128)",
    )
    g.add_argument(
        "--early-stop",
        type=positive(int),
        metavar="N",
        help="stop after N epochs without a new best validation accuracy and keep the best "
        "weights (MNIST's 10,000 validation images)",
    )
    g.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train on a freshly distorted copy (rotation, zoom, shift, elastic) each epoch",
    )


def _add_layer_options(g):
    g.add_argument(
        "--layers",
        metavar="SPEC",
        help="a chapter-6 layer network instead of --sizes, e.g. conv20x5,pool2,conv40x5,pool2,fc100 "
        "(convFxK, poolP, fcN, softmaxN; options :relu :tanh :sigmoid :linear and :dP for "
        "dropout P on a layer's input; the softmax output layer is added); ReLU layers unless "
        "said otherwise, cost log-likelihood, the book's network3 initialisation, L2 divided "
        "by the number of mini-batches",
    )
    g.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="a documented recipe; flags given beside it override it. "
        + "; ".join(f"{k}: {PRESETS[k].description}" for k in sorted(PRESETS)),
    )
    g.add_argument(
        "--members",
        type=positive(int, 255),
        default=1,
        metavar="K",
        help="train an ensemble of K networks (seeds SEED, SEED+1, ...; chapter 6) and save it as "
        "one model with --save; prints each member's accuracy and the ensemble's (on the digits all "
        "members share SEED's 60/40 split, so they are tested on the same images)",
    )
    g.add_argument(
        "--combine",
        choices=["mean", "vote"],
        default="mean",
        help="with --members: answer by the mean of the members' probabilities (default) or by "
        "majority vote (the book's)",
    )
    g.add_argument(
        "--n-jobs",
        type=positive(int, 64),
        default=1,
        metavar="N",
        help="with --members: train N members at once in worker processes (default 1: one after "
        "another in this process)",
    )
    g.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --members: train the members on the Dask cluster whose scheduler is at ADDRESS "
        "(tcp://host:8786), as many at once as its workers have threads (needs pip install "
        '"glassnet[dask]"; the workers need glassnet installed)',
    )


def _add_data_options(g):
    g.add_argument(
        "--dataset",
        choices=list(DEFAULTS),
        help="mnist (default; the book's 50k/10k/10k split), fashion (Fashion-MNIST, the same split) "
        "or digits (scikit-learn's 8x8 digits, the tutorial's 60/40 split; the tutorial's own "
        "full-batch run is --preset tutorial)",
    )
    g.add_argument(
        "--train-on-validation",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train on all 60,000 MNIST training images (the book's 50,000 plus its 10,000 "
        "validation images), as the published MNIST results do; no validation monitoring",
    )
    add_data_options(g)


def _add_output_options(g):
    g.add_argument(
        "--save",
        metavar="PATH",
        help="write the trained network to PATH (.npz + JSON header); Ctrl-C writes it as it "
        "stands, marked interrupted (with --checkpoint, the checkpoint is kept instead)",
    )
    g.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="write an atomic checkpoint to PATH after every epoch; Ctrl-C or SIGTERM then "
        "stops cleanly and --resume continues",
    )
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue from --checkpoint PATH (same options and seed give the same result)",
    )
    g.add_argument("--plots", metavar="DIR", help="write learning curves, weights and confusion plots to DIR")
    g.add_argument(
        "--monitor-training",
        type=at_least(int, 0),
        metavar="N",
        help="also measure cost and accuracy on the first N training images after each epoch "
        "(default 0: not measured, as the book's SGD; --plots measures 10,000)",
    )
    g.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar inside each epoch (default: only on a terminal)",
    )


def _add_page_options(g):
    g.add_argument(
        "--watch",
        action="store_true",
        help="serve a live page on 127.0.0.1 (its address printed on stderr) showing the "
        "learning curves, the first layer's weights, the accuracy on each digit and the "
        "speed of learning per layer as the network trains, with pause and stop buttons "
        "(stop saves the network with --save); in a terminal the page stays up after "
        "training until Ctrl-C or its Close button (--watch-keep)",
    )
    g.add_argument(
        "--watch-port",
        type=at_least(int, 0, high=65535),
        metavar="PORT",
        help="the port of the --watch page (implies --watch; default 0: a free one)",
    )
    g.add_argument(
        "--watch-keep",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep the page up after training until Ctrl-C or its Close button (default: when "
        "stderr is a terminal, as --progress; a script's run ends with its training)",
    )


def _overrides(args):
    """The flags given, as run options (``training.runs``: a flag beats a preset beats the
    dataset's default), refused in one line where a flag cannot be used."""
    overrides = {key: getattr(args, key) for key in OPTION_KEYS if getattr(args, key) is not None}
    opts = run_options(args.dataset, args.preset, **overrides)
    if args.plots and not opts.get("monitor_training"):
        overrides["monitor_training"] = 10000  # the learning curves show the training cost
    if not 0 <= opts.get("momentum", 0.0) < 1:
        raise CLIError(f"--momentum must be below 1, got {opts['momentum']:g}")
    if opts.get("optimizer") == "adam" and opts.get("momentum"):
        raise CLIError(f"--momentum {opts['momentum']:g} is SGD's: Adam keeps its own (give --momentum 0 with adam)")
    if opts.get("layers") is not None:
        given = [f"--{name}" for name in ("sizes", "cost", "init") if getattr(args, name) is not None]
        if given:
            raise CLIError(
                f"{', '.join(given)}: not used by a --layers network (its output is a softmax with "
                f"the log-likelihood cost and network3's initialisation)"
            )
    return overrides


def _check_files(args):
    """Every output path checked before any data is read or any line printed."""
    if args.members > 1:
        given = [
            flag
            for flag, value in (
                ("--watch", args.watch or args.watch_port is not None),
                ("--checkpoint", args.checkpoint),
                ("--plots", args.plots),
            )
            if value
        ]
        if given:
            raise CLIError(
                f"{', '.join(given)}: not available with --members (train the members one by one "
                f"and combine them with 'glassnet ensemble')"
            )
    elif args.n_jobs != 1 or args.combine != "mean" or args.scheduler:
        raise CLIError("--n-jobs, --scheduler and --combine are for an ensemble: add --members K")
    paths = dict(
        save=writable(args.save) if args.save else None,
        checkpoint=writable(args.checkpoint) if args.checkpoint else None,
        plots=plots_dir(args.plots) if args.plots else None,
    )
    if args.resume and paths["checkpoint"] is None:
        raise CLIError("--resume needs --checkpoint PATH")
    if args.resume:
        from ..training import read_checkpoint

        read_checkpoint(paths["checkpoint"])  # refuse a missing or foreign file before any output
    return paths


def run(args, out, err):
    from .progress import is_terminal

    overrides = _overrides(args)
    paths = _check_files(args)
    show = is_terminal(err) if args.progress is None else args.progress
    watching = args.watch or args.watch_port is not None
    if watching:  # a bad option is refused before the page's address is printed
        check_run(args.dataset, args.preset, overrides)
    page = _start_watch(args, err) if watching else None  # before the data: the page opens meanwhile
    try:
        code = _train(args, overrides, paths, show, page.watch if page else None, out, err)
        if page is not None and code == EXIT_OK:
            _keep_page(page, args, err)
        return code
    except BaseException as e:
        if page is not None:  # the page says why the run ended
            page.watch.finish("interrupted" if isinstance(e, KeyboardInterrupt) else "failed", str(e) or None)
        raise
    finally:
        if page is not None:
            page.close()


def _keeps_page(args, err):
    """Whether the page stays up after training: --watch-keep, by default when stderr is a terminal."""
    from .progress import is_terminal

    return is_terminal(err) if args.watch_keep is None else args.watch_keep


def _keep_page(page, args, err):
    """After training: the page stays up, showing the finished run, until Ctrl-C or its Close
    button (``_keeps_page``)."""
    if not _keeps_page(args, err):
        why = "--no-watch-keep" if args.watch_keep is False else "stderr is not a terminal; --watch-keep keeps it up"
        print(f"# training is over, and the page with it ({why})", file=err)
        return
    print(
        f"# training is over; the page stays up at {page.url} until Ctrl-C (or its Close button)", file=err, flush=True
    )
    try:
        page.wait_closed()
        print("# closed from the page", file=err)
    except KeyboardInterrupt:
        print("# closed the page (Ctrl-C)", file=err)


def _train(args, overrides, paths, show, watch, out, err):
    from .progress import BatchProgress, FetchProgress

    plan = plan_run(
        args.dataset,
        args.preset,
        overrides,
        args.seed,
        data_dir=args.data_dir,
        cache_dir=args.cache_dir,
        progress=FetchProgress(err, enabled=show),
    )
    net, config, training, test = plan.network, plan.config, plan.training, plan.test
    if args.resume:  # a checkpoint of another run is refused before any output
        from ..training import verify_checkpoint

        verify_checkpoint(paths["checkpoint"], net, config)
    if args.members > 1:
        return _train_members(args, plan, paths, out, err)
    described = f"{plan.describe()}, seed {args.seed}"
    print(
        f"# glassnet {__version__}: {describe_network(net)} on {plan.dataset} ({len(training.X)} "
        f"training, {len(test.X)} test images), {described}",
        file=err,
    )
    note = _defaults_note(plan)
    if note:
        print(note, file=err)
    bar = BatchProgress("training", stream=err, enabled=show)
    callbacks, on_batch, stop = _watch_hooks(watch, args, plan, described, bar if show else None, err)
    chance_at = _chance_epoch(plan)

    def report(network, record):
        j = record["epoch"]
        if j % plan.options["log_every"] == 0 or j == config.epochs - 1:
            print(f"Epoch {j}: {record['correct']} / {record['total']}", file=out, flush=True)
        hint = _chance_hint(plan, record) if j == chance_at else None
        if hint:
            print(hint, file=err, flush=True)

    metadata = plan.metadata()
    # with --save or --checkpoint, Ctrl-C and SIGTERM stop cleanly: the network is saved as it stands
    result = plan.fit(
        callbacks=[report] + callbacks,
        on_batch=on_batch,
        checkpoint=paths["checkpoint"],
        resume=args.resume,
        handle_signals=bool(paths["checkpoint"] or paths["save"]),
        metadata=metadata,
        stop=stop,
    )
    bar.close()
    by_page = watch is not None and _watch_finished(watch, net, result, paths, err)
    if result.stopped == "interrupted" and not by_page:  # the page's stop saves as a finished run does
        _save_interrupted(plan, result, dict(metadata, engine=result.engine), paths, err)
        return EXIT_INTERRUPTED
    _summarise(net, result, config, test, err)
    _write_outputs(args, plan, result, dict(metadata, engine=result.engine), paths, err)
    return EXIT_OK


def _defaults_note(plan):
    """One line naming the eta, L2 and epochs (and initial weights or layers) the kind of
    network was given because no flag or preset said; None where they are the book's own."""
    given = plan.defaulted()
    book = FITTING["mnist"]["book"]  # the book's chapter 1: eta 3.0, 30 epochs
    if all(book.get(k) == v for k, v in given.items()):
        return None
    parts = [
        f"eta {given['eta']:g}" if "eta" in given else None,
        f"L2 {given['l2']:g}" if "l2" in given else None,
        plural(given["epochs"], "epoch") if "epochs" in given else None,
        f"{given['init']} init" if "init" in given else None,
    ]
    parts = [p for p in parts if p]
    if not parts:  # a layer network's activation alone: its kind says it
        return None
    return (
        f"# defaults for {KINDS[plan.kind]} ({plan.dataset}): {', '.join(parts)}, chosen on validation "
        f"data (train --help lists them)"
    )


def _chance_epoch(plan):
    """The epoch after which a run at chance is told so: the first, or the first after 100
    steps of gradient descent (a full-batch run takes one step an epoch)."""
    steps = -(-len(plan.training.X) // plan.config.mini_batch_size)
    return min(plan.config.epochs, -(-100 // steps)) - 1


def _chance_hint(plan, record):
    """One line when the test accuracy after ``record``'s epoch is at chance, with what to try."""
    n = plan.info.n_classes
    if record["accuracy"] >= 1.5 / n:
        return None
    eta, suggested, m = plan.config.eta, plan.suggested_eta(), plan.config.mini_batch_size
    whose = f"--preset {plan.preset}" if plan.preset and "eta" in PRESETS[plan.preset].options else KINDS[plan.kind]
    if eta > 1.5 * suggested:
        advice = f"try a smaller --eta ({suggested:g} for {whose})"
    elif m * 10 > len(plan.training.X):
        advice = (
            f"mini-batches of {m} make an epoch {plural(-(-len(plan.training.X) // m), 'step')} of "
            f"gradient descent: give it more epochs, or try --mini-batch-size 10"
        )
    elif eta < suggested / 1.5:
        advice = f"try a larger --eta ({suggested:g} for {whose}) or more --epochs"
    elif plan.kind == "layers-sigmoid":
        advice = (
            "sigmoid layers can stay there for an epoch before they learn (the book's two-conv network "
            "does); if they stay, try ReLU layers: --activation relu"
        )
    else:
        advice = f"try a smaller --eta (say {eta / 10:g})"
    return f"# accuracy {100 * record['accuracy']:.1f}% after epoch {record['epoch']} is chance (1 in {n}): {advice}"


def _save_interrupted(plan, result, metadata, paths, err):
    """Ctrl-C or SIGTERM.  With --checkpoint, the checkpoint holds the last epoch and --resume
    continues (--save is written when the run completes); else the network as it stands goes
    to --save, marked interrupted in its header."""
    done = len(result.history)
    after = f"after epoch {done - 1}" if done else "in epoch 0"
    if paths["checkpoint"]:
        held = (
            f"the checkpoint {paths['checkpoint']} holds epoch {done - 1}: run the same command with --resume "
            f"to continue"
            if done
            else f"no epoch had ended, so {paths['checkpoint']} was not written"
        )
        print(f"# interrupted {after}; {held}", file=err)
        return
    if not paths["save"]:
        return
    from ..io import save

    save(
        plan.network,
        paths["save"],
        metadata=dict(
            metadata,
            history=result.history,
            stopped="interrupted",
            best_epoch=result.best_epoch,
            interrupted=dict(
                epochs_done=done,
                note="the weights as they stood when Ctrl-C or SIGTERM came; an epoch in progress was partly trained",
            ),
        ),
    )
    print(
        f"# interrupted {after}: saved the network as it stands to {paths['save']} (marked interrupted); to be "
        f"able to resume a run, train it with --checkpoint PATH (then add --resume)",
        file=err,
    )


def _print_scores(ensemble, seeds, test, out):
    """Each member's and both rules' test counts, from one pass of each member."""
    scores = ensemble.breakdown(test.X, test.y)
    for index, (seed, correct) in enumerate(zip(seeds, scores["members"])):
        print(f"Member {index} (seed {seed}): {correct} / {len(test.y)}", file=out)
    for rule in ("mean", "vote"):
        print(f"Ensemble of {len(ensemble)} ({rule}): {scores[rule]} / {len(test.y)}", file=out)


def _train_members(args, plan, paths, out, err):
    """``--members K``: K networks like the plan's from seeds SEED.., trained by train_ensemble."""
    import time

    from ..io import save_ensemble
    from ..training.ensemble import train_ensemble

    training, test = plan.training, plan.test
    seeds = [args.seed + k for k in range(args.members)]
    print(
        f"# glassnet {__version__}: an ensemble of {args.members} x {describe_network(plan.network)} on "
        f"{plan.dataset} ({len(training.X)} training, {len(test.X)} test images), {plan.describe()}, "
        f"seeds {seeds[0]}-{seeds[-1]}, "
        + (f"on the Dask cluster at {args.scheduler}" if args.scheduler else f"{args.n_jobs} at a time"),
        file=err,
    )

    def on_member(result, done, total, index):
        print(
            f"# member {index} (seed {result.seed}) trained: {plural(len(result.history), 'epoch')}, "
            f"{result.seconds:.1f} s ({done} of {total} done)",
            file=err,
            flush=True,
        )

    started = time.perf_counter()
    ensemble, results = train_ensemble(
        plan.build,
        training,
        plan.config,
        seeds=seeds,
        validation=plan.validation,
        test=test,
        n_jobs=args.n_jobs,
        scheduler=args.scheduler,
        augment=plan.augment,
        on_member=on_member,
        combine=args.combine,
    )
    wall = time.perf_counter() - started
    _print_scores(ensemble, seeds, test, out)
    print(
        f"# {wall:.1f} s in all ({sum(r.seconds for r in results):.1f} s of member training); the ensemble "
        f"answers by {args.combine}",
        file=err,
    )
    if paths["save"]:
        save_ensemble(
            ensemble,
            paths["save"],
            metadata=dict(
                plan.metadata(seeds=seeds),
                engine=results[0].engine,
                members_history=[r.history for r in results],
                seconds=wall,
            ),
        )
        print(f"# saved the ensemble to {paths['save']}", file=err)
    return EXIT_OK


def _start_watch(args, err):
    try:
        from ..web.watchapp import WatchServer
    except ImportError as e:
        raise CLIError(f"--watch needs the 'web' extra ({e}): pip install 'glassnet[web]'") from None
    page = WatchServer(port=args.watch_port or 0)
    print(f"# watching at {page.url}", file=err, flush=True)
    return page


def _watch_hooks(watch, args, plan, description, bar, err):
    """``(callbacks, on_batch, stop)`` for fit: the live page's callback, its on_batch (then the
    progress bar's, if any) and its stop Event; without a page, none of them but the bar.
    The speed of learning is measured on the first 500 training images."""
    if watch is None:
        return [], bar, None
    training, test = plan.training, plan.test
    history = None
    if args.resume:  # the page shows the curves from the first epoch
        from ..training import read_checkpoint

        history = read_checkpoint(args.checkpoint)[1]["state"]["history"]
    watch.attach(
        plan.network,
        test=(test.X, test.y),
        sample=(training.X[:500], training.y[:500]),
        image_shape=plan.info.image_shape[1:],
        history=history,
        meta=dict(
            dataset=plan.dataset, epochs=plan.config.epochs, description=description, keep=_keeps_page(args, err)
        ),
    )

    def on_batch(done, total):
        watch.on_batch(done, total)
        if bar:
            bar(done, total)

    return [watch.callback], on_batch, watch.stop_event


def _watch_finished(watch, net, result, paths, err):
    """Tell the page how the run ended; True when its stop button ended it."""
    by_page = result.stopped == "interrupted" and watch.stop_requested
    state = {"completed": "finished", "interrupted": "stopped" if by_page else "interrupted"}
    reason = {"completed": None, "interrupted": None if by_page else "interrupted (Ctrl-C or SIGTERM)"}
    watch.finish(
        state.get(result.stopped, "finished"), reason.get(result.stopped, f"stopped: {result.stopped}"), network=net
    )
    if by_page:
        kept = (
            f"; the checkpoint {paths['checkpoint']} holds epoch {len(result.history) - 1}: --resume continues"
            if paths["checkpoint"]
            else ""
        )
        print(f"# stopped from the watch page after {plural(len(result.history), 'epoch')}{kept}", file=err)
    return by_page


def _summarise(net, result, config, test, err):
    history = result.history
    if history:
        best = max(history, key=lambda h: h["correct"])
        print(
            f"# best {best['correct']} / {best['total']} ({100 * best['accuracy']:.2f}%) at epoch "
            f"{best['epoch']}; {_seconds(sum(h['seconds'] for h in history))} s of training on the {result.engine} "
            f"engine" + (f"; stopped: {result.stopped}" if result.stopped != "completed" else ""),
            file=err,
        )
        if result.engine == "numpy" and not (engines.kernel.available() or engines.layers_fast.available()):
            print(
                "# no compiled kernel here (installed without a working C compiler, or GLASSNET_KERNEL=off): "
                "NumPy alone, slower",
                file=err,
            )
    if result.best_epoch is not None and config.keep_best and result.stopped != "interrupted":
        final = net.measure(test.X, test.y)[1]
        print(
            f"# kept the weights of epoch {result.best_epoch} (best validation accuracy "
            f"{100 * history[result.best_epoch]['validation_accuracy']:.2f}%): test {final} / "
            f"{len(test.y)}",
            file=err,
        )


def _seconds(seconds):
    """Seconds as a reader wants them: 12.3, but 0.04 rather than 0.0."""
    return f"{seconds:.1f}" if seconds >= 0.95 else f"{seconds:.2g}"


def _write_outputs(args, plan, result, metadata, paths, err):
    net, test = plan.network, plan.test
    if paths["save"]:
        from ..io import save

        save(
            net,
            paths["save"],
            metadata=dict(metadata, history=result.history, stopped=result.stopped, best_epoch=result.best_epoch),
        )
        print(f"# saved the network to {paths['save']}", file=err)
    if paths["plots"]:
        from ..datasets import readable_test_images
        from ..views.plots import save_training_plots

        # the images as a person reads them (the digits' raw 8x8 pixels), not as the network sees them
        images = readable_test_images(plan.dataset, args.seed, test.y)
        written = save_training_plots(net, result.history, paths["plots"], test=(test.X, test.y), images=images)
        print(f"# wrote {len(written)} plots to {paths['plots']}", file=err)
