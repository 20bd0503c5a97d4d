"""The room's limits: what one run may cost, how long a student may be away, how much is kept.

One teacher's laptop serves a class. Whoever starts the server can cap what one run may take
(epochs, training images, hidden units, minutes of training) with environment variables or a
small ``room.toml``; a run asking for more epochs is capped, and one whose estimated cost is
beyond the budget is refused before it starts, with the numbers. ``estimate_seconds`` is a cost
model measured on a 2-core laptop at one torch thread (the lecture's MLP: 2.3 ms per batch of
64, 0.39 ms per batch of 1); a run that outgrows its estimate is still stopped at the budget.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from types import MappingProxyType

from core.errors import CodedError
from core.models import MAX_UNITS, ModelSpec, layer_table
from core.training import MAX_EPOCHS, TrainConfig, steps_per_epoch

ROOM_FILE_ENV = "SOFTMAX_PLAYGROUND_ROOM"  # path of a room.toml; default: ./room.toml if it exists
ENV_PREFIX = "SOFTMAX_PLAYGROUND_"

# The cost model, per batch: overhead + params · per-parameter cost + batch · MACs · per-MAC cost.
STEP_OVERHEAD_S = MappingProxyType({"mlp": 1.0e-4, "cnn": 4.5e-4, "cnn2": 4.5e-4})
MAC_S = MappingProxyType({"mlp": 5.6e-11, "cnn": 1.31e-10, "cnn2": 1.31e-10})
PARAM_S = 0.45e-9  # optimizer step and weight gradients, while the weights fit in the caches
CACHE_PARAMS = 2_000_000  # beyond this the weights stream from memory: slower per parameter
EVAL_MAC_S = 2.0e-11  # forward only, batches of 2,048


class LimitError(CodedError, ValueError):
    """A room setting that cannot be used, or a run the room cannot afford."""

    templates = MappingProxyType(
        {
            "limits.bad_int": "{name} = {value!r} is not a whole number between {low:g} and {high:g}",
            "limits.bad_number": "{name} = {value!r} is not a number between {low:g} and {high:g}",
            "limits.unknown": "unknown room setting {name!r} (known: {known})",
            "limits.bad_file": "cannot read the room settings {path}: {reason}",
            "limits.epochs": "the room allows at most {limit} epochs per run; this run asks for {asked}",
            "limits.units": "the room allows at most {limit} units per layer; this run asks for {asked}",
            "limits.cost": "this run would take about {minutes:g} minutes of training; the room allows "
            "{limit:g} minutes per run",
        }
    )


@dataclass(frozen=True)
class RoomLimits:
    """Defaults suit one laptop and one class; every field can be set by whoever starts the server."""

    max_epochs: int = 50  # per run
    train_images: int = 0  # per run; 0 = the whole training set
    max_units: int = MAX_UNITS  # per hidden layer
    run_minutes: float = 10.0  # minutes of training one run may take (on one core)
    reconnect_minutes: float = 15.0  # how long a run keeps training while its student is away
    runs_per_student: int = 30  # kept on the server; the oldest beyond this are pruned
    storage_mb: float = 512.0  # all students' kept runs together

    @property
    def run_seconds(self) -> float:
        return self.run_minutes * 60.0


# name → (kind, low, high) for the checks, and the environment variable of each field
_BOUNDS = MappingProxyType(
    {
        "max_epochs": (int, 1, MAX_EPOCHS),
        "train_images": (int, 0, 10_000_000),
        "max_units": (int, 1, MAX_UNITS),
        "run_minutes": (float, 0.1, 24 * 60),
        "reconnect_minutes": (float, 0.0, 24 * 60),
        "runs_per_student": (int, 1, 1000),
        "storage_mb": (float, 1.0, 1_000_000),
    }
)


def env_name(field_name: str) -> str:
    """``run_minutes`` → ``SOFTMAX_PLAYGROUND_RUN_MINUTES``."""
    return ENV_PREFIX + field_name.upper()


def load_limits(
    environ: Mapping[str, str] | None = None, path: Path | str | None = None
) -> tuple[RoomLimits, list[LimitError]]:
    """The limits from ``room.toml`` (if any), then environment variables on top.

    A bad value keeps its default and is reported, so a typo never stops a class.
    """
    environ = os.environ if environ is None else environ
    problems: list[LimitError] = []
    values: dict[str, object] = {}
    room_file = Path(path) if path is not None else _room_file(environ)
    if room_file is not None:
        values.update(_read_file(room_file, problems))
    for name in _BOUNDS:
        raw = environ.get(env_name(name), "").strip()
        if raw:
            values[name] = raw
    limits = RoomLimits()
    for name, raw in values.items():
        try:
            limits = replace(limits, **{name: _checked(name, raw)})
        except LimitError as error:
            problems.append(error)
    return limits, problems


def _room_file(environ: Mapping[str, str]) -> Path | None:
    named = environ.get(ROOM_FILE_ENV, "").strip()
    if named:
        return Path(named).expanduser()
    local = Path("room.toml")
    return local if local.is_file() else None


def _read_file(path: Path, problems: list) -> dict:
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as error:
        problems.append(LimitError("limits.bad_file", path=str(path), reason=str(error)))
        return {}
    known = {f.name for f in fields(RoomLimits)}
    for name in [n for n in table if n not in known]:
        problems.append(LimitError("limits.unknown", name=name, known=", ".join(sorted(known))))
        del table[name]
    return table


def _checked(name: str, raw) -> int | float:
    kind, low, high = _BOUNDS[name]
    try:
        number = float(raw)
    except (TypeError, ValueError):
        number = math.nan
    fits = math.isfinite(number) and low <= number <= high and (kind is float or number.is_integer())
    if isinstance(raw, bool) or not fits:
        raise LimitError(
            "limits.bad_int" if kind is int else "limits.bad_number", name=name, value=raw, low=low, high=high
        )
    return kind(number)


# --------------------------------------------------------------------------- the cost of a run


def macs_per_sample(spec: ModelSpec) -> int:
    """Multiply-adds of one forward pass."""
    total = 0
    for layer in layer_table(spec):
        if layer.name.startswith("conv"):
            out_channels, h, w = layer.out_shape
            in_channels, in_h = layer.in_shape[0], layer.in_shape[1]
            kernel = in_h - h + 1  # no padding, stride 1: a k×k kernel trims k - 1 rows
            total += out_channels * h * w * in_channels * kernel * kernel
        elif layer.params:
            total += layer.params - layer.out_shape[0]  # weights of a Linear: in × out
    return total


def parameter_count(spec: ModelSpec) -> int:
    return sum(layer.params for layer in layer_table(spec))


def seconds_per_step(spec: ModelSpec, batch_size: int) -> float:
    """One batch: the measured overhead, the optimizer over every weight, the forward and backward."""
    params = parameter_count(spec)
    per_param = PARAM_S * max(1.0, params / CACHE_PARAMS) ** 0.9
    return STEP_OVERHEAD_S[spec.kind] + params * per_param + batch_size * macs_per_sample(spec) * MAC_S[spec.kind]


def estimate_seconds(spec: ModelSpec, config: TrainConfig, n_train: int, n_test: int = 10_000) -> float:
    """Seconds of training on one core: every batch, plus each epoch's test evaluation."""
    steps = steps_per_epoch(n_train, config.batch_size) * config.epochs
    evaluation = config.epochs * n_test * macs_per_sample(spec) * EVAL_MAC_S
    return steps * seconds_per_step(spec, config.batch_size) + evaluation


