"""Training settings, declared once: one table drives the widgets, the URL, the checks and the advice.

Each ``Control`` row says what a setting is (its widget, bounds taken from ``core``'s limits,
URL key, which other setting it depends on); its label and help live in the catalogues under
``settings.<name>``. Adding a hyperparameter is one row here and one field of ``TrainSettings``
— as TensorFlow Playground's one state table drives its URL.

A teacher shares a link (``?lr=0.1&momentum=0.9&hidden=128-64``): every setting travels in the
query string, and a link with garbage in it falls back to defaults with a note per value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from core.models import ACTIVATIONS, CNN_KINDS, KINDS, LECTURE_HIDDEN_SIZES, MAX_HIDDEN_LAYERS, MAX_UNITS, ModelSpec
from core.momentum import effective_lr
from core.training import OPTIMIZERS, SCHEDULES, TrainConfig

# A 1-2-3-5 grid per decade reads well on a log-scale slider: 0.0001, 0.0002, ... 5, 10.
LR_GRID = tuple(round(m * 10.0**e, 10) for e in range(-4, 1) for m in (1, 2, 3, 5)) + (10.0,)
LR_MIN, LR_MAX = LR_GRID[0], LR_GRID[-1]
MOMENTUM_MAX = 0.99
BATCH_MAX = 4096
EPOCHS_MAX = 50  # the widget's range; a room may allow fewer (core.limits)
SEED_MAX = 2**31 - 1
LOG_EVERY_MAX = 100_000
CURVE_POINTS_MAX = 1_000  # more running-loss points than a chart can show apart


@dataclass(frozen=True)
class Note:
    """A message for the user, by catalogue key and parameters (worded in the user's language)."""

    key: str
    params: Mapping[str, Any]

    def text(self) -> str:
        from playground.i18n import t

        return t(self.key, **self.params)


@dataclass(frozen=True)
class TrainSettings:
    """Everything the training controls choose. Defaults are the lecture's."""

    kind: str = "mlp"  # "mlp" | "cnn" | "cnn2"
    hidden_sizes: tuple[int, ...] = LECTURE_HIDDEN_SIZES
    activation: str = "relu"
    optimizer: str = "sgd"  # "sgd" | "adam"
    lr: float = 0.01
    momentum: float = 0.5
    batch_size: int = 64
    epochs: int = 10
    seed: int = 0
    log_every: int = 300
    schedule: str = "constant"  # "constant" | "onecycle" (lr is then the peak)
    test_fraction: float = 0.2  # own data only: the held-out share of each class

    def spec(self, in_features: int = 784, num_classes: int = 10) -> ModelSpec:
        if self.kind in CNN_KINDS:
            return ModelSpec(kind=self.kind)
        return ModelSpec(
            kind="mlp",
            hidden_sizes=tuple(self.hidden_sizes),
            activation=self.activation,
            in_features=in_features,
            num_classes=num_classes,
        )

    def config(self) -> TrainConfig:
        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            momentum=self.momentum if self.optimizer == "sgd" else 0.0,
            seed=self.seed,
            log_every=self.log_every,
            optimizer=self.optimizer,
            schedule=self.schedule,
        )

    def errors(self, in_features: int = 784, num_classes: int = 10) -> list[Exception]:
        """Why these settings cannot train (coded errors from core; empty when they can)."""
        problems = []
        for build in (lambda: self.spec(in_features, num_classes), self.config):
            try:
                build().validate()
            except ValueError as error:
                problems.append(error)
        return problems

    def with_overrides(self, **overrides: Any) -> TrainSettings:
        """A copy with some fields replaced; unknown names raise a ``TypeError`` (a typo, not data)."""
        unknown = set(overrides) - set(asdict(self))
        if unknown:
            raise TypeError(f"Unknown training settings: {', '.join(sorted(unknown))}")
        if "hidden_sizes" in overrides:
            overrides["hidden_sizes"] = tuple(int(size) for size in overrides["hidden_sizes"])
        return replace(self, **overrides)


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Control:
    """One setting: how it is chosen and checked. Texts: ``settings.<name>.label`` / ``.help``."""

    name: str  # a field of TrainSettings
    widget: str  # "choice" | "sizes" | "log" | "slider" | "int"
    url: str | None  # query parameter, None when it does not travel in links
    low: float = 0
    high: float = 0
    step: float = 1
    choices: tuple = ()
    applies: Callable[[TrainSettings], bool] | None = None  # drawn disabled when False
    group: str = "loop"  # "network" | "optimizer" | "loop": the box it is drawn in

    def parse(self, raw: str, default, notes: list[Note]):
        """A URL value as this setting's value; ``default`` and a note when it cannot be used."""
        return _PARSERS[self.widget](self, raw, default, notes)

    def to_url(self, value) -> str:
        if self.widget == "sizes":
            return "-".join(str(size) for size in value) or "none"
        if self.widget in ("log", "slider"):
            return f"{value:.10g}"
        return str(value)


