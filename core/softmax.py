"""The lecture's softmax and cross-entropy, every step visible and checked against PyTorch.

    logits z  →  z / T  →  z/T − max(z/T)  →  exp  →  Σ exp  →  probs = exp / Σ exp
    loss = −log probs[target] = −Σ y · log probs          (y: the one-hot target)
    ∂loss/∂z = (probs − y) / T

Subtracting the maximum changes nothing mathematically (softmax(z) = softmax(z − c)) but keeps
``exp`` from overflowing: ``naive_softmax`` shows what happens without it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch
from torch import nn

from core.errors import CodedError

MIN_CLASSES = 2
MAX_CLASSES = 10  # what the lab's editable logits allow; MNIST has 10


class SoftmaxError(CodedError, ValueError):
    """Input the softmax lab cannot compute with; the message says what to type instead."""

    templates = MappingProxyType(
        {
            "softmax.overflow": "logits / temperature overflow float64 (|z/T| up to {largest:.3g}); "
            "use smaller logits or a larger temperature",
            "softmax.text": "logits must be a list of numbers, not text",
            "softmax.not_numbers": "logits must be numbers, got {value!r}",
            "softmax.shape": "logits must be one list of numbers (one per class), got shape {shape}",
            "softmax.classes": "need {low} to {high} classes, got {count}",
            "softmax.not_finite": "logits must be finite numbers; class {index} is {value}",
            "softmax.target_type": "target must be a whole number (a class index), got {value!r}",
            "softmax.target_range": "target must be a class from 0 to {high}, got {value}",
            "softmax.temperature_type": "temperature must be a number, got {value!r}",
            "softmax.temperature": "temperature must be a positive number, got {value}",
            "softmax.no_numbers": "type the logits as numbers separated by commas, e.g. 0.2, 0.1, -0.1",
            "softmax.not_a_number": "“{part}” is not a number; type the logits like 0.2, 0.1, -0.1",
            "softmax.not_finite_text": "“{part}” is not a finite number",
        }
    )


# --------------------------------------------------------------------------- the maths, plainly


def softmax(z) -> np.ndarray:
    """exp(z) / Σ exp(z) along the last axis, computed stably as exp(z − max z) / Σ exp(z − max z)."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z) -> np.ndarray:
    """log softmax(z) = (z − max z) − log Σ exp(z − max z): finite even where probs underflow to 0."""
    z = np.asarray(z, dtype=np.float64)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def cross_entropy(z, target: int) -> float:
    """−log softmax(z)[target]: the loss of one example with logits z [C] and a true class."""
    return float(-log_softmax(z)[target])


def entropy(probs) -> float:
    """−Σ p log p in nats, with 0 · log 0 = 0: 0 for a certain answer, log C for a uniform one."""
    p = np.asarray(probs, dtype=np.float64)
    positive = p > 0
    return float(-(p[positive] * np.log(p[positive])).sum())


def naive_softmax(z) -> np.ndarray:
    """exp(z) / Σ exp(z) with no max shift, exactly as NumPy computes it — the overflow lesson.

    For z = [1000, 0, −1000], exp(1000) is inf and inf / inf is nan: this returns that nan
    (warnings silenced, since showing the result is the point).
    """
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)


# --------------------------------------------------------------------------- the walkthrough


