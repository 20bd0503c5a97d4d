"""Training: the lecture's loop (cross-entropy on logits, SGD with momentum) over in-memory tensors.

The lecture iterates a ``DataLoader`` that converts every image with PIL → ``ToTensor`` →
``Normalize``: 14.9 s per epoch of the lecture's MLP on a 2-core laptop, ~11 s of it that
per-sample work. ``fit`` does the same maths on tensors that are already normalized and in
memory (3.8 s per epoch at one thread): a fresh ``randperm`` shuffle each epoch, one gather
per batch, fused SGD, and the test set evaluated in large batches under ``inference_mode``.

``TrainLoop`` is ``fit`` cut into slices: a classroom's scheduler (``core.scheduler``) lets
thirty runs take turns on the cores, and a run trains exactly the same numbers in turns as
alone, because everything it depends on — model, optimizer, shuffle generator, position —
lives in its loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from types import MappingProxyType

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.errors import CodedError

OPTIMIZERS = ("sgd", "adam")
EVAL_BATCH_SIZE = 2048  # large batches: 10k test images in ~0.1 s instead of ~2 s at 64
MAX_MISCLASSIFIED = 1000  # keep the history small; the UI shows the most confident mistakes
MAX_EPOCHS = 1000
MAX_BATCH_SIZE = 1_000_000
MAX_LOG_EVERY = 1_000_000
MAX_SEED = 2**63 - 1

Pair = tuple[torch.Tensor, torch.Tensor]  # (X float, y int64)


class ConfigError(CodedError, ValueError):
    """Training settings ``fit`` cannot run, or data it cannot train on."""

    templates = MappingProxyType(
        {
            "config.int_range": "{name} must be an integer in {low}..{high}, got {value!r}",
            "config.lr": "lr (learning rate) must be a positive number, got {value!r}",
            "config.momentum": "momentum must be in [0, 1), got {value!r}",
            "config.optimizer": "unknown optimizer {value!r}; choose one of {choices}",
            "config.not_object": "a training config must be a JSON object, got {kind}",
            "config.unknown_fields": "unknown training config fields: {fields}",
            "history.not_object": "a history must be a JSON object, got {kind}",
            "history.unknown_fields": "unknown history fields: {fields}",
            "data.not_pair": "{name} must be an (X, y) pair of tensors",
            "data.not_float": "{name} X must be floats (normalized inputs), got {dtype}",
            "data.bad_labels": "{name} y must be int64 labels [N], got {dtype} {shape}",
            "data.length_mismatch": "{name} has {inputs} inputs but {labels} labels",
            "data.empty": "{name} set is empty",
        }
    )


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

    def validate(self) -> TrainConfig:
        """Raise ``ConfigError`` naming the first setting ``fit`` cannot run with."""
        _check_int("epochs", self.epochs, 1, MAX_EPOCHS)
        _check_int("batch_size", self.batch_size, 1, MAX_BATCH_SIZE)
        _check_int("log_every", self.log_every, 1, MAX_LOG_EVERY)
        _check_int("seed", self.seed, 0, MAX_SEED)
        if not _is_number(self.lr) or not math.isfinite(self.lr) or self.lr <= 0:
            raise ConfigError("config.lr", value=self.lr)
        if not _is_number(self.momentum) or not 0 <= self.momentum < 1:
            raise ConfigError("config.momentum", value=self.momentum)
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError("config.optimizer", value=self.optimizer, choices=", ".join(OPTIMIZERS))
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        _check_fields(cls, d, "config")
        return cls(**d)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _check_int(name: str, value, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError("config.int_range", name=name, low=low, high=high, value=value)


def _check_fields(cls, d, what: str) -> None:
    if not isinstance(d, dict):
        raise ConfigError(f"{what}.not_object", kind=type(d).__name__)
    unknown = set(d) - set(cls.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"{what}.unknown_fields", fields=", ".join(sorted(unknown)))


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
    seconds: float  # training time of the epoch, its test evaluation included


@dataclass
class History:
    running_loss: list[LossPoint] = field(default_factory=list)
    epochs: list[EpochStats] = field(default_factory=list)
    steps: int = 0  # batches done
    stopped: bool = False  # ended early (a stop request or the room's budget)
    # filled at the end (also when stopped) from the final model on the test set
    per_class_accuracy: list[float] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)  # rows = true class, cols = predicted
    misclassified: list[int] = field(default_factory=list)  # test indices, most confident first
    misclassified_probs: list[list[float]] = field(default_factory=list)
    misclassified_pred: list[int] = field(default_factory=list)
    misclassified_true: list[int] = field(default_factory=list)
    misclassified_total: int = 0  # all mistakes; the lists above keep the first MAX_MISCLASSIFIED

    @property
    def test_accuracy(self) -> list[float]:
        """Test accuracy after each finished epoch, fractions in [0, 1]."""
        return [e.test_accuracy for e in self.epochs]

    @property
    def final_accuracy(self) -> float | None:
        """The run's score: the final model on the test set (None before any evaluation).

        For a run stopped mid-epoch this is the model as it was when it stopped, which can
        differ from the last epoch's accuracy; every page shows this one number.
        """
        if self.confusion:
            total = sum(sum(row) for row in self.confusion)
            correct = sum(self.confusion[i][i] for i in range(len(self.confusion)))
            return correct / total if total else None
        return self.epochs[-1].test_accuracy if self.epochs else None

    @property
    def seconds(self) -> float:
        """Training time summed over the finished epochs."""
        return float(sum(stats.seconds for stats in self.epochs))

    def copy(self) -> History:
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
    def from_dict(cls, d: dict) -> History:
        _check_fields(cls, d, "history")
        d = dict(d)
        d["running_loss"] = [LossPoint(**p) for p in d.get("running_loss", [])]
        d["epochs"] = [EpochStats(**e) for e in d.get("epochs", [])]
        return cls(**d)


@dataclass(frozen=True)
class Progress:
    """What the loop reports after every batch (and after each epoch's evaluation)."""

    step: int
    total_steps: int
    epoch: float  # fractional
    samples_seen: int
    elapsed_s: float  # training time so far (time spent waiting for a turn not counted)
    history: History  # the live object: copy it before handing it to another thread


class DivergedError(CodedError, RuntimeError):
    """The loss became NaN or infinite: the learning rate is almost always too high."""

    templates = MappingProxyType({"train.diverged": "loss became {loss} at step {step}"})

    def __init__(self, code: str = "train.diverged", *, step: int, loss: float, history: History | None = None):
        super().__init__(code, step=step, loss=loss)
        self.step = step
        self.loss = loss
        self.history = history

    def __reduce__(self):
        return (_rebuild_diverged, (self.step, self.loss, self.history))


def _rebuild_diverged(step, loss, history):
    return DivergedError(step=step, loss=loss, history=history)


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
    """Which hardware trains, for the UI: "CPU", "Apple GPU (MPS)" or "GPU (<name>)"."""
    device = torch.device(device)
    if device.type == "cuda":
        try:
            return f"GPU ({torch.cuda.get_device_name(device)})"
        except Exception:  # not logged: no driver behind the name, and "GPU (CUDA)" says what we know
            return "GPU (CUDA)"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return "CPU"


def model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


# --------------------------------------------------------------------------- evaluation


def evaluate(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = EVAL_BATCH_SIZE
) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy in [0, 1]) of the model on (X, y)."""
    if len(X) == 0:
        raise ConfigError("data.empty", name="evaluation")
    total_loss, correct = _eval_sums(model, X, y, batch_size)
    return total_loss / len(X), correct / len(X)


def _eval_sums(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int) -> tuple[float, int]:
    device = model_device(model)
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
    device = model_device(model)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        probs = [F.softmax(model(X[i : i + batch_size].to(device)), dim=1).cpu() for i in range(0, len(X), batch_size)]
    model.train(was_training)
    return torch.cat(probs) if probs else torch.empty(0)


def final_analysis(model: nn.Module, X: torch.Tensor, y: torch.Tensor, history: History) -> None:
    """Per-class accuracy, the confusion matrix and the most confident mistakes, into history.

    The loop calls it at the end; it also re-analyses a loaded model on this server's test set.
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


