"""The modern layers (core.modern): padded/strided convolution, batch normalisation, average and
global pooling -- each forward and gradient against PyTorch's autograd in float64, a whole
network's gradient checked numerically, and their place everywhere a layer goes (specs, files,
checkpoints, ONNX, the engines' choice)."""

import numpy as np
import pytest

from glassnet.core import (
    AvgPoolLayer,
    BatchNormLayer,
    ConvLayer,
    ConvPoolLayer,
    FullyConnectedLayer,
    GlobalAvgPoolLayer,
    LayerNetwork,
    MaxPoolLayer,
    SoftmaxLayer,
    layer_gradient_check,
)
from glassnet.core import layers as L
from glassnet.errors import InputError

TOL = 1e-10


def torch_or_skip():
    return pytest.importorskip("torch")


def every_layer_network(dtype="float64", seed=0, act="tanh"):
    """A small network holding every new layer (and the book's fc and softmax)."""
    layers = [
        ConvLayer((4, 1, 3, 3), (1, 8, 8), padding=1, activation_fn="linear", bias=False),
        BatchNormLayer((4, 8, 8), activation_fn=act),
        MaxPoolLayer((2, 2), (4, 8, 8)),
        ConvLayer((6, 4, 3, 3), (4, 4, 4), padding=1, stride=2, activation_fn="tanh"),
        AvgPoolLayer((2, 2), (6, 2, 2)),
        ConvLayer((5, 6, 1, 1), (6, 1, 1), activation_fn="sigmoid"),
        GlobalAvgPoolLayer((5, 1, 1)),
        FullyConnectedLayer(5, 7, activation_fn="linear"),
        BatchNormLayer((7,), activation_fn="relu"),
        SoftmaxLayer(7, 3),
    ]
    return LayerNetwork(layers, seed=seed, dtype=dtype)


def randomise(net, seed=5):
    """Random parameters (the softmax layer starts at zero, which would hide every gradient)."""
    rng = np.random.default_rng(seed)
    for p in net.params():
        p[...] = rng.normal(size=p.shape)
    return net


def data(m=6, seed=1, shape=(1, 8, 8), classes=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, *shape)), rng.integers(0, classes, m)


# -- each layer against PyTorch -------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape, filters, padding, stride",
    [((2, 3, 7, 7), (4, 3, 3, 3), 1, 1), ((2, 3, 7, 8), (4, 3, 3, 3), 1, 2), ((3, 2, 6, 6), (5, 2, 3, 2), 0, 2)],
)
def test_padded_strided_convolution_equals_torch_conv2d(shape, filters, padding, stride):
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=shape), rng.normal(size=filters), rng.normal(size=filters[0])
    layer = ConvLayer(filters, shape[1:], padding=padding, stride=stride, activation_fn="tanh")
    layer.w, layer.b = w.copy(), b.copy()
    out, cache = layer.forward(x, training=True)
    dout = rng.normal(size=out.shape)
    dx, (dw, db) = layer.backward(dout, cache)

    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ot = torch.tanh(torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=padding))
    ot.backward(torch.tensor(dout))
    assert out.shape == tuple(ot.shape) == (shape[0], *layer.output_shape)
    np.testing.assert_allclose(out, ot.detach().numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(dw, wt.grad.numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(db, bt.grad.numpy(), rtol=0, atol=TOL)


def test_the_conv_pairs_with_defaults_are_the_books_valid_convolution():
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(2, 3, 6, 6)), rng.normal(size=(4, 3, 3, 3))
    out, cache = L.conv_forward(x, w)
    ref = np.einsum("icrspq,fcpq->ifrs", np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3)), w)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)
    assert L.conv_backward(np.ones_like(out), cache)[0].shape == x.shape


def _bn_reference(torch, x, running, momentum=0.1):
    bn = (torch.nn.BatchNorm2d if x.ndim == 4 else torch.nn.BatchNorm1d)(x.shape[1], momentum=momentum).double()
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor(running[0]))
        bn.running_var.copy_(torch.tensor(running[1]))
    return bn


