"""The Train page's settings: one dataclass, its bounds, its advice, and its URL form.

A teacher prepares a configuration and shares the page's link: every setting travels in
the query string (`?lr=0.1&momentum=0.9&hidden=128-64`), and a link with garbage in it
falls back to the lecture's defaults with a message instead of an error page.
Inside a session the settings live in `st.session_state`, so they survive page switches.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping

import streamlit as st

from core.momentum import effective_lr

TRAIN_PAGE = "pages/1_Train.py"

# Bounds the widgets enforce; a shared link outside them is clamped with a message.
MODEL_KINDS = ("mlp", "cnn")
ACTIVATIONS = ("relu", "sigmoid", "tanh")
OPTIMIZERS = ("sgd", "adam")
MAX_HIDDEN_LAYERS = 8
HIDDEN_MIN, HIDDEN_MAX = 1, 4096
LR_MIN, LR_MAX = 1e-4, 10.0
MOMENTUM_MIN, MOMENTUM_MAX = 0.0, 0.99
BATCH_MIN, BATCH_MAX = 1, 4096
EPOCHS_MIN, EPOCHS_MAX = 1, 50
SEED_MIN, SEED_MAX = 0, 2**31 - 1
LOG_EVERY_MIN, LOG_EVERY_MAX = 1, 10_000

# A 1-2-3-5 grid per decade reads well on a log-scale slider: 0.0001, 0.0002, ... 5, 10.
LR_GRID = tuple(
    round(mantissa * 10.0**exponent, 10) for exponent in range(-4, 1) for mantissa in (1, 2, 3, 5)
) + (10.0,)

SETTINGS_KEY = "train.settings"  # the canonical TrainSettings of this session
START_REQUEST_KEY = "train.start_requested"  # another page asked the Train page to start a run
WIDGET_PREFIX = "train.w."  # widget keys; Streamlit drops them when the page is left


def lr_advice(optimizer: str, lr: float, momentum: float) -> str | None:
    """A warning for a learning rate likely to blow up or stall (None when it looks sane)."""
    if optimizer == "adam" and lr > 0.01:
        return f"Adam usually works with lr ≈ 0.001; lr = {lr:g} often diverges or stalls."
    if optimizer == "sgd" and 0 <= momentum < 1:  # other momenta are errors(), not advice
        step = effective_lr(lr, momentum)
        if step >= 1.0:
            return (f"With momentum {momentum:g}, SGD's steps grow towards lr / (1 − momentum) = "
                    f"{step:.3g}: large enough that the loss may blow up (NaN).")
    return None


@dataclass(frozen=True)
class TrainSettings:
    """Everything the Train page's controls choose. Defaults are the lecture's."""

    kind: str = "mlp"  # "mlp" | "cnn"
    hidden_sizes: tuple[int, ...] = (512, 256, 128, 64)
    activation: str = "relu"
    optimizer: str = "sgd"  # "sgd" | "adam"
    lr: float = 0.01
    momentum: float = 0.5
    batch_size: int = 64
    epochs: int = 10
    seed: int = 0
    log_every: int = 300

    # ---- what the engine needs -------------------------------------------------------

    def spec(self):
        """The `core.models.ModelSpec` these settings describe."""
        from core.models import ModelSpec

        if self.kind == "cnn":
            return ModelSpec(kind="cnn")
        return ModelSpec(kind="mlp", hidden_sizes=tuple(self.hidden_sizes), activation=self.activation)

    def config(self):
        """The `core.training.TrainConfig` these settings describe."""
        from core.training import TrainConfig

        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            momentum=self.momentum if self.optimizer == "sgd" else 0.0,
            seed=self.seed,
            log_every=self.log_every,
            optimizer=self.optimizer,
        )

    # ---- checks ----------------------------------------------------------------------

    def errors(self) -> list[str]:
        """Reasons these settings cannot train (empty when they can)."""
        problems = []
        for build in (self.spec, self.config):
            try:
                build().validate()
            except ValueError as error:
                problems.append(str(error))
        return problems

    def advice(self, n_train: int | None = None) -> dict[str, str]:
        """Warnings shown next to a control: field name → message. Training still runs."""
        notes: dict[str, str] = {}
        if lr_note := lr_advice(self.optimizer, self.lr, self.momentum):
            notes["lr"] = lr_note
        if self.kind == "mlp" and self.activation == "sigmoid" and len(self.hidden_sizes) >= 3:
            notes["activation"] = (
                "Sigmoid saturates: through several layers its gradients shrink towards zero and "
                "learning crawls — the reason the lecture switched to ReLU. Try it and compare."
            )
        if n_train:
            batches = math.ceil(n_train / self.batch_size)
            if self.batch_size > n_train:
                notes["batch_size"] = (
                    f"Larger than the {n_train:,} training images: every epoch is one batch."
                )
            if self.log_every > batches:
                notes["log_every"] = (
                    f"An epoch here has only {batches:,} batches of {self.batch_size}, fewer than "
                    f"{self.log_every}: the loss curve gets one point per epoch. Log more often "
                    f"for a finer curve."
                )
        return notes

    # ---- URL form --------------------------------------------------------------------

    def to_query_params(self) -> dict[str, str]:
        """Every setting, as short readable strings: a link keeps meaning the same run
        even if the defaults change one day."""
        return {
            "model": self.kind,
            "hidden": "-".join(str(size) for size in self.hidden_sizes) or "none",
            "act": self.activation,
            "opt": self.optimizer,
            "lr": f"{self.lr:.10g}",
            "momentum": f"{self.momentum:.10g}",
            "batch": str(self.batch_size),
            "epochs": str(self.epochs),
            "seed": str(self.seed),
            "log_every": str(self.log_every),
        }

    @classmethod
    def from_query_params(cls, params: Mapping[str, Any]) -> tuple["TrainSettings", list[str]]:
        """Settings from a URL, plus one message per value that had to be replaced."""
        parsed = _UrlParser(params)
        defaults = cls()
        settings = cls(
            kind=parsed.choice("model", MODEL_KINDS, defaults.kind),
            hidden_sizes=parsed.hidden("hidden", defaults.hidden_sizes),
            activation=parsed.choice("act", ACTIVATIONS, defaults.activation),
            optimizer=parsed.choice("opt", OPTIMIZERS, defaults.optimizer),
            lr=parsed.number("lr", float, LR_MIN, LR_MAX, defaults.lr),
            momentum=parsed.number("momentum", float, MOMENTUM_MIN, MOMENTUM_MAX, defaults.momentum),
            batch_size=parsed.number("batch", int, BATCH_MIN, BATCH_MAX, defaults.batch_size),
            epochs=parsed.number("epochs", int, EPOCHS_MIN, EPOCHS_MAX, defaults.epochs),
            seed=parsed.number("seed", int, SEED_MIN, SEED_MAX, defaults.seed),
            log_every=parsed.number("log_every", int, LOG_EVERY_MIN, LOG_EVERY_MAX, defaults.log_every),
        )
        return settings, parsed.messages

    def with_overrides(self, **overrides: Any) -> "TrainSettings":
        """A copy with some fields replaced; unknown names raise a `TypeError` (a typo, not data)."""
        known = set(asdict(self))
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"Unknown training settings: {', '.join(sorted(unknown))}")
        if "hidden_sizes" in overrides:
            overrides["hidden_sizes"] = tuple(int(size) for size in overrides["hidden_sizes"])
        return replace(self, **overrides)


@dataclass
class _UrlParser:
    """Reads query parameters leniently: bad values become defaults and a message."""

    params: Mapping[str, Any]
    messages: list[str] = field(default_factory=list)

    def _raw(self, name: str) -> str | None:
        value = self.params.get(name)
        if isinstance(value, (list, tuple)):  # st.query_params may hold repeated keys
            value = value[-1] if value else None
        return None if value is None else str(value).strip()

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        raw = self._raw(name)
        if raw is None:
            return default
        if raw.lower() in options:
            return raw.lower()
        self.messages.append(f"`{name}={raw}` is not one of {', '.join(options)}; using {default}.")
        return default

    def number(self, name: str, kind: type, low: float, high: float, default: float):
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = float(raw) if kind is float else int(raw)
        except ValueError:
            self.messages.append(f"`{name}={raw}` is not a number; using {default:g}.")
            return default
        if not math.isfinite(value):
            self.messages.append(f"`{name}={raw}` is not a finite number; using {default:g}.")
            return default
        if not low <= value <= high:
            clamped = kind(min(max(value, low), high))
            self.messages.append(f"`{name}={raw}` is outside {low:g}…{high:g}; using {clamped:g}.")
            return clamped
        return value

    def hidden(self, name: str, default: tuple[int, ...]) -> tuple[int, ...]:
        raw = self._raw(name)
        if raw is None:
            return default
        if raw.lower() in ("", "none", "0"):
            return ()
        try:
            sizes = tuple(int(part) for part in raw.replace(",", "-").split("-") if part.strip())
        except ValueError:
            self.messages.append(f"`{name}={raw}` should look like 512-256-128-64; using the default.")
            return default
        if len(sizes) > MAX_HIDDEN_LAYERS:
            self.messages.append(f"`{name}` has {len(sizes)} layers; keeping the first {MAX_HIDDEN_LAYERS}.")
            sizes = sizes[:MAX_HIDDEN_LAYERS]
        if any(not HIDDEN_MIN <= size <= HIDDEN_MAX for size in sizes):
            self.messages.append(
                f"`{name}`: each layer needs {HIDDEN_MIN}…{HIDDEN_MAX} units; sizes were clamped."
            )
            sizes = tuple(min(max(size, HIDDEN_MIN), HIDDEN_MAX) for size in sizes)
        return sizes


# ---- session state ------------------------------------------------------------------


def current_settings() -> TrainSettings:
    """This session's settings; on the first visit, read from the URL (a shared link)."""
    settings = st.session_state.get(SETTINGS_KEY)
    if settings is None:
        settings, messages = TrainSettings.from_query_params(st.query_params.to_dict())
        st.session_state[SETTINGS_KEY] = settings
        st.session_state[SETTINGS_KEY + ".url_messages"] = messages
    return settings


