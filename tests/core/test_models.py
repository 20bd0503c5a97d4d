"""core.models: the lecture's Net and CNN, specs, seeded init and parameter counts."""

import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from core.models import (
    ACTIVATIONS,
    CNN,
    MLP,
    ModelSpec,
    build_cnn,
    build_mlp,
    build_model,
    count_parameters,
    layer_table,
)


class LectureNet(nn.Module):
    """The lecture's Net, verbatim, as the reference."""

    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(784, 512)
        self.l2 = nn.Linear(512, 256)
        self.l3 = nn.Linear(256, 128)
        self.l4 = nn.Linear(128, 64)
        self.l5 = nn.Linear(64, 10)

    def forward(self, x):
        x = x.view(-1, 784)
        x = F.relu(self.l1(x))
        x = F.relu(self.l2(x))
        x = F.relu(self.l3(x))
        x = F.relu(self.l4(x))
        return self.l5(x)


def test_default_mlp_is_the_lecture_net():
    model = build_mlp()
    reference = LectureNet()
    assert [(layer.in_features, layer.out_features) for layer in model.linears] == [
        (784, 512),
        (512, 256),
        (256, 128),
        (128, 64),
        (64, 10),
    ]
    for ours, theirs in zip(model.linears, [reference.l1, reference.l2, reference.l3, reference.l4, reference.l5]):
        theirs.load_state_dict(ours.state_dict())
    X = torch.randn(5, 1, 28, 28)
    assert torch.allclose(model(X), reference(X), atol=1e-6)
    assert count_parameters(model) == sum(p.numel() for p in reference.parameters())


def test_no_hidden_layers_is_multinomial_logistic_regression():
    model = build_mlp(hidden_sizes=())
    assert len(model.linears) == 1
    X = torch.randn(4, 1, 28, 28)
    W, b = model.linears[0].weight, model.linears[0].bias
    assert torch.allclose(model(X), X.view(4, 784) @ W.T + b, atol=1e-6)  # logits = XWᵀ + b


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activations_match_torch(activation):
    model = build_mlp(hidden_sizes=(7,), activation=activation, in_features=5, num_classes=3)
    X = torch.randn(6, 5)
    hidden = getattr(torch, activation)(model.linears[0](X))
    assert torch.allclose(model(X), model.linears[1](hidden), atol=1e-6)


def test_mlp_reads_images_and_table_rows():
    assert build_mlp()(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    assert build_mlp((4,), in_features=6, num_classes=2)(torch.randn(8, 6)).shape == (8, 2)


def test_cnn_is_the_lecture_cnn():
    model = build_cnn()
    assert (model.conv1.in_channels, model.conv1.out_channels, model.conv1.kernel_size) == (1, 10, (5, 5))
    assert (model.conv2.in_channels, model.conv2.out_channels, model.conv2.kernel_size) == (10, 20, (5, 5))
    assert (model.fc.in_features, model.fc.out_features) == (320, 10)
    X = torch.randn(2, 1, 28, 28)
    x = F.relu(F.max_pool2d(model.conv1(X), 2))
    x = F.relu(F.max_pool2d(model.conv2(x), 2))
    assert torch.allclose(model(X), model.fc(x.view(2, -1)), atol=1e-6)


@pytest.mark.parametrize(
    "spec, words",
    [
        (ModelSpec(hidden_sizes=(8,) * 9), "at most 8 hidden layers"),
        (ModelSpec(hidden_sizes=(0,)), "1..4096"),
        (ModelSpec(hidden_sizes=(4097,)), "1..4096"),
        (ModelSpec(activation="gelu"), "unknown activation"),
        (ModelSpec(kind="rnn"), "unknown model kind"),
        (ModelSpec(num_classes=1), "num_classes"),
        (ModelSpec(kind="cnn", in_features=20), "28×28"),
    ],
)
def test_validate_names_the_problem(spec, words):
    with pytest.raises(ValueError, match=words):
        spec.validate()
    with pytest.raises(ValueError):
        build_model(spec)


def test_limits_are_inclusive():
    ModelSpec(hidden_sizes=(1, 4096, 3, 4, 5, 6, 7, 8)).validate()


def test_spec_json_round_trip():
    for spec in [
        ModelSpec(),
        ModelSpec(hidden_sizes=()),
        ModelSpec(kind="cnn"),
        ModelSpec(hidden_sizes=(3, 2), activation="tanh", in_features=4, num_classes=3),
    ]:
        text = spec.to_json()
        assert json.loads(text)["kind"] == spec.kind
        assert ModelSpec.from_json(text) == spec
        assert ModelSpec.from_dict(spec.to_dict()) == spec


def test_spec_from_bad_json():
    with pytest.raises(ValueError, match="not valid JSON"):
        ModelSpec.from_json("{nope")
    with pytest.raises(ValueError, match="unknown model spec fields"):
        ModelSpec.from_dict({"kind": "mlp", "layers": 3})


def test_labels():
    assert ModelSpec().label() == "MLP 784-512-256-128-64-10 ReLU"
    assert ModelSpec(hidden_sizes=(), activation="sigmoid").label().startswith("Softmax regression 784-10")
    assert ModelSpec(hidden_sizes=(100,), activation="sigmoid").label() == "MLP 784-100-10 Sigmoid"
    assert "CNN" in ModelSpec(kind="cnn").label()


def test_build_model_types_and_spec():
    assert isinstance(build_model(ModelSpec()), MLP)
    assert isinstance(build_model(ModelSpec(kind="cnn")), CNN)
    assert build_model(ModelSpec(hidden_sizes=(5,), activation="tanh")).spec == ModelSpec(
        hidden_sizes=(5,), activation="tanh"
    )


def test_seeded_init_is_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = build_model(ModelSpec(hidden_sizes=(16,)), seed=7)
    b = build_model(ModelSpec(hidden_sizes=(16,)), seed=7)
    c = build_model(ModelSpec(hidden_sizes=(16,)), seed=8)
    assert torch.equal(torch.rand(3), expected_next)  # global stream untouched
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.linears[0].weight, c.linears[0].weight)


