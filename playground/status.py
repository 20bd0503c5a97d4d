"""Small facts about this server that several pages show: where MNIST came from, what trains."""

from __future__ import annotations

from core.scheduler import default_workers
from core.training import device_label, pick_device
from playground import fmt
from playground.i18n import t


def device_line() -> str:
    """Which device trains, and how the CPU is shared between runs."""
    device = pick_device()
    if device.type == "cpu":
        return t("status.device_cpu", workers=default_workers())
    return t("status.device_gpu", device=device_label(device), workers=default_workers())


def source_line(mnist) -> str:
    """One line for users: which MNIST this is and where it came from."""
    return t(
        f"status.source.{mnist.source}",
        train=fmt.count(len(mnist.train_labels)),
        test=fmt.count(len(mnist.test_labels)),
        location=mnist.location,
    )