@dataclass(frozen=True)
class RunPlan:
    """What the room lets a run do: its (possibly capped) config and why."""

    config: TrainConfig
    n_train: int  # training images it will use
    estimate_s: float
    capped: tuple[LimitError, ...]  # settings lowered to fit (the run still starts)
    refused: LimitError | None  # set when the run cannot start at all

    @property
    def allowed(self) -> bool:
        return self.refused is None


def plan_run(limits: RoomLimits, spec: ModelSpec, config: TrainConfig, n_train: int, n_test: int = 10_000) -> RunPlan:
    """Cap the epochs, limit the images, then refuse a run whose estimate is beyond the budget."""
    capped = []
    if config.epochs > limits.max_epochs:
        capped.append(LimitError("limits.epochs", limit=limits.max_epochs, asked=config.epochs))
        config = replace(config, epochs=limits.max_epochs)
    images = min(n_train, limits.train_images) if limits.train_images else n_train
    widest = max(spec.hidden_sizes, default=0) if spec.kind == "mlp" else 0
    refused = None
    if widest > limits.max_units:
        refused = LimitError("limits.units", limit=limits.max_units, asked=widest)
    estimate = estimate_seconds(spec, config, images, n_test)
    if refused is None and estimate > limits.run_seconds:
        refused = LimitError("limits.cost", minutes=_readable_minutes(estimate), limit=limits.run_minutes)
    return RunPlan(config, images, estimate, tuple(capped), refused)


def _readable_minutes(seconds: float) -> float:
    """Whole minutes for long runs, tenths for short ones: never "about 0 minutes"."""
    minutes = seconds / 60
    return float(round(minutes)) if minutes >= 10 else max(round(minutes, 1), 0.1)