@pytest.mark.parametrize("shape", [(5, 3, 4, 4), (7, 6)])
def test_batch_norm_in_training_equals_torch_and_updates_the_running_statistics_as_it_does(shape):
    torch = torch_or_skip()
    rng = np.random.default_rng(1)
    c = shape[1]
    layer = BatchNormLayer(shape[1:])
    layer.init_params(None, np.float64)
    layer.w[...], layer.b[...] = rng.normal(size=c), rng.normal(size=c)
    layer.running_mean[...], layer.running_var[...] = rng.normal(size=c), rng.uniform(0.5, 2, c)
    bn = _bn_reference(torch, np.zeros(shape), (layer.running_mean, layer.running_var))
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(layer.w))
        bn.bias.copy_(torch.tensor(layer.b))
    bn.train()
    for step in range(3):
        x = rng.normal(loc=step, scale=1 + step, size=shape)
        out, cache = layer.forward(x, training=True)
        layer.update_running_stats(cache)
        dout = rng.normal(size=shape)
        dx, (dgamma, dbeta) = layer.backward(dout, cache)

        bn.zero_grad()
        xt = torch.tensor(x, requires_grad=True)
        ot = bn(xt)
        ot.backward(torch.tensor(dout))
        np.testing.assert_allclose(out, ot.detach().numpy(), rtol=0, atol=TOL)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=TOL)
        np.testing.assert_allclose(dgamma, bn.weight.grad.numpy(), rtol=0, atol=TOL)
        np.testing.assert_allclose(dbeta, bn.bias.grad.numpy(), rtol=0, atol=TOL)
        np.testing.assert_allclose(layer.running_mean, bn.running_mean.numpy(), rtol=0, atol=TOL)
        np.testing.assert_allclose(layer.running_var, bn.running_var.numpy(), rtol=0, atol=TOL)


@pytest.mark.parametrize("shape", [(5, 3, 4, 4), (7, 6)])
def test_batch_norm_in_inference_equals_torch_eval_mode(shape):
    torch = torch_or_skip()
    rng = np.random.default_rng(2)
    c = shape[1]
    layer = BatchNormLayer(shape[1:], activation_fn="sigmoid")
    layer.init_params(None, np.float64)
    layer.w[...], layer.b[...] = rng.normal(size=c), rng.normal(size=c)
    layer.running_mean[...], layer.running_var[...] = rng.normal(size=c), rng.uniform(0.5, 2, c)
    x, dout = rng.normal(size=shape), rng.normal(size=shape)
    before = layer.running_mean.copy()
    out, cache = layer.forward(x)  # inference mode
    dx, (dgamma, dbeta) = layer.backward(dout, cache)
    layer.update_running_stats(cache)  # nothing to fold in from an inference pass
    np.testing.assert_array_equal(layer.running_mean, before)

    bn = _bn_reference(torch, x, (layer.running_mean, layer.running_var))
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(layer.w))
        bn.bias.copy_(torch.tensor(layer.b))
    bn.eval()
    xt = torch.tensor(x, requires_grad=True)
    ot = torch.sigmoid(bn(xt))
    ot.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, ot.detach().numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(dgamma, bn.weight.grad.numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(dbeta, bn.bias.grad.numpy(), rtol=0, atol=TOL)


@pytest.mark.parametrize(
    "make, reference",
    [
        (lambda s: MaxPoolLayer((2, 2), s), lambda F, x: F.max_pool2d(x, 2)),
        (lambda s: AvgPoolLayer((2, 2), s), lambda F, x: F.avg_pool2d(x, 2)),
        (lambda s: AvgPoolLayer((3, 2), s), lambda F, x: F.avg_pool2d(x, (3, 2))),
        (lambda s: GlobalAvgPoolLayer(s), lambda F, x: F.adaptive_avg_pool2d(x, 1).flatten(1)),
    ],
)
def test_pooling_layers_equal_torch(make, reference):
    torch = torch_or_skip()
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 2, 7, 7))  # 7 rows: a leftover row and column where blocks do not fit
    layer = make((2, 7, 7))
    out, cache = layer.forward(x, training=True)
    dout = rng.normal(size=out.shape)
    dx, grads = layer.backward(dout, cache)
    xt = torch.tensor(x, requires_grad=True)
    ot = reference(torch.nn.functional, xt)
    ot.backward(torch.tensor(dout))
    assert grads == [] and layer.params == [] and out.shape == (3, *layer.output_shape)
    np.testing.assert_allclose(out, ot.detach().numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=TOL)