@pytest.mark.parametrize(
    "spec",
    [
        ModelSpec(),
        ModelSpec(hidden_sizes=()),
        ModelSpec(kind="cnn"),
        ModelSpec(hidden_sizes=(3, 9), in_features=4, num_classes=2),
    ],
)
def test_layer_table_counts_match_torch(spec):
    model = build_model(spec)
    rows = layer_table(model)
    assert rows == layer_table(spec)  # from the spec alone, without allocating weights
    assert sum(r.params for r in rows) == count_parameters(model) == sum(p.numel() for p in model.parameters())
    modules = dict(model.named_modules())
    for row in rows:
        if row.name in modules:
            assert row.params == sum(p.numel() for p in modules[row.name].parameters())
        else:
            assert row.params == 0
    assert rows[-1].out_shape == (spec.num_classes,)


def test_cnn_table_shapes_follow_a_real_forward():
    model = build_cnn()
    X = torch.randn(1, 1, 28, 28)
    shapes = {
        "conv1": model.conv1(X).shape[1:],
        "conv2": model.conv2(F.max_pool2d(model.conv1(X), 2)).shape[1:],
    }
    rows = {r.name: r for r in layer_table(model)}
    assert rows["conv1"].out_shape == tuple(shapes["conv1"])
    assert rows["conv2"].out_shape == tuple(shapes["conv2"])
    assert rows["flatten"].out_shape == (model.fc.in_features,)


def test_default_mlp_parameter_count():
    # 784·512+512 + 512·256+256 + 256·128+128 + 128·64+64 + 64·10+10
    assert count_parameters(build_mlp()) == 575_050


def test_state_dict_keys_are_unchanged():
    """Checkpoints saved before the CNN's pooling and ReLU became modules still load."""
    assert list(build_cnn().state_dict()) == [
        "conv1.weight",
        "conv1.bias",
        "conv2.weight",
        "conv2.bias",
        "fc.weight",
        "fc.bias",
    ]
    assert list(build_mlp((8, 4)).state_dict()) == [
        "linears.0.weight",
        "linears.0.bias",
        "linears.1.weight",
        "linears.1.bias",
        "linears.2.weight",
        "linears.2.bias",
    ]


def test_cnn_loads_a_state_dict_of_the_functional_cnn():
    class FunctionalCNN(nn.Module):  # the CNN as it was: pooling and ReLU inside forward
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
            self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
            self.fc = nn.Linear(320, 10)

        def forward(self, x):
            x = F.relu(F.max_pool2d(self.conv1(x), 2))
            x = F.relu(F.max_pool2d(self.conv2(x), 2))
            return self.fc(x.flatten(1))

    old = FunctionalCNN()
    model = build_cnn()
    model.load_state_dict(old.state_dict(), strict=True)
    X = torch.randn(3, 1, 28, 28)
    assert torch.equal(model(X), old(X))
