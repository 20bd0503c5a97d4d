"""Optimizers racing on 2-D loss surfaces: the lecture's momentum next to plain gradient descent.

The lecture's update rule, with learning rate η (``lr``) and momentum γ (``gamma``):

    v ← γ·v + η·∇L(θ)
    θ ← θ − v

On a steady slope v grows to η·∇L / (1 − γ): the effective step size is η / (1 − γ).
Momentum therefore (1) moves faster along directions where the gradient keeps its sign,
(2) zig-zags less across a steep valley, because opposite gradients cancel in v, and
(3) rolls on through flat regions and saddle points where ∇L is tiny. Too much of it
(γ → 1) overshoots the minimum and oscillates around it.

Everything here is float64 NumPy and returns data; ``tests/core/test_momentum.py`` checks each
optimizer point for point against ``torch.optim`` on the same functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from core.errors import CodedError

LAB_OPTIMIZERS = ("gd", "momentum", "nesterov", "adam")
ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults; Adam keeps its own averages, γ is not used
ADAM_EPS = 1e-8
DIVERGED_ABOVE = 1e6  # |θ| or loss beyond this counts as diverged: the run stops there, cleanly
MAX_STEPS = 5000


class MomentumError(CodedError, ValueError):
    """Settings the optimizer race cannot run with (the lab's controls keep them valid)."""

    templates = MappingProxyType(
        {
            "momentum.surface": "unknown surface {value!r}; choose one of {choices}",
            "momentum.optimizer": "unknown optimizer {value!r}; choose one of {choices}",
            "momentum.lr": "lr must be a positive number, got {value!r}",
            "momentum.gamma": "γ (momentum) must be in [0, 1), got {value!r}",
            "momentum.steps": "steps must be a whole number from 0 to {high}, got {value!r}",
            "momentum.positive": "need a positive number, got {value!r}",
            "momentum.preset": "unknown preset {key!r}; choose one of {choices}",
        }
    )


# The lab's learning rates: a finer log grid than the Train page's, so that e.g. 0.45 exists.
LAB_LR_GRID = tuple(
    round(mantissa * 10.0**exponent, 10)
    for exponent in range(-4, 0)
    for mantissa in (1, 1.5, 2, 2.5, 3, 4, 4.5, 5, 6, 7, 8)
) + (1.0, 1.5, 2.0, 3.0, 5.0)


# --------------------------------------------------------------------------- surfaces


@dataclass(frozen=True)
class Surface:
    """A 2-D loss L(x, y) with its analytic gradient, a start point, a view box and its minima.

    ``value`` and ``grad`` take arrays of any (matching) shape, so the same function draws the
    contour grid and scores one point.
    """

    key: str
    formula: str  # LaTeX, for the page
    value: Callable[[np.ndarray, np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    start: tuple[float, float]
    box: tuple[float, float, float, float]  # x_min, x_max, y_min, y_max of the plot
    minima: tuple[tuple[float, float], ...]
    min_value: float
    saddles: tuple[tuple[float, float], ...] = ()
    lr: float = 0.1  # a sensible default for this surface
    gamma: float = 0.5
    steps: int = 50

    def loss(self, theta) -> float:
        x, y = np.asarray(theta, dtype=np.float64)
        return float(self.value(x, y))

    def gradient(self, theta) -> np.ndarray:
        x, y = np.asarray(theta, dtype=np.float64)
        return np.array(self.grad(x, y), dtype=np.float64)

    def in_box(self, theta) -> bool:
        x, y = theta
        x_min, x_max, y_min, y_max = self.box
        return x_min <= x <= x_max and y_min <= y <= y_max


def _quadratic(x, y):
    return 0.1 * x**2 + 2 * y**2


def _quadratic_grad(x, y):
    return 0.2 * x, 4 * y


def _rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _rosenbrock_grad(x, y):
    return -2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)


def _saddle(x, y):
    return 0.5 * x**2 - 0.5 * y**2 + 0.25 * y**4  # saddle at (0, 0), minima at (0, ±1)


def _saddle_grad(x, y):
    return x, y**3 - y


def _plateau(x, y):
    return 1 - np.exp(-(x**2 + 4 * y**2) / 8)  # almost flat far out, a bowl in the middle


def _plateau_grad(x, y):
    bowl = np.exp(-(x**2 + 4 * y**2) / 8)
    return bowl * x / 4, bowl * y


QUADRATIC = Surface(
    key="quadratic",
    formula=r"L = 0.1\,x^2 + 2\,y^2",
    value=_quadratic,
    grad=_quadratic_grad,
    start=(-5.0, -2.0),
    box=(-6.0, 6.0, -3.0, 3.0),
    minima=((0.0, 0.0),),
    min_value=0.0,
    lr=0.4,
    gamma=0.5,
    steps=40,
)
ROSENBROCK = Surface(
    key="rosenbrock",
    formula=r"L = (1 - x)^2 + 100\,(y - x^2)^2",
    value=_rosenbrock,
    grad=_rosenbrock_grad,
    start=(-1.2, 1.0),
    box=(-2.0, 2.0, -1.0, 3.0),
    minima=((1.0, 1.0),),
    min_value=0.0,
    lr=0.001,
    gamma=0.9,
    steps=300,
)
SADDLE = Surface(
    key="saddle",
    formula=r"L = \tfrac12 x^2 - \tfrac12 y^2 + \tfrac14 y^4",
    value=_saddle,
    grad=_saddle_grad,
    start=(2.0, 0.001),
    box=(-2.5, 2.5, -2.0, 2.0),
    minima=((0.0, 1.0), (0.0, -1.0)),
    min_value=-0.25,
    saddles=((0.0, 0.0),),
    lr=0.1,
    gamma=0.9,
    steps=60,
)
PLATEAU = Surface(
    key="plateau",
    formula=r"L = 1 - e^{-(x^2 + 4y^2)/8}",
    value=_plateau,
    grad=_plateau_grad,
    start=(6.0, 1.0),
    box=(-7.0, 7.0, -3.5, 3.5),
    minima=((0.0, 0.0),),
    min_value=0.0,
    lr=1.0,
    gamma=0.9,
    steps=60,
)
SURFACES = (QUADRATIC, ROSENBROCK, SADDLE, PLATEAU)
SURFACE_KEYS = tuple(s.key for s in SURFACES)


def get_surface(key: str) -> Surface:
    for surface in SURFACES:
        if surface.key == key:
            return surface
    raise MomentumError("momentum.surface", value=key, choices=", ".join(SURFACE_KEYS))


def surface_grid(surface: Surface, n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """xs [n], ys [n] and L on the grid [n, n] (rows follow y), for a contour plot of the box."""
    x_min, x_max, y_min, y_max = surface.box
    xs = np.linspace(x_min, x_max, n)
    ys = np.linspace(y_min, y_max, n)
    X, Y = np.meshgrid(xs, ys)  # [n, n] each
    return xs, ys, surface.value(X, Y)


# --------------------------------------------------------------------------- one step of each optimizer
# Each takes θ, ∇L(θ), the step number t (1, 2, ...) and its own state, and returns the new θ,
# the new state and the velocity to show (the step it took, for GD and Adam).


def _gd_step(theta, grad, t, state, lr, gamma):
    step = lr * grad
    return theta - step, state, step


def _momentum_step(theta, grad, t, state, lr, gamma):
    v = gamma * state + lr * grad  # v ← γ·v + η·∇L
    return theta - v, v, v  # θ ← θ − v


def _nesterov_step(theta, grad, t, state, lr, gamma):
    # Look-ahead momentum in the form torch.optim.SGD(nesterov=True) uses, with the gradient at θ:
    # the step adds the velocity's next push γ·v to the usual one.
    v = gamma * state + lr * grad
    return theta - (lr * grad + gamma * v), v, v


def _adam_step(theta, grad, t, state, lr, gamma):
    beta1, beta2 = ADAM_BETAS
    m, s = state
    m = beta1 * m + (1 - beta1) * grad  # running mean of ∇L
    s = beta2 * s + (1 - beta2) * grad**2  # running mean of ∇L²
    m_hat, s_hat = m / (1 - beta1**t), s / (1 - beta2**t)  # undo the bias towards the zero start
    step = lr * m_hat / (np.sqrt(s_hat) + ADAM_EPS)
    return theta - step, (m, s), step


def _initial_state(optimizer: str):
    zero = np.zeros(2)
    return (zero, zero) if optimizer == "adam" else zero


_STEPS = (("gd", _gd_step), ("momentum", _momentum_step), ("nesterov", _nesterov_step), ("adam", _adam_step))


# --------------------------------------------------------------------------- a whole path


@dataclass(frozen=True)
class Path:
    """Where one optimizer went. Index t is after t updates; a diverged run stops early (n < steps).

    points [n+1, 2]       θ_0 (the start) … θ_n
    losses [n+1]          L(θ_t)
    grads [n+1, 2]        ∇L(θ_t)
    velocities [n+1, 2]   v_t (v_0 = 0): momentum / Nesterov their v; GD and Adam the step θ_{t−1} − θ_t
    diverged_at           the update that left |θ| ≤ 1e6 or gave a non-finite value (not recorded), else None
    """

    optimizer: str
    lr: float
    gamma: float
    steps: int  # asked for
    points: np.ndarray
    losses: np.ndarray
    grads: np.ndarray
    velocities: np.ndarray
    diverged_at: int | None = None

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])

    @property
    def final_point(self) -> np.ndarray:
        return self.points[-1]


def _check_settings(optimizer: str, lr: float, gamma: float, steps: int) -> None:
    if optimizer not in LAB_OPTIMIZERS:
        raise MomentumError("momentum.optimizer", value=optimizer, choices=", ".join(LAB_OPTIMIZERS))
    if not (math.isfinite(lr) and lr > 0):
        raise MomentumError("momentum.lr", value=lr)
    if not (math.isfinite(gamma) and 0 <= gamma < 1):
        raise MomentumError("momentum.gamma", value=gamma)
    if not (isinstance(steps, (int, np.integer)) and 0 <= steps <= MAX_STEPS):
        raise MomentumError("momentum.steps", high=MAX_STEPS, value=steps)


def _escaped(theta, loss) -> bool:
    """Non-finite, or so far out (|θ| or L above 1e6) that the next steps would only overflow."""
    if not (np.isfinite(theta).all() and math.isfinite(loss)):
        return True
    return max(np.abs(theta).max(), abs(loss)) > DIVERGED_ABOVE


def run_path(surface: Surface, optimizer: str, start, lr: float, gamma: float, steps: int) -> Path:
    """Run `steps` updates of `optimizer` from `start`. Never raises on divergence: it stops and says where.

    Raises ``ValueError`` only for settings that mean nothing (unknown optimizer, lr ≤ 0, γ ∉ [0, 1)).
    """
    _check_settings(optimizer, lr, gamma, steps)
    step_fn = dict(_STEPS)[optimizer]
    theta = np.asarray(start, dtype=np.float64).reshape(2).copy()
    state = _initial_state(optimizer)
    points, losses, grads, velocities = [theta], [surface.loss(theta)], [surface.gradient(theta)], [np.zeros(2)]
    diverged_at = None
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is divergence, reported below
        for t in range(1, steps + 1):
            theta, state, velocity = step_fn(theta, grads[-1], t, state, lr, gamma)
            loss = surface.loss(theta)
            if _escaped(theta, loss):
                diverged_at = t
                break
            points.append(theta)
            losses.append(loss)
            grads.append(surface.gradient(theta))
            velocities.append(velocity)
    return Path(
        optimizer=optimizer,
        lr=lr,
        gamma=gamma,
        steps=steps,
        points=_frozen(np.array(points)),
        losses=_frozen(np.array(losses)),
        grads=_frozen(np.array(grads)),
        velocities=_frozen(np.array(velocities)),
        diverged_at=diverged_at,
    )


def race(surface: Surface, optimizers, start, lr: float, gamma: float, steps: int) -> tuple[Path, ...]:
    """The same start, lr, γ and number of steps for each optimizer."""
    return tuple(run_path(surface, name, start, lr, gamma, steps) for name in optimizers)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


# --------------------------------------------------------------------------- the worked numbers


@dataclass(frozen=True)
class UpdateStep:
    """One update of the lecture's rule, every number in it (each a 2-vector [x, y])."""

    t: int  # 1, 2, ...
    theta_before: np.ndarray  # θ_{t−1}
    grad: np.ndarray  # ∇L(θ_{t−1})
    v_before: np.ndarray  # v_{t−1}
    momentum_term: np.ndarray  # γ·v_{t−1}
    gradient_term: np.ndarray  # η·∇L(θ_{t−1})
    v: np.ndarray  # v_t = γ·v_{t−1} + η·∇L(θ_{t−1})
    theta: np.ndarray  # θ_t = θ_{t−1} − v_t
    loss_before: float
    loss: float


def update_steps(surface: Surface, start, lr: float, gamma: float, k: int) -> tuple[UpdateStep, ...]:
    """The first k updates of v ← γ·v + η·∇L, θ ← θ − v from `start` (fewer if it diverged)."""
    path = run_path(surface, "momentum", start, lr, gamma, k)
    rows = []
    for t in range(1, len(path.points)):
        v_before = path.velocities[t - 1]
        rows.append(
            UpdateStep(
                t=t,
                theta_before=path.points[t - 1],
                grad=path.grads[t - 1],
                v_before=v_before,
                momentum_term=gamma * v_before,
                gradient_term=lr * path.grads[t - 1],
                v=path.velocities[t],
                theta=path.points[t],
                loss_before=float(path.losses[t - 1]),
                loss=float(path.losses[t]),
            )
        )
    return tuple(rows)


# --------------------------------------------------------------------------- what to read off a path


def effective_lr(lr: float, gamma: float) -> float:
    """η / (1 − γ): how far momentum steps once v has built up on a steady slope."""
    if not 0 <= gamma < 1:
        raise MomentumError("momentum.gamma", value=gamma)
    return lr / (1 - gamma)


def reversals(path: Path, axis: int) -> int:
    """How often the step along one axis (0 = x, 1 = y) changed sign: the zig-zags."""
    moves = -np.diff(path.points[:, axis])  # the steps θ_{t−1} − θ_t
    signs = np.sign(moves[moves != 0])
    return int(np.count_nonzero(signs[1:] != signs[:-1]))


def steps_to_reach(path: Path, min_value: float, tol: float) -> int | None:
    """The first t with L(θ_t) − L* ≤ tol, or None if the path never gets there."""
    close = np.flatnonzero(path.losses - min_value <= tol)
    return int(close[0]) if close.size else None


def loss_increases(path: Path) -> int:
    """How many updates made the loss go up: 0 for a path that only goes downhill."""
    return int(np.count_nonzero(np.diff(path.losses) > 0))


def nearest_on_log_grid(value: float, grid) -> float:
    """The grid value closest to `value` on a log scale (0.4 → 0.5 on 0.3, 0.5: |log 0.4/0.5| is smaller)."""
    if not (math.isfinite(value) and value > 0):
        raise MomentumError("momentum.positive", value=value)
    grid = np.asarray(grid, dtype=np.float64)
    return float(grid[np.argmin(np.abs(np.log(grid) - math.log(value)))])


# --------------------------------------------------------------------------- presets: each effect, shown


@dataclass(frozen=True)
class Preset:
    """Settings that show one of the lecture's effects (tests check that each one really does)."""

    key: str
    surface: str
    start: tuple[float, float]
    lr: float
    gamma: float
    steps: int


PRESETS = (  # what each shows is told by the UI (its catalogues: momentum.preset.<key>)
    Preset("faster", "quadratic", (-5.0, -2.0), 0.4, 0.5, 40),
    Preset("zigzag", "quadratic", (-5.0, -2.0), 0.45, 0.5, 40),
    Preset("saddle", "saddle", (2.0, 0.001), 0.1, 0.9, 60),
    Preset("plateau", "plateau", (6.0, 1.0), 1.0, 0.9, 60),
    Preset("too_much", "quadratic", (-5.0, -2.0), 0.1, 0.99, 200),
    Preset("valley", "rosenbrock", (-1.2, 1.0), 0.001, 0.9, 300),
)
PRESET_KEYS = tuple(p.key for p in PRESETS)


def get_preset(key: str) -> Preset:
    for preset in PRESETS:
        if preset.key == key:
            return preset
    raise MomentumError("momentum.preset", key=key, choices=", ".join(PRESET_KEYS))
