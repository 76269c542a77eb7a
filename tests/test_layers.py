"""Chapter 6's layers (``glassnet.core.layers``, ``glassnet.core.layernet``): every
forward and backward against PyTorch autograd in float64, whole networks against
central differences, and the book's network3 semantics (L2 term, dropout scaling, seeds)."""

import json

import numpy as np
import pytest

from glassnet.core import layers as L
from glassnet.core.layernet import (
    ConvPoolLayer,
    FullyConnectedLayer,
    LayerNetwork,
    SoftmaxLayer,
    layer_gradient_check,
    layers_from_spec,
)

TOL = 1e-10


def rel_err(a, b):
    """Worst elementwise relative error, |a - b| / max(|a| + |b|, 1e-12)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12), initial=0.0))


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


def t64(torch, a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


# -- each operation against PyTorch ------------------------------------------------------
CONV_CASES = [  # (m, c, h, w), (f, kh, kw)
    ((1, 1, 6, 6), (2, 3, 3)),
    ((3, 2, 7, 5), (4, 2, 3)),
    ((10, 3, 9, 8), (5, 5, 4)),
    ((3, 4, 5, 5), (3, 5, 5)),  # the filter covers the whole image: output 1x1
    ((1, 2, 4, 7), (3, 1, 1)),  # 1x1 filters
]


@pytest.mark.parametrize("xshape, fshape", CONV_CASES)
def test_conv_matches_torch(torch, xshape, fshape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xshape)
    w = rng.standard_normal((fshape[0], xshape[1], *fshape[1:]))
    out, cache = L.conv_forward(x, w)
    dout = rng.standard_normal(out.shape)
    dx, dw = L.conv_backward(dout, cache)

    tx, tw = t64(torch, x, True), t64(torch, w, True)
    tout = torch.nn.functional.conv2d(tx, tw)
    tout.backward(t64(torch, dout))
    assert (
        out.shape == tuple(tout.shape) == (xshape[0], fshape[0], xshape[2] - fshape[1] + 1, xshape[3] - fshape[2] + 1)
    )
    assert rel_err(out, tout.detach().numpy()) < TOL
    assert rel_err(dx, tx.grad.numpy()) < TOL
    assert rel_err(dw, tw.grad.numpy()) < TOL
    assert L.conv_backward(dout, cache, need_dx=False)[0] is None


POOL_CASES = [  # (m, c, h, w), pool
    ((1, 1, 4, 4), (2, 2)),
    ((3, 2, 6, 6), (3, 3)),
    ((10, 3, 6, 5), (2, 1)),
    ((3, 2, 7, 9), (2, 2)),  # odd sizes: the last row and column are dropped
    ((1, 4, 8, 7), (3, 2)),
    ((3, 1, 5, 5), (1, 1)),
]


@pytest.mark.parametrize("xshape, pool", POOL_CASES)
def test_maxpool_matches_torch(torch, xshape, pool):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(xshape)
    out, cache = L.maxpool_forward(x, pool)
    dout = rng.standard_normal(out.shape)
    dx = L.maxpool_backward(dout, cache)

    tx = t64(torch, x, True)
    tout = torch.nn.functional.max_pool2d(tx, pool)  # stride = kernel, floor mode
    tout.backward(t64(torch, dout))
    assert out.shape == tuple(tout.shape) == (*xshape[:2], xshape[2] // pool[0], xshape[3] // pool[1])
    assert rel_err(out, tout.detach().numpy()) < TOL
    assert rel_err(dx, tx.grad.numpy()) < TOL


def test_maxpool_ties_have_one_deterministic_winner(torch):
    x = np.zeros((2, 3, 4, 6))  # every block a four-way tie
    x[0, 1, 2:4, 2:4] = [[1.0, 5.0], [5.0, 5.0]]  # and one three-way tie at 5
    out, cache = L.maxpool_forward(x, (2, 2))
    dx = L.maxpool_backward(np.ones(out.shape), cache)
    assert dx.sum() == out.size  # each block routes exactly once
    blocks = dx.reshape(2, 3, 2, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 2, 3, 4)
    assert np.all(blocks.argmax(axis=-1)[x.reshape(2, 3, 2, 2, 3, 2).max(axis=(3, 5)) == 0] == 0)
    assert dx[0, 1, 2, 3] == 1 and dx[0, 1, 3, 2] == 0 and dx[0, 1, 3, 3] == 0
    tx = t64(torch, x, True)
    torch.nn.functional.max_pool2d(tx, 2).sum().backward()
    assert np.array_equal(dx, tx.grad.numpy())  # PyTorch picks the same ones


@pytest.mark.parametrize("m, n_in, n_out", [(1, 3, 2), (3, 7, 5), (10, 12, 4)])
def test_fc_matches_torch(torch, m, n_in, n_out):
    rng = np.random.default_rng(3)
    x, W, b = rng.standard_normal((m, n_in)), rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)
    Z, cache = L.fc_forward(x, W, b)
    dZ = rng.standard_normal(Z.shape)
    dx, dW, db = L.fc_backward(dZ, cache)
    tx, tW, tb = t64(torch, x, True), t64(torch, W, True), t64(torch, b, True)
    tZ = torch.nn.functional.linear(tx, tW, tb)
    tZ.backward(t64(torch, dZ))
    for mine, theirs in ((Z, tZ.detach()), (dx, tx.grad), (dW, tW.grad), (db, tb.grad)):
        assert rel_err(mine, theirs.numpy()) < TOL


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "linear"])
@pytest.mark.parametrize("shape", [(1, 5), (3, 2, 4, 4), (10, 6)])
def test_activations_match_torch(torch, name, shape):
    rng = np.random.default_rng(4)
    z = rng.standard_normal(shape) * 3
    act = L.get_activation(name)
    A, cache = L.activation_forward(z, act)
    dA = rng.standard_normal(shape)
    dZ = L.activation_backward(dA, cache)
    tz = t64(torch, z, True)
    fn = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "linear": lambda t: t * 1}[name]
    tA = fn(tz)
    tA.backward(t64(torch, dA))
    assert rel_err(A, tA.detach().numpy()) < TOL
    assert rel_err(dZ, tz.grad.numpy()) < TOL


@pytest.mark.parametrize("m, n", [(1, 2), (3, 10), (10, 4)])
def test_softmax_loglik_matches_torch(torch, m, n):
    rng = np.random.default_rng(5)
    Z = rng.standard_normal((m, n)) * 4
    y = rng.integers(0, n, m)
    C, cache = L.softmax_loglik_forward(Z, y)
    dZ = L.softmax_loglik_backward(cache)
    tZ = t64(torch, Z, True)
    tC = torch.nn.functional.nll_loss(torch.log_softmax(tZ, dim=1), torch.tensor(y))  # mean
    tC.backward()
    assert rel_err(C, tC.item()) < TOL
    assert rel_err(dZ, tZ.grad.numpy()) < TOL
    assert rel_err(L.softmax(Z), torch.softmax(tZ, dim=1).detach().numpy()) < TOL
    onehot = np.eye(n)[y]
    assert np.allclose(dZ, (L.softmax(Z) - onehot) / m)  # BP1: (a - y), averaged


@pytest.mark.parametrize("shape, p", [((1, 6), 0.5), ((3, 8), 0.2), ((10, 5), 0.9)])
def test_dropout_matches_torch_with_the_same_mask(torch, shape, p):
    rng = np.random.default_rng(6)
    x = rng.standard_normal(shape)
    mask = L.dropout_mask(np.random.default_rng(7), shape, p, np.float64)
    out, cache = L.dropout_forward(x, mask)
    dout = rng.standard_normal(shape)
    dx = L.dropout_backward(dout, cache)
    tx = t64(torch, x, True)
    tout = tx * t64(torch, mask)  # no 1/(1-p) rescaling
    tout.backward(t64(torch, dout))
    assert rel_err(out, tout.detach().numpy()) < TOL
    assert rel_err(dx, tx.grad.numpy()) < TOL


def test_dropout_mask_keeps_one_minus_p():
    mask = L.dropout_mask(np.random.default_rng(0), (200, 500), 0.3)
    assert mask.dtype == np.float32 and set(np.unique(mask)) == {0.0, 1.0}
    assert abs(mask.mean() - 0.7) < 0.01
    assert L.dropout_mask(np.random.default_rng(0), (4, 4), 0.0).all()
    with pytest.raises(ValueError, match="p_dropout"):
        L.dropout_mask(np.random.default_rng(0), (2, 2), 1.0)


def test_conv_pool_chain_matches_torch(torch):
    """The composition inside ConvPoolLayer (transposed views flowing between steps)."""
    rng = np.random.default_rng(8)
    x, b = rng.standard_normal((3, 2, 11, 10)), rng.standard_normal(4)
    w = rng.standard_normal((4, 2, 3, 3)) / 3  # tanh unsaturated: 1 - a^2 keeps its digits
    layer = ConvPoolLayer((4, 2, 3, 3), (2, 11, 10), poolsize=(3, 2), activation_fn="tanh")
    layer.w, layer.b = w, b
    A, cache = layer.forward(x)
    dA = rng.standard_normal(A.shape)
    dx, (dw, db) = layer.backward(dA, cache)
    tx, tw, tb = t64(torch, x, True), t64(torch, w, True), t64(torch, b, True)
    F = torch.nn.functional
    tA = torch.tanh(F.max_pool2d(F.conv2d(tx, tw), (3, 2)) + tb[:, None, None])
    tA.backward(t64(torch, dA))
    for mine, theirs in ((A, tA.detach()), (dx, tx.grad), (dw, tw.grad), (db, tb.grad)):
        assert rel_err(mine, theirs.numpy()) < TOL


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_operations_keep_the_dtype(dtype):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 8, 8)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    out, cc = L.conv_forward(x, w)
    pooled, pc = L.maxpool_forward(out, (2, 2))
    A, ac = L.activation_forward(pooled, L.sigmoid)
    Z, fc = L.fc_forward(A.reshape(2, -1), rng.standard_normal((5, 36)).astype(dtype), np.zeros(5, dtype))
    C, lc = L.softmax_loglik_forward(Z, np.array([1, 4]))
    dZ = L.softmax_loglik_backward(lc)
    dx, dW, db = L.fc_backward(dZ, fc)
    dpool = L.activation_backward(dx.reshape(A.shape), ac)
    dconv = L.maxpool_backward(dpool, pc)
    dx, dw = L.conv_backward(dconv, cc)
    for a in (out, pooled, A, Z, dZ, dW, db, dpool, dconv, dx, dw):
        assert a.dtype == dtype


def test_operation_shape_errors_name_the_shapes():
    x = np.zeros((2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"\(4, 2, 3, 3\).*\(2, 3, 8, 8\)"):
        L.conv_forward(x, np.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"\(9, 9\).*\(2, 3, 8, 8\)"):
        L.maxpool_forward(x, (9, 9))
    with pytest.raises(ValueError, match=r"\(m, 5\).*\(2, 4\)"):
        L.fc_forward(np.zeros((2, 4)), np.zeros((3, 5)), np.zeros(3))
    with pytest.raises(TypeError, match="activation_fn"):
        L.get_activation(np.tanh)


# -- whole networks -------------------------------------------------------------------
def small_conv_net(seed=0, p_dropout=0.25, dtype=np.float64, activation="sigmoid"):
    return LayerNetwork(
        [
            ConvPoolLayer((3, 1, 3, 3), (5, 1, 9, 8), poolsize=(2, 2), activation_fn=activation),
            ConvPoolLayer((4, 3, 2, 2), (5, 3, 3, 3), poolsize=(2, 1), activation_fn="tanh"),
            FullyConnectedLayer(4 * 1 * 2, 6, activation_fn=activation, p_dropout=p_dropout),
            SoftmaxLayer(6, 4, p_dropout=p_dropout),
        ],
        seed=seed,
        dtype=dtype,
    )


def randomise_softmax(net, rng):
    """network3's softmax layer starts at zero; give it values so every gradient is exercised."""
    net.layers[-1].w[...] = rng.standard_normal(net.layers[-1].w.shape)
    net.layers[-1].b[...] = rng.standard_normal(net.layers[-1].b.shape)