@dataclass(frozen=True)
class Walkthrough:
    """Every intermediate of logits → softmax → cross-entropy for one example (read-only arrays)."""

    z: np.ndarray  # [C] the logits as given
    temperature: float  # T
    z_scaled: np.ndarray  # [C] z / T
    shifted: np.ndarray  # [C] z / T − max(z / T); its largest entry is 0
    exp: np.ndarray  # [C] exp(shifted), each in (0, 1]
    exp_sum: float  # Σ exp ≥ 1
    probs: np.ndarray  # [C] exp / exp_sum, sums to 1
    log_probs: np.ndarray  # [C] shifted − log(exp_sum)
    one_hot: np.ndarray  # [C] y: 1 at the target, 0 elsewhere
    target: int
    loss: float  # −log probs[target]
    loss_numpy: float  # the lecture's NumPy snippet, −Σ y · log ŷ
    loss_torch_ce: float  # nn.CrossEntropyLoss on logits [1, C] with an int64 label
    loss_nll_logsoftmax: float  # nn.NLLLoss(nn.LogSoftmax(z / T))
    max_route_difference: float  # the largest gap between the four loss values above
    grad_formula: np.ndarray  # [C] ∂loss/∂z = (probs − y) / T
    grad_autograd: np.ndarray  # [C] the same, by torch autograd
    entropy: float  # −Σ p log p in nats: how unsure the softmax is (not whether it is right)
    prediction: int  # argmax of probs

    @property
    def num_classes(self) -> int:
        return len(self.z)

    @property
    def losses(self) -> dict[str, float]:
        """The loss by each route, for a side-by-side table."""
        return {
            "−log p[target]": self.loss,
            "NumPy: −Σ y·log ŷ": self.loss_numpy,
            "nn.CrossEntropyLoss": self.loss_torch_ce,
            "nn.NLLLoss(nn.LogSoftmax)": self.loss_nll_logsoftmax,
        }


def walkthrough(logits, target: int, temperature: float = 1.0) -> Walkthrough:
    """logits → softmax → cross-entropy for one example, step by step and by three routes.

    Raises ``ValueError`` with a readable message for anything the lab should not accept:
    fewer than 2 or more than 10 classes, non-finite logits, a target out of range, T ≤ 0.
    """
    z = _check_logits(logits)  # [C]
    target = _check_target(target, len(z))
    temperature = _check_temperature(temperature)

    with np.errstate(over="ignore", invalid="ignore"):  # checked just below, with a clearer message
        z_scaled = z / temperature
        shifted = z_scaled - z_scaled.max()
    if not np.isfinite(shifted).all():
        raise SoftmaxError("softmax.overflow", largest=float(np.abs(z_scaled).max()))
    exp = np.exp(shifted)
    exp_sum = float(exp.sum())
    probs = exp / exp_sum
    log_probs = shifted - math.log(exp_sum)
    one_hot = np.zeros_like(z)
    one_hot[target] = 1.0

    loss = float(-log_probs[target])
    # The lecture's snippet is `loss = -np.sum(y * np.log(y_pred))`; log(y_pred) is taken as
    # log_probs, because np.log of a probability that underflowed to 0 is −inf (and 0 · −inf nan).
    loss_numpy = float(-np.sum(one_hot * log_probs))
    loss_torch_ce, loss_nll, grad_autograd = _torch_routes(z, target, temperature)
    routes = (loss, loss_numpy, loss_torch_ce, loss_nll)

    return Walkthrough(
        z=_frozen(z),
        temperature=temperature,
        z_scaled=_frozen(z_scaled),
        shifted=_frozen(shifted),
        exp=_frozen(exp),
        exp_sum=exp_sum,
        probs=_frozen(probs),
        log_probs=_frozen(log_probs),
        one_hot=_frozen(one_hot),
        target=target,
        loss=loss,
        loss_numpy=loss_numpy,
        loss_torch_ce=loss_torch_ce,
        loss_nll_logsoftmax=loss_nll,
        max_route_difference=max(routes) - min(routes),
        grad_formula=_frozen((probs - one_hot) / temperature),
        grad_autograd=_frozen(grad_autograd),
        entropy=entropy(probs),
        prediction=int(np.argmax(probs)),
    )