def test_a_whole_network_of_every_new_layer_passes_the_numerical_gradient_check():
    X, y = data()
    net = randomise(every_layer_network())
    stats = {k: v.copy() for k, v in net.named_buffers().items()}
    # b7, the fc bias before batch norm, has a gradient of exactly 0 (the mean is taken off
    # again): its finite difference is rounding noise of ~1e-11, held to the check's floor
    assert layer_gradient_check(net, X, y, lmbda=0.3, n_batches=2) < 1e-5
    assert np.abs(net.loss_and_grads(X, y, update_stats=False)[1][8]).max() < 1e-12
    for k, v in net.named_buffers().items():  # a check is no training step
        np.testing.assert_array_equal(v, stats[k])


def test_whole_network_equals_torch_in_training_and_inference():
    torch = torch_or_skip()
    X, y = data(m=5)
    net = randomise(every_layer_network(act="relu"))
    C, grads = net.loss_and_grads(X, y)
    nn, F = torch.nn, torch.nn.functional
    p = [torch.tensor(a, requires_grad=True) for a in net.params()]
    w0, g1, b1, w3, b3, w5, b5, w7, b7, g8, b8, w9, b9 = p
    bn1, bn8 = nn.BatchNorm2d(4).double(), nn.BatchNorm1d(7).double()

    def forward(x):
        a = F.batch_norm(F.conv2d(x, w0, padding=1), bn1.running_mean, bn1.running_var, g1, b1, bn1.training)
        a = F.max_pool2d(F.relu(a), 2)
        a = F.avg_pool2d(torch.tanh(F.conv2d(a, w3, b3, padding=1, stride=2)), 2)
        a = torch.sigmoid(F.conv2d(a, w5, b5)).mean(dim=(2, 3))
        a = F.relu(F.batch_norm(a @ w7.T + b7, bn8.running_mean, bn8.running_var, g8, b8, bn8.training))
        return a @ w9.T + b9

    bn1.train(), bn8.train()
    loss = F.cross_entropy(forward(torch.tensor(X)), torch.tensor(y))
    loss.backward()
    assert C == pytest.approx(loss.item(), abs=TOL)
    for name, g, t in zip(net.param_names(), grads, p):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=0, atol=TOL, err_msg=name)
    for name, a in net.named_buffers().items():
        bn = bn1 if name.endswith("1") else bn8
        np.testing.assert_allclose(a, getattr(bn, name[:-1]).numpy(), rtol=0, atol=TOL, err_msg=name)
    bn1.eval(), bn8.eval()
    with torch.no_grad():
        np.testing.assert_allclose(net.logits(X), forward(torch.tensor(X)).numpy(), rtol=0, atol=TOL)


# -- a layer like any other ---------------------------------------------------------------------
def test_parameters_buffers_and_names_follow_the_layers():
    net = every_layer_network()
    assert net.param_names() == ["w0", "w1", "b1", "w3", "b3", "w5", "b5", "w7", "b7", "w8", "b8", "w9", "b9"]
    assert list(net.named_parameters()) == net.param_names()
    assert list(net.named_buffers()) == ["running_mean1", "running_var1", "running_mean8", "running_var8"]
    assert [a.shape for a in net.named_buffers().values()] == [(4,), (4,), (7,), (7,)]
    assert net.first_layer_weights().shape == (4, 1, 3, 3)
    assert net.describe(compact=True) == (
        "1x8x8-conv4x3p1-bn-maxpool2-conv6x3p1s2-avgpool2-conv5x1p0-gap-fc7-bn-softmax3"
    )
    assert net.describe().startswith("1x8x8 \u00b7 conv 4 3x3 pad 1 \u00b7 batch norm \u00b7 max-pool 2")
    assert len(net.details()) == 1 + len(net.layers)
    assert [s["kind"] for s in net.layer_specs()] == [
        "conv", "batch-norm", "max-pool", "conv", "avg-pool", "conv", "global-avg-pool",
        "fully-connected", "batch-norm", "softmax",
    ]  # fmt: skip
    assert net.summary()["layers"][6]["shape"] == [5]


