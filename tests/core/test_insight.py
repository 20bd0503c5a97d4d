"""core.insight: every number checked against PyTorch computing the same thing directly."""

import pickle
import threading

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from core.data import load_mnist_split, normalize
from core.errors import all_templates
from core.insight import (
    Anatomy,
    InsightError,
    activations,
    first_layer_units,
    saliency,
)
from core.models import ACTIVATIONS, ModelSpec, build_model

ATOL = 1e-6
MLP_SPEC = ModelSpec(hidden_sizes=(64, 32, 16))
CNN_SPEC = ModelSpec(kind="cnn")


def image(seed: int = 0, shape=(1, 28, 28)) -> torch.Tensor:
    """A random image on the normalized scale: pixels in [0, 1] → (p − 0.1307) / 0.3081."""
    g = torch.Generator().manual_seed(seed)
    pixels = torch.rand(shape, generator=g) * (torch.rand(shape, generator=g) > 0.7)  # mostly black, as MNIST
    return (pixels - 0.1307) / 0.3081


def model_for(spec: ModelSpec, seed: int = 0) -> nn.Module:
    return build_model(spec, seed=seed).eval()


def all_forward_hooks(model: nn.Module) -> list:
    return [h for m in model.modules() for h in m._forward_hooks.values()]


def close(a, b, atol=ATOL) -> bool:
    return np.allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), atol=atol, rtol=0)


# --------------------------------------------------------------------------- activations


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_mlp_activations_equal_the_layers_computed_by_hand(activation):
    model = model_for(ModelSpec(hidden_sizes=(64, 32, 16), activation=activation))
    x = image(1)
    anatomy = activations(model, x)
    assert isinstance(anatomy, Anatomy) and anatomy.kind == "mlp"
    act = getattr(torch, activation)
    with torch.no_grad():
        h = x.view(1, 784)  # [1, 784]
        expected = []
        for linear in model.linears[:-1]:
            h = act(linear(h))  # [1, hidden]
            expected.append(h[0].numpy())
        logits = model.linears[-1](h)[0]  # [10]
        assert torch.allclose(logits, model(x)[0], atol=ATOL)
    assert [layer.name for layer in anatomy.layers] == ["hidden1", "hidden2", "hidden3"]
    for layer, want in zip(anatomy.layers, expected, strict=True):
        assert layer.kind == "hidden" and layer.values.shape == want.shape
        assert close(layer.values, want)
        assert layer.zero_count == int((want == 0).sum())
        assert layer.zero_fraction == pytest.approx(layer.zero_count / want.size)
    assert close(anatomy.logits, logits.numpy())
    assert close(anatomy.probs, torch.softmax(logits, 0).numpy())
    assert anatomy.probs.sum() == pytest.approx(1.0, abs=1e-6)
    assert anatomy.prediction == int(logits.argmax())


def test_relu_layers_really_have_dead_units():
    anatomy = activations(model_for(MLP_SPEC), image(2))
    assert all(0 < layer.zero_count < layer.values.size for layer in anatomy.layers)


def test_cnn_maps_equal_the_stages_computed_by_hand():
    model = model_for(CNN_SPEC)
    x = image(3)
    anatomy = activations(model, x)
    with torch.no_grad():
        X = x.view(1, 1, 28, 28)
        conv1 = F.conv2d(X, model.conv1.weight, model.conv1.bias)  # [1, 10, 24, 24]
        pool1 = F.relu(F.max_pool2d(conv1, 2))  # [1, 10, 12, 12]
        conv2 = F.conv2d(pool1, model.conv2.weight, model.conv2.bias)  # [1, 20, 8, 8]
        pool2 = F.relu(F.max_pool2d(conv2, 2))  # [1, 20, 4, 4]
        logits = F.linear(pool2.flatten(1), model.fc.weight, model.fc.bias)[0]  # [10]
    expected = {"conv1": conv1, "pool1": pool1, "conv2": conv2, "pool2": pool2}
    assert [layer.name for layer in anatomy.layers] == list(expected)
    assert [layer.kind for layer in anatomy.layers] == ["conv", "pool", "conv", "pool"]
    for layer in anatomy.layers:
        want = expected[layer.name][0].numpy()
        assert layer.values.shape == want.shape
        assert close(layer.values, want)
        assert layer.zero_count == int((want == 0).sum())
    assert [layer.values.shape for layer in anatomy.layers] == [(10, 24, 24), (10, 12, 12), (20, 8, 8), (20, 4, 4)]
    assert close(anatomy.logits, logits.numpy())
    assert close(anatomy.probs, torch.softmax(logits, 0).numpy())
    assert anatomy.prediction == int(logits.argmax())


def test_softmax_regression_has_no_hidden_layers():
    model = model_for(ModelSpec(hidden_sizes=()))
    x = image(4)
    anatomy = activations(model, x)
    assert anatomy.layers == ()
    with torch.no_grad():
        assert close(anatomy.logits, model(x)[0].numpy())


