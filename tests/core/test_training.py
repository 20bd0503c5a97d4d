"""core.training: fit's maths against hand-written SGD/Adam, history, evaluation, divergence."""

import io
import json
import math

import pytest
import torch
import torch.nn.functional as F

from core.models import ModelSpec, build_model
from core.training import (
    ConfigError,
    DivergedError,
    History,
    TrainConfig,
    TrainLoop,
    device_label,
    evaluate,
    fit,
    pick_device,
    predict_probs,
)


def blobs(n=120, features=6, classes=3, seed=0):
    """A small learnable problem: class means apart, unit noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    centres = torch.randn(classes, features, generator=g) * 2.0
    X = centres[y] + torch.randn(n, features, generator=g)
    return X, y


def small_model(seed=0, hidden=(8,), features=6, classes=3):
    return build_model(ModelSpec(hidden_sizes=hidden, in_features=features, num_classes=classes), seed=seed)


def cross_entropy_by_hand(logits, y):
    """-mean log softmax(logits)[y], softmax written out."""
    exp = torch.exp(logits - logits.max(dim=1, keepdim=True).values)
    probs = exp / exp.sum(dim=1, keepdim=True)
    return -torch.log(probs[torch.arange(len(y)), y]).mean()


def sgd_by_hand(model, config, X, y):
    """The lecture's loop written out: v = γv + g; θ -= lr·v; a fresh randperm each epoch."""
    params = list(model.parameters())
    velocity = [torch.zeros_like(p) for p in params]
    generator = torch.Generator().manual_seed(config.seed)
    losses = []
    for _ in range(config.epochs):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), config.batch_size):
            idx = order[start : start + config.batch_size]
            loss = cross_entropy_by_hand(model(X[idx]), y[idx])
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, v, g in zip(params, velocity, grads):
                    v.mul_(config.momentum).add_(g)
                    p.sub_(config.lr * v)
            losses.append(loss.item())
    return losses


# --------------------------------------------------------------------------- config


def test_config_defaults_are_the_lecture():
    c = TrainConfig()
    assert (c.epochs, c.batch_size, c.lr, c.momentum, c.seed, c.log_every, c.optimizer) == (
        10,
        64,
        0.01,
        0.5,
        0,
        300,
        "sgd",
    )
    assert TrainConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": 0.0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"momentum": 1.0}, "momentum"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"log_every": 0}, "log_every"),
        ({"epochs": 2.5}, "epochs"),
    ],
)
def test_config_validate_names_the_problem(changes, words):
    with pytest.raises(ValueError, match=words):
        TrainConfig(**changes).validate()


# --------------------------------------------------------------------------- the maths


def test_one_step_is_the_hand_written_update():
    X, y = blobs(40)
    model, reference = small_model(), small_model()
    config = TrainConfig(epochs=1, batch_size=40, lr=0.1, momentum=0.5)
    loss = cross_entropy_by_hand(reference(X), y)
    grads = torch.autograd.grad(loss, list(reference.parameters()))
    history = fit(model, config, (X, y), (X, y), device="cpu")
    for p, p0, g in zip(model.parameters(), reference.parameters(), grads):
        assert torch.allclose(p, p0 - 0.1 * g, atol=1e-6)  # first step: v = g
    assert history.running_loss[0].loss == pytest.approx(loss.item(), rel=1e-5)


def test_fit_matches_hand_written_sgd_with_momentum_over_epochs():
    X, y = blobs(50)  # batches of 16: 16, 16, 16, 2 — the short last batch included
    config = TrainConfig(epochs=3, batch_size=16, lr=0.05, momentum=0.9, seed=4, log_every=1)
    model, reference = small_model(seed=1), small_model(seed=1)
    expected = sgd_by_hand(reference, config, X, y)
    history = fit(model, config, (X, y), (X, y), device="cpu")
    assert [p.loss for p in history.running_loss] == pytest.approx(expected, rel=1e-4)
    for p, q in zip(model.parameters(), reference.parameters()):
        assert torch.allclose(p, q, atol=1e-5)


def test_cnn_step_is_the_hand_written_update_and_weights_come_back_contiguous():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(16, 1, 28, 28, generator=g), torch.randint(0, 10, (16,), generator=g)
    spec = ModelSpec(kind="cnn")
    model, reference = build_model(spec, seed=0), build_model(spec, seed=0)
    config = TrainConfig(epochs=2, batch_size=8, lr=0.05, momentum=0.5, log_every=1)
    expected = sgd_by_hand(reference, config, X, y)
    history = fit(model, config, (X, y), (X, y), device="cpu")
    assert [p.loss for p in history.running_loss] == pytest.approx(expected, rel=1e-4)
    for p, q in zip(model.parameters(), reference.parameters()):
        assert torch.allclose(p, q, atol=1e-5)
        assert p.is_contiguous()


