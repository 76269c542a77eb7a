"""glassnet sweep: a grid of trainings in parallel, locally (joblib) or on a Dask cluster."""

import csv
import io
import math
import os

import pytest

from glassnet.cli import main
from glassnet.training.sweep import COLUMNS, best_config, format_table, grid, load_sweep_data, run_sweep

pytest.importorskip("sklearn")  # the digits
pytest.importorskip("joblib")

GRID = ["--dataset", "digits", "--sizes", "64-30-10,64-10", "--eta", "0.5,3", "--epochs", "2", "--seeds", "0,1"]


def sweep(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(["sweep", *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def read_rows(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == COLUMNS
        return list(reader)


def results(rows):
    """Everything of the rows but the timings."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def test_digits_grid_in_two_processes_writes_the_csv(tmp_path):
    path = tmp_path / "results.csv"
    code, out, err = sweep(*GRID, "--n-jobs", "2", "--output", str(path))
    assert code == 0, err
    rows = read_rows(path)
    assert len(rows) == 8  # 2 sizes x 2 etas x 2 seeds, grid order
    assert [(r["sizes"], float(r["eta"]), int(r["seed"])) for r in rows] == [
        (s, e, seed) for s in ("64-30-10", "64-10") for e in (0.5, 3.0) for seed in (0, 1)
    ]
    for r in rows:
        assert (r["mini_batch_size"], r["epochs"], r["cost"], float(r["l2"])) == ("10", "2", "quadratic", 0)
        assert 0 <= float(r["best_validation_accuracy"]) <= 1 and 0 <= float(r["test_accuracy"]) <= 1
        assert r["best_epoch"] in ("0", "1") and r["epochs_run"] == "2" and float(r["seconds"]) >= 0
    assert max(float(r["test_accuracy"]) for r in rows) > 0.6
    assert "in 2 local processes" in err and "[8/8]" in err
    table, _, best = out.rstrip().rpartition("\n")
    assert table.count("64-30-10") == 4 and "val %" in table
    assert best.startswith("best: 64-") and "mean of 2 seeds" in best
    assert not [p for p in os.listdir(tmp_path) if p != "results.csv"]  # no temporary files left

    # the same seeds give the same accuracies: again in 2 processes, and in this process
    again = tmp_path / "again.csv"
    assert sweep(*GRID, "--n-jobs", "2", "--output", str(again))[0] == 0
    assert results(read_rows(again)) == results(rows)
    serial = tmp_path / "serial.csv"
    assert sweep(*GRID, "--n-jobs", "1", "--output", str(serial))[0] == 0
    assert results(read_rows(serial)) == results(rows)


@pytest.fixture(scope="module")
def dask_cluster():
    if os.environ.get("CI"):
        import dask.distributed  # noqa: F401  (CI installs the extra: this test must run there)
    else:
        pytest.importorskip("dask.distributed")
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None
    ) as cluster:
        yield cluster


def test_dask_cluster_gives_the_same_rows(tmp_path, dask_cluster):
    address = dask_cluster.scheduler_address
    assert address.startswith("tcp://127.0.0.1:")
    local, remote = tmp_path / "local.csv", tmp_path / "dask.csv"
    assert sweep(*GRID, "--n-jobs", "2", "--output", str(local))[0] == 0
    code, out, err = sweep(*GRID, "--scheduler", address, "--output", str(remote))
    assert code == 0, err
    assert f"on the Dask cluster at {address}" in err
    assert len(read_rows(remote)) == 8
    assert results(read_rows(remote)) == results(read_rows(local))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--eta=-1"], "--eta: must be > 0"),
        (["--eta", "0.5,x"], "--eta: expected a number"),
        (["--sizes", "64-0-10"], "--sizes: sizes need at least two layers"),
        (["--sizes", "64,30,10"], "--sizes: sizes need at least two layers"),
        (["--sizes", "64-a-10"], "--sizes: sizes must be integers joined by ',' or '-'"),
        (["--sizes", "784-30-10"], "sizes 784-30-10 do not fit digits"),
        (["--sizes", "64-30-9"], "sizes 64-30-9 do not fit digits"),
        (["--epochs", "0"], "--epochs: must be >= 1"),
        (["--mini-batch-size", "2.5"], "--mini-batch-size: expected an integer"),
        (["--cost", "quadratic,hinge"], "--cost: unknown cost 'hinge'"),
        (["--l2=-0.1"], "--l2: must be >= 0"),
        (["--seeds=-1"], "--seeds: must be >= 0"),
        (["--n-jobs", "0"], "--n-jobs: must be >= 1"),
        (["--eta", ","], "--eta: expected a comma-separated list"),
    ],
)
def test_bad_grid_values_are_one_line_errors(tmp_path, argv, message):
    path = tmp_path / "results.csv"
    code, out, err = sweep("--dataset", "digits", "--output", str(path), *argv)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert message in err
    assert not path.exists()


def test_output_folder_must_exist(tmp_path):
    code, _, err = sweep("--dataset", "digits", "--output", str(tmp_path / "nope" / "r.csv"))
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1


def test_grid_order_and_best_config():
    runs = grid(sizes=[[64, 10]], eta=[1.0, 2.0, 1.0], mini_batch_size=[10], epochs=[1], seeds=[0, 1, 2])
    assert [(r.eta, r.seed) for r in runs] == [(1.0, 0), (1.0, 1), (1.0, 2), (2.0, 0), (2.0, 1), (2.0, 2)]
    with pytest.raises(ValueError, match="eta must be > 0"):
        grid(sizes=[[64, 10]], eta=[-1.0], mini_batch_size=[10], epochs=[1])
    row = dict(
        sizes="64-10", mini_batch_size=10, epochs=1, cost="quadratic", l2=0.0, best_epoch=0, epochs_run=1, seconds=0.1
    )
    rows = [
        dict(row, eta=1.0, seed=0, best_validation_accuracy=0.9, test_accuracy=0.8),
        dict(row, eta=1.0, seed=1, best_validation_accuracy=0.5, test_accuracy=0.5),
        dict(row, eta=2.0, seed=0, best_validation_accuracy=0.8, test_accuracy=0.7),
        dict(row, eta=2.0, seed=1, best_validation_accuracy=0.8, test_accuracy=0.9),
        dict(row, eta=9.0, seed=0, best_validation_accuracy=math.nan, test_accuracy=math.nan, best_epoch=None),
    ]
    best = best_config(rows)
    assert best["eta"] == 2.0 and best["seeds"] == [0, 1]
    assert best["best_validation_accuracy"] == pytest.approx(0.8) and best["test_accuracy"] == pytest.approx(0.8)
    assert "diverged" in format_table(rows).splitlines()[-1]


def test_run_sweep_library_call():
    data = load_sweep_data("digits", split_seed=3)
    (X_train, _), (X_val, _), (X_test, _) = data
    assert (len(X_train), len(X_val), len(X_test)) == (898, 180, 719)
    runs = grid(sizes=[[64, 10]], eta=[3.0], mini_batch_size=[10], epochs=[1], seeds=[0])
    seen = []
    rows = run_sweep(runs, data, n_jobs=1, on_result=lambda row, done, total, i: seen.append((done, total, i)))
    assert seen == [(1, 1, 0)] and rows[0]["sizes"] == "64-10" and rows[0]["epochs_run"] == 1


def test_map_parallel_starts_no_more_workers_than_calls(monkeypatch):
    """n_jobs=6 for 2 calls starts 2 workers (joblib is asked for 2); n_jobs=6 for 1 call runs here."""
    import joblib

    from glassnet.training import sweep

    asked = []
    real = joblib.parallel_config

    def spy(*args, **kwargs):
        asked.append(kwargs.get("n_jobs"))
        return real(*args, **kwargs)

    monkeypatch.setattr(joblib, "parallel_config", spy)
    assert sweep.map_parallel(abs, [((-1,), {}), ((-2,), {})], n_jobs=6) == [1, 2]
    assert asked == [2]
    assert sweep.map_parallel(abs, [((-3,), {})], n_jobs=6) == [3] and asked == [2]
