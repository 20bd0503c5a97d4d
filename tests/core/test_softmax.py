"""core.softmax: the lecture's hand-written maths against PyTorch's own softmax and losses."""

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.softmax import (
    MAX_CLASSES,
    cross_entropy,
    entropy,
    log_softmax,
    naive_softmax,
    softmax,
    walkthrough,
)

LECTURE_Z = [0.2, 0.1, -0.1]
TEMPERATURES = [0.1, 0.5, 1.0, 2.0, 10.0]


def random_cases(seed=0, per_size=3):
    rng = np.random.default_rng(seed)
    for num_classes in range(2, MAX_CLASSES + 1):
        for _ in range(per_size):
            z = rng.normal(0.0, rng.choice([0.5, 3.0, 30.0]), size=num_classes)
            yield z, int(rng.integers(num_classes))


def torch_loss(z, target, temperature=1.0):
    logits = torch.tensor(z, dtype=torch.float64).reshape(1, -1) / temperature  # [1, C]
    return F.cross_entropy(logits, torch.tensor([target])).item()


# --------------------------------------------------------------------------- the lecture's example


def test_lecture_example_gives_0_9729_by_every_route():
    w = walkthrough(LECTURE_Z, 0)
    for route, value in w.losses.items():
        assert round(value, 4) == 0.9729, route
    assert w.max_route_difference < 1e-6
    # The lecture's NumPy lines, verbatim: y_pred = exp(z) / sum(exp(z)); loss = -sum(y * log(y_pred)).
    z, y = np.array(LECTURE_Z), np.array([1.0, 0.0, 0.0])
    y_pred = np.exp(z) / np.exp(z).sum()
    assert w.loss == pytest.approx(-np.sum(y * np.log(y_pred)), abs=1e-12)
    np.testing.assert_allclose(w.probs, [0.3780, 0.3420, 0.2800], atol=5e-5)
    assert w.prediction == 0


def test_every_intermediate_is_the_step_it_names():
    w = walkthrough(LECTURE_Z, 2, temperature=0.5)
    np.testing.assert_array_equal(w.z, LECTURE_Z)
    np.testing.assert_allclose(w.z_scaled, np.array(LECTURE_Z) / 0.5)
    np.testing.assert_allclose(w.shifted, w.z_scaled - w.z_scaled.max())
    assert w.shifted.max() == 0.0
    np.testing.assert_allclose(w.exp, np.exp(w.shifted))
    assert np.all((w.exp > 0) & (w.exp <= 1))
    assert w.exp_sum == pytest.approx(w.exp.sum()) and w.exp_sum >= 1.0
    np.testing.assert_allclose(w.probs, w.exp / w.exp_sum)
    assert w.probs.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(w.log_probs, np.log(w.probs), atol=1e-12)
    np.testing.assert_array_equal(w.one_hot, [0.0, 0.0, 1.0])
    assert w.target == 2 and w.num_classes == 3
    assert w.loss == pytest.approx(-math.log(w.probs[2]))


# --------------------------------------------------------------------------- against PyTorch


