"""Ensembles from the command line: ``glassnet train --members K`` and ``glassnet ensemble``.

Every member of a trained ensemble must be exactly the network ``glassnet train`` makes
alone with that member's seed (in this process or in worker processes), the printed
accuracies must be the saved ensemble's own, and combining saved files must keep every
network as it was.  Small networks on scikit-learn's 8x8 digits keep this fast.
"""

import io

import numpy as np
import pytest

from glassnet.cli import main
from glassnet.core.ensemble import Ensemble
from glassnet.core.functions import as_probabilities
from glassnet.core.layernet import LayerNetwork
from glassnet.datasets import load_digits_split
from glassnet.io import load
from glassnet.training import TrainingConfig, fit

LAYERS = ["--layers", "conv4x3:relu,pool2,fc20:relu:d0.2", "--epochs", "3", "--mini-batch-size", "10", "--eta", "0.1"]
DENSE = ["--sizes", "64,16,10", "--epochs", "20", "--mini-batch-size", "10", "--eta", "1.0"]


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def params(net):
    return [np.asarray(p) for p in net.params()] if hasattr(net, "params") else [*net.weights, *net.biases]


def same_network(a, b):
    pa, pb = params(a), params(b)
    return len(pa) == len(pb) and all(np.array_equal(x, y) for x, y in zip(pa, pb))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A three-member layer ensemble (seeds 5-7) in this process and in two workers, and the
    first member trained alone by plain ``glassnet train`` (on the digits, the seed also picks
    the 60/40 split: an ensemble's members all train on the split of its first seed)."""
    folder = tmp_path_factory.mktemp("members")
    common = ["train", "--dataset", "digits", *LAYERS]
    runs = {}
    for name, extra in (("here", []), ("workers", ["--n-jobs", "2", "--combine", "vote"])):
        runs[name] = run([*common, "--seed", 5, "--members", 3, "--save", folder / f"{name}.npz", *extra])
    for seed, name in ((5, "alone5"), (6, "seed6")):
        code, _, err = run([*common, "--seed", seed, "--save", folder / f"{name}.npz"])
        assert code == 0, err
    return folder, runs


def test_every_member_is_the_network_trained_alone_with_its_seed(trained):
    folder, runs = trained
    training = load_digits_split(seed=5, dtype=np.float32)[0]
    alone = [load(folder / "alone5.npz")]
    for seed in (6, 7):  # glassnet train's recipe, on seed 5's split
        net = LayerNetwork.from_spec(alone[0].spec(), seed=seed)
        fit(net, training, TrainingConfig(epochs=3, mini_batch_size=10, eta=0.1))
        alone.append(net)
    for name in ("here", "workers"):
        code, _, err = runs[name]
        assert code == 0, err
        ensemble = load(folder / f"{name}.npz")
        assert isinstance(ensemble, Ensemble) and len(ensemble) == 3
        assert all(same_network(member, a) for member, a in zip(ensemble.members, alone))
    assert not same_network(alone[0], alone[1])
    assert load(folder / "here.npz").combine == "mean" and load(folder / "workers.npz").combine == "vote"


def test_the_printed_accuracies_are_the_saved_ensembles(trained):
    folder, runs = trained
    code, out, err = runs["here"]
    ensemble = load(folder / "here.npz")
    test = load_digits_split(seed=5, dtype=np.float32)[1]
    scores = ensemble.breakdown(test.X, test.y)
    n = len(test.y)
    expected = [f"Member {i} (seed {5 + i}): {c} / {n}" for i, c in enumerate(scores["members"])]
    expected += [f"Ensemble of 3 (mean): {scores['mean']} / {n}", f"Ensemble of 3 (vote): {scores['vote']} / {n}"]
    assert out.splitlines() == expected
    assert max(scores["members"]) > n * 0.5  # the members learned something
    assert err.count("trained: 3 epochs") == 3 and "saved the ensemble" in err
    _, header = load(folder / "here.npz", with_header=True)
    assert header["dataset"] == "digits" and header["training"]["seeds"] == [5, 6, 7]
    assert [len(h) for h in header["members_history"]] == [3, 3, 3]


def test_book_networks_make_an_ensemble_too(tmp_path):
    common = ["train", "--dataset", "digits", *DENSE]
    code, out, err = run([*common, "--seed", 1, "--members", 2, "--save", tmp_path / "e.npz"])
    assert code == 0, err
    assert run([*common, "--seed", 1, "--save", tmp_path / "m1.npz"])[0] == 0
    ensemble = load(tmp_path / "e.npz")
    assert same_network(ensemble.members[0], load(tmp_path / "m1.npz"))
    assert ensemble.members[1].sizes == [64, 16, 10] and not same_network(*ensemble.members)
    assert out.count("Member") == 2


def test_glassnet_ensemble_combines_saved_files_and_flattens_ensembles(trained, tmp_path):
    folder, _ = trained
    out_path = tmp_path / "combined.npz"
    code, out, err = run(
        ["ensemble", folder / "alone5.npz", folder / "workers.npz", "--save", out_path, "--combine", "vote"]
    )
    assert code == 0, err
    assert out.strip() == str(out_path) and "ensemble of 4" in err
    combined, header = load(out_path, with_header=True)
    assert combined.combine == "vote" and len(combined) == 4
    originals = [load(folder / "alone5.npz"), *load(folder / "workers.npz").members]
    assert all(same_network(a, b) for a, b in zip(combined.members, originals))
    assert header["dataset"] == "digits" and header["training"]["seed"] == 5
    code, out, err = run(["evaluate", out_path])  # it reads like any model, on its own split
    assert code == 0, err
    test = load_digits_split(seed=5, dtype=np.float32)[1]
    assert f"{combined.breakdown(test.X, test.y)['vote']} / {len(test.y)}" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ensemble", "{d}/alone5.npz", "--save", "{t}/x.npz"], "needs at least two networks"),
        (["ensemble", "{d}/alone5.npz", "{d}/seed6.npz", "--save", "{t}/x.npz"], "different data (the digits split"),
        (["ensemble", "{d}/alone5.npz", "{t}/missing.npz", "--save", "{t}/x.npz"], "no such model file"),
        (["ensemble", "{d}/alone5.npz", "{d}/alone5.npz", "--save", "{t}/no/x.npz"], "does not exist"),
        (["train", "--members", "2", "--watch"], "not available with --members"),
        (["train", "--members", "2", "--checkpoint", "{t}/c.npz"], "not available with --members"),
        (["train", "--n-jobs", "2"], "add --members K"),
        (["train", "--members", "0"], "--members"),
    ],
)
def test_bad_requests_get_one_line_and_exit_2(trained, tmp_path, argv, message):
    folder, _ = trained
    argv = [a.format(d=folder, t=tmp_path) for a in argv]
    code, out, err = run(argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and out == ""
    assert not (tmp_path / "x.npz").exists()


def test_a_book_network_and_a_layer_network_make_one_ensemble(trained, tmp_path):
    folder, _ = trained
    assert run(["train", "--dataset", "digits", *DENSE, "--seed", 5, "--save", tmp_path / "d.npz"])[0] == 0
    code, _, err = run(["ensemble", folder / "alone5.npz", tmp_path / "d.npz", "--save", tmp_path / "x.npz"])
    assert code == 0, err
    mixed = load(tmp_path / "x.npz")
    test = load_digits_split(seed=5, dtype=np.float32)[1]
    book = load(tmp_path / "d.npz")  # sigmoid outputs, made probabilities
    P = np.stack([load(folder / "alone5.npz").feedforward(test.X), as_probabilities(book.feedforward(test.X))])
    np.testing.assert_allclose(mixed.feedforward(test.X), P.mean(axis=0), atol=1e-6)


def test_members_trained_on_a_dask_cluster_of_worker_processes_are_the_members_trained_here(trained, tmp_path):
    """``--members K --scheduler ADDRESS``: the same ensemble, bit for bit, from a local Dask
    cluster of two worker processes (each importing glassnet afresh)."""
    import os

    if os.environ.get("CI"):
        import dask.distributed  # noqa: F401  (CI installs the extra: this test must run there)
    else:
        pytest.importorskip("dask.distributed")
    from dask.distributed import LocalCluster

    folder, runs = trained
    common = ["train", "--dataset", "digits", *LAYERS, "--seed", 5, "--members", 3]
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        code, out, err = run([*common, "--scheduler", address, "--save", tmp_path / "dask.npz"])
    assert code == 0, err
    assert f"on the Dask cluster at {address}" in err
    assert out == runs["here"][1]  # each member's accuracy and the ensemble's, as printed here
    here, remote = load(folder / "here.npz"), load(tmp_path / "dask.npz")
    assert all(same_network(a, b) for a, b in zip(here.members, remote.members))
    code, _, err = run(["train", "--dataset", "digits", "--scheduler", address])
    assert code == 2 and "--scheduler" in err and "--members" in err