def url_messages() -> list[str]:
    """What was wrong with the shared link this session opened with (shown once)."""
    return st.session_state.pop(SETTINGS_KEY + ".url_messages", [])


def store_settings(settings: TrainSettings) -> None:
    """Keep `settings` for this session and mirror them into the page's URL."""
    st.session_state[SETTINGS_KEY] = settings
    wanted = settings.to_query_params()
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def forget_widgets() -> None:
    """Drop the controls' widget state so they are drawn afresh from the stored settings."""
    for key in [k for k in st.session_state if str(k).startswith(WIDGET_PREFIX)]:
        del st.session_state[key]


def send_to_train_page(start: bool = False, **overrides: Any) -> None:
    """Prefill the Train page (e.g. `lr=0.1, momentum=0.9` from the momentum lab) and go there.

    Momentum only means something for SGD, so passing `momentum` also selects SGD
    unless `optimizer` is given too. With `start=True` the Train page starts a run with
    these settings as soon as it opens (`take_start_request`).
    """
    if "momentum" in overrides and "optimizer" not in overrides:
        overrides["optimizer"] = "sgd"
    settings = current_settings().with_overrides(**overrides)
    problems = settings.errors()
    if problems:
        raise ValueError("; ".join(problems))
    st.session_state[SETTINGS_KEY] = settings
    if start:
        st.session_state[START_REQUEST_KEY] = settings
    forget_widgets()
    st.switch_page(TRAIN_PAGE, query_params=settings.to_query_params())


def take_start_request() -> "TrainSettings | None":
    """The settings another page asked to train with, once (None when nobody asked)."""
    return st.session_state.pop(START_REQUEST_KEY, None)