@pytest.mark.parametrize("m", [1, 3, 10])
def test_layer_network_gradient_check(m):
    net = small_conv_net()
    rng = np.random.default_rng(10)
    randomise_softmax(net, rng)
    X, y = rng.random((m, 72)), rng.integers(0, 4, m)
    masks = net.draw_masks(m)
    assert masks[0] is None and masks[1] is None and masks[2].shape == (m, 8) and masks[3].shape == (m, 6)
    assert layer_gradient_check(net, X, y, lmbda=0.3, n_batches=7, masks=masks) < 1e-6


def test_gradient_check_fc_only_network_with_relu():
    net = LayerNetwork(
        [
            FullyConnectedLayer(5, 7, activation_fn="relu", p_dropout=0.5),
            FullyConnectedLayer(7, 6, activation_fn="linear"),
            SoftmaxLayer(6, 3),
        ],
        seed=1,
        dtype=np.float64,
    )
    rng = np.random.default_rng(11)
    randomise_softmax(net, rng)
    X, y = rng.standard_normal((4, 5)), rng.integers(0, 3, 4)
    assert layer_gradient_check(net, X, y, lmbda=1.0, n_batches=2) < 1e-6


def test_network_gradients_match_torch(torch):
    """The whole network's gradient (dropout mask fixed, L2 term included) against autograd."""
    net = small_conv_net(p_dropout=0.5)
    rng = np.random.default_rng(12)
    randomise_softmax(net, rng)
    X, y = rng.random((3, 1, 9, 8)), rng.integers(0, 4, 3)
    masks = net.draw_masks(3)
    lmbda, n_batches = 0.5, 4
    C, grads = net.loss_and_grads(X, y, lmbda=lmbda, n_batches=n_batches, masks=masks)

    F = torch.nn.functional
    tp = [t64(torch, p, True) for p in net.params()]
    a = torch.sigmoid(F.max_pool2d(F.conv2d(t64(torch, X), tp[0]), 2) + tp[1][:, None, None])
    a = torch.tanh(F.max_pool2d(F.conv2d(a, tp[2]), (2, 1)) + tp[3][:, None, None])
    a = torch.sigmoid(F.linear(a.reshape(3, -1) * t64(torch, masks[2]), tp[4], tp[5]))
    z = F.linear(a * t64(torch, masks[3]), tp[6], tp[7])
    tC = F.nll_loss(torch.log_softmax(z, dim=1), torch.tensor(y))
    tC = tC + 0.5 * lmbda * sum((w**2).sum() for w in tp[0::2]) / n_batches
    tC.backward()
    assert rel_err(C, tC.item()) < TOL
    for name, g, t in zip(net.param_names(), grads, tp):
        assert rel_err(g, t.grad.numpy()) < TOL, name


