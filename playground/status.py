"""Small facts about this server that several pages show."""

from __future__ import annotations

import torch

from core.training import device_label, pick_device


def device_line() -> str:
    """Which device trains, and how many CPU threads a training job uses."""
    device = pick_device()
    line = device_label(device)
    if device.type == "cpu":
        line += f" · one training thread per job (of {torch.get_num_threads()} available)"
    return line