def test_a_real_digit_gives_the_same_numbers_every_time():
    split = load_mnist_split(train=False)
    x = normalize(split.images[:1])[0]  # [1, 28, 28], as the Draw page hands it over
    for spec in (MLP_SPEC, CNN_SPEC):
        model = model_for(spec)
        first, second = activations(model, x), activations(model, x.view(1, 1, 28, 28).numpy())
        for a, b in zip(first.layers, second.layers, strict=True):
            assert np.array_equal(a.values, b.values)
        assert np.array_equal(first.logits, second.logits)
        with torch.no_grad():
            assert close(first.logits, model(x)[0].numpy())


def test_activations_do_not_see_another_threads_forward():
    """Models are shared: another user's forward during ours must not land in our layers."""
    model = model_for(MLP_SPEC)
    x, other = image(5), image(6)
    busy = threading.Event()

    def meanwhile(module, inputs):  # runs a whole other forward, in another thread, mid-way through ours
        if busy.is_set():
            return
        busy.set()
        thread = threading.Thread(target=lambda: model(other))
        thread.start()
        thread.join()

    handle = model.linears[1].register_forward_pre_hook(meanwhile)
    try:
        anatomy = activations(model, x)
    finally:
        handle.remove()
    assert busy.is_set()
    assert close(anatomy.logits, activations(model, x).logits)
    with torch.no_grad():
        assert close(anatomy.layers[0].values, torch.relu(model.linears[0](x.view(1, 784)))[0].numpy())


@pytest.mark.parametrize("spec", [MLP_SPEC, CNN_SPEC])
def test_hooks_are_removed_also_when_the_forward_raises(spec):
    model = model_for(spec)
    activations(model, image())
    first_layer_units(model, image()) if spec.kind == "mlp" else saliency(model, image(), 0)
    assert all_forward_hooks(model) == []

    def boom(module, inputs):
        raise RuntimeError("boom")

    last = model.linears[-1] if spec.kind == "mlp" else model.fc
    handle = last.register_forward_pre_hook(boom)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            activations(model, image())
        if spec.kind == "mlp":
            with pytest.raises(RuntimeError, match="boom"):
                first_layer_units(model, image())
    finally:
        handle.remove()
    assert all_forward_hooks(model) == []


# --------------------------------------------------------------------------- first-layer units


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_first_layer_units_are_the_strongest_and_add_up(activation):
    model = model_for(ModelSpec(hidden_sizes=(64, 16), activation=activation))
    x = image(7)
    units = first_layer_units(model, x, k=8)
    first = model.linears[0]
    with torch.no_grad():
        pre = first(x.view(1, 784))[0]  # [64]
        post = getattr(torch, activation)(pre)  # [64]
    expected_order = sorted(range(64), key=lambda i: (-float(post[i]), i))[:8]
    assert [u.index for u in units] == expected_order
    assert [u.post_activation for u in units] == sorted((u.post_activation for u in units), reverse=True)
    for u in units:
        assert u.layer == "hidden1"
        assert u.pre_activation == pytest.approx(float(pre[u.index]), abs=ATOL)
        assert u.post_activation == pytest.approx(float(post[u.index]), abs=ATOL)
        assert np.array_equal(u.weights, first.weight[u.index].detach().view(28, 28).numpy())
        assert u.bias == float(first.bias[u.index].detach())
        assert close(u.contributions, (x.view(28, 28) * first.weight[u.index].detach().view(28, 28)).numpy())
        # the unit is a weighted vote of the pixels; float32 sums of 784 terms in another order: 1e-5
        assert float(u.contributions.astype(np.float64).sum()) + u.bias == pytest.approx(u.pre_activation, abs=1e-5)


def test_ties_are_broken_by_index():
    model = model_for(ModelSpec(hidden_sizes=(32,)))
    with torch.no_grad():
        model.linears[0].weight.zero_()
        model.linears[0].bias.copy_(torch.tensor([1.0, 2.0, 2.0, -1.0] * 8))
    units = first_layer_units(model, image(), k=32)
    ranked = [u.index for u in units]
    assert ranked[:8] == [1, 2, 5, 6, 9, 10, 13, 14]  # the 2s, lowest index first
    assert ranked[-8:] == [3, 7, 11, 15, 19, 23, 27, 31]  # ReLU(−1) = 0 ties last, by index


def test_softmax_regression_units_are_the_class_templates():
    model = model_for(ModelSpec(hidden_sizes=()))
    x = image(8)
    units = first_layer_units(model, x, k=20)  # capped at the 10 classes
    with torch.no_grad():
        logits = model(x)[0]
    assert [u.index for u in units] == sorted(range(10), key=lambda i: (-float(logits[i]), i))
    for u in units:
        assert u.layer == "logits" and u.pre_activation == u.post_activation
        assert u.pre_activation == pytest.approx(float(logits[u.index]), abs=ATOL)


# --------------------------------------------------------------------------- saliency


def reference_saliency(model: nn.Module, x: torch.Tensor, target: int) -> np.ndarray:
    x = x.detach().clone().view(1, 1, 28, 28).requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x)[0, target], x)
    return grad.view(28, 28).numpy()