def test_cost_contains_the_books_l2_term():
    net = small_conv_net(p_dropout=0.0)
    rng = np.random.default_rng(13)
    X, y = rng.random((5, 72)), rng.integers(0, 4, 5)
    plain = net.loss(X, y)
    squares = sum(float((layer.w**2).sum()) for layer in net.layers)
    expected = plain + 0.5 * 0.7 * squares / 20
    assert net.loss(X, y, lmbda=0.7, n_batches=20) == pytest.approx(expected, rel=1e-12)
    C, g = net.loss_and_grads(X, y, lmbda=0.7, n_batches=20)
    _, g0 = net.loss_and_grads(X, y)
    assert C == pytest.approx(plain + 0.5 * 0.7 * squares / 20, rel=1e-12)
    for name, p, a, b in zip(net.param_names(), net.params(), g, g0):
        expected = b + (0.7 / 20) * p if name.startswith("w") else b  # biases not regularised
        np.testing.assert_allclose(a, expected, rtol=1e-12, atol=1e-15)


def test_step_is_plain_sgd_on_that_cost():
    net = small_conv_net(p_dropout=0.0)
    rng = np.random.default_rng(14)
    X, y = rng.random((5, 72)), rng.integers(0, 4, 5)
    before = [p.copy() for p in net.params()]
    ids = [id(p) for p in net.params()]
    _, grads = net.loss_and_grads(X, y, lmbda=0.2, n_batches=3)
    net.step(X, y, eta=0.5, lmbda=0.2, n_batches=3)
    assert [id(p) for p in net.params()] == ids  # updated in place
    for p, p0, g in zip(net.params(), before, grads):
        np.testing.assert_allclose(p, p0 - 0.5 * g, rtol=1e-12, atol=1e-15)


