"""What the network does with one input: activations layer by layer, first-layer units, saliency.

For the Draw page's "look inside". Every number comes from the model's own forward pass:
forward hooks record what its modules return (``MLP.act`` once per hidden layer, in call
order; the CNN's ``conv1``, ``relu1``, ``conv2``, ``relu2``) and are removed afterwards, also
when the forward raises. Models are shared read-only between users, so nothing here changes
a parameter, its ``.grad``, its ``requires_grad`` or the train/eval mode, and a hook records
only the forward of the thread that registered it (another user's forward passes untouched).

    x [1, 28, 28] normalized → model → hidden vectors / feature maps → logits [10] → probs [10]
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch
import torch.nn as nn

from core.errors import CodedError
from core.models import CNN, MLP

INPUT_SHAPES = ((1, 28, 28), (1, 1, 28, 28))  # one normalized image, as preprocess and data give it
PIXELS = 784
# (stage, the module whose output it is, kind): the CNN's forward, stage by stage
CNN_STAGES = (
    ("conv1", "conv1", "conv"),
    ("pool1", "relu1", "pool"),
    ("conv2", "conv2", "conv"),
    ("pool2", "relu2", "pool"),
)


class InsightError(CodedError, ValueError):
    """An input, class or model that ``core.insight`` cannot look inside."""

    templates = MappingProxyType(
        {
            "insight.not_tensor": "expected the image as a torch tensor or NumPy array, got {type}",
            "insight.bad_shape": "expected one normalized image of shape [1, 28, 28] or [1, 1, 28, 28], got {shape}",
            "insight.bad_dtype": "expected a floating-point (normalized) image, got dtype {dtype}",
            "insight.not_finite": "the image contains NaN or infinite values",
            "insight.unknown_model": "can only look inside the playground's MLP and CNN, not {type}",
            "insight.not_image_model": "this MLP reads {in_features} features, not a 28×28 image",
            "insight.not_mlp": "first-layer units exist only for an MLP, not for a {kind}",
            "insight.bad_target": "the class must be an integer in 0..{last}, got {target}",
            "insight.bad_k": "k must be a positive integer, got {k}",
        }
    )


@dataclass(frozen=True)
class LayerActivation:
    """One stage's output for this input, as the forward computed it."""

    name: str  # "hidden1".."hiddenL" (MLP) or "conv1", "pool1", "conv2", "pool2" (CNN)
    module: str  # the hooked module, e.g. "act" (call 1) or "relu1"
    kind: str  # "hidden" (after the activation), "conv" (before ReLU) or "pool" (max-pool, then ReLU)
    values: np.ndarray  # float32 [units] (MLP) or [channels, H, W] (CNN)
    zero_count: int  # how many values are exactly 0 (dead for this input, with ReLU)
    zero_fraction: float  # zero_count / values.size


@dataclass(frozen=True)
class Anatomy:
    """Everything the model computed for one input, from the first hidden layer to the probs."""

    kind: str  # "mlp" or "cnn"
    layers: tuple[LayerActivation, ...]  # in forward order; empty for softmax regression
    logits: np.ndarray  # float32 [10]
    probs: np.ndarray  # float32 [10], softmax(logits), sums to 1
    prediction: int  # argmax of the logits


@dataclass(frozen=True)
class FirstLayerUnit:
    """One first-layer unit: its weights as an image and what this input made of them.

    ``contributions.sum() + bias == pre_activation``: the unit is a weighted vote of the pixels.
    """

    index: int  # row of linears[0].weight
    layer: str  # "hidden1", or "logits" for softmax regression (the unit is a class template)
    pre_activation: float  # w·x + b, from the forward
    post_activation: float  # after the activation (== pre_activation for a class template)
    weights: np.ndarray  # float32 [28, 28]: the weight row as an image, what the unit looks for
    contributions: np.ndarray  # float32 [28, 28]: x * w, pixel by pixel
    bias: float


# --------------------------------------------------------------------------- the API


def activations(model: nn.Module, x) -> Anatomy:
    """Each hidden layer's (MLP) or stage's (CNN) output, then logits and probs, for one image."""
    kind = _check_model(model)
    x = _as_input(model, x)  # [1, 1, 28, 28]
    if kind == "mlp":
        seen, logits = _capture(model, x, ("act",))
        outputs = seen["act"]  # one per hidden layer, in call order
        _expect(len(outputs) == len(model.linears) - 1)
        layers = tuple(_layer(f"hidden{i}", f"act (call {i})", "hidden", out) for i, out in enumerate(outputs, 1))
    else:
        seen, logits = _capture(model, x, tuple(module for _, module, _ in CNN_STAGES))
        _expect(all(len(seen[module]) == 1 for _, module, _ in CNN_STAGES))
        layers = tuple(_layer(name, module, how, seen[module][0]) for name, module, how in CNN_STAGES)
    logits = logits[0]  # [10]
    probs = torch.softmax(logits, dim=0)  # [10]
    return Anatomy(kind, layers, _numpy(logits), _numpy(probs), int(logits.argmax()))