def test_adam_one_step_is_the_hand_written_update():
    X, y = blobs(30)
    model, reference = small_model(), small_model()
    config = TrainConfig(epochs=1, batch_size=30, lr=0.01, optimizer="adam")
    grads = torch.autograd.grad(cross_entropy_by_hand(reference(X), y), list(reference.parameters()))
    fit(model, config, (X, y), (X, y), device="cpu")
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for p, p0, g in zip(model.parameters(), reference.parameters(), grads):
        m_hat = (1 - beta1) * g / (1 - beta1)
        v_hat = (1 - beta2) * g * g / (1 - beta2)
        assert torch.allclose(p, p0 - 0.01 * m_hat / (v_hat.sqrt() + eps), atol=1e-6)


def test_each_epoch_draws_a_fresh_shuffle():
    X, y = blobs(12)
    batches = []
    model = small_model()
    original_forward = model.forward
    model.forward = lambda x: (batches.append(x.detach().clone()), original_forward(x))[1]
    fit(model, TrainConfig(epochs=2, batch_size=12, lr=0.01), (X, y), (X[:1], y[:1]), device="cpu")
    first, second = batches[0], batches[2]  # batches[1] is epoch 1's evaluation
    assert first.shape == second.shape == X.shape
    assert not torch.equal(first, second)  # a new order ...
    assert torch.allclose(first.sum(0), X.sum(0), atol=1e-4)  # ... of the same rows


# --------------------------------------------------------------------------- history


def test_history_points_epochs_and_test_metrics():
    X, y = blobs(60)
    Xt, yt = blobs(30, seed=1)
    config = TrainConfig(epochs=2, batch_size=10, lr=0.05, log_every=4)  # 6 batches an epoch
    model = small_model()
    history = fit(model, config, (X, y), (Xt, yt), device="cpu")
    assert [p.step for p in history.running_loss] == [4, 6, 10, 12]
    assert [p.epoch for p in history.running_loss] == pytest.approx([4 / 6, 1.0, 10 / 6, 2.0])
    assert [e.epoch for e in history.epochs] == [1, 2]
    assert history.steps == 12 and not history.stopped
    assert all(e.seconds > 0 for e in history.epochs)
    loss, accuracy = evaluate(model, Xt, yt)  # final model = the one after epoch 2
    assert history.epochs[-1].test_loss == pytest.approx(loss, rel=1e-5)
    assert history.test_accuracy[-1] == accuracy == history.final_accuracy
    assert all(0.0 <= a <= 1.0 for a in history.test_accuracy)


def test_train_loss_is_the_sample_mean_of_batch_losses():
    X, y = blobs(25)
    config = TrainConfig(epochs=1, batch_size=10, lr=0.05, log_every=1)  # batches of 10, 10, 5
    history = fit(small_model(), config, (X, y), (X, y), device="cpu")
    batch_losses = [p.loss for p in history.running_loss]
    assert history.epochs[0].train_loss == pytest.approx(
        (10 * batch_losses[0] + 10 * batch_losses[1] + 5 * batch_losses[2]) / 25
    )


def test_training_learns():
    X, y = blobs(200)
    history = fit(
        small_model(), TrainConfig(epochs=5, batch_size=20, lr=0.1, momentum=0.9), (X, y), (X, y), device="cpu"
    )
    assert history.epochs[-1].train_loss < history.epochs[0].train_loss
    assert history.final_accuracy > 0.9


def test_final_analysis_against_a_plain_loop():
    X, y = blobs(80)
    Xt, yt = blobs(40, seed=3)
    model = small_model()
    history = fit(model, TrainConfig(epochs=1, batch_size=16, lr=0.02), (X, y), (Xt, yt), device="cpu")
    probs = torch.softmax(model(Xt), dim=1).detach()
    pred = probs.argmax(1)
    confusion = [[0] * 3 for _ in range(3)]
    for t, p in zip(yt.tolist(), pred.tolist()):
        confusion[t][p] += 1
    assert history.confusion == confusion
    for c in range(3):
        assert history.per_class_accuracy[c] == pytest.approx(confusion[c][c] / sum(confusion[c]))
    wrong = [i for i in range(40) if pred[i] != yt[i]]
    assert sorted(history.misclassified) == wrong and history.misclassified_total == len(wrong)
    confidences = [probs[i, pred[i]].item() for i in history.misclassified]
    assert confidences == sorted(confidences, reverse=True)  # most confident mistakes first
    assert history.misclassified_true == [yt[i].item() for i in history.misclassified]
    assert history.misclassified_pred == [pred[i].item() for i in history.misclassified]
    assert torch.allclose(
        torch.tensor(history.misclassified_probs).reshape(-1, 3), probs[history.misclassified].reshape(-1, 3), atol=1e-6
    )
    assert history.final_accuracy == pytest.approx(1 - len(wrong) / 40)


