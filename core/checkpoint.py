"""Checkpoints: one file with weights, spec, config and history that cannot run code when loaded.

The file is ``torch.save`` of a dict of plain values only: tensors for the weights, JSON strings
for the rest. It is read back with ``torch.load(weights_only=True)``, whose unpickler admits
tensors and primitive containers and refuses every other global, so a file crafted to execute
code on unpickling is rejected before anything runs. Every problem becomes a ``CheckpointError``
whose message names it, because uploads come from anywhere.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch
import torch.nn as nn

from core.models import ModelSpec, build_model
from core.training import History, TrainConfig

FORMAT = "softmax-playground-checkpoint"
VERSION = 1
REQUIRED_KEYS = ("format", "version", "spec", "config", "history", "state_dict")


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint; the message says why."""


@dataclass
class Checkpoint:
    model: nn.Module  # eval mode, on the CPU
    spec: ModelSpec
    config: TrainConfig | None
    history: History | None


def save_checkpoint(
    path_or_file: str | os.PathLike | BinaryIO,
    model: nn.Module,
    spec: ModelSpec,
    config: TrainConfig | None = None,
    history: History | None = None,
) -> None:
    """Write the model and what describes it to a path or a binary file object."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "spec": spec.to_json(),
        "config": json.dumps(config.to_dict() if config is not None else None),
        "history": json.dumps(history.to_dict() if history is not None else None),
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
    }
    if isinstance(path_or_file, (str, os.PathLike)):
        torch.save(payload, Path(path_or_file))
    else:
        torch.save(payload, path_or_file)


def checkpoint_bytes(model: nn.Module, spec: ModelSpec, config=None, history=None) -> bytes:
    """The checkpoint as bytes, e.g. for a download button."""
    buffer = io.BytesIO()
    save_checkpoint(buffer, model, spec, config, history)
    return buffer.getvalue()


def load_checkpoint(path_or_file: str | os.PathLike | BinaryIO | bytes) -> Checkpoint:
    """Read a checkpoint from a path, bytes or a binary file object; ``CheckpointError`` if unusable."""
    data = _read_bytes(path_or_file)
    payload = _safe_load(data)
    _check_payload(payload)
    spec = _parse("spec", payload["spec"], ModelSpec.from_json)
    config = _parse("config", payload["config"], lambda s: _optional(s, TrainConfig.from_dict))
    history = _parse("history", payload["history"], lambda s: _optional(s, History.from_dict))
    model = _model_from(spec, payload["state_dict"])
    return Checkpoint(model, spec, config, history)


def _read_bytes(source) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        try:
            data = Path(source).read_bytes()
        except OSError as error:
            raise CheckpointError(f"cannot read checkpoint file: {error}") from None
    elif hasattr(source, "read"):
        if hasattr(source, "seek"):
            source.seek(0)
        data = source.read()
        if not isinstance(data, bytes):
            raise CheckpointError("checkpoint file must be opened in binary mode")
    else:
        raise CheckpointError(f"expected a path, bytes or a binary file, got {type(source).__name__}")
    if not data:
        raise CheckpointError("the file is empty, not a checkpoint")
    return data


def _safe_load(data: bytes):
    """torch.load with weights_only=True, after checking the file is an intact torch archive."""
    if not data.startswith(b"PK\x03\x04"):
        if data[:1] == b"\x80" or data.startswith(b"(dp") or data.startswith(b"}q"):
            raise CheckpointError("not a checkpoint: a bare pickle file (refused: pickles can run code)")
        raise CheckpointError("not a checkpoint: the file is not a PyTorch archive")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise CheckpointError(f"the checkpoint is truncated or damaged ({error})") from None
    if damaged is not None:
        raise CheckpointError(f"the checkpoint is damaged: {damaged} fails its checksum")
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        reason = " ".join(str(error).split())[:300]
        raise CheckpointError(
            f"refused: the file contains objects other than tensors and plain values ({reason})"
        ) from None
    except Exception as error:  # torch's reader errors (RuntimeError etc.) on a damaged archive
        reason = " ".join(str(error).split())[:300]
        raise CheckpointError(f"the checkpoint could not be read: {type(error).__name__}: {reason}") from None


def _check_payload(payload) -> None:
    if not isinstance(payload, dict):
        raise CheckpointError(
            f"foreign file: a PyTorch file holding a {type(payload).__name__}, not a Softmax Playground checkpoint"
        )
    if "format" not in payload:
        if payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
            raise CheckpointError(
                "foreign file: a plain PyTorch state_dict without the model's spec; "
                "save it from the playground to get a checkpoint"
            )
        raise CheckpointError("foreign file: a PyTorch file that is not a Softmax Playground checkpoint")
    if payload["format"] != FORMAT:
        raise CheckpointError(f"foreign file: format {payload['format']!r}, expected {FORMAT!r}")
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"the checkpoint is missing keys: {', '.join(missing)}")
    if not isinstance(payload["version"], int) or payload["version"] > VERSION:
        raise CheckpointError(f"checkpoint version {payload['version']!r} is newer than this app reads ({VERSION})")
    for key in ("spec", "config", "history"):
        if not isinstance(payload[key], str):
            raise CheckpointError(f"the checkpoint's {key} must be a JSON string, got {type(payload[key]).__name__}")
    if not isinstance(payload["state_dict"], dict):
        raise CheckpointError("the checkpoint's weights (state_dict) are not a dict of tensors")


def _optional(text: str, parse):
    value = json.loads(text)
    return None if value is None else parse(value)


def _parse(key: str, text: str, parse):
    try:
        return parse(text)
    except (ValueError, TypeError, KeyError) as error:
        raise CheckpointError(f"the checkpoint's {key} is not valid: {error}") from None


def _model_from(spec: ModelSpec, state_dict: dict) -> nn.Module:
    try:
        model = build_model(spec)
    except ValueError as error:
        raise CheckpointError(f"the checkpoint's spec is not valid: {error}") from None
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        parts = [f"missing weights: {', '.join(missing)}" if missing else "",
                 f"unexpected weights: {', '.join(unexpected)}" if unexpected else ""]
        raise CheckpointError(f"the weights do not match {spec.label()}: " + "; ".join(p for p in parts if p))
    for key, want in expected.items():
        got = state_dict[key]
        if not isinstance(got, torch.Tensor) or not got.is_floating_point():
            raise CheckpointError(f"weight {key} is not a float tensor")
        if got.shape != want.shape:
            raise CheckpointError(
                f"shape mismatch for {key}: the file has {list(got.shape)}, {spec.label()} needs {list(want.shape)}"
            )
        if not torch.isfinite(got).all():
            raise CheckpointError(f"weight {key} contains NaN or infinite values")
    model.load_state_dict(state_dict)
    return model.eval()