def _is_mlp(s: TrainSettings) -> bool:
    return s.kind == "mlp"


CONTROLS: tuple[Control, ...] = (
    Control("kind", "choice", "model", choices=KINDS, group="network"),
    Control("hidden_sizes", "sizes", "hidden", low=1, high=MAX_UNITS, step=16, applies=_is_mlp, group="network"),
    Control(
        "activation",
        "choice",
        "act",
        choices=ACTIVATIONS,
        group="network",
        applies=lambda s: s.kind == "mlp" and bool(s.hidden_sizes),
    ),
    Control("optimizer", "choice", "opt", choices=OPTIMIZERS, group="optimizer"),
    Control("lr", "log", "lr", low=LR_MIN, high=LR_MAX, choices=LR_GRID, group="optimizer"),
    Control(
        "momentum",
        "slider",
        "momentum",
        low=0.0,
        high=MOMENTUM_MAX,
        step=0.01,
        group="optimizer",
        applies=lambda s: s.optimizer == "sgd",
    ),
    Control("schedule", "choice", "sched", choices=SCHEDULES, group="optimizer"),
    Control("batch_size", "int", "batch", low=1, high=BATCH_MAX, step=16),
    Control("epochs", "int", "epochs", low=1, high=EPOCHS_MAX, step=1),
    Control("seed", "int", "seed", low=0, high=SEED_MAX, step=1),
    Control("log_every", "int", "log_every", low=1, high=LOG_EVERY_MAX, step=50),
    Control("test_fraction", "slider", None, low=0.1, high=0.5, step=0.05),
)
BY_NAME = {c.name: c for c in CONTROLS}
TRAIN_CONTROLS = tuple(c.name for c in CONTROLS if c.name != "test_fraction")
OWN_DATA_CONTROLS = tuple(c.name for c in CONTROLS if c.name != "kind")


# --------------------------------------------------------------------------- URL values


def _parse_choice(control: Control, raw: str, default, notes: list[Note]):
    if raw.lower() in control.choices:
        return raw.lower()
    notes.append(
        Note(
            "url.not_choice",
            {"name": control.url, "raw": raw, "default": default, "choices": ", ".join(control.choices)},
        )
    )
    return default


def _parse_number(control: Control, raw: str, default, notes: list[Note]):
    kind = int if control.widget == "int" else float
    try:
        value = kind(raw)
    except ValueError:
        notes.append(Note("url.not_number", {"name": control.url, "raw": raw, "default": default}))
        return default
    if not math.isfinite(value):
        notes.append(Note("url.not_finite", {"name": control.url, "raw": raw, "default": default}))
        return default
    if not control.low <= value <= control.high:
        clamped = kind(min(max(value, control.low), control.high))
        notes.append(
            Note(
                "url.outside",
                {"name": control.url, "raw": raw, "low": control.low, "high": control.high, "used": clamped},
            )
        )
        return clamped
    return value