def test_dropout_inference_scales_weights_by_keep_probability():
    rng = np.random.default_rng(15)
    fc = FullyConnectedLayer(6, 3, activation_fn="linear", p_dropout=0.4)
    fc.init_params(rng, np.float64)
    x = rng.standard_normal((2, 6))
    A, _ = fc.forward(x)  # inference
    np.testing.assert_allclose(A, x @ (0.6 * fc.w).T + fc.b, rtol=1e-13)
    mask = L.dropout_mask(rng, (2, 6), 0.4, np.float64)
    A_train, _ = fc.forward(x, training=True, mask=mask)
    np.testing.assert_allclose(A_train, (x * mask) @ fc.w.T + fc.b, rtol=1e-13)
    # the expectation over masks of the training output equals the inference output
    masks = L.dropout_mask(rng, (20000, 6), 0.4, np.float64)
    mean = ((x[0] * masks) @ fc.w.T + fc.b).mean(axis=0)
    np.testing.assert_allclose(mean, A[0], atol=0.05)

    net = LayerNetwork(
        [FullyConnectedLayer(6, 5, p_dropout=0.5), SoftmaxLayer(5, 3, p_dropout=0.5)], seed=0, dtype=np.float64
    )
    randomise_softmax(net, rng)
    first, soft = net.layers
    a = L.sigmoid(x @ (0.5 * first.w).T + first.b)
    expected = L.softmax(a @ (0.5 * soft.w).T + soft.b)
    np.testing.assert_allclose(net.feedforward(x), expected, rtol=1e-12)