@pytest.mark.parametrize("temperature", TEMPERATURES)
def test_random_logits_match_pytorch(temperature):
    for z, target in random_cases(seed=int(temperature * 10)):
        w = walkthrough(z, target, temperature)
        scaled = torch.tensor(z, dtype=torch.float64) / temperature
        np.testing.assert_allclose(w.probs, torch.softmax(scaled, 0).numpy(), rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(w.log_probs, torch.log_softmax(scaled, 0).numpy(), rtol=1e-9, atol=1e-12)
        assert w.loss == pytest.approx(torch_loss(z, target, temperature), rel=1e-9, abs=1e-12)
        assert w.max_route_difference < 1e-6
        assert w.prediction == int(np.argmax(z))


@pytest.mark.parametrize("temperature", TEMPERATURES)
def test_gradient_formula_matches_autograd_and_finite_differences(temperature):
    for z, target in random_cases(seed=7, per_size=2):
        w = walkthrough(z, target, temperature)
        np.testing.assert_allclose(w.grad_formula, w.grad_autograd, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(w.grad_formula, (w.probs - w.one_hot) / temperature, atol=1e-15)
        assert abs(w.grad_formula.sum()) < 1e-9  # probs and one-hot both sum to 1
        # Neither formula nor autograd: central differences of the loss itself.
        h = 1e-6 * max(1.0, temperature)
        numeric = [
            (torch_loss(z + h * e, target, temperature) - torch_loss(z - h * e, target, temperature)) / (2 * h)
            for e in np.eye(len(z))
        ]
        np.testing.assert_allclose(w.grad_formula, numeric, atol=1e-5)


def test_works_inside_inference_mode():
    """The Draw page calls it next to a model's forward pass under inference_mode."""
    with torch.inference_mode():
        w = walkthrough(LECTURE_Z, 1)
    np.testing.assert_allclose(w.grad_autograd, w.grad_formula, atol=1e-12)


def test_helpers_read_like_the_maths_and_match_pytorch():
    for z, target in random_cases(seed=3, per_size=1):
        t = torch.tensor(z, dtype=torch.float64)
        np.testing.assert_allclose(softmax(z), torch.softmax(t, 0).numpy(), rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(log_softmax(z), torch.log_softmax(t, 0).numpy(), rtol=1e-9, atol=1e-12)
        assert cross_entropy(z, target) == pytest.approx(torch_loss(z, target), rel=1e-9, abs=1e-12)
        p = torch.softmax(t, 0)
        assert entropy(softmax(z)) == pytest.approx(torch.distributions.Categorical(probs=p).entropy().item())


# --------------------------------------------------------------------------- stability and the overflow lesson


@pytest.mark.parametrize("target, expected_loss", [(0, 0.0), (1, 1000.0), (2, 2000.0)])
def test_huge_logits_are_stable(target, expected_loss):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, no divide-by-zero, anywhere
        w = walkthrough([1000.0, 0.0, -1000.0], target)
    assert w.loss == pytest.approx(expected_loss, abs=1e-9)
    assert w.max_route_difference < 1e-6
    np.testing.assert_allclose(w.probs, [1.0, 0.0, 0.0], atol=1e-300)
    np.testing.assert_allclose(w.grad_formula, w.grad_autograd, atol=1e-12)
    assert np.isfinite(w.log_probs).all() and np.isfinite(w.entropy)


def test_naive_softmax_shows_the_overflow_quietly():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        huge = naive_softmax([1000.0, 0.0, -1000.0])  # exp(1000) = inf, inf / inf = nan
        tiny = naive_softmax([-1000.0, -1000.0])  # exp(-1000) = 0, 0 / 0 = nan
    assert np.isnan(huge[0]) and not np.isfinite(huge).all()
    assert np.isnan(tiny).all()
    np.testing.assert_allclose(softmax([-1000.0, -1000.0]), [0.5, 0.5])
    np.testing.assert_allclose(naive_softmax(LECTURE_Z), softmax(LECTURE_Z))  # fine for small logits


def test_adding_a_constant_changes_nothing():
    a = walkthrough(LECTURE_Z, 1)
    b = walkthrough(np.array(LECTURE_Z) + 5000.0, 1)
    np.testing.assert_allclose(a.probs, b.probs, rtol=1e-9)
    assert a.loss == pytest.approx(b.loss, rel=1e-9)


def test_temperature_flattens_or_sharpens_but_keeps_the_winner():
    z = [2.0, 1.0, 0.5, -1.0]
    runs = [walkthrough(z, 0, t) for t in TEMPERATURES]
    entropies = [w.entropy for w in runs]
    assert entropies == sorted(entropies)  # hotter → flatter
    assert entropies[-1] < math.log(4) and entropies[0] > 0
    assert {w.prediction for w in runs} == {0}
    assert walkthrough([3.0] * 5, 2).entropy == pytest.approx(math.log(5))


def test_arrays_are_read_only():
    w = walkthrough(LECTURE_Z, 0)
    with pytest.raises(ValueError):
        w.probs[0] = 1.0


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "logits, target, temperature, message",
    [
        ([1.0], 0, 1.0, "2 to 10 classes"),
        (list(range(11)), 0, 1.0, "2 to 10 classes"),
        ([], 0, 1.0, "2 to 10 classes"),
        ([1.0, float("nan")], 0, 1.0, "finite"),
        ([1.0, float("inf")], 0, 1.0, "finite"),
        ([[1.0, 2.0]], 0, 1.0, "one list"),
        (["a", "b"], 0, 1.0, "numbers"),
        ("1,2", 0, 1.0, "not text"),
        ([1.0, 2.0], 2, 1.0, "from 0 to 1"),
        ([1.0, 2.0], -1, 1.0, "from 0 to 1"),
        ([1.0, 2.0], 0.5, 1.0, "whole number"),
        ([1.0, 2.0], True, 1.0, "whole number"),
        ([1.0, 2.0], 0, 0.0, "positive"),
        ([1.0, 2.0], 0, -1.0, "positive"),
        ([1.0, 2.0], 0, float("nan"), "positive"),
        ([1.0, 2.0], 0, "hot", "number"),
        ([1e308, -1e308], 0, 1.0, "overflow"),
    ],
)
def test_bad_input_gets_a_readable_message(logits, target, temperature, message):
    with pytest.raises(ValueError, match=message):
        walkthrough(logits, target, temperature)


def test_numpy_inputs_are_accepted():
    w = walkthrough(np.array([1, 2, 3], dtype=np.int64), np.int64(2), np.float32(2.0))
    assert w.target == 2 and w.temperature == 2.0 and w.z.dtype == np.float64