def _parse_sizes(control: Control, raw: str, default, notes: list[Note]):
    if raw.lower() in ("", "none", "0"):
        return ()  # no hidden layer: softmax regression
    try:
        sizes = tuple(int(part) for part in raw.replace(",", "-").split("-") if part.strip())
    except ValueError:
        notes.append(Note("url.bad_sizes", {"name": control.url, "raw": raw}))
        return default
    if len(sizes) > MAX_HIDDEN_LAYERS:
        notes.append(
            Note("url.too_many_layers", {"name": control.url, "count": len(sizes), "limit": MAX_HIDDEN_LAYERS})
        )
        sizes = sizes[:MAX_HIDDEN_LAYERS]
    if any(size < 1 for size in sizes):  # 0,0,0 would silently become a 784-1-1-1-10 network
        notes.append(Note("url.empty_layer", {"name": control.url, "raw": raw, "high": int(control.high)}))
        return default
    if any(size > control.high for size in sizes):
        notes.append(Note("url.wide_layer", {"name": control.url, "high": int(control.high)}))
        sizes = tuple(min(size, int(control.high)) for size in sizes)
    return sizes


_PARSERS = {
    "choice": _parse_choice,
    "int": _parse_number,
    "slider": _parse_number,
    "log": _parse_number,
    "sizes": _parse_sizes,
}


def to_query_params(settings: TrainSettings, names=TRAIN_CONTROLS) -> dict[str, str]:
    """Every setting, as short readable strings: a link keeps meaning the same run if defaults change."""
    return {BY_NAME[n].url: BY_NAME[n].to_url(getattr(settings, n)) for n in names if BY_NAME[n].url}


def from_query_params(
    params: Mapping[str, Any], defaults: TrainSettings = TrainSettings(), names=TRAIN_CONTROLS
) -> tuple[TrainSettings, list[Note]]:
    """Settings from a URL (missing keys keep ``defaults``), plus one note per value replaced."""
    notes: list[Note] = []
    values = {}
    for name in names:
        control = BY_NAME[name]
        raw = _raw(params, control.url) if control.url else None
        if raw is not None:
            values[name] = control.parse(raw, getattr(defaults, name), notes)
    return replace(defaults, **values), notes


def _raw(params: Mapping[str, Any], key: str) -> str | None:
    value = params.get(key)
    if isinstance(value, (list, tuple)):  # st.query_params may hold repeated keys: the last wins
        value = value[-1] if value else None
    return None if value is None else str(value).strip()


# --------------------------------------------------------------------------- advice


def lr_advice(settings: TrainSettings) -> Note | None:
    """A warning for a learning rate likely to blow up or stall (None when it looks sane)."""
    if settings.optimizer == "adam" and settings.lr > 0.01:
        return Note("advice.adam_lr", {"lr": settings.lr})
    if settings.optimizer == "sgd" and 0 <= settings.momentum < 1:
        step = effective_lr(settings.lr, settings.momentum)
        if step >= 1.0:
            return Note("advice.sgd_step", {"momentum": settings.momentum, "step": step})
    return None


def advice(settings: TrainSettings, n_train: int | None = None) -> dict[str, Note]:
    """Warnings shown under a control: setting name → note. Training still runs."""
    notes: dict[str, Note] = {}
    if (note := lr_advice(settings)) is not None:
        notes["lr"] = note
    if settings.kind == "mlp" and settings.activation == "sigmoid" and len(settings.hidden_sizes) >= 3:
        notes["activation"] = Note("advice.sigmoid", {})
    if settings.kind == "cnn2" and (settings.optimizer, settings.schedule) != ("adam", "onecycle"):
        notes["kind"] = Note("advice.cnn2", {})
    if n_train:
        batches = math.ceil(n_train / settings.batch_size)
        if settings.batch_size >= n_train:
            notes["batch_size"] = Note("advice.batch_whole_set", {"n_train": n_train})
        if settings.log_every > batches:
            notes["log_every"] = Note(
                "advice.log_once_per_epoch",
                {"batches": batches, "batch_size": settings.batch_size, "log_every": settings.log_every},
            )
        elif batches * settings.epochs / settings.log_every > CURVE_POINTS_MAX:
            notes["log_every"] = Note(
                "advice.curve_points",
                {
                    "points": batches * settings.epochs // settings.log_every,
                    "suggest": math.ceil(batches * settings.epochs / CURVE_POINTS_MAX),
                },
            )
    return notes