def test_history_dict_round_trip_through_json():
    X, y = blobs(30)
    history = fit(small_model(), TrainConfig(epochs=2, batch_size=8, log_every=2), (X, y), (X, y), device="cpu")
    again = History.from_dict(json.loads(json.dumps(history.to_dict())))
    assert again == history
    assert again.test_accuracy == history.test_accuracy


def test_evaluate_and_predict_probs_match_torch():
    X, y = blobs(50)
    model = small_model()
    loss, accuracy = evaluate(model, X, y, batch_size=7)  # uneven batches
    logits = model(X).detach()
    assert loss == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-5)
    assert accuracy == pytest.approx((logits.argmax(1) == y).float().mean().item())
    probs = predict_probs(model, X, batch_size=7)
    assert probs.shape == (50, 3)
    assert torch.allclose(probs, torch.softmax(logits, 1), atol=1e-6)
    assert torch.allclose(probs.sum(1), torch.ones(50), atol=1e-6)


# --------------------------------------------------------------------------- control, failure


def test_should_stop_ends_within_one_batch_and_fills_the_analysis():
    X, y = blobs(100)
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 3  # allow three batches

    model = small_model()
    config = TrainConfig(epochs=5, batch_size=10, log_every=2)
    history = fit(model, config, (X, y), (X, y), should_stop=should_stop, device="cpu")
    assert history.stopped and history.steps == 3
    assert [p.step for p in history.running_loss] == [2, 3]  # the partial window is kept
    assert history.epochs == []  # no epoch completed
    assert sum(map(sum, history.confusion)) == 100 and history.final_accuracy is not None
    assert not model.training


def test_nan_loss_raises_diverged_at_that_step_before_the_update():
    X, y = blobs(40)
    X_bad = X.clone()
    steps = []
    model = small_model()
    config = TrainConfig(epochs=1, batch_size=10, lr=0.01, seed=0, log_every=1)
    bad_row = torch.randperm(40, generator=torch.Generator().manual_seed(0))[25].item()  # in batch 3
    X_bad[bad_row] = float("nan")
    with pytest.raises(DivergedError) as info:
        fit(model, config, (X_bad, y), (X, y), on_progress=lambda p: steps.append(p.step), device="cpu")
    assert info.value.step == 3 == steps[-1] + 1
    assert math.isnan(info.value.loss)
    assert isinstance(info.value, RuntimeError)
    assert info.value.history.steps == 2
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the bad step was not applied


def test_huge_learning_rate_diverges():
    X, y = blobs(200)
    with pytest.raises(DivergedError) as info:
        fit(
            small_model(hidden=(32, 32)),
            TrainConfig(epochs=20, batch_size=20, lr=1000.0, momentum=0.9),
            (X, y),
            (X, y),
            device="cpu",
        )
    assert info.value.step >= 1 and not math.isfinite(info.value.loss)
    assert f"step {info.value.step}" in str(info.value)


def test_same_seed_same_history_other_seed_differs():
    X, y = blobs(64)
    config = TrainConfig(epochs=2, batch_size=8, lr=0.05, seed=3, log_every=2)
    run = lambda cfg: fit(small_model(seed=5), cfg, (X, y), (X, y), device="cpu")
    a, b = run(config), run(config)
    assert a.running_loss == b.running_loss and a.test_accuracy == b.test_accuracy
    c = run(TrainConfig(epochs=2, batch_size=8, lr=0.05, seed=4, log_every=2))
    assert [p.loss for p in c.running_loss] != [p.loss for p in a.running_loss]


def test_fit_does_not_touch_the_global_rng():
    X, y = blobs(20)
    torch.manual_seed(9)
    expected = torch.rand(2)
    torch.manual_seed(9)
    fit(small_model(), TrainConfig(epochs=1, batch_size=5), (X, y), (X, y), device="cpu")
    assert torch.equal(torch.rand(2), expected)


@pytest.mark.parametrize(
    "train, words",
    [
        ((torch.zeros(4, 6), torch.zeros(3, dtype=torch.int64)), "4 inputs but 3 labels"),
        ((torch.zeros(4, 6), torch.zeros(4)), "int64"),
        ((torch.zeros(4, 6, dtype=torch.uint8), torch.zeros(4, dtype=torch.int64)), "floats"),
        ((torch.zeros(0, 6), torch.zeros(0, dtype=torch.int64)), "empty"),
        ("nope", "pair"),
    ],
)
def test_bad_data_is_a_readable_error(train, words):
    X, y = blobs(10)
    with pytest.raises(ValueError, match=words):
        fit(small_model(), TrainConfig(epochs=1), train, (X, y), device="cpu")