def snapshot(model: nn.Module):
    return [(name, p.detach().clone(), p.requires_grad, p.grad) for name, p in model.named_parameters()]


@pytest.mark.parametrize("spec", [MLP_SPEC, CNN_SPEC, ModelSpec(hidden_sizes=(), activation="tanh")])
def test_saliency_is_the_gradient_of_the_logit(spec):
    model = model_for(spec)
    x = image(9)
    maps = {target: saliency(model, x, target) for target in (3, 7)}
    for target, got in maps.items():
        assert got.shape == (28, 28)
        assert close(got, reference_saliency(model, x, target))
    assert not np.allclose(maps[3], maps[7])  # "why 3?" and "why not 7?" are different questions


@pytest.mark.parametrize("spec", [MLP_SPEC, CNN_SPEC])
def test_saliency_works_inside_inference_mode_and_no_grad(spec):
    model = model_for(spec)
    expected = reference_saliency(model, image(10), 5)
    with torch.inference_mode():
        x = image(10)  # an inference tensor
        inside = saliency(model, x, 5)
    with torch.no_grad():
        also = saliency(model, image(10), np.int64(5))
    assert close(inside, expected) and close(also, expected)


@pytest.mark.parametrize("spec", [MLP_SPEC, CNN_SPEC])
def test_saliency_leaves_the_shared_model_untouched(spec):
    model = model_for(spec)
    frozen = dict(list(model.named_parameters())[::2])  # half frozen, as a shared model may be
    for p in frozen.values():
        p.requires_grad_(False)
    before = snapshot(model)
    expected = reference_saliency(model, image(11), 2)
    for p in model.parameters():  # the reference must not leave anything behind either
        assert p.grad is None
    assert close(saliency(model, image(11), 2), expected)
    after = snapshot(model)
    for (name, value, flag, grad), (_, value2, flag2, grad2) in zip(before, after, strict=True):
        assert torch.equal(value, value2), name  # bit-identical
        assert flag == flag2 and grad is None and grad2 is None, name
    assert not model.training
    assert all_forward_hooks(model) == []


def test_saliency_works_with_all_parameters_frozen():
    model = model_for(MLP_SPEC)
    expected = reference_saliency(model, image(12), 4)
    model.requires_grad_(False)
    assert close(saliency(model, image(12), 4), expected)
    assert not any(p.requires_grad for p in model.parameters())


def test_nothing_changes_the_train_eval_mode():
    model = build_model(MLP_SPEC, seed=0).train()
    activations(model, image()), saliency(model, image(), 1), first_layer_units(model, image())
    assert model.training
    model.eval()
    activations(model, image()), saliency(model, image(), 1), first_layer_units(model, image())
    assert not model.training


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "x, code",
    [
        (torch.zeros(28, 28), "insight.bad_shape"),
        (torch.zeros(784), "insight.bad_shape"),
        (torch.zeros(2, 1, 28, 28), "insight.bad_shape"),
        (torch.zeros(1, 28, 27), "insight.bad_shape"),
        (torch.zeros(1, 28, 28, dtype=torch.uint8), "insight.bad_dtype"),
        (torch.full((1, 28, 28), float("nan")), "insight.not_finite"),
        ([[0.0] * 28] * 28, "insight.not_tensor"),
    ],
)
def test_bad_images_raise_coded_errors(x, code):
    for fn in (lambda m: activations(m, x), lambda m: saliency(m, x, 0), lambda m: first_layer_units(m, x)):
        with pytest.raises(InsightError) as caught:
            fn(model_for(MLP_SPEC))
        assert caught.value.code == code
        assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("target", [-1, 10, 1.0, True, "3", None])
def test_bad_targets_raise(target):
    with pytest.raises(InsightError) as caught:
        saliency(model_for(CNN_SPEC), image(), target)
    assert caught.value.code == "insight.bad_target"
    assert "0..9" in str(caught.value)


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_bad_k_raises(k):
    with pytest.raises(InsightError) as caught:
        first_layer_units(model_for(MLP_SPEC), image(), k=k)
    assert caught.value.code == "insight.bad_k"


def test_models_insight_cannot_read():
    cases = [
        (lambda: first_layer_units(model_for(CNN_SPEC), image()), "insight.not_mlp"),
        (
            lambda: activations(model_for(ModelSpec(hidden_sizes=(4,), in_features=5)), image()),
            "insight.not_image_model",
        ),
        (lambda: activations(nn.Linear(784, 10), image()), "insight.unknown_model"),
    ]
    for call, code in cases:
        with pytest.raises(InsightError) as caught:
            call()
        assert caught.value.code == code


def test_errors_have_templates_and_survive_pickling():
    error = InsightError("insight.bad_shape", shape=[28, 28])
    assert "[28, 28]" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.params, str(copy)) == (error.code, error.params, str(error))
    assert {code for code in all_templates() if code.startswith("insight.")} == set(InsightError.templates)
