"""ONNX export: the exported graph, run by onnxruntime, computes what glassnet computes.

The dense networks (the book's, a chapter-3 one) and a trained chapter-6 layer network are
compared with their ``feedforward`` on all 10,000 MNIST test images, the layer network on
images (N, 1, 28, 28) and on rows; the chapter-6 emitters (conv-pool, dropout-scaled fully
connected, softmax) with a small NumPy reference written here (sliding-window valid
convolution, reshape max-pool); the estimator and its pipelines (scalers, labels) with
their own ``predict`` and ``predict_proba``.
"""

import json
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import glassnet  # noqa: E402
from glassnet import Network  # noqa: E402
from glassnet.errors import InputError  # noqa: E402
from glassnet.io.onnx import (  # noqa: E402
    DEFAULT_OPSET,
    EMITTERS,
    MIN_OPSET,
    LayerSpec,
    build_model,
    export_onnx,
    network_layers,
    to_onnx,
)


def session(model):
    """An onnxruntime session of a model (ModelProto or path): the CPU provider, one thread."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    source = model.SerializeToString() if hasattr(model, "SerializeToString") else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run(model, X):
    """Run a model on X: its "output"."""
    return session(model).run(["output"], {"input": X})[0]


def trained(mnist, **kwargs):
    """A network trained for one epoch on the first 5,000 MNIST training images."""
    eta = kwargs.pop("eta")
    net = Network(**kwargs)
    net.SGD((mnist.training.X[:5000], mnist.training.y[:5000]), 1, 10, eta, log=None)
    return net


NETWORKS = {
    "book [784,30,10] sigmoid, quadratic": dict(sizes=[784, 30, 10], seed=1, eta=3.0),
    "chapter 3: cross-entropy, scaled init": dict(
        sizes=[784, 30, 10], seed=2, cost="cross-entropy", init="scaled", eta=0.5
    ),
    "relu/softmax [784,100,10]": dict(
        sizes=[784, 100, 10], seed=3, cost="log-likelihood", activation="relu", init="he", eta=0.1
    ),
}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_exported_network_matches_feedforward_on_mnist_test(mnist, tmp_path, name):
    net = trained(mnist, **NETWORKS[name])
    path = export_onnx(net, tmp_path / "net.onnx")
    onnx.checker.check_model(str(path), full_check=True)
    X = mnist.test.X  # (10000, 784) float32
    got, want = run(path, X), net.feedforward(X)
    assert got.dtype == np.float32 and got.shape == (10000, 10)
    assert np.max(np.abs(got - want)) < 1e-5
    assert (got.argmax(axis=1) == want.argmax(axis=1)).mean() > 0.999
    assert (want.argmax(axis=1) == mnist.test.y).mean() > 0.5  # it did learn: the check is not of noise


def test_exported_layer_network_matches_feedforward_on_mnist_test(mnist, tmp_path):
    from glassnet.core.layernet import ConvPoolLayer, FullyConnectedLayer, LayerNetwork, SoftmaxLayer
    from glassnet.training import TrainingConfig, fit

    net = LayerNetwork(
        [
            ConvPoolLayer((8, 1, 5, 5), (1, 28, 28), (2, 2), "relu"),
            FullyConnectedLayer(8 * 12 * 12, 30, "relu", p_dropout=0.3),
            SoftmaxLayer(30, 10),
        ],
        seed=5,
    )
    fit(net, (mnist.training.X[:3000], mnist.training.y[:3000]), TrainingConfig(epochs=1, mini_batch_size=10, eta=0.1))
    path = export_onnx(net, tmp_path / "layers.onnx")
    model = onnx.load(str(path))
    # images in, as the network reads them: (N, 1, 28, 28), no reshaping
    assert [n.op_type for n in model.graph.node] == [
        "Conv",
        "MaxPool",
        "Add",
        "Relu",
        "Flatten",
        "Gemm",
        "Relu",
        "Gemm",
        "Softmax",
    ]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 1, 28, 28]
    assert json.loads({p.key: p.value for p in model.metadata_props}["spec"]) == net.spec()
    X = mnist.test.X
    got, want = run(path, X.reshape(-1, 1, 28, 28)), net.feedforward(X)
    assert got.dtype == np.float32 and got.shape == (10000, 10)
    assert np.max(np.abs(got - want)) < 1e-5
    assert (got.argmax(axis=1) == want.argmax(axis=1)).mean() > 0.999
    assert (want.argmax(axis=1) == mnist.test.y).mean() > 0.7  # it did learn
    with pytest.raises(Exception, match="Invalid rank for input"):  # rows are not images
        run(path, X[:5])
    # flat=True: rows of 784 values, reshaped inside the graph (the layout before images)
    flat = to_onnx(net, flat=True)
    assert [n.op_type for n in flat.graph.node][0] == "Reshape"
    assert [d.dim_param or d.dim_value for d in flat.graph.input[0].type.tensor_type.shape.dim] == ["N", 784]
    np.testing.assert_array_equal(run(flat, X[:500]), got[:500])


def test_graph_uses_gemm_with_transposed_weights_and_the_named_activations():
    net = Network([784, 30, 20, 10], seed=0, activation="tanh", cost="log-likelihood")
    ops = [node.op_type for node in to_onnx(net).graph.node]
    assert ops == ["Gemm", "Tanh", "Gemm", "Tanh", "Gemm", "Softmax"]
    gemm = to_onnx(net).graph.node[0]
    assert {a.name: a.i for a in gemm.attribute} == {"transB": 1}


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_float64_network_exports_as_double_and_matches_closely(activation):
    rng = np.random.default_rng(7)
    net = Network([784, 40, 10], seed=4, dtype=np.float64, activation=activation, cost="log-likelihood")
    model = to_onnx(net)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    X = rng.random((500, 784))
    got = run(model, X)
    assert got.dtype == np.float64
    assert np.max(np.abs(got - net.feedforward(X))) < 1e-12


def test_fixed_batch_of_one_and_dynamic_batch_of_one(tmp_path):
    net = Network([784, 30, 10], seed=5)
    x = np.random.default_rng(0).random((1, 784), dtype=np.float32)
    fixed = export_onnx(net, tmp_path / "one.onnx", batch=1)
    dim = onnx.load(str(fixed)).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_value == 1 and not dim.dim_param
    assert np.max(np.abs(run(fixed, x) - net.feedforward(x))) < 1e-6
    dynamic = to_onnx(net)
    assert dynamic.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    assert run(dynamic, x).shape == (1, 10)
    with pytest.raises(Exception, match="invalid dimensions"):  # the fixed model refuses another batch size
        run(fixed, np.zeros((2, 784), np.float32))


def test_metadata_names_and_opset(tmp_path):
    net = Network([784, 30, 10], seed=6, cost="cross-entropy", init="scaled")
    model = onnx.load(str(export_onnx(net, tmp_path / "m.onnx")))
    props = {p.key: p.value for p in model.metadata_props}
    assert props["glassnet_version"] == glassnet.__version__
    assert json.loads(props["sizes"]) == [784, 30, 10]
    assert (props["activation"], props["output_activation"], props["cost"]) == ("sigmoid", "sigmoid", "cross-entropy")
    assert props["dtype"] == "float32"
    assert [layer["kind"] for layer in json.loads(props["layers"])] == ["dense", "dense"]
    assert [i.name for i in model.graph.input] == ["input"] and [o.name for o in model.graph.output] == ["output"]
    assert model.opset_import[0].version == DEFAULT_OPSET
    assert model.producer_name == "glassnet"


@pytest.mark.parametrize("opset", [MIN_OPSET, 21])
def test_other_opsets_compute_the_same(opset):
    net = Network([784, 16, 10], seed=8, cost="log-likelihood", activation="relu")
    X = np.random.default_rng(1).random((50, 784), dtype=np.float32)
    model = to_onnx(net, opset=opset)
    assert model.opset_import[0].version == opset
    assert np.max(np.abs(run(model, X) - net.feedforward(X))) < 1e-5


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "net.onnx"
    path.write_bytes(b"old model")
    import glassnet.files as files

    def broken_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError, match="simulated"):
        export_onnx(Network([4, 3, 2], seed=0), path)
    assert path.read_bytes() == b"old model"
    assert os.listdir(tmp_path) == ["net.onnx"]


def test_unexportable_network_raises_input_error_and_writes_nothing(tmp_path):
    net = Network([784, 30, 10], seed=9)
    net.weights[1][3, 4] = np.nan  # a diverged network
    with pytest.raises(InputError, match=r"layer 1 .*non-finite"):
        export_onnx(net, tmp_path / "nan.onnx")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: to_onnx(object()), "not a glassnet model"),
        (lambda: to_onnx(Network([4, 3, 2], seed=0), opset=7), "opset must be an integer"),
        (lambda: to_onnx(Network([4, 3, 2], seed=0), batch=0), "batch must be None"),
        (
            lambda: build_model(
                [LayerSpec("dense", {"w": np.ones((2, 4)), "b": np.ones(2), "activation": "swish"})], 4
            ),
            "activation 'swish'",
        ),
        (lambda: build_model([LayerSpec("lstm", {})], 4), "layer kind 'lstm'"),
        (
            lambda: build_model([LayerSpec("dense", {"w": np.ones((2, 5)), "b": np.ones(2), "activation": "relu"})], 4),
            r"w must have shape \(n_out, 4\)",
        ),
        (
            lambda: build_model(
                [LayerSpec("dense", {"w": np.ones((2, 4)), "b": np.ones(2), "activation": "relu"})], 4, dtype=np.float16
            ),
            "float32 and float64",
        ),
        (
            lambda: build_model(
                [
                    LayerSpec(
                        "fully-connected",
                        {"w": np.ones((2, 4)), "b": np.ones(2), "activation": "relu", "p_dropout": 1.0},
                    )
                ],
                4,
            ),
            r"p_dropout must be in \[0, 1\)",
        ),
    ],
)
def test_input_errors_name_the_reason(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_network_layers_are_dense_specs_of_the_network_arrays():
    net = Network([6, 5, 3], seed=0, activation="relu", cost="log-likelihood")
    layers = network_layers(net)
    assert [(k, p["activation"]) for k, p in layers] == [("dense", "relu"), ("dense", "softmax")]
    assert layers[0].params["w"] is net.weights[0]


# -- chapter 6 emitters against a NumPy reference ------------------------------------------------
def softmax_rows(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


ACT = {
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
    "linear": lambda z: z,
    "softmax": softmax_rows,
}


def conv_pool_reference(X, w, b, poolsize, activation):
    """f(maxpool(valid cross-correlation of X (N, c, h, w) with w (f, c, kh, kw)) + b)."""
    f, _, kh, kw = w.shape
    windows = np.lib.stride_tricks.sliding_window_view(X, (kh, kw), axis=(2, 3))  # (N, c, oh, ow, kh, kw)
    conv = np.einsum("ncyxij,fcij->nfyx", windows, w)
    ph, pw = poolsize
    n, _, oh, ow = conv.shape
    H, W = oh // ph, ow // pw  # leftover rows/columns dropped
    pooled = conv[:, :, : H * ph, : W * pw].reshape(n, f, H, ph, W, pw).max(axis=(3, 5))
    return ACT[activation](pooled + b[None, :, None, None])


def fully_connected_reference(A, w, b, p_dropout, activation):
    """f((1 - p) A W^T + b) with A flattened to rows."""
    return ACT[activation]((1 - p_dropout) * (A.reshape(len(A), -1) @ w.T) + b)


def lenet_like(rng, dtype):
    """Two conv-pool layers, a dropout-scaled fully connected layer, a softmax layer: (N, 784) -> (N, 10)."""

    def r(*shape, scale=0.3):
        return (scale * rng.standard_normal(shape)).astype(dtype)

    return [
        LayerSpec(
            "conv-pool",
            {"w": r(4, 1, 5, 5), "b": r(4), "poolsize": (2, 2), "activation": "relu", "image_shape": (1, 28, 28)},
        ),
        LayerSpec("conv-pool", {"w": r(6, 4, 3, 3), "b": r(6), "poolsize": (2, 2), "activation": "sigmoid"}),
        LayerSpec("fully-connected", {"w": r(20, 150, scale=0.1), "b": r(20), "p_dropout": 0.5, "activation": "tanh"}),
        LayerSpec("softmax", {"w": r(10, 20), "b": r(10), "p_dropout": 0.25}),
    ]


def lenet_reference(X, layers):
    p = [layer.params for layer in layers]
    A = conv_pool_reference(X.reshape(-1, 1, 28, 28), p[0]["w"], p[0]["b"], (2, 2), "relu")
    A = conv_pool_reference(A, p[1]["w"], p[1]["b"], (2, 2), "sigmoid")  # (N, 6, 5, 5)
    A = fully_connected_reference(A, p[2]["w"], p[2]["b"], 0.5, "tanh")
    return fully_connected_reference(A, p[3]["w"], p[3]["b"], 0.25, "softmax")


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_chapter6_emitters_match_numpy_reference(mnist, dtype, tol):
    layers = lenet_like(np.random.default_rng(11), dtype)
    X = mnist.test.X[:300].astype(dtype)
    model = build_model(layers, 784, dtype=dtype, metadata={"network": "lenet-like test"})
    got = run(model, X)
    want = lenet_reference(X.astype(np.float64), layers)
    assert got.dtype == dtype and got.shape == (300, 10)
    assert np.max(np.abs(got - want)) < tol
    ops = {node.op_type for node in model.graph.node}
    assert ("Conv" in ops) == (dtype == np.float32)  # float64 builds the convolution from Slice + MatMul
    assert {"MaxPool", "Reshape", "Flatten", "Softmax"} <= ops


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_pool_on_odd_sizes_drops_the_leftover_border(dtype):
    rng = np.random.default_rng(12)
    w, b = rng.standard_normal((3, 2, 3, 2)).astype(dtype), rng.standard_normal(3).astype(dtype)
    layer = LayerSpec(
        "conv-pool", {"w": w, "b": b, "poolsize": (2, 3), "activation": "linear", "image_shape": (2, 9, 8)}
    )
    X = rng.standard_normal((7, 2 * 9 * 8)).astype(dtype)
    got = run(build_model([layer], 2 * 9 * 8, dtype=dtype), X)  # conv (7, 7) -> pool (3, 2)
    want = conv_pool_reference(X.reshape(7, 2, 9, 8).astype(np.float64), w, b, (2, 3), "linear")
    assert got.shape == (7, 3, 3, 2)
    assert np.max(np.abs(got - want)) < (1e-5 if dtype == np.float32 else 1e-12)


def test_fully_connected_dropout_scaling_uses_gemm_alpha():
    rng = np.random.default_rng(13)
    w, b = rng.standard_normal((5, 8)).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    model = build_model([LayerSpec("fully-connected", {"w": w, "b": b, "p_dropout": 0.5, "activation": "sigmoid"})], 8)
    gemm = next(n for n in model.graph.node if n.op_type == "Gemm")
    assert {a.name: a for a in gemm.attribute}["alpha"].f == pytest.approx(0.5)
    X = rng.standard_normal((4, 8)).astype(np.float32)
    assert np.max(np.abs(run(model, X) - fully_connected_reference(X, w, b, 0.5, "sigmoid"))) < 1e-6


def test_emitter_table_and_conv_errors():
    assert set(EMITTERS) == {"dense", "fully-connected", "softmax", "conv-pool", "elementwise", "round"} | {
        "conv", "batch-norm", "max-pool", "avg-pool", "global-avg-pool"  # core.modern's layers
    }  # fmt: skip
    w = np.ones((2, 1, 3, 3))
    with pytest.raises(InputError, match="softmax is an output-layer activation"):
        build_model([LayerSpec("conv-pool", {"w": w, "b": np.ones(2), "activation": "softmax"})], 36)
    with pytest.raises(InputError, match="poolsize .* larger"):
        build_model([LayerSpec("conv-pool", {"w": w, "b": np.ones(2), "poolsize": (5, 5)})], 36)
    with pytest.raises(InputError, match="cannot be read as images"):
        build_model([LayerSpec("conv-pool", {"w": w, "b": np.ones(2)})], 35)


def test_the_export_command_writes_a_model_onnxruntime_runs(tmp_path, capsys):
    from glassnet.cli import main
    from glassnet.io import save

    net = Network([64, 12, 10], seed=3, cost="log-likelihood", activation="relu", init="he")
    save(net, tmp_path / "m.npz", metadata=dict(dataset="digits"))
    assert main(["export", str(tmp_path / "m.npz"), str(tmp_path / "m.onnx")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "m.onnx")
    X = np.random.default_rng(0).normal(size=(50, 64)).astype(np.float32)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(["output"], {"input": X})[0], net.feedforward(X), atol=1e-5)
    assert main(["export", str(tmp_path / "none.npz"), str(tmp_path / "x.onnx")]) == 2
    assert "no such model file" in capsys.readouterr().err


# -- the estimator and its pipelines: labels and probabilities --------------------------------------
@pytest.fixture(scope="module")
def digits_split():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def classifier_outputs(model, X):
    """(labels, probabilities) of an exported classifier, in its output order."""
    s = session(model)
    assert [o.name for o in s.get_outputs()] == ["label", "probabilities"]
    return s.run(None, {"input": X})


def pipeline(*steps, **params):
    from sklearn.pipeline import make_pipeline

    from glassnet.sklearn import GlassnetClassifier

    return make_pipeline(*steps, GlassnetClassifier(**{"random_state": 0, "max_iter": 20, **params}))


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-12)])
def test_a_scaler_and_classifier_pipeline_exports_labels_and_probabilities(digits_split, dtype, tol):
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, y_test = digits_split
    pipe = pipeline(StandardScaler()).fit(X_train, y_train)
    model = to_onnx(pipe, dtype=dtype)
    labels, proba = classifier_outputs(model, X_test.astype(dtype))
    assert proba.dtype == dtype and proba.shape == (len(X_test), 10) and labels.dtype == np.int64
    np.testing.assert_allclose(proba, pipe.predict_proba(X_test), rtol=0, atol=tol)
    np.testing.assert_array_equal(labels, pipe.predict(X_test))
    assert (labels == y_test).mean() > 0.9
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["classes"]) == list(range(10)) and props["estimator"] == "GlassnetClassifier"
    assert json.loads(props["pipeline"]) == [
        ["standardscaler", "StandardScaler"],
        ["glassnetclassifier", "GlassnetClassifier"],
    ]
    assert json.loads(props["sizes"]) == [64, 100, 10]
    ops = [n.op_type for n in model.graph.node]
    assert ops[:2] == ["Sub", "Div"] and ops[-2:] == ["ArgMax", "Gather"]
    assert ("Cast" in ops) == (dtype == "float64")  # float64 rounds the scaled input to float32, as predict


def test_a_layer_network_pipeline_with_string_labels_and_other_scalers(digits_split, tmp_path):
    """Labels kept as they are (strings here); a convolutional network on rows of 64 features."""
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler

    X_train, X_test, y_train, _ = digits_split
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    pipe = pipeline(
        MinMaxScaler(clip=True),
        "passthrough",
        MaxAbsScaler(),
        StandardScaler(with_std=False),
        layers="conv6x3,pool2,fc20",
    ).fit(X_train, names[y_train])
    path = export_onnx(pipe, tmp_path / "pipe.onnx", dtype="float64")
    X = np.vstack([X_test, 20.0 * X_test[:5]])  # beyond the training range: MinMaxScaler clips
    labels, proba = classifier_outputs(path, X)
    assert labels.dtype == object and set(labels) <= set(names)
    np.testing.assert_array_equal(labels, pipe.predict(X))
    np.testing.assert_allclose(proba, pipe.predict_proba(X), rtol=0, atol=1e-12)
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(props["classes"]) == sorted(names) and props["network"] == "layers"
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops[:6] == ["Mul", "Add", "Max", "Min", "Div", "Sub"] and "Reshape" in ops


def test_the_estimator_alone_and_a_sigmoid_output(digits_split):
    """A bare estimator reads rows as it does; sigmoid outputs become rows summing to 1, as predict_proba."""
    from glassnet.sklearn import GlassnetClassifier

    X_train, X_test, y_train, _ = digits_split
    X_train, X_test = X_train / 16, X_test / 16
    clf = GlassnetClassifier(
        cost="cross-entropy", activation="sigmoid", max_iter=10, eta=0.5, l2=0.0, random_state=0
    ).fit(X_train, 3 * y_train + 1)
    model = to_onnx(clf)
    assert "pipeline" not in {p.key for p in model.metadata_props}
    labels, proba = classifier_outputs(model, X_test.astype(np.float32))
    np.testing.assert_allclose(proba, clf.predict_proba(X_test), atol=1e-5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(labels, clf.predict(X_test))
    assert set(labels) <= set(3 * np.arange(10) + 1)


def test_what_cannot_be_exported_says_why(digits_split):
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from glassnet.sklearn import GlassnetClassifier

    X_train, _, y_train, _ = digits_split
    with pytest.raises(InputError, match="not fitted"):
        to_onnx(GlassnetClassifier())
    with pytest.raises(InputError, match="step 'pca' is a PCA: ONNX export takes StandardScaler"):
        to_onnx(pipeline(PCA(10), max_iter=1).fit(X_train, y_train))
    with pytest.raises(InputError, match="cannot export a Pipeline: it is not a glassnet model"):
        to_onnx(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_train, y_train))
    with pytest.raises(InputError, match="got 12 numbers|value must be a number or 64"):
        build_model(
            [
                LayerSpec("elementwise", {"op": "Sub", "value": np.ones(12)}),
                LayerSpec("dense", {"w": np.ones((2, 64)), "b": np.ones(2), "activation": "relu"}),
            ],
            64,
        )
    with pytest.raises(InputError, match="op must be one of"):
        build_model([LayerSpec("elementwise", {"op": "Pow", "value": 2.0})], 64)


def test_glassnet_io_export_onnx_takes_a_pipeline_too(digits_split, tmp_path):
    from sklearn.preprocessing import StandardScaler

    from glassnet.io import export_onnx as io_export

    X_train, X_test, y_train, _ = digits_split
    pipe = pipeline(StandardScaler(), max_iter=3).fit(X_train, y_train)
    labels, _ = classifier_outputs(io_export(pipe, tmp_path / "p.onnx"), X_test.astype(np.float32))
    np.testing.assert_array_equal(labels, pipe.predict(X_test))