def _torch_routes(z: np.ndarray, target: int, temperature: float) -> tuple[float, float, np.ndarray]:
    """CrossEntropyLoss, NLLLoss(LogSoftmax) and autograd's ∂loss/∂z, in float64."""
    # Callers may sit inside no_grad / inference_mode (the Draw page predicts that way).
    with torch.inference_mode(False), torch.enable_grad():
        logits = torch.tensor(z, dtype=torch.float64).reshape(1, -1).requires_grad_()  # [1, C]
        label = torch.tensor([target], dtype=torch.int64)  # [1]
        scaled = logits / temperature
        loss_ce = nn.CrossEntropyLoss()(scaled, label)
        loss_nll = nn.NLLLoss()(nn.LogSoftmax(dim=1)(scaled), label)
        (grad,) = torch.autograd.grad(loss_ce, logits)  # [1, C]
    return loss_ce.item(), loss_nll.item(), grad.reshape(-1).numpy().copy()


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float64)
    array.setflags(write=False)
    return array


# --------------------------------------------------------------------------- validation


def _check_logits(logits) -> np.ndarray:
    if isinstance(logits, (str, bytes)):
        raise SoftmaxError("softmax.text")
    try:
        z = np.asarray(logits, dtype=np.float64)
    except (TypeError, ValueError):
        raise SoftmaxError("softmax.not_numbers", value=logits) from None
    if z.ndim != 1:
        raise SoftmaxError("softmax.shape", shape=tuple(z.shape))
    if not MIN_CLASSES <= len(z) <= MAX_CLASSES:
        raise SoftmaxError("softmax.classes", low=MIN_CLASSES, high=MAX_CLASSES, count=len(z))
    bad = [i for i, v in enumerate(z) if not math.isfinite(v)]
    if bad:
        raise SoftmaxError("softmax.not_finite", index=bad[0], value=float(z[bad[0]]))
    return z


def _check_target(target, num_classes: int) -> int:
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
        raise SoftmaxError("softmax.target_type", value=target)
    if not 0 <= target < num_classes:
        raise SoftmaxError("softmax.target_range", high=num_classes - 1, value=int(target))
    return int(target)


def _check_temperature(temperature) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.integer, np.floating)):
        raise SoftmaxError("softmax.temperature_type", value=temperature)
    temperature = float(temperature)
    if not (math.isfinite(temperature) and temperature > 0):
        raise SoftmaxError("softmax.temperature", value=temperature)
    return temperature


# --------------------------------------------------------------------------- typed input

_SEPARATORS = re.compile(r"[,;\s，；、]+")  # ASCII and full-width separators alike
_SEMICOLONS = re.compile(r"[;；]")
_DECIMAL_COMMA = re.compile(r"^([+-]?\d*)[,，](\d+)$")  # "0,2" or "-0,1": a number with a decimal comma


def parse_logits(text: str) -> list[float]:
    """ "0.2, 0.1, -0.1" → [0.2, 0.1, -0.1]; ``SoftmaxError`` saying what to type otherwise.

    When ';' separates the values (as in much of Europe, where a comma is the decimal mark), a
    comma inside a number is a decimal comma: "0,2; 0,1; -0,1" → [0.2, 0.1, -0.1].
    """
    cleaned = text.strip().strip("[]()").replace("−", "-")  # accept a pasted list and the minus sign
    if _SEMICOLONS.search(cleaned):
        parts = [_DECIMAL_COMMA.sub(r"\1.\2", p.strip()) for p in _SEMICOLONS.split(cleaned) if p.strip()]
    else:
        parts = [p for p in _SEPARATORS.split(cleaned) if p]
    if not parts:
        raise SoftmaxError("softmax.no_numbers")
    values = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise SoftmaxError("softmax.not_a_number", part=part) from None
        if not math.isfinite(value):
            raise SoftmaxError("softmax.not_finite_text", part=part)
        values.append(value)
    if not MIN_CLASSES <= len(values) <= MAX_CLASSES:
        raise SoftmaxError("softmax.classes", low=MIN_CLASSES, high=MAX_CLASSES, count=len(values))
    return values
