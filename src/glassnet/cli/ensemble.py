"""``glassnet ensemble MODEL MODEL ... --save OUT``: saved networks combined into one model file."""

from __future__ import annotations

from .common import EXIT_OK, CLIError, describe_network, load_model, model_dataset, writable

NAME = "ensemble"
HELP = "combine saved networks into one ensemble file (mean of probabilities or majority vote)"


def add_arguments(p):
    p.description = (
        "Combine models saved by 'glassnet train --save' (the book's networks, layer networks or "
        "other ensembles, whose members are taken one by one) into one ensemble file that "
        "evaluate, predict, serve and export read like any model. All must take the same "
        "inputs and give the same outputs, and should come from the same data set. "
        "'glassnet evaluate OUT' then shows every member's accuracy beside the ensemble's."
    )
    p.add_argument("models", metavar="MODEL", nargs="+", help="model files (.npz), at least two networks in all")
    p.add_argument("--save", metavar="OUT", required=True, help="the ensemble file to write (.npz)")
    p.add_argument(
        "--combine",
        choices=["mean", "vote"],
        default="mean",
        help="how the members answer together: mean (default: the class of the highest mean "
        "probability) or vote (the book's majority vote; ties go to the higher mean)",
    )


def _members(paths):
    """Every network in the files, in order, and the one (data set, seed) they were trained on
    (the seed matters for the digits only: it chose the 60/40 split)."""
    members, sources = [], {}
    for path in paths:
        net, header = load_model(path)
        name, seed = model_dataset(path, header)
        sources.setdefault((name, seed if name == "digits" else 0), path)
        members.extend(net.members)
    if len(sources) > 1:
        ((a, a_seed), first), ((b, b_seed), other) = list(sources.items())[:2]
        what = f"the digits split by seeds {a_seed} and {b_seed}" if a == b else f"{a} and {b}"
        raise CLIError(f"{first} and {other} were trained on different data ({what}); combine models of one")
    return members, next(iter(sources))


def run(args, out, err):
    from ..core.ensemble import Ensemble
    from ..io import save_ensemble

    output = writable(args.save)
    members, (dataset, seed) = _members(args.models)
    if len(members) < 2:
        raise CLIError(f"an ensemble needs at least two networks; {args.models[0]} holds one")
    ensemble = Ensemble(members, combine=args.combine)  # refuses members of different shapes
    save_ensemble(
        ensemble,
        output,
        metadata=dict(dataset=dataset, training=dict(seed=seed), sources=[str(p) for p in args.models]),
    )
    print(f"# wrote {describe_network(ensemble)} to {output}", file=err)
    print(output, file=out)
    return EXIT_OK