# --------------------------------------------------------------------------- the loop


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


def check_pair(pair: Pair, name: str) -> Pair:
    """(X float, y int64 [N]) of equal, non-zero length, or a ``ConfigError`` saying what is wrong."""
    try:
        X, y = pair
    except (TypeError, ValueError):
        raise ConfigError("data.not_pair", name=name) from None
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise ConfigError("data.not_pair", name=name)
    if not X.is_floating_point():
        raise ConfigError("data.not_float", name=name, dtype=str(X.dtype))
    if y.dtype != torch.int64 or y.dim() != 1:
        raise ConfigError("data.bad_labels", name=name, dtype=str(y.dtype), shape=list(y.shape))
    if len(X) != len(y):
        raise ConfigError("data.length_mismatch", name=name, inputs=len(X), labels=len(y))
    if len(X) == 0:
        raise ConfigError("data.empty", name=name)
    return X, y


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    return math.ceil(n_train / batch_size)


class TrainLoop:
    """``fit`` one slice at a time: ``run()`` trains until a limit, a later ``run()`` carries on.

    The model stays on the loop's device (in ``channels_last`` for a CNN: 1.5-2× faster on a
    CPU) until ``finish()`` or ``close()`` puts it back where it came from, in eval mode.
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        train: Pair,
        test: Pair,
        device: torch.device | str | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ):
        config.validate()
        X_train, y_train = check_pair(train, "train")
        X_test, y_test = check_pair(test, "test")
        self.model, self.config, self.on_progress = model, config, on_progress
        self.device = torch.device(device) if device is not None else pick_device()
        self._home = model_device(model)
        self._convolutional = any(isinstance(m, nn.Conv2d) for m in model.modules())
        model.to(self.device)
        if self._convolutional:
            model.to(memory_format=torch.channels_last)
        self.train_X, self.train_y = X_train.to(self.device), y_train.to(self.device)
        self.test_X, self.test_y = X_test.to(self.device), y_test.to(self.device)
        self.per_epoch = steps_per_epoch(len(X_train), config.batch_size)
        self.total_steps = self.per_epoch * config.epochs
        self.history = History()
        self._criterion = nn.CrossEntropyLoss()
        self._optimizer = make_optimizer(model, config)
        self._generator = torch.Generator().manual_seed(config.seed)  # the shuffle, independent of global RNG
        self._epoch = 0  # epochs started
        self._order: torch.Tensor | None = None  # this epoch's shuffle, None between epochs
        self._next = 0  # index into the order of the next batch
        self._epoch_loss_sum = self._window_sum = 0.0
        self._window_batches = 0
        self._epoch_seconds = 0.0
        self._seen = 0
        self._elapsed = 0.0
        self._finished = False

    @property
    def done(self) -> bool:
        """Every epoch trained (``finish()`` still to call for the final analysis)."""
        return self._epoch == self.config.epochs and self._order is None

    @property
    def step(self) -> int:
        return self.history.steps

    def run(
        self,
        max_batches: int | None = None,
        deadline: float | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> bool:
        """Train until done, ``max_batches`` more batches, ``deadline`` (``time.perf_counter``) or
        ``should_stop()`` (checked before every batch); True when every epoch is done.

        A NaN or infinite loss raises ``DivergedError`` at that step, before its update.
        """
        batches = 0
        while not self.done:
            if should_stop is not None and should_stop():
                break
            if max_batches is not None and batches >= max_batches:
                break
            if deadline is not None and batches and time.perf_counter() >= deadline:
                break
            self._one_batch()
            batches += 1
        return self.done

    def _one_batch(self) -> None:
        started = time.perf_counter()
        if self._order is None:  # a new epoch: a fresh shuffle
            self.model.train()
            self._epoch += 1
            self._order = torch.randperm(len(self.train_X), generator=self._generator).to(self.device)
            self._next = 0
            self._epoch_loss_sum, self._epoch_seconds = 0.0, 0.0
        idx = self._order[self._next : self._next + self.config.batch_size]
        X, y = self.train_X[idx], self.train_y[idx]  # [B, 1, 28, 28], [B]
        self._optimizer.zero_grad(set_to_none=True)
        logits = self.model(X)  # [B, 10]
        loss = self._criterion(logits, y)
        loss_value = loss.item()  # one sync per batch: the step-exact divergence check needs it
        if not math.isfinite(loss_value):
            raise DivergedError(step=self.history.steps + 1, loss=loss_value, history=self.history)
        loss.backward()
        self._optimizer.step()
        self._count(loss_value, len(y))
        self._next += self.config.batch_size
        spent = time.perf_counter() - started
        if self._next >= len(self.train_X):
            spent += self._end_epoch(spent)
        else:
            self._epoch_seconds += spent
        self._elapsed += spent
        self._report()

    def _count(self, loss_value: float, batch: int) -> None:
        history = self.history
        history.steps += 1
        self._seen += batch
        self._epoch_loss_sum += loss_value * batch
        self._window_sum += loss_value
        self._window_batches += 1
        if self._window_batches == self.config.log_every:
            self._close_window()

    def _close_window(self) -> None:
        if self._window_batches:
            step = self.history.steps
            self.history.running_loss.append(
                LossPoint(step, step / self.per_epoch, self._window_sum / self._window_batches)
            )
            self._window_sum, self._window_batches = 0.0, 0

    def _end_epoch(self, last_batch_s: float) -> float:
        """Close the epoch with its test evaluation; return the evaluation's seconds."""
        self._close_window()  # every epoch ends on a point
        started = time.perf_counter()
        test_loss, test_accuracy = evaluate(self.model, self.test_X, self.test_y)
        self.model.train()
        eval_s = time.perf_counter() - started
        seconds = self._epoch_seconds + last_batch_s + eval_s
        self.history.epochs.append(
            EpochStats(self._epoch, self._epoch_loss_sum / len(self.train_X), test_loss, test_accuracy, seconds)
        )
        self._order = None
        return eval_s

    def _report(self) -> None:
        if self.on_progress is not None:
            step = self.history.steps
            self.on_progress(
                Progress(step, self.total_steps, step / self.per_epoch, self._seen, self._elapsed, self.history)
            )

    def resume_state(self) -> dict:
        """Everything needed to carry on exactly where the loop is: weights, optimizer state, the
        shuffle generator and its position, the history and the process's torch RNG, as plain
        tensors, numbers, lists and dicts (``torch.save`` with ``weights_only=True`` reads it back)."""
        return {
            "format": RESUME_FORMAT,
            "model": {
                name: value.detach().cpu().clone().contiguous() for name, value in self.model.state_dict().items()
            },
            "optimizer": _to_cpu(self._optimizer.state_dict()),
            "generator": self._generator.get_state(),
            "epoch": self._epoch,
            "order": None if self._order is None else self._order.cpu(),
            "next": self._next,
            "epoch_loss_sum": self._epoch_loss_sum,
            "window_sum": self._window_sum,
            "window_batches": self._window_batches,
            "epoch_seconds": self._epoch_seconds,
            "seen": self._seen,
            "elapsed": self._elapsed,
            "history": self.history.to_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def restore(self, state: dict) -> None:
        """Carry on from ``resume_state()``: the run then trains the numbers it would have trained
        without the interruption. The process's torch RNG is set back too: nothing in this loop
        draws from it (the shuffle has its own generator), but a model with dropout would."""
        if state.get("format") != RESUME_FORMAT or not 0 <= int(state["epoch"]) <= self.config.epochs:
            raise ConfigError("config.not_object", kind="resume state")
        self.model.load_state_dict(state["model"])
        self._optimizer.load_state_dict(state["optimizer"])
        self._generator.set_state(state["generator"])
        self._epoch, self._next = int(state["epoch"]), int(state["next"])
        self._order = None if state["order"] is None else state["order"].to(self.device)
        self._epoch_loss_sum, self._window_sum = float(state["epoch_loss_sum"]), float(state["window_sum"])
        self._window_batches, self._epoch_seconds = int(state["window_batches"]), float(state["epoch_seconds"])
        self._seen, self._elapsed = int(state["seen"]), float(state["elapsed"])
        self.history = History.from_dict(state["history"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])

    def finish(self, stopped: bool = False) -> History:
        """End the run (early when ``stopped``): keep the last partial window, analyse the final
        model on the test set, and put the model back home in eval mode."""
        if not self._finished:
            self._finished = True
            self._close_window()
            self.history.stopped = stopped or not self.done
            try:
                final_analysis(self.model, self.test_X, self.test_y, self.history)
            finally:
                self.close()
        return self.history

    def close(self) -> None:
        """The model back on the device it came from, in eval mode (also after a failure)."""
        self.model.to(self._home)
        if self._convolutional:
            self.model.to(memory_format=torch.contiguous_format)
        self.model.eval()


RESUME_FORMAT = "softmax-playground-resume-1"


def _to_cpu(value):
    """An optimizer's state dict with every tensor on the CPU (a resume state is read anywhere)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(item) for item in value)
    return value


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
    loop = TrainLoop(model, config, train, test, device, on_progress)
    try:
        finished = loop.run(should_stop=should_stop)
        return loop.finish(stopped=not finished)
    finally:
        loop.close()
