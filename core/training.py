"""Training: the lecture's loop (cross-entropy on logits, SGD with momentum) over in-memory tensors.

The lecture iterates a ``DataLoader`` that converts every image with PIL → ``ToTensor`` →
``Normalize``; most of its 15 s per epoch is that per-sample work (FINDINGS.md). ``fit`` does
the same maths on tensors that are already normalized and in memory: a fresh ``randperm``
shuffle each epoch, one gather per batch, fused SGD, and the test set evaluated in large batches
under ``inference_mode``.

Background jobs (``TrainingJob``, ``TrainingQueue``) live in ``core/jobs.py`` and checkpoints in
``core/checkpoint.py``; both are importable from here, as ARCHITECTURE.md lists them.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from types import MappingProxyType
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

OPTIMIZERS = ("sgd", "adam")
EVAL_BATCH_SIZE = 2048  # large batches: 10k test images in ~0.1 s instead of ~2 s at 64
MAX_MISCLASSIFIED = 1000  # keep the history small; the UI shows the most confident mistakes

Pair = tuple[torch.Tensor, torch.Tensor]  # (X float, y int64)


# --------------------------------------------------------------------------- config


@dataclass
class TrainConfig:
    """The lecture's hyper-parameters by default."""

    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.01
    momentum: float = 0.5
    seed: int = 0
    log_every: int = 300  # batches between running-loss points
    optimizer: str = "sgd"  # "sgd" (with momentum) or "adam" (for comparison)

    def validate(self) -> "TrainConfig":
        """Raise ``ValueError`` with a readable message for a config ``fit`` cannot run."""
        _check_int("epochs", self.epochs, 1, 1000)
        _check_int("batch_size", self.batch_size, 1, 1_000_000)
        _check_int("log_every", self.log_every, 1, 1_000_000)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        if not _is_number(self.lr) or not math.isfinite(self.lr) or self.lr <= 0:
            raise ValueError(f"lr (learning rate) must be a positive number, got {self.lr!r}")
        if not _is_number(self.momentum) or not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        if not isinstance(d, dict):
            raise ValueError(f"a training config must be a JSON object, got {type(d).__name__}")
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown training config fields: {', '.join(sorted(unknown))}")
        return cls(**d)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _check_int(name: str, value, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}")


# --------------------------------------------------------------------------- history


@dataclass(frozen=True)
class LossPoint:
    step: int  # batches done so far (1-based)
    epoch: float  # fractional: 1.5 = half-way through epoch 2
    loss: float  # mean training loss over the batches since the previous point


@dataclass(frozen=True)
class EpochStats:
    epoch: int  # 1-based
    train_loss: float  # mean over the epoch's training samples
    test_loss: float
    test_accuracy: float  # fraction in [0, 1]
    seconds: float  # wall time of the epoch, its test evaluation included