def test_fit_leaves_model_in_eval_mode_on_its_device():
    X, y = blobs(20)
    model = small_model()
    fit(model, TrainConfig(epochs=1, batch_size=10), (X, y), (X, y), device="cpu")
    assert not model.training
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_pick_device_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == torch.device("cuda")


def test_device_labels():
    assert device_label("cpu") == "CPU"
    assert device_label(torch.device("mps")) == "Apple GPU (MPS)"
    assert device_label("cuda").startswith("GPU")


# --------------------------------------------------------------------------- end to end


def test_default_mlp_one_epoch_on_the_shipped_subset_reaches_85_percent():
    from core.data import load_mnist_split, normalize

    train = load_mnist_split(train=True, sources=("subset",))
    test = load_mnist_split(train=False, sources=("subset",))
    assert train.is_subset and len(train.images) >= 5000
    model = build_model(ModelSpec(), seed=0)  # the lecture's Net
    # 6,000 images are 94 batches: the lecture's lr 0.01 / momentum 0.5 needs its 938 batches of
    # the full set for one good epoch, so the subset takes larger steps
    config = TrainConfig(epochs=1, lr=0.05, momentum=0.9, seed=0)
    history = fit(
        model, config, (normalize(train.images), train.labels), (normalize(test.images), test.labels), device="cpu"
    )
    assert history.test_accuracy[0] >= 0.85
    assert len(history.confusion) == 10 and sum(map(sum, history.confusion)) == len(test.images)


def test_history_copy_shares_no_list_with_the_original():
    from dataclasses import fields

    from core.training import EpochStats, History, LossPoint

    h = History(
        running_loss=[LossPoint(1, 0.1, 2.0)],
        epochs=[EpochStats(1, 1.0, 0.9, 0.5, 1.0)],
        per_class_accuracy=[0.5, 0.5],
        confusion=[[1, 0], [0, 1]],
        misclassified=[3],
        misclassified_probs=[[0.4, 0.6]],
        misclassified_pred=[1],
        misclassified_true=[0],
    )
    c = h.copy()
    assert c == h
    for f in fields(History):
        value = getattr(h, f.name)
        if isinstance(value, list):  # every list (and every inner row) is a new one
            assert getattr(c, f.name) is not value, f.name
            for inner_c, inner_h in zip(getattr(c, f.name), value):
                if isinstance(inner_h, list):
                    assert inner_c is not inner_h, f.name
    c.running_loss.append(LossPoint(2, 0.2, 1.0))
    c.confusion[0][0] = 99
    assert len(h.running_loss) == 1 and h.confusion[0][0] == 1


# --------------------------------------------------------------------------- resume states


def _numbers(history):
    """Everything a history holds except wall-clock seconds, which no two runs share."""
    d = history.to_dict()
    d["epochs"] = [{k: v for k, v in e.items() if k != "seconds"} for e in d["epochs"]]
    return d


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("cut", ["epoch", "mid-epoch"])
def test_a_resumed_loop_trains_the_numbers_of_an_uninterrupted_one(optimizer, cut):
    config = TrainConfig(epochs=4, batch_size=16, lr=0.05, momentum=0.9, log_every=3, seed=7, optimizer=optimizer)
    X, y = blobs()
    whole = TrainLoop(small_model(seed=7), config, (X, y), (X, y), "cpu")
    whole.run()
    expected = whole.finish()

    first = TrainLoop(small_model(seed=7), config, (X, y), (X, y), "cpu")
    first.run(max_batches=2 * first.per_epoch + (3 if cut == "mid-epoch" else 0))
    buffer = io.BytesIO()
    torch.save(first.resume_state(), buffer)  # as the store keeps it: bytes, read back without pickle
    state = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    torch.manual_seed(12345)  # the process's RNG moved on meanwhile: the state sets it back

    # a fresh model with another seed: every weight must come from the state
    second = TrainLoop(small_model(seed=99), config, (X, y), (X, y), "cpu")
    second.restore(state)
    assert second.step == first.step
    second.run()
    resumed = second.finish()
    assert _numbers(resumed) == _numbers(expected)
    for a, b in zip(whole.model.parameters(), second.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_resume_state_of_another_kind_is_refused():
    config = TrainConfig(epochs=2, batch_size=16)
    X, y = blobs()
    loop = TrainLoop(small_model(seed=0), config, (X, y), (X, y), "cpu")
    with pytest.raises(ConfigError):
        loop.restore({"format": "something else", "epoch": 0})
