"""Which layer learns? Per layer gradient norms, update-to-weight ratios and histograms, while a run trains.

A deep sigmoid network stalls because its first layers' gradients vanish: each sigmoid
multiplies the backward signal by at most 1/4. The probe makes that visible: every
``every`` batches it reads each layer's gradient norm ‖∂L/∂W‖ (after ``backward``) and its
update-to-weight ratio ‖ΔW‖ / ‖W‖ (the optimizer's step, whatever the optimizer), and every
``histogram_every`` batches histograms of each layer's weights and gradients. The training
loop calls it between ``backward`` and ``step``; a batch it skips costs one modulo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn

EVERY = 20  # batches between two points of the curves (938 batches an epoch at 64: 47 points)
HISTOGRAM_EVERY = 100  # batches between two histograms (they cost ~1 ms a layer)
BINS = 30
MAX_POINTS = 2_000  # per run; beyond this every other point is dropped (the curves stay readable)


@dataclass(frozen=True)
class LayerPoint:
    step: int  # the batch (1-based) it was measured at
    grad_norms: tuple[float, ...]  # ‖∂L/∂W‖₂ per layer, weights only (biases are few and tell little)
    update_ratios: tuple[float, ...]  # ‖ΔW‖₂ / ‖W‖₂ per layer: the step's size relative to the weights


@dataclass(frozen=True)
class Histogram:
    counts: tuple[int, ...]  # [BINS]
    edges: tuple[float, ...]  # [BINS + 1]


@dataclass(frozen=True)
class LayerHistograms:
    step: int
    weights: tuple[Histogram, ...]  # per layer
    grads: tuple[Histogram, ...]


@dataclass
class LayerTrace:
    """What the probe has measured so far; ``copy()`` is cheap (the points are frozen)."""

    layers: tuple[str, ...] = ()  # module names, input side first, e.g. ("linears.0", …, "linears.4")
    points: list[LayerPoint] = field(default_factory=list)
    histograms: LayerHistograms | None = None  # the latest

    def copy(self) -> LayerTrace:
        return LayerTrace(self.layers, list(self.points), self.histograms)


def weighted_layers(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """(name, weight) of every Linear and Conv2d, in the order the model was built (input side first)."""
    return [(name, m.weight) for name, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def gradient_norms(weights: list[torch.Tensor]) -> list[float]:
    """‖grad‖₂ of each weight (0 for one without a gradient)."""
    grads = [w.grad for w in weights]
    present = [g for g in grads if g is not None]
    norms = iter(torch._foreach_norm(present)) if present else iter(())
    return [float(next(norms)) if g is not None else 0.0 for g in grads]


def update_ratios(before: list[torch.Tensor], after: list[torch.Tensor]) -> list[float]:
    """‖after − before‖₂ / ‖before‖₂ for each weight (0 where the weight was all zeros)."""
    steps = torch._foreach_norm(torch._foreach_sub(after, before))
    sizes = torch._foreach_norm(before)
    return [float(s) / float(n) if float(n) > 0 else 0.0 for s, n in zip(steps, sizes)]


def histogram(values: torch.Tensor, bins: int = BINS) -> Histogram:
    """Counts of ``values`` in ``bins`` equal bins between their min and max."""
    flat = values.detach().float().flatten().cpu()
    low, high = float(flat.min()), float(flat.max())
    if not math.isfinite(low) or not math.isfinite(high):
        flat = flat[torch.isfinite(flat)]
        low, high = (float(flat.min()), float(flat.max())) if len(flat) else (0.0, 0.0)
    if high <= low:
        high = low + 1e-12
    counts = torch.histc(flat, bins=bins, min=low, max=high)
    edges = torch.linspace(low, high, bins + 1)
    return Histogram(tuple(int(c) for c in counts.tolist()), tuple(edges.tolist()))


class LayerProbe:
    """Measures a model's layers at some batches; the training loop calls ``before_step``/``after_step``."""

    def __init__(self, model: nn.Module, every: int = EVERY, histogram_every: int = HISTOGRAM_EVERY):
        self.every, self.histogram_every = max(1, every), max(1, histogram_every)
        self.trace = LayerTrace(tuple(name for name, _ in weighted_layers(model)))
        self._before: list[torch.Tensor] = []
        self._norms: list[float] = []

    def due(self, step: int) -> bool:
        """Whether batch ``step`` (1-based) is measured: the first, then every ``every``-th."""
        return step == 1 or step % self.every == 0 or step % self.histogram_every == 0

    def before_step(self, model: nn.Module) -> None:
        weights = [w for _, w in weighted_layers(model)]
        self._norms = gradient_norms(weights)
        self._before = [w.detach().clone() for w in weights]

    def after_step(self, model: nn.Module, step: int) -> None:
        weights = [w.detach() for _, w in weighted_layers(model)]
        ratios = update_ratios(self._before, weights)
        self._before = []
        points = self.trace.points
        points.append(LayerPoint(step, tuple(self._norms), tuple(ratios)))
        if len(points) > MAX_POINTS:
            self.trace.points = points[::2]
        if step == 1 or step % self.histogram_every == 0:
            grads = [w.grad for _, w in weighted_layers(model)]
            self.trace.histograms = LayerHistograms(
                step,
                tuple(histogram(w) for w in weights),
                tuple(histogram(g) if g is not None else histogram(torch.zeros(1)) for g in grads),
            )
