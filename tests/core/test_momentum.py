"""core.momentum: surfaces against autograd, every optimizer against torch.optim, and the lecture's effects.

The micrograd habit: each path is checked point for point against PyTorch doing the same thing
(float64), so the lab's pictures show what `torch.optim` really does.
"""

import math
import warnings

import numpy as np
import pytest
import torch

from core import momentum as mo

# The same surfaces written in torch, from their formulas (not from core.momentum's code).
TORCH_SURFACES = {
    "quadratic": lambda x, y: 0.1 * x**2 + 2 * y**2,
    "rosenbrock": lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
    "saddle": lambda x, y: 0.5 * x**2 - 0.5 * y**2 + 0.25 * y**4,
    "plateau": lambda x, y: 1 - torch.exp(-(x**2 + 4 * y**2) / 8),
}


def torch_path(surface_key, make_optimizer, start, steps) -> np.ndarray:
    """θ_0 … θ_steps from running a torch optimizer on the torch version of the surface."""
    f = TORCH_SURFACES[surface_key]
    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer([theta])
    points = [theta.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        f(theta[0], theta[1]).backward()
        optimizer.step()
        points.append(theta.detach().clone())
    return torch.stack(points).numpy()


# (surface, lr, γ, steps): each surface with settings under which all four optimizers stay bounded
CASES = [
    ("quadratic", 0.2, 0.5, 40),
    ("rosenbrock", 0.001, 0.9, 150),
    ("saddle", 0.1, 0.9, 60),
    ("plateau", 1.0, 0.9, 60),
]


@pytest.mark.parametrize("key, lr, gamma, steps", CASES)
def test_lecture_momentum_traces_the_same_points_as_torch_sgd(key, lr, gamma, steps):
    surface = mo.get_surface(key)
    ours = mo.run_path(surface, "momentum", surface.start, lr, gamma, steps)
    # PyTorch keeps b ← γ·b + ∇L and steps θ ← θ − η·b; with a constant η its b is the lecture's v / η,
    # so θ − η·b = θ − v: the two forms visit the same points.
    theirs = torch_path(key, lambda p: torch.optim.SGD(p, lr=lr, momentum=gamma), surface.start, steps)
    assert not ours.diverged
    assert ours.points.shape == (steps + 1, 2)
    np.testing.assert_allclose(ours.points, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("key, lr, gamma, steps", CASES)
def test_gradient_descent_is_torch_sgd_without_momentum(key, lr, gamma, steps):
    surface = mo.get_surface(key)
    ours = mo.run_path(surface, "gd", surface.start, lr, gamma, steps)  # γ is ignored by GD
    theirs = torch_path(key, lambda p: torch.optim.SGD(p, lr=lr), surface.start, steps)
    np.testing.assert_allclose(ours.points, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("key, lr, gamma, steps", CASES)
def test_nesterov_traces_the_same_points_as_torch_sgd_nesterov(key, lr, gamma, steps):
    surface = mo.get_surface(key)
    ours = mo.run_path(surface, "nesterov", surface.start, lr, gamma, steps)
    theirs = torch_path(key, lambda p: torch.optim.SGD(p, lr=lr, momentum=gamma, nesterov=True), surface.start, steps)
    assert not ours.diverged
    np.testing.assert_allclose(ours.points, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("key, lr, gamma, steps", CASES)
def test_adam_traces_the_same_points_as_torch_adam(key, lr, gamma, steps):
    surface = mo.get_surface(key)
    ours = mo.run_path(surface, "adam", surface.start, lr, gamma, steps)
    theirs = torch_path(key, lambda p: torch.optim.Adam(p, lr=lr), surface.start, steps)
    assert not ours.diverged
    np.testing.assert_allclose(ours.points, theirs, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("surface", mo.SURFACES, ids=lambda s: s.key)
def test_value_and_analytic_gradient_match_autograd(surface):
    rng = np.random.default_rng(0)
    x_min, x_max, y_min, y_max = surface.box
    for x, y in zip(rng.uniform(x_min, x_max, 20), rng.uniform(y_min, y_max, 20)):
        theta = torch.tensor([x, y], dtype=torch.float64, requires_grad=True)
        loss = TORCH_SURFACES[surface.key](theta[0], theta[1])
        loss.backward()
        assert surface.loss((x, y)) == pytest.approx(loss.item(), rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(surface.gradient((x, y)), theta.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("surface", mo.SURFACES, ids=lambda s: s.key)
def test_minima_saddles_and_start_are_what_they_claim(surface):
    for point in surface.minima:
        assert surface.loss(point) == pytest.approx(surface.min_value, abs=1e-12)
        np.testing.assert_allclose(surface.gradient(point), 0, atol=1e-12)
        assert surface.in_box(point)
    xs, ys, values = mo.surface_grid(surface, 80)
    assert values.shape == (80, 80) and values.min() >= surface.min_value - 1e-12  # nothing lower on the grid
    for point in surface.saddles:
        np.testing.assert_allclose(surface.gradient(point), 0, atol=1e-12)
        assert surface.loss(point) > surface.min_value
    assert surface.in_box(surface.start)
    for optimizer in ("gd", "momentum"):  # the surface's own defaults never blow up
        assert not mo.run_path(surface, optimizer, surface.start, surface.lr, surface.gamma, surface.steps).diverged


def test_update_steps_are_the_lecture_rule_by_hand():
    surface, lr, gamma = mo.QUADRATIC, 0.4, 0.5
    rows = mo.update_steps(surface, (-5.0, -2.0), lr, gamma, 3)
    # ∇L = (0.2x, 4y). Step 1 from (−5, −2): ∇L = (−1, −8), v = 0.4·∇L = (−0.4, −3.2), θ = (−4.6, 1.2)
    np.testing.assert_allclose(rows[0].grad, [-1.0, -8.0])
    np.testing.assert_allclose(rows[0].v, [-0.4, -3.2])
    np.testing.assert_allclose(rows[0].theta, [-4.6, 1.2])
    # Step 2: ∇L = (−0.92, 4.8); v = 0.5·(−0.4, −3.2) + 0.4·(−0.92, 4.8) = (−0.568, 0.32); θ = (−4.032, 0.88)
    np.testing.assert_allclose(rows[1].grad, [-0.92, 4.8])
    np.testing.assert_allclose(rows[1].momentum_term, [-0.2, -1.6])
    np.testing.assert_allclose(rows[1].gradient_term, [-0.368, 1.92])
    np.testing.assert_allclose(rows[1].v, [-0.568, 0.32])
    np.testing.assert_allclose(rows[1].theta, [-4.032, 0.88])
    assert rows[1].loss == pytest.approx(0.1 * 4.032**2 + 2 * 0.88**2)
    for before, after in zip(rows, rows[1:]):  # each row starts where the last one ended
        np.testing.assert_array_equal(after.theta_before, before.theta)
        np.testing.assert_array_equal(after.v_before, before.v)
    assert [r.t for r in rows] == [1, 2, 3]


def test_divergence_stops_cleanly_and_says_where():
    # GD on 0.1x² + 2y² with lr 0.6 multiplies x by 0.88 and y by 1 − 0.6·4 = −1.4 each step: the loss
    # passes 1e6 (the divergence line) when 2y² does, after about 18 steps.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings leak out either
        path = mo.run_path(mo.QUADRATIC, "gd", (-5.0, -2.0), 0.6, 0.0, 200)
        wild = mo.run_path(mo.ROSENBROCK, "momentum", (-1.2, 1.0), 5.0, 0.99, 200)  # overflows at once
    x, y, expected = -5.0, -2.0, 0
    while max(abs(x), abs(y), 0.1 * x**2 + 2 * y**2) <= mo.DIVERGED_ABOVE:
        x, y, expected = 0.88 * x, -1.4 * y, expected + 1
    assert path.diverged_at == expected
    assert len(path.points) == len(path.losses) == len(path.velocities) == expected  # θ_0 … θ_{k−1}
    assert np.isfinite(path.points).all() and np.abs(path.points).max() <= mo.DIVERGED_ABOVE
    assert wild.diverged and np.isfinite(wild.losses).all()
    assert not mo.run_path(mo.QUADRATIC, "gd", (-5.0, -2.0), 0.45, 0.0, 200).diverged


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(optimizer="rmsprop"), "unknown optimizer"),
        (dict(lr=0.0), "lr must be"),
        (dict(lr=float("nan")), "lr must be"),
        (dict(gamma=1.0), "must be in"),
        (dict(gamma=-0.1), "must be in"),
        (dict(steps=-1), "steps must be"),
        (dict(steps=2.5), "steps must be"),
    ],
)
def test_meaningless_settings_raise_a_readable_error(kwargs, message):
    settings = dict(optimizer="momentum", start=(1.0, 1.0), lr=0.1, gamma=0.5, steps=10) | kwargs
    with pytest.raises(ValueError, match=message):
        mo.run_path(mo.QUADRATIC, **settings)


def test_paths_are_read_only():
    path = mo.run_path(mo.QUADRATIC, "momentum", (1.0, 1.0), 0.1, 0.5, 5)
    with pytest.raises(ValueError):
        path.points[0, 0] = 3.0


def test_effective_lr_and_the_velocity_on_a_steady_slope():
    assert mo.effective_lr(0.01, 0.9) == pytest.approx(0.1)
    assert mo.effective_lr(0.4, 0.0) == 0.4
    with pytest.raises(ValueError):
        mo.effective_lr(0.1, 1.0)
    # On a constant slope ∇L = g (L = g·x, the plateau's far side in the limit) v converges to η·g / (1 − γ).
    lr, gamma, g = 0.1, 0.9, 0.5
    v = 0.0
    for _ in range(300):
        v = gamma * v + lr * g
    assert v == pytest.approx(mo.effective_lr(lr, gamma) * g)


def test_nearest_on_log_grid():
    grid = (0.1, 0.2, 0.3, 0.5, 1.0)
    assert mo.nearest_on_log_grid(0.4, grid) == 0.5  # |log(0.4/0.5)| = 0.22 < |log(0.4/0.3)| = 0.29
    assert mo.nearest_on_log_grid(0.15, grid) == 0.2  # log midpoint of 0.1 and 0.2 is 0.141
    assert mo.nearest_on_log_grid(0.25, grid) == 0.3  # log midpoint of 0.2 and 0.3 is 0.245
    assert mo.nearest_on_log_grid(0.2, grid) == 0.2
    assert mo.nearest_on_log_grid(50.0, grid) == 1.0
    with pytest.raises(ValueError):
        mo.nearest_on_log_grid(0.0, grid)


def test_presets_and_surface_defaults_fit_the_lab_grid():
    for item in (*mo.PRESETS, *mo.SURFACES):
        assert item.lr in mo.LAB_LR_GRID
    for preset in mo.PRESETS:
        assert mo.get_surface(preset.surface).in_box(preset.start)
    assert list(mo.LAB_LR_GRID) == sorted(set(mo.LAB_LR_GRID))


def test_reversals_and_uphill_steps_count_what_they_say():
    def path_through(points, losses):
        points = np.array(points, dtype=float)
        return mo.Path(
            "gd",
            0.1,
            0.0,
            len(points) - 1,
            points,
            np.array(losses, dtype=float),
            np.zeros_like(points),
            np.zeros_like(points),
        )

    zigzag = path_through([(0, 1), (1, -1), (2, 1), (3, 0.5), (3, 0.2), (4, -0.1)], [5, 4, 4.5, 3, 2, 1])
    assert mo.reversals(zigzag, 0) == 0  # x only moves forward (a pause is not a reversal)
    assert mo.reversals(zigzag, 1) == 2  # y: down, up, down, down, down
    assert mo.loss_increases(zigzag) == 1
    assert mo.steps_to_reach(zigzag, 0.0, 2.0) == 4
    assert mo.steps_to_reach(zigzag, 0.0, 0.5) is None


# ---- the lecture's effects, with the lab's presets --------------------------------------------------


def preset_race(key):
    preset = mo.get_preset(key)
    surface = mo.get_surface(preset.surface)
    gd, mom = mo.race(surface, ("gd", "momentum"), preset.start, preset.lr, preset.gamma, preset.steps)
    assert not gd.diverged and not mom.diverged
    return surface, gd, mom


def test_faster_along_a_consistent_direction():
    surface, gd, mom = preset_race("faster")
    assert mom.final_loss < gd.final_loss / 100
    assert mo.steps_to_reach(mom, 0.0, 1e-2) < mo.steps_to_reach(gd, 0.0, 1e-2)
    # the same with the quadratic's own defaults, the page's first view
    gd, mom = mo.race(surface, ("gd", "momentum"), surface.start, surface.lr, surface.gamma, surface.steps)
    assert mom.final_loss < gd.final_loss


def test_less_zig_zag_across_the_steep_direction():
    _, gd, mom = preset_race("zigzag")
    assert mo.reversals(gd, 1) == gd.steps - 1  # GD flips its y-step every single time
    assert mo.reversals(mom, 1) < 0.7 * mo.reversals(gd, 1)
    assert mom.final_loss < gd.final_loss


def test_momentum_escapes_the_saddle_sooner():
    surface, gd, mom = preset_race("saddle")

    def escape_step(path):  # first step with |y| > 0.5: off the saddle, into a valley
        far = np.flatnonzero(np.abs(path.points[:, 1]) > 0.5)
        return int(far[0]) if far.size else math.inf

    assert escape_step(mom) < escape_step(gd)
    assert mom.final_loss < gd.final_loss
    assert mo.steps_to_reach(mom, surface.min_value, 1e-2) is not None


def test_momentum_crosses_the_plateau():
    _, gd, mom = preset_race("plateau")
    assert mo.steps_to_reach(mom, 0.0, 0.1) < (mo.steps_to_reach(gd, 0.0, 0.1) or math.inf)
    assert np.linalg.norm(mom.final_point) < np.linalg.norm(gd.final_point) / 4


def test_too_much_momentum_overshoots_and_oscillates():
    _, gd, mom = preset_race("too_much")
    assert mo.loss_increases(gd) == 0  # plain GD with this lr only goes downhill
    assert mo.loss_increases(mom) > 10  # γ = 0.99: up and down, again and again
    assert mom.points[:, 0].max() > 1.0  # shot past the minimum at x = 0, coming from x = −5
    assert mo.reversals(mom, 0) >= 3  # and swung back several times
    assert mom.final_loss > gd.final_loss


def test_momentum_follows_rosenbrocks_valley_further():
    surface, gd, mom = preset_race("valley")
    assert mom.final_loss < gd.final_loss / 10
    assert np.linalg.norm(mom.final_point - surface.minima[0]) < np.linalg.norm(gd.final_point - surface.minima[0])
