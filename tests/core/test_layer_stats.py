"""Which layer learns: per layer gradient norms and update ratios against autograd and hand-written backprop."""

import pytest
import torch
import torch.nn.functional as F

from core.layer_stats import LayerProbe, gradient_norms, histogram, update_ratios, weighted_layers
from core.models import ModelSpec, build_model
from core.training import TrainConfig, TrainLoop, make_optimizer


def data(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def backprop_by_hand(model, X, y):
    """∂L/∂W of each Linear of an MLP, by the chain rule (the lecture's maths), in float64."""
    h = X.reshape(len(X), -1).double()
    layers = [(m.weight.detach().double(), m.bias.detach().double()) for m in model.linears]
    sigmoid = model.spec.activation == "sigmoid"
    inputs, outs = [], []
    for i, (W, b) in enumerate(layers):
        inputs.append(h)
        z = h @ W.T + b  # [N, out]
        h = z if i == len(layers) - 1 else (torch.sigmoid(z) if sigmoid else torch.relu(z))
        outs.append(h)
    probs = torch.softmax(h, dim=1)
    delta = (probs - F.one_hot(y, 10).double()) / len(X)  # ∂L/∂logits of the mean cross-entropy
    grads = [None] * len(layers)
    for i in reversed(range(len(layers))):
        grads[i] = delta.T @ inputs[i]  # [out, in]
        if i:
            back = delta @ layers[i][0]  # [N, in]
            a = outs[i - 1]
            delta = back * (a * (1 - a) if sigmoid else (a > 0).double())
    return grads


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_gradient_norms_match_hand_written_backprop_and_autograd(activation):
    model = build_model(ModelSpec(hidden_sizes=(32, 16, 16), activation=activation), seed=1).double()
    X, y = data()
    X = X.double()
    loss = F.cross_entropy(model(X), y)
    reference = torch.autograd.grad(loss, [w for _, w in weighted_layers(model)], retain_graph=True)
    loss.backward()
    got = gradient_norms([w for _, w in weighted_layers(model)])
    by_hand = backprop_by_hand(model, X, y)
    assert len(got) == 4
    for norm, auto, hand in zip(got, reference, by_hand):
        assert norm == pytest.approx(float(auto.norm()), rel=1e-6, abs=1e-12)
        assert norm == pytest.approx(float(hand.norm()), rel=1e-6, abs=1e-12)


def test_sigmoid_first_layer_gradient_vanishes_and_relu_does_not():
    X, y = data(128)
    ratios = {}
    for activation in ("sigmoid", "relu"):
        model = build_model(ModelSpec(hidden_sizes=(256, 128, 64, 32, 32), activation=activation), seed=0)
        F.cross_entropy(model(X), y).backward()
        norms = gradient_norms([w for _, w in weighted_layers(model)])
        ratios[activation] = norms[0] / norms[-1]
    assert ratios["sigmoid"] < 0.01 < ratios["relu"]


def test_probe_in_the_loop_measures_the_optimizer_step():
    X, y = data(64)
    config = TrainConfig(epochs=1, batch_size=16, lr=0.1, momentum=0.9, log_every=1)
    model = build_model(ModelSpec(hidden_sizes=(16,)), seed=0)
    twin = build_model(ModelSpec(hidden_sizes=(16,)), seed=0)
    loop = TrainLoop(model, config, (X, y), (X, y), device="cpu")
    loop.probe = LayerProbe(model, every=2, histogram_every=4)
    loop.run()
    points = loop.probe.trace.points
    assert [p.step for p in points] == [1, 2, 4]
    # the same training by hand: gradient norms and update ratios at batches 1, 2 and 4
    optimizer = make_optimizer(twin, config)
    order = torch.randperm(64, generator=torch.Generator().manual_seed(0))
    expected = []
    for step in range(1, 5):
        idx = order[(step - 1) * 16 : step * 16]
        optimizer.zero_grad()
        F.cross_entropy(twin(X[idx]), y[idx]).backward()
        weights = [w for _, w in weighted_layers(twin)]
        norms = [float(w.grad.norm()) for w in weights]
        before = [w.detach().clone() for w in weights]
        optimizer.step()
        ratios = [float((w.detach() - b).norm() / b.norm()) for w, b in zip(weights, before)]
        if step in (1, 2, 4):
            expected.append((norms, ratios))
    for point, (norms, ratios) in zip(points, expected):
        assert point.grad_norms == pytest.approx(norms, rel=1e-6)
        assert point.update_ratios == pytest.approx(ratios, rel=1e-5)
    hist = loop.probe.trace.histograms
    assert hist.step == 4 and len(hist.weights) == len(hist.grads) == 2
    assert sum(hist.weights[0].counts) == 784 * 16


def test_histogram_counts_every_value_and_survives_a_constant_tensor():
    values = torch.tensor([0.0, 0.5, 1.0, 1.0])
    h = histogram(values, bins=2)
    assert h.counts == (1, 3) and h.edges == pytest.approx((0.0, 0.5, 1.0))
    assert sum(histogram(torch.ones(5)).counts) == 5


def test_update_ratio_of_a_zero_weight_is_zero():
    assert update_ratios([torch.zeros(3)], [torch.ones(3)]) == [0.0]


def test_cnn_layers_are_listed_input_side_first():
    names = [n for n, _ in weighted_layers(build_model(ModelSpec(kind="cnn2"), seed=0))]
    assert names == ["conv1", "conv2", "fc1", "fc"]
