"""The second CNN: its shapes, its table, its cost in the room's model, and that it loads like the others."""

import torch

from core.checkpoint import checkpoint_bytes, load_checkpoint
from core.limits import RoomLimits, estimate_seconds, macs_per_sample, plan_run
from core.models import CNN, CNN2, ModelSpec, build_model, count_parameters, layer_table
from core.training import TrainConfig

SPEC = ModelSpec(kind="cnn2")
CONFIG = TrainConfig(epochs=2, batch_size=256, lr=0.004, optimizer="adam", schedule="onecycle")


def test_shapes_and_parameter_table():
    model = build_model(SPEC, seed=0)
    assert isinstance(model, CNN2) and isinstance(model, CNN)  # core.insight reads its stages
    assert model(torch.randn(5, 1, 28, 28)).shape == (5, 10)
    table = layer_table(SPEC)
    assert sum(row.params for row in table) == count_parameters(model)
    assert [row.name for row in table if row.params] == ["conv1", "conv2", "fc1", "fc"]
    assert SPEC.label() == "CNN conv24-conv32-256-10 ReLU"


def test_macs_count_each_kernel_size():
    expected = 24 * 24 * 24 * 25 + 32 * 10 * 10 * 24 * 9 + 800 * 256 + 256 * 10
    assert macs_per_sample(SPEC) == expected


def test_two_epochs_on_full_mnist_fit_the_default_room():
    plan = plan_run(RoomLimits(), SPEC, CONFIG, 60_000)
    assert plan.allowed and plan.estimate_s == estimate_seconds(SPEC, CONFIG, 60_000)
    assert plan.estimate_s < RoomLimits().run_seconds


def test_checkpoint_round_trip():
    model = build_model(SPEC, seed=1)
    loaded = load_checkpoint(checkpoint_bytes(model, SPEC, CONFIG)).model
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(loaded(x), model.eval()(x))