def first_layer_units(model: nn.Module, x, k: int = 8) -> tuple[FirstLayerUnit, ...]:
    """The k first-layer units that fired most for this input, strongest first (ties: lower index).

    For softmax regression (no hidden layer) the first layer is the output layer: its units are
    the 10 class templates, ranked by their logits, with post_activation == pre_activation.
    Fewer than k units in the layer: all of them.
    """
    if _check_model(model) != "mlp":
        raise InsightError("insight.not_mlp", kind=type(model).__name__)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise InsightError("insight.bad_k", k=repr(k))
    x = _as_input(model, x)  # [1, 1, 28, 28]
    first = model.linears[0]
    hidden = len(model.linears) > 1
    seen, _ = _capture(model, x, ("linears.0", "act") if hidden else ("linears.0",))
    pre = _numpy(seen["linears.0"][0][0])  # [units]: w·x + b
    post = _numpy(seen["act"][0][0]) if hidden else pre  # [units]: act's first call is hidden layer 1
    order = np.argsort(-post.astype(np.float64), kind="stable")[:k]  # stable: ties by index
    pixels = _numpy(x.reshape(PIXELS))  # [784]
    weights = first.weight.detach().cpu().numpy()  # [units, 784]
    bias = first.bias.detach().cpu().numpy()  # [units]
    return tuple(
        FirstLayerUnit(
            index=int(i),
            layer="hidden1" if hidden else "logits",
            pre_activation=float(pre[i]),
            post_activation=float(post[i]),
            weights=weights[i].reshape(28, 28).copy(),
            contributions=(pixels * weights[i]).reshape(28, 28),
            bias=float(bias[i]),
        )
        for i in order
    )


def saliency(model: nn.Module, x, target: int) -> np.ndarray:
    """∂ logit[target] / ∂ x: float32 [28, 28], how each (normalized) pixel pushes that class's score.

    Signed: positive pixels made the class more likely. Works inside ``no_grad`` or
    ``inference_mode``; only the input asks for a gradient (``autograd.grad`` with ``x`` as the
    only input), so frozen parameters work and no parameter's ``.grad`` is touched.
    """
    _check_model(model)
    x = _as_input(model, x)  # [1, 1, 28, 28]
    target = _check_target(model, target)
    with torch.inference_mode(False), torch.enable_grad():
        x = x.clone().requires_grad_(True)  # a normal tensor even if the caller's was an inference tensor
        logits = model(x)  # [1, 10]
        (grad,) = torch.autograd.grad(logits[0, target], x)  # [1, 1, 28, 28]
    return _numpy(grad.reshape(28, 28))


# --------------------------------------------------------------------------- hooks


def _capture(model: nn.Module, x: torch.Tensor, names) -> tuple[dict, torch.Tensor]:
    """One forward under inference mode: {module name: its outputs in call order} and the logits."""
    thread = threading.get_ident()
    modules = dict(model.named_modules())
    seen = {name: [] for name in names}

    def hook_for(name):
        def hook(module, inputs, output):
            if threading.get_ident() == thread:  # not another user's forward through the same model
                seen[name].append(output.detach().clone())

        return hook

    handles = []
    try:
        for name in names:
            handles.append(modules[name].register_forward_hook(hook_for(name)))
        with torch.inference_mode():
            logits = model(x)  # [1, 10]
    finally:
        for handle in handles:
            handle.remove()
    return seen, logits


def _layer(name: str, module: str, kind: str, output: torch.Tensor) -> LayerActivation:
    values = _numpy(output[0])  # drop the batch dimension: [units] or [C, H, W]
    zeros = int(np.count_nonzero(values == 0))
    return LayerActivation(name, module, kind, values, zeros, zeros / values.size)


def _expect(ok: bool) -> None:
    if not ok:  # the model's forward no longer calls its modules as this module reads them
        raise RuntimeError("core.insight: the model's forward did not call the modules it expects")


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


# --------------------------------------------------------------------------- checks


def _check_model(model) -> str:
    if isinstance(model, CNN):
        return "cnn"
    if isinstance(model, MLP):
        if model.in_features != PIXELS:
            raise InsightError("insight.not_image_model", in_features=model.in_features)
        return "mlp"
    raise InsightError("insight.unknown_model", type=type(model).__name__)


def _as_input(model: nn.Module, x) -> torch.Tensor:
    """The image as [1, 1, 28, 28] on the model's device and dtype, detached from any graph."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise InsightError("insight.not_tensor", type=type(x).__name__)
    if tuple(x.shape) not in INPUT_SHAPES:
        raise InsightError("insight.bad_shape", shape=list(x.shape))
    if not x.is_floating_point():
        raise InsightError("insight.bad_dtype", dtype=str(x.dtype).replace("torch.", ""))
    if not bool(torch.isfinite(x).all()):
        raise InsightError("insight.not_finite")
    weight = next(model.parameters())
    return x.detach().reshape(1, 1, 28, 28).to(weight.device, weight.dtype)


def _check_target(model: nn.Module, target) -> int:
    classes = model.spec.num_classes
    if not isinstance(target, (int, np.integer)) or isinstance(target, bool) or not 0 <= target < classes:
        raise InsightError("insight.bad_target", last=classes - 1, target=repr(target))
    return int(target)