def test_l2_regularises_the_weights_only_not_gamma_beta_or_biases():
    X, y = data()
    net = randomise(every_layer_network())
    _, plain = net.loss_and_grads(X, y, update_stats=False)
    _, with_l2 = net.loss_and_grads(X, y, lmbda=2.0, n_batches=4, update_stats=False)
    for name, p, a, b in zip(net.param_names(), net.params(), plain, with_l2):
        decayed = name.startswith("w") and name not in ("w1", "w8")  # w1, w8: gamma
        np.testing.assert_allclose(b - a, 0.5 * p if decayed else 0.0, rtol=0, atol=1e-12, err_msg=name)


def test_spec_round_trip_astype_and_float32():
    net = randomise(every_layer_network())
    net.loss_and_grads(*data())  # running statistics away from their start
    twin = LayerNetwork.from_spec(net.spec(), seed=3)
    assert twin.spec() == net.spec() and twin.dtype == np.float64
    single = net.astype("float32")
    assert all(p.dtype == np.float32 for p in single.params())
    assert all(a.dtype == np.float32 for a in single.named_buffers().values())
    X = data()[0]
    assert single.logits(X).dtype == np.float32
    np.testing.assert_allclose(single.logits(X), net.logits(X), atol=1e-4)
    C, grads = single.loss_and_grads(X.astype(np.float32), data()[1])
    assert all(g.dtype == np.float32 for g in grads)


def test_training_mode_batch_norm_needs_more_than_one_value_per_channel():
    net = every_layer_network()
    with pytest.raises(InputError, match="more than one value per channel"):
        net.loss_and_grads(*data(m=1))
    assert net.predict(data(m=1)[0]).shape == (1,)  # inference is fine


def test_bad_layer_arguments_are_one_line_input_errors():
    with pytest.raises(InputError, match="padding"):
        ConvLayer((4, 1, 3, 3), (1, 8, 8), padding=3)
    with pytest.raises(InputError, match="stride"):
        ConvLayer((4, 1, 3, 3), (1, 8, 8), stride=0)
    with pytest.raises(InputError, match="shape"):
        BatchNormLayer((4, 8))
    with pytest.raises(InputError, match="poolsize"):
        MaxPoolLayer((3, 3), (1, 2, 2))
    with pytest.raises(InputError, match="inputs must have shape"):
        LayerNetwork([GlobalAvgPoolLayer((2, 3, 3)), SoftmaxLayer(2, 2)]).predict(np.zeros((1, 5)))


def test_the_compiled_engine_takes_networks_with_new_layers():
    """(tests/test_layers_fast_modern.py checks that it computes what these layers do)"""
    from glassnet.core.model import NumpyEngine, resolve_engine
    from glassnet.engines import layers_fast

    net = every_layer_network(dtype="float32")
    assert layers_fast._spec(net) is not None
    assert layers_fast.supports(net, 10) == layers_fast.available()
    expected = layers_fast.LayerKernelEngine if layers_fast.available() else NumpyEngine
    assert isinstance(resolve_engine("auto", net, 10), expected)
    book = LayerNetwork([ConvPoolLayer((2, 1, 3, 3), (1, 8, 8)), SoftmaxLayer(18, 3)], seed=0)
    assert layers_fast._spec(book) is not None  # the book's layers still go to it