@dataclass
class History:
    running_loss: list[LossPoint] = field(default_factory=list)
    epochs: list[EpochStats] = field(default_factory=list)
    steps: int = 0  # batches done
    stopped: bool = False  # ended early by ``should_stop``
    # filled at the end of fit (also when stopped) from the final model on the test set
    per_class_accuracy: list[float] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)  # rows = true class, cols = predicted
    misclassified: list[int] = field(default_factory=list)  # test indices, most confident first
    misclassified_probs: list[list[float]] = field(default_factory=list)
    misclassified_pred: list[int] = field(default_factory=list)
    misclassified_true: list[int] = field(default_factory=list)
    misclassified_total: int = 0  # all mistakes; the lists above keep the first MAX_MISCLASSIFIED

    @property
    def test_accuracy(self) -> list[float]:
        return [e.test_accuracy for e in self.epochs]

    @property
    def final_accuracy(self) -> float | None:
        """Accuracy of the final model on the test set (None before any evaluation)."""
        if self.confusion:
            total = sum(sum(row) for row in self.confusion)
            correct = sum(self.confusion[i][i] for i in range(len(self.confusion)))
            return correct / total if total else None
        return self.epochs[-1].test_accuracy if self.epochs else None

    def copy(self) -> "History":
        """An independent copy, made cheaply: the points are frozen, so only the lists are new.

        A training job copies its history for the page each time a point is added; a deep
        copy cost ~4 µs per point and made long, finely logged runs slow down quadratically.
        """
        return replace(
            self,
            running_loss=list(self.running_loss),
            epochs=list(self.epochs),
            per_class_accuracy=list(self.per_class_accuracy),
            confusion=[list(row) for row in self.confusion],
            misclassified=list(self.misclassified),
            misclassified_probs=[list(p) for p in self.misclassified_probs],
            misclassified_pred=list(self.misclassified_pred),
            misclassified_true=list(self.misclassified_true),
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        if not isinstance(d, dict):
            raise ValueError(f"a history must be a JSON object, got {type(d).__name__}")
        d = dict(d)
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown history fields: {', '.join(sorted(unknown))}")
        d["running_loss"] = [LossPoint(**p) for p in d.get("running_loss", [])]
        d["epochs"] = [EpochStats(**e) for e in d.get("epochs", [])]
        return cls(**d)


@dataclass(frozen=True)
class Progress:
    """What ``fit`` reports after every batch (and after each epoch's evaluation)."""

    step: int
    total_steps: int
    epoch: float  # fractional
    samples_seen: int
    elapsed_s: float
    history: History  # the live object: copy it before handing it to another thread


class DivergedError(RuntimeError):
    """The loss became NaN or infinite: the learning rate is almost always too high."""

    def __init__(self, step: int, loss: float, history: History | None = None):
        super().__init__(f"loss became {loss} at step {step}")
        self.step = step
        self.loss = loss
        self.history = history


# --------------------------------------------------------------------------- devices


def pick_device() -> torch.device:
    """CUDA, then Apple's MPS, else the CPU (classroom laptops)."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_label(device: torch.device | str) -> str:
    """Which hardware trains, in words for the UI."""
    device = torch.device(device)
    if device.type == "cuda":
        try:
            return f"GPU ({torch.cuda.get_device_name(device)})"
        except Exception:  # no driver behind the name: say what we know
            return "GPU (CUDA)"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return "CPU"


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


# --------------------------------------------------------------------------- evaluation


def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = EVAL_BATCH_SIZE) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy in [0, 1]) of the model on (X, y)."""
    if len(X) == 0:
        raise ValueError("cannot evaluate on an empty set")
    total_loss, correct = _eval_sums(model, X, y, batch_size)
    return total_loss / len(X), correct / len(X)


def _eval_sums(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int) -> tuple[float, int]:
    device = _model_device(model)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    with torch.inference_mode():
        for i in range(0, len(X), batch_size):
            X_batch = X[i : i + batch_size].to(device)
            y_batch = y[i : i + batch_size].to(device)
            logits = model(X_batch)  # [B, C]
            loss_sum += F.cross_entropy(logits, y_batch, reduction="sum")
            correct += (logits.argmax(dim=1) == y_batch).sum()
    model.train(was_training)
    return loss_sum.item(), int(correct.item())


def predict_probs(model: nn.Module, X: torch.Tensor, batch_size: int = EVAL_BATCH_SIZE) -> torch.Tensor:
    """softmax(model(X)) on the CPU: [N, C]."""
    device = _model_device(model)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        probs = [F.softmax(model(X[i : i + batch_size].to(device)), dim=1).cpu() for i in range(0, len(X), batch_size)]
    model.train(was_training)
    return torch.cat(probs) if probs else torch.empty(0)


def final_analysis(model: nn.Module, X: torch.Tensor, y: torch.Tensor, history: History) -> None:
    """Per-class accuracy, the confusion matrix and the most confident mistakes, into history.

    ``fit`` calls it at the end; it also re-analyses a loaded model on this server's test set.
    """
    probs = predict_probs(model, X)  # [N, C]
    y = y.cpu()
    C = probs.shape[1]
    pred = probs.argmax(dim=1)  # [N]
    confusion = torch.bincount(y * C + pred, minlength=C * C).view(C, C)  # [C, C] true × predicted
    per_class = confusion.diag().double() / confusion.sum(dim=1).double()  # NaN for an absent class
    wrong = (pred != y).nonzero().flatten()  # [M]
    confidence = probs[wrong, pred[wrong]]  # how sure the model was of its wrong answer
    order = wrong[confidence.argsort(descending=True, stable=True)][:MAX_MISCLASSIFIED]
    history.confusion = confusion.tolist()
    history.per_class_accuracy = per_class.tolist()
    history.misclassified = order.tolist()
    history.misclassified_probs = probs[order].tolist()
    history.misclassified_pred = pred[order].tolist()
    history.misclassified_true = y[order].tolist()
    history.misclassified_total = len(wrong)




# --------------------------------------------------------------------------- fit


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD with momentum (the lecture) or Adam; fused kernels where the device has them (~10%)."""
    params = list(model.parameters())
    make = {
        "sgd": lambda **fused: torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, **fused),
        "adam": lambda **fused: torch.optim.Adam(params, lr=config.lr, **fused),
    }[config.optimizer]
    try:
        return make(fused=True)
    except (RuntimeError, ValueError, TypeError):  # no fused kernel for this device or dtype
        return make()


def _check_pair(pair: Pair, name: str) -> Pair:
    try:
        X, y = pair
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an (X, y) pair of tensors") from None
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise ValueError(f"{name} must be an (X, y) pair of tensors")
    if not X.is_floating_point():
        raise ValueError(f"{name} X must be floats (normalized inputs), got {X.dtype}")
    if y.dtype != torch.int64 or y.dim() != 1:
        raise ValueError(f"{name} y must be int64 labels [N], got {y.dtype} {list(y.shape)}")
    if len(X) != len(y):
        raise ValueError(f"{name} has {len(X)} inputs but {len(y)} labels")
    if len(X) == 0:
        raise ValueError(f"{name} set is empty")
    return X, y


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    return math.ceil(n_train / batch_size)


def fit(
    model: nn.Module,
    config: TrainConfig,
    train: Pair,
    test: Pair,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    device: torch.device | str | None = None,
) -> History:
    """Train ``model`` in place with the lecture's maths; return its History.

    ``should_stop()`` is checked before every batch, so a stop takes effect within one batch
    and never between a gradient and its update. The model ends in eval mode on the device it
    came on. A NaN or infinite loss raises ``DivergedError`` at that step, before the update.
    """
    config.validate()
    X_train, y_train = _check_pair(train, "train")
    X_test, y_test = _check_pair(test, "test")
    home = _model_device(model)
    device = torch.device(device) if device is not None else pick_device()
    convolutional = any(isinstance(m, nn.Conv2d) for m in model.modules())
    model.to(device)
    if convolutional:  # measured 1.5-2x faster for the CNN on CPU (FINDINGS.md)
        model.to(memory_format=torch.channels_last)
    try:
        history = _train(model, config, (X_train.to(device), y_train.to(device)),
                         (X_test.to(device), y_test.to(device)), on_progress, should_stop, device)
        final_analysis(model, X_test, y_test, history)
        return history
    finally:
        model.to(home)
        if convolutional:
            model.to(memory_format=torch.contiguous_format)
        model.eval()


def _train(model, config, train, test, on_progress, should_stop, device) -> History:
    X_train, y_train = train
    X_test, y_test = test
    n = len(X_train)
    per_epoch = steps_per_epoch(n, config.batch_size)
    total_steps = per_epoch * config.epochs
    criterion = nn.CrossEntropyLoss()
    optimizer = make_optimizer(model, config)
    generator = torch.Generator().manual_seed(config.seed)  # the shuffle, independent of global RNG
    history = History()
    step, seen, start = 0, 0, time.perf_counter()

    def report():
        if on_progress is not None:
            on_progress(Progress(step, total_steps, step / per_epoch, seen, time.perf_counter() - start, history))

    for epoch in range(1, config.epochs + 1):
        model.train()
        epoch_start = time.perf_counter()
        order = torch.randperm(n, generator=generator).to(device)  # a fresh shuffle every epoch
        epoch_loss_sum, window_sum, window_batches = 0.0, 0.0, 0
        for batch_start in range(0, n, config.batch_size):
            if should_stop is not None and should_stop():
                if window_batches:  # keep the loss of the batches done since the last point
                    history.running_loss.append(LossPoint(step, step / per_epoch, window_sum / window_batches))
                history.stopped = True
                return history
            idx = order[batch_start : batch_start + config.batch_size]
            X, y = X_train[idx], y_train[idx]  # [B, 1, 28, 28], [B]

            optimizer.zero_grad(set_to_none=True)
            logits = model(X)  # [B, 10]
            loss = criterion(logits, y)
            loss_value = loss.item()  # one sync per batch: the step-exact divergence check needs it
            if not math.isfinite(loss_value):
                raise DivergedError(step + 1, loss_value, history)
            loss.backward()
            optimizer.step()

            step += 1
            seen += len(y)
            history.steps = step
            epoch_loss_sum += loss_value * len(y)
            window_sum += loss_value
            window_batches += 1
            if window_batches == config.log_every:
                history.running_loss.append(LossPoint(step, step / per_epoch, window_sum / window_batches))
                window_sum, window_batches = 0.0, 0
            report()
        if window_batches:  # the epoch's remainder, so every epoch ends on a point
            history.running_loss.append(LossPoint(step, step / per_epoch, window_sum / window_batches))
        test_loss, test_accuracy = evaluate(model, X_test, y_test)
        history.epochs.append(EpochStats(epoch, epoch_loss_sum / n, test_loss, test_accuracy,
                                         time.perf_counter() - epoch_start))
        report()
    return history


# --------------------------------------------------------------------------- re-exports
# TrainingJob / TrainingQueue (core/jobs.py) and checkpoints (core/checkpoint.py) import this
# module, so they are re-exported lazily (PEP 562) to keep the import graph free of cycles.

_LAZY = MappingProxyType({
    "TrainingJob": "core.jobs",
    "TrainingQueue": "core.jobs",
    "JobSnapshot": "core.jobs",
    "JOB_STATUSES": "core.jobs",
    "DEFAULT_THREADS": "core.jobs",
    "Checkpoint": "core.checkpoint",
    "CheckpointError": "core.checkpoint",
    "save_checkpoint": "core.checkpoint",
    "load_checkpoint": "core.checkpoint",
})


__all__ = (
    "OPTIMIZERS", "TrainConfig", "LossPoint", "EpochStats", "History", "Progress", "DivergedError",
    "pick_device", "device_label", "evaluate", "predict_probs", "final_analysis", "make_optimizer", "steps_per_epoch", "fit",
    *_LAZY,
)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
