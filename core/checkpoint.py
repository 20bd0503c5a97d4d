"""Checkpoints: one file with weights, spec, config and history that cannot run code when loaded.

The file is ``torch.save`` of a dict of plain values only: tensors for the weights, JSON strings
for the rest. It is read back with ``torch.load(weights_only=True)``, whose unpickler admits
tensors and primitive containers and refuses every other global, so a file crafted to execute
code on unpickling is rejected before anything runs. Uploads come from anywhere, so a file also
costs no more than its size suggests: members that would inflate (``torch.save`` never
compresses) and specs larger than the limit are refused before anything is unpacked or built.
Every problem is a ``CheckpointError`` with a code and the facts of the case.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO

import torch
import torch.nn as nn

from core.errors import CodedError
from core.models import ModelSpec, build_model
from core.training import History, TrainConfig

FORMAT = "softmax-playground-checkpoint"
VERSION = 1
REQUIRED_KEYS = ("format", "version", "spec", "config", "history", "state_dict")
MAX_UNPACKED_BYTES = 256 * 2**20  # a 4096-4096 MLP is 80 MB; anything past this is not ours
MAX_PARAMETERS = 48_000_000  # the largest model a checkpoint may describe (~190 MB of float32)


class CheckpointError(CodedError, ValueError):
    """A file that is not a usable checkpoint; the code and params say why."""

    templates = MappingProxyType(
        {
            "checkpoint.unreadable": "cannot read checkpoint file: {reason}",
            "checkpoint.text_mode": "checkpoint file must be opened in binary mode",
            "checkpoint.bad_source": "expected a path, bytes or a binary file, got {kind}",
            "checkpoint.empty": "the file is empty, not a checkpoint",
            "checkpoint.bare_pickle": "not a checkpoint: a bare pickle file (refused: pickles can run code)",
            "checkpoint.not_archive": "not a checkpoint: the file is not a PyTorch archive",
            "checkpoint.damaged": "the checkpoint is truncated or damaged ({reason})",
            "checkpoint.bad_member": "the checkpoint is damaged: {member} fails its checksum",
            "checkpoint.compressed": "refused: {member} is compressed, which a PyTorch checkpoint never is "
            "(it would unpack to {size:,} bytes)",
            "checkpoint.too_large": "refused: the file would unpack to {size:,} bytes; "
            "checkpoints here are at most {limit:,}",
            "checkpoint.unsafe": "refused: the file contains objects other than tensors and plain values ({name})",
            "checkpoint.unloadable": "the checkpoint could not be read: {reason}",
            "checkpoint.foreign_object": "foreign file: a PyTorch file holding a {kind}, "
            "not a Softmax Playground checkpoint",
            "checkpoint.foreign_state_dict": "foreign file: a plain PyTorch state_dict without the model's spec; "
            "save it from the playground to get a checkpoint",
            "checkpoint.foreign": "foreign file: a PyTorch file that is not a Softmax Playground checkpoint",
            "checkpoint.foreign_format": "foreign file: format {found!r}, expected {expected!r}",
            "checkpoint.missing_keys": "the checkpoint is missing keys: {keys}",
            "checkpoint.newer": "checkpoint version {found!r} is newer than this app reads ({supported})",
            "checkpoint.not_json": "the checkpoint's {key} must be a JSON string, got {kind}",
            "checkpoint.no_weights": "the checkpoint's weights (state_dict) are not a dict of tensors",
            "checkpoint.invalid": "the checkpoint's {key} is not valid: {reason}",
            "checkpoint.too_many_parameters": "refused: the checkpoint describes {label} with {params:,} parameters; "
            "at most {limit:,} are allowed here",
            "checkpoint.wrong_weights": "the weights do not match {label}: {details}",
            "checkpoint.not_float": "weight {key} is not a float tensor",
            "checkpoint.wrong_shape": "shape mismatch for {key}: the file has {found}, {label} needs {needed}",
            "checkpoint.not_finite": "weight {key} contains NaN or infinite values",
            "checkpoint.not_mnist": "this checkpoint is a {label} model ({inputs} inputs, {classes} classes), "
            "not an MNIST digit classifier",
        }
    )


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
    """The checkpoint as bytes: for the run store and for download buttons."""
    buffer = io.BytesIO()
    save_checkpoint(buffer, model, spec, config, history)
    return buffer.getvalue()


def load_checkpoint(
    path_or_file: str | os.PathLike | BinaryIO | bytes,
    max_parameters: int = MAX_PARAMETERS,
    max_unpacked: int = MAX_UNPACKED_BYTES,
) -> Checkpoint:
    """Read a checkpoint from a path, bytes or a binary file object; ``CheckpointError`` if unusable."""
    data = _read_bytes(path_or_file)
    payload = _safe_load(data, max_unpacked)
    _check_payload(payload)
    spec = _parse("spec", payload["spec"], ModelSpec.from_json)
    config = _parse("config", payload["config"], lambda s: _optional(s, TrainConfig.from_dict))
    history = _parse("history", payload["history"], lambda s: _optional(s, History.from_dict))
    model = _model_from(spec, payload["state_dict"], max_parameters)
    return Checkpoint(model, spec, config, history)


def _read_bytes(source) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        try:
            data = Path(source).read_bytes()
        except OSError as error:
            raise CheckpointError("checkpoint.unreadable", reason=str(error)) from None
    elif hasattr(source, "read"):
        if hasattr(source, "seek"):
            source.seek(0)
        data = source.read()
        if not isinstance(data, bytes):
            raise CheckpointError("checkpoint.text_mode")
    else:
        raise CheckpointError("checkpoint.bad_source", kind=type(source).__name__)
    if not data:
        raise CheckpointError("checkpoint.empty")
    return data


def _safe_load(data: bytes, max_unpacked: int):
    """torch.load with weights_only=True, after checking the archive is intact and costs only its size."""
    if not data.startswith(b"PK\x03\x04"):
        if data[:1] == b"\x80" or data.startswith(b"(dp") or data.startswith(b"}q"):
            raise CheckpointError("checkpoint.bare_pickle")
        raise CheckpointError("checkpoint.not_archive")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_sizes(archive.infolist(), max_unpacked)
            damaged = archive.testzip()  # safe now: every member is stored, so this reads only the file
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise CheckpointError("checkpoint.damaged", reason=str(error)) from None
    if damaged is not None:
        raise CheckpointError("checkpoint.bad_member", member=damaged)
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError("checkpoint.unsafe", name=_refused_global(error)) from None
    except Exception as error:  # torch's reader errors (RuntimeError etc.) on a damaged archive
        raise CheckpointError("checkpoint.unloadable", reason=type(error).__name__) from None


def _check_sizes(members: list[zipfile.ZipInfo], max_unpacked: int) -> None:
    """Refuse a zip bomb from its directory alone: before a single byte is inflated."""
    for member in members:
        if member.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError("checkpoint.compressed", member=member.filename, size=member.file_size)
    total = sum(member.file_size for member in members)
    if total > max_unpacked:
        raise CheckpointError("checkpoint.too_large", size=total, limit=max_unpacked)


def _refused_global(error: Exception) -> str:
    """The name of the global torch refused — and nothing of its advice to load unsafely instead."""
    found = re.search(r"GLOBAL ([\w.]+)", str(error))
    return found.group(1) if found else "unsupported content"


def _check_payload(payload) -> None:
    if not isinstance(payload, dict):
        raise CheckpointError("checkpoint.foreign_object", kind=type(payload).__name__)
    if "format" not in payload:
        if payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
            raise CheckpointError("checkpoint.foreign_state_dict")
        raise CheckpointError("checkpoint.foreign")
    if payload["format"] != FORMAT:
        raise CheckpointError("checkpoint.foreign_format", found=payload["format"], expected=FORMAT)
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError("checkpoint.missing_keys", keys=", ".join(missing))
    if not isinstance(payload["version"], int) or payload["version"] > VERSION:
        raise CheckpointError("checkpoint.newer", found=payload["version"], supported=VERSION)
    for key in ("spec", "config", "history"):
        if not isinstance(payload[key], str):
            raise CheckpointError("checkpoint.not_json", key=key, kind=type(payload[key]).__name__)
    if not isinstance(payload["state_dict"], dict):
        raise CheckpointError("checkpoint.no_weights")


def _optional(text: str, parse):
    value = json.loads(text)
    return None if value is None else parse(value)


def _parse(key: str, text: str, parse):
    try:
        return parse(text)
    except (ValueError, TypeError, KeyError) as error:
        raise CheckpointError("checkpoint.invalid", key=key, reason=str(error)) from None


def _model_from(spec: ModelSpec, state_dict: dict, max_parameters: int) -> nn.Module:
    """Check the weights against the spec's shapes on the meta device, then build the real model."""
    try:
        spec.validate()
        with torch.device("meta"):  # shapes only: a spec claiming 8 × 4096 layers costs nothing yet
            expected = build_model(spec).state_dict()
    except ValueError as error:
        raise CheckpointError("checkpoint.invalid", key="spec", reason=str(error)) from None
    params = sum(t.numel() for t in expected.values())
    if params > max_parameters:
        raise CheckpointError("checkpoint.too_many_parameters", label=spec.label(), params=params, limit=max_parameters)
    _check_weights(spec, expected, state_dict)
    model = build_model(spec)
    model.load_state_dict(state_dict)
    return model.eval()


def _check_weights(spec: ModelSpec, expected: dict, state_dict: dict) -> None:
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        parts = [
            f"missing weights: {', '.join(missing)}" if missing else "",
            f"unexpected weights: {', '.join(map(str, unexpected))}" if unexpected else "",
        ]
        raise CheckpointError("checkpoint.wrong_weights", label=spec.label(), details="; ".join(p for p in parts if p))
    for key, want in expected.items():
        got = state_dict[key]
        if not isinstance(got, torch.Tensor) or not got.is_floating_point():
            raise CheckpointError("checkpoint.not_float", key=key)
        if got.shape != want.shape:
            raise CheckpointError(
                "checkpoint.wrong_shape", key=key, found=list(got.shape), label=spec.label(), needed=list(want.shape)
            )
        if not torch.isfinite(got).all():
            raise CheckpointError("checkpoint.not_finite", key=key)


def check_mnist_classifier(spec: ModelSpec) -> None:
    """The Train and Draw pages take digit classifiers only (784 inputs, 10 classes)."""
    if spec.in_features != 784 or spec.num_classes != 10:
        raise CheckpointError(
            "checkpoint.not_mnist", label=spec.label(), inputs=spec.in_features, classes=spec.num_classes
        )