# -- the --layers grammar ------------------------------------------------------------------------
def test_a_batch_normalised_recipe_reads_as_written():
    from glassnet.training.layerspec import layer_network, parse_layers

    text = "conv32x3p1,bn,relu,maxpool2,conv64x3p1s2,bn,relu,avgpool2,conv16x3p1:relu,gap,fc20,bn,softmax10"
    layers = parse_layers(text, (1, 28, 28), 10)
    kinds = [type(layer).__name__ for layer in layers]
    assert kinds == [
        "ConvLayer", "BatchNormLayer", "MaxPoolLayer", "ConvLayer", "BatchNormLayer", "AvgPoolLayer",
        "ConvLayer", "GlobalAvgPoolLayer", "FullyConnectedLayer", "BatchNormLayer", "SoftmaxLayer",
    ]  # fmt: skip
    conv, bn = layers[0], layers[1]
    assert (conv.padding, conv.stride, conv.bias, conv.activation_fn.name) == (1, 1, False, "linear")
    assert bn.activation_fn.name == "relu" and bn.input_shape == (32, 28, 28)
    assert layers[3].output_shape == (64, 7, 7) and layers[5].output_shape == (64, 3, 3)
    assert layers[6].bias and layers[6].activation_fn.name == "relu"
    assert layers[8].activation_fn.name == "linear" and layers[9].activation_fn.name == "relu"  # the default
    net = layer_network(text, (1, 28, 28), 10, seed=0)
    again = net.describe(compact=True).split("-", 1)[1].replace("-", ",")  # the compact form parses back
    shapes = [(type(l), l.output_shape) for l in layers]  # (activations are not in the compact form)
    assert [(type(l), l.output_shape) for l in parse_layers(again, (1, 28, 28), 10)] == shapes
    assert parse_layers("conv32x3p1,bn,relu", (1, 8, 8), 3)[1].spec() == (
        parse_layers("conv32x3p1,bn:relu", (1, 8, 8), 3)[1].spec()
    )
    plain = parse_layers("conv8x3,bn,pool2", (1, 8, 8), 3)  # a plain conv before bn: a ConvLayer
    assert [type(l).__name__ for l in plain] == ["ConvLayer", "BatchNormLayer", "MaxPoolLayer", "SoftmaxLayer"]
    book = parse_layers("conv20x5,pool2,fc100", (1, 28, 28), 10)  # the book's tokens keep their meaning
    assert [type(l).__name__ for l in book] == ["ConvPoolLayer", "FullyConnectedLayer", "SoftmaxLayer"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("bn3", "cannot read layer 'bn3'"),
        ("gap2", "cannot read layer 'gap2'"),
        ("fc10p1", "cannot read layer 'fc10p1'"),
        ("relu,fc10", "an activation of its own follows a conv, fc or bn layer"),
        ("conv8x3p1,relu,relu", "already has an activation"),
        ("conv8x3p1,gap,maxpool2", "pooling needs image input"),
        ("conv8x3p1,maxpool30", "poolsize \\(30, 30\\) is larger"),
        ("conv8x3p5", "padding must be smaller than the filter"),
        ("conv8x3p1s0", "stride must be a whole number >= 1, got 0"),
        ("bn:d0.5", "unknown option ':d0.5'"),
        ("gap:relu", "unknown option ':relu'"),
        ("conv8x3p1,maxpool2x2x2", "write maxpoolP or maxpoolPxQ"),
        ("pool2,fc10", "a pool must follow a conv layer"),
    ],
)
def test_bad_modern_tokens_are_refused_in_one_line(text, message):
    from glassnet.training.layerspec import parse_layers

    with pytest.raises(InputError, match=message) as info:
        parse_layers(text, (1, 28, 28), 10)
    assert "\n" not in str(info.value)