def test_initialisation_follows_network3():
    net = LayerNetwork(
        [
            ConvPoolLayer((20, 1, 5, 5), (10, 1, 28, 28)),
            ConvPoolLayer((40, 20, 5, 5), (10, 20, 12, 12)),
            FullyConnectedLayer(640, 100),
            SoftmaxLayer(100, 10),
        ],
        seed=3,
    )
    conv1, conv2, fc, soft = net.layers
    assert [p.shape for p in net.params()] == [
        (20, 1, 5, 5),
        (20,),
        (40, 20, 5, 5),
        (40,),
        (100, 640),
        (100,),
        (10, 100),
        (10,),
    ]
    assert all(p.dtype == np.float32 for p in net.params())
    assert conv2.w.std() == pytest.approx(np.sqrt(1 / (40 * 25 / 4)), rel=0.05)  # n_out = 250
    assert fc.w.std() == pytest.approx(np.sqrt(1 / 100), rel=0.05)
    assert fc.b.std() == pytest.approx(1.0, rel=0.25) and conv2.b.std() == pytest.approx(1.0, rel=0.4)
    assert not soft.w.any() and not soft.b.any()
    assert net.param_names() == ["w0", "b0", "w1", "b1", "w2", "b2", "w3", "b3"]
    assert conv1.output_shape == (20, 12, 12) and conv2.output_shape == (40, 4, 4)


def test_same_seed_same_weights_after_training_steps():
    rng = np.random.default_rng(16)
    X, y = rng.random((30, 72)), rng.integers(0, 4, 30)

    def train(seed):
        net = small_conv_net(seed=seed, p_dropout=0.5, dtype=np.float32)
        for i in range(3):
            net.step(X[i * 10 : (i + 1) * 10], y[i * 10 : (i + 1) * 10], eta=0.5, lmbda=0.1, n_batches=3)
        return net.params()

    a, b, c = train(5), train(5), train(6)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not all(np.array_equal(p, q) for p, q in zip(a, c))


def test_training_lowers_the_cost_in_float32():
    rng = np.random.default_rng(17)
    X = rng.random((40, 1, 9, 8)).astype(np.float32)
    y = (X[:, 0, :4].mean(axis=(1, 2)) > X[:, 0, 5:].mean(axis=(1, 2))).astype(int)
    net = small_conv_net(p_dropout=0.0, dtype=np.float32)
    start = net.loss(X, y)
    for _epoch in range(40):
        for i in range(4):
            net.step(X[i * 10 : (i + 1) * 10], y[i * 10 : (i + 1) * 10], eta=1.0)
    assert net.loss(X, y) < 0.7 * start
    assert net.feedforward(X).dtype == np.float32
    assert all(g.dtype == np.float32 for g in net.backprop(X[:10], y[:10]))
    cost, correct = net.measure(X, y)
    assert cost == pytest.approx(net.loss(X, y, training=False), rel=1e-6)
    assert correct == int(np.sum(net.predict(X) == y)) and net.score(X, y) == correct / 40