# -- model files, ensembles, checkpoints ----------------------------------------------------------
def quadrants(n=64, seed=0):
    """8x8 images whose class is the quadrant holding a bright blob."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    X = rng.random((n, 1, 8, 8)) * 0.2
    for i, c in enumerate(y):
        r, q = divmod(int(c), 2)
        X[i, 0, 4 * r : 4 * r + 4, 4 * q : 4 * q + 4] += 0.8
    return X, y


def bn_net(seed=0, dtype="float32"):
    from glassnet.training.layerspec import layer_network

    text = "conv4x3p1,bn,relu,maxpool2,conv6x3p1s2,bn,relu,gap,fc8,bn,relu,softmax4"
    return layer_network(text, (1, 8, 8), 4, seed=seed, dtype=dtype)


def test_a_trained_bn_network_saves_and_loads_with_its_running_statistics(tmp_path):
    from glassnet.io import load, read_npz, save

    X, y = quadrants()
    net = bn_net()
    for k in range(0, 64, 16):
        net.step(X[k : k + 16], y[k : k + 16], 0.1)
    assert not np.all(net.named_buffers()["running_mean1"] == 0)
    back, header = load(save(net, tmp_path / "bn.npz"), with_header=True)
    assert header["format_version"] == 2
    assert set(read_npz(tmp_path / "bn.npz")[1]) == set(net.named_parameters()) | set(net.named_buffers())
    for name, a in net.named_buffers().items():
        np.testing.assert_array_equal(back.named_buffers()[name], a)
    np.testing.assert_array_equal(back.probabilities(X), net.probabilities(X))
    np.testing.assert_array_equal(back.predict(X), net.predict(X))


def test_an_ensemble_of_bn_networks_round_trips(tmp_path):
    from glassnet.core import Ensemble
    from glassnet.io import load, save

    X, y = quadrants()
    members = [bn_net(seed=s) for s in (1, 2)]
    for m in members:
        m.step(X, y, 0.1)
    ens = Ensemble(members)
    assert len(ens.named_buffers()) == 12 and "m1_running_var7" in ens.named_buffers()
    back = load(save(ens, tmp_path / "e.npz"))
    np.testing.assert_array_equal(back.probabilities(X), ens.probabilities(X))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda h, a: a.pop("running_var1"), "missing \\['running_var1'\\]"),
        (lambda h, a: a.update(running_mean1=np.zeros(5, np.float32)), "'running_mean1' has shape"),
        (lambda h, a: a.update(running_var1=-np.ones(4, np.float32)), "negative variances"),
        (lambda h, a: a.update(running_var1=np.full(4, np.inf, np.float32)), "NaN or infinite"),
        (lambda h, a: h["spec"]["layers"][1].update(shape=[4, 8]), "layer spec is unusable"),
        (lambda h, a: h["spec"]["layers"][1].update(shape=[1 << 40, 8, 8]), "glassnet reads at most"),
    ],
)
def test_damaged_running_statistics_are_refused_in_one_line(tmp_path, change, message):
    from glassnet.errors import ModelFormatError, ResourceLimitError
    from glassnet.io import load, read_npz, save, write_npz

    path = save(bn_net(), tmp_path / "m.npz")
    header, arrays = read_npz(path)
    change(header, arrays)
    write_npz(path, header, arrays)
    with pytest.raises((ModelFormatError, ResourceLimitError), match=message):
        load(path)


def test_resume_of_a_bn_network_is_bit_identical(tmp_path):
    from glassnet.training import TrainingConfig, fit

    X, y = quadrants(80)
    config = dict(mini_batch_size=16, eta=0.05, momentum=0.5, l2=0.1)
    full = bn_net(seed=4)
    fit(full, (X, y), TrainingConfig(epochs=4, **config), validation=(X, y))
    part, ck = bn_net(seed=4), tmp_path / "ck.npz"
    fit(part, (X, y), TrainingConfig(epochs=2, **config), validation=(X, y), checkpoint=ck)
    resumed = bn_net(seed=4)
    r = fit(resumed, (X, y), TrainingConfig(epochs=4, **config), validation=(X, y), checkpoint=ck, resume=True)
    from glassnet.engines import layers_fast

    assert len(r.history) == 4 and r.engine == ("layer-kernel" if layers_fast.available() else "numpy")
    for p, q in zip(full.params(), resumed.params()):
        np.testing.assert_array_equal(p, q)
    for name, a in full.named_buffers().items():
        np.testing.assert_array_equal(resumed.named_buffers()[name], a)


def test_a_checkpoint_without_its_running_statistics_is_refused(tmp_path):
    from glassnet.errors import CheckpointError
    from glassnet.io import read_npz, write_npz
    from glassnet.training import TrainingConfig, fit

    X, y = quadrants(32)
    config = TrainingConfig(epochs=1, mini_batch_size=16, eta=0.05)
    ck = tmp_path / "ck.npz"
    fit(bn_net(seed=4), (X, y), config, checkpoint=ck)
    header, arrays = read_npz(ck)
    arrays.pop("running_mean4")
    write_npz(ck, header, arrays)
    with pytest.raises(CheckpointError, match="running statistics \\['running_mean4'\\] are missing"):
        fit(bn_net(seed=4), (X, y), TrainingConfig(epochs=2, mini_batch_size=16, eta=0.05), checkpoint=ck, resume=True)


# -- ONNX -----------------------------------------------------------------------------------------
def odd_network(dtype):
    """Odd sizes: a strided padded conv, an avg-pool and a max-pool leaving rows over."""
    from glassnet.training.layerspec import layer_network

    text = "conv3x3p1s2,bn,relu,avgpool2,conv4x2p1:tanh,maxpool2,gap,fc5:relu,bn,softmax3"
    return layer_network(text, (2, 11, 11), 3, seed=7, dtype=dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("make", [every_layer_network, odd_network])
def test_onnx_export_runs_in_onnxruntime_as_glassnet_computes(tmp_path, dtype, make):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from glassnet.io.onnx import export_onnx

    net = randomise(make(dtype=dtype)) if make is every_layer_network else make(dtype)
    shape = net.input_shape
    X, y = data(m=9, shape=shape)
    X = X.astype(dtype)
    for k in range(3):  # running statistics away from 0 and 1
        net.loss_and_grads(X[3 * k : 3 * k + 3], y[3 * k : 3 * k + 3] % 3)
    for flat in (False, True):
        path = export_onnx(net, tmp_path / f"m{flat}.onnx", flat=flat)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (out,) = session.run(None, {"input": X.reshape(len(X), -1) if flat else X})
        assert out.dtype == np.dtype(dtype)
        np.testing.assert_allclose(out, net.feedforward(X), rtol=0, atol=1e-5 if dtype == "float32" else 1e-12)
    ops = {node.op_type for node in __import__("onnx").load(str(path)).graph.node}
    if dtype == "float32":
        assert {"Conv", "BatchNormalization", "MaxPool", "GlobalAveragePool"} <= ops


def test_onnx_refuses_broken_modern_layers_in_one_line():
    pytest.importorskip("onnx")
    from glassnet.io.onnx import LayerSpec, build_model

    w, c = np.ones((2, 1, 3, 3)), np.ones(2)
    bad = [
        (LayerSpec("conv", {"w": w, "b": c, "padding": 3}), (1, 6, 6), "do not fit"),
        (LayerSpec("conv", {"w": w, "b": c, "stride": 0}), (1, 6, 6), "stride must be a whole number >= 1"),
        (LayerSpec("batch-norm", {"w": c, "b": c, "mean": c, "var": np.ones(3)}), (2, 4, 4), "must each hold 2"),
        (LayerSpec("batch-norm", {"w": c, "b": c, "mean": c, "var": -c}), (2, 4, 4), "variances >= 0"),
        (LayerSpec("max-pool", {"poolsize": (5, 5)}), (1, 4, 4), "does not fit"),
    ]
    for spec, shape, message in bad:
        with pytest.raises(InputError, match=message):
            build_model([spec], shape)


# -- the faces ask the model --------------------------------------------------------------------
def test_inspect_prints_a_line_per_new_layer(tmp_path, capsys):
    from glassnet.cli import main
    from glassnet.io import save

    X, y = quadrants()
    net = bn_net()
    net.step(X, y, 0.1)
    assert main(["inspect", str(save(net, tmp_path / "bn.npz"))]) == 0
    out = capsys.readouterr().out
    assert "1x8x8-conv4x3p1-bn-maxpool2-conv6x3p1s2-bn-gap-fc8-bn-softmax4" in out
    for line in (
        "layer 0: ConvLayer, 4 filters 3x3 over 1 channel of 8x8, padding 1, stride 1, no bias, linear -> 4x8x8",
        "layer 1: BatchNormLayer, 4 channels per channel over (m, h, w), momentum 0.1, eps 1e-05, relu",
        "layer 2: MaxPoolLayer, max over 2x2 blocks of 4 maps 8x8 -> 4x4x4; no parameters",
        "layer 5: GlobalAvgPoolLayer, the mean of each of 6 maps 2x2 -> 6; no parameters",
        "layer 7: BatchNormLayer, 8 features per feature over m",
    ):
        assert line in out
    assert [o.shape for o in net.layer_outputs(X[:2])][-4:] == [(2, 6), (2, 8), (2, 8), (2, 4)]
    assert net.input_gradient(X[0])[0].shape == (64,)


def test_masks_must_hold_one_entry_per_layer():
    net = every_layer_network()
    with pytest.raises(InputError, match="one entry per layer \\(10\\), got 6"):
        net.loss_and_grads(*data(), masks=[None] * 6)