def test_inputs_flat_or_images_give_the_same_output():
    net = small_conv_net()
    X = np.random.default_rng(18).random((4, 1, 9, 8))
    np.testing.assert_array_equal(net.feedforward(X), net.feedforward(X.reshape(4, 72)))
    np.testing.assert_allclose(net.feedforward(X, batch_size=3), net.feedforward(X), rtol=1e-14)
    np.testing.assert_allclose(net.feedforward(X).sum(axis=1), 1.0)


def test_shape_errors_name_the_shape():
    net = small_conv_net()
    with pytest.raises(ValueError, match=r"\(m, 1, 9, 8\) or \(m, 72\), got \(4, 71\)"):
        net.feedforward(np.zeros((4, 71)))
    with pytest.raises(ValueError, match=r"got \(72,\)"):
        net.feedforward(np.zeros(72))
    with pytest.raises(ValueError, match="4 inputs but 3 labels"):
        net.loss(np.zeros((4, 72)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="0..3"):
        net.loss(np.zeros((1, 72)), np.array([4]))
    with pytest.raises(ValueError, match=r"layer 0 outputs shape \(3, 3, 3\).*expects \(300,\)"):
        LayerNetwork([ConvPoolLayer((3, 1, 3, 3), (1, 9, 8)), SoftmaxLayer(300, 4)])
    with pytest.raises(ValueError, match=r"filter_shape \(3, 2, 3, 3\) does not fit image_shape \(10, 1, 9, 8"):
        ConvPoolLayer((3, 2, 3, 3), (10, 1, 9, 8))
    with pytest.raises(ValueError, match=r"poolsize \(4, 4\)"):
        ConvPoolLayer((3, 1, 7, 7), (1, 9, 8), poolsize=(4, 4))
    with pytest.raises(ValueError, match="last layer, and only the last"):
        LayerNetwork([FullyConnectedLayer(4, 3)])
    with pytest.raises(ValueError, match="p_dropout"):
        FullyConnectedLayer(4, 3, p_dropout=1.5)
    with pytest.raises(ValueError, match=r"parameter w1 must have shape \(4, 6\), got \(6, 4\)"):
        LayerNetwork([FullyConnectedLayer(3, 6), SoftmaxLayer(6, 4)]).set_params(
            [np.zeros((6, 3)), np.zeros(6), np.zeros((6, 4)), np.zeros(4)]
        )


def test_spec_round_trip_and_params():
    net = small_conv_net(seed=4, dtype=np.float32)
    spec = net.spec()
    assert json.loads(json.dumps(spec)) == spec
    assert spec["dtype"] == "float32" and [s["type"] for s in spec["layers"]] == [
        "ConvPoolLayer",
        "ConvPoolLayer",
        "FullyConnectedLayer",
        "SoftmaxLayer",
    ]
    twin = LayerNetwork.from_spec(json.loads(json.dumps(spec)), seed=4)
    assert twin.spec() == spec
    assert all(np.array_equal(p, q) for p, q in zip(net.params(), twin.params()))  # same seed
    other = LayerNetwork.from_spec(spec, seed=99)
    other.set_params(net.params())
    X = np.random.default_rng(19).random((3, 72))
    np.testing.assert_array_equal(other.feedforward(X), net.feedforward(X))
    assert LayerNetwork.from_spec(spec, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="'type' is one of"):
        layers_from_spec({"layers": [{"type": "Pickle"}]})
    with pytest.raises(ValueError, match="bad fields"):
        layers_from_spec({"layers": [{"type": "SoftmaxLayer", "n_in": 3, "n_out": 2, "size": 1}]})


def test_score_is_the_fraction_evaluate_the_count_and_accuracy_a_deprecated_alias():
    """One name per idea: score (a fraction) and evaluate (the book's count) on every kind."""
    from glassnet import Network
    from glassnet.core.ensemble import Ensemble

    rng = np.random.default_rng(0)
    X, y = rng.random((30, 16)), rng.integers(0, 3, 30)
    layered = LayerNetwork([FullyConnectedLayer(16, 5), SoftmaxLayer(5, 3)], seed=1, dtype=np.float64)
    for model in (Network([16, 5, 3], seed=2), layered, Ensemble([Network([16, 4, 3], seed=3), layered])):
        assert model.score(X, y) == model.evaluate((X, y)) / 30 == np.mean(model.predict(X) == y)
    with pytest.warns(DeprecationWarning, match="use score"):
        assert layered.accuracy(X, y) == layered.score(X, y)
