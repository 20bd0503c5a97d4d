"""The session's training job: start it, stop it, collect its run when it ends.

The job trains in its own thread (`core.training.TrainingJob`); the page only reads
`job.snapshot()`, which is thread-safe. Nothing here runs inside the training thread,
so every `st.*` call below happens in a script run (FINDINGS: st.* from another thread
silently misbehaves).

A closed tab keeps its session alive for a while and its thread would train on, so
every job this session starts is also registered with a session-scoped resource whose
`on_release` stops it as soon as the tab's websocket closes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import streamlit as st

from playground import session
from playground.settings import TrainSettings

if TYPE_CHECKING:
    import torch

    from core.training import JobSnapshot, TrainingJob, TrainingQueue

JOB_KEY = "train.job"  # the PageJob of this session, or absent


@dataclass
class PageJob:
    """A training job plus what the page needs to turn it into a run afterwards."""

    job: "TrainingJob"
    settings: TrainSettings
    name: str
    started: float = field(default_factory=time.time)
    run_id: str | None = None  # set once the finished run joined the session's list
    stop_requested: bool = False

    def snapshot(self) -> "JobSnapshot":
        return self.job.snapshot()

    @property
    def collected(self) -> bool:
        return self.run_id is not None


@dataclass
class _SessionJobs:
    """Every job this session started; stopped together when the session goes away."""

    jobs: list = field(default_factory=list)

    def stop_all(self) -> None:
        for job in self.jobs:
            if not job.done:
                job.stop()


def _release(session_jobs: _SessionJobs) -> None:
    session_jobs.stop_all()


@st.cache_resource(scope="session", on_release=_release, show_spinner=False)
def _session_jobs() -> _SessionJobs:
    return _SessionJobs()


def register_job(job: "TrainingJob") -> None:
    """Let the tab-close hook stop `job` too: for jobs other pages start themselves."""
    _session_jobs().jobs.append(job)


def current_job() -> PageJob | None:
    return st.session_state.get(JOB_KEY)


def is_busy() -> bool:
    """True while this session's job is queued or training."""
    page_job = current_job()
    return page_job is not None and not page_job.job.done


def default_run_name(settings: TrainSettings) -> str:
    """E.g. "MLP 512-256-128-64 relu · SGD lr 0.01 m 0.5" — enough to tell runs apart."""
    if settings.kind == "cnn":
        model = "CNN"
    else:
        sizes = "-".join(map(str, settings.hidden_sizes)) or "no hidden"
        model = f"MLP {sizes} {settings.activation}"
    if settings.optimizer == "sgd":
        optimizer = f"SGD lr {settings.lr:g} m {settings.momentum:g}"
    else:
        optimizer = f"Adam lr {settings.lr:g}"
    return f"{model} · {optimizer}"


def start_training(
    settings: TrainSettings,
    train: tuple["torch.Tensor", "torch.Tensor"],
    test: tuple["torch.Tensor", "torch.Tensor"],
    queue: "TrainingQueue | None",
    device: "torch.device | None" = None,
) -> PageJob:
    """Build the model from `settings` and start training it in the background."""
    from core.models import build_model
    from core.training import TrainingJob

    if is_busy():
        raise RuntimeError("This session is already training; stop that run first.")
    problems = settings.errors()
    if problems:
        raise ValueError("; ".join(problems))
    model = build_model(settings.spec(), seed=settings.seed)
    job = TrainingJob(model, settings.config(), train, test, queue=queue, device=device)
    _session_jobs().jobs.append(job)
    job.start()
    page_job = PageJob(job=job, settings=settings, name=default_run_name(settings))
    st.session_state[JOB_KEY] = page_job
    return page_job


def stop_training() -> None:
    """Ask the job to stop at the next batch; the model trained so far is kept."""
    page_job = current_job()
    if page_job is not None and not page_job.job.done:
        page_job.stop_requested = True
        page_job.job.stop()


def collect_run(page_job: PageJob) -> session.Run | None:
    """Once the job has ended, add its run to the session's list (once).

    Finished and stopped jobs that trained at least one batch become runs; a diverged
    model holds NaN weights and a failed one may hold anything, so those do not.
    """
    if page_job.collected or not page_job.job.done:
        return session.get_run(page_job.run_id) if page_job.run_id else None
    snap = page_job.snapshot()
    if snap.status not in ("finished", "stopped") or snap.step == 0:
        return None
    run = session.Run(
        id=session.new_run_id(),
        name=page_job.name,
        spec=page_job.settings.spec(),
        config=page_job.settings.config(),
        history=snap.history,
        model=page_job.job.model,
        origin="trained",
        created=page_job.started,
    )
    session.add_run(run)
    page_job.run_id = run.id
    return run


# ---- checkpoints ----------------------------------------------------------------------


def checkpoint_bytes(run: session.Run) -> bytes:
    """The run as a checkpoint file (weights, spec, config, history) for a download button."""
    import io

    from core.training import save_checkpoint

    buffer = io.BytesIO()
    save_checkpoint(buffer, run.model, run.spec, run.config, run.history)
    return buffer.getvalue()


def run_from_checkpoint(data: bytes, name: str, test: tuple["torch.Tensor", "torch.Tensor"]) -> session.Run:
    """A run restored from an uploaded checkpoint; `CheckpointError` with a reason if unusable.

    The file's own history may describe another test set (the full MNIST when this server
    runs on the subset), so the look-inside analysis is recomputed on this server's test set.
    """
    from core.training import CheckpointError, History, TrainConfig, load_checkpoint

    checkpoint = load_checkpoint(data)
    spec = checkpoint.spec
    if spec.in_features != 784 or spec.num_classes != 10:
        raise CheckpointError(
            f"this checkpoint is a {spec.label()} model ({spec.in_features} inputs, "
            f"{spec.num_classes} classes) — not an MNIST digit classifier"
        )
    history = checkpoint.history if checkpoint.history is not None else History()
    analyse_on_test_set(checkpoint.model, history, test)
    stem = name.rsplit(".", 1)[0] or name
    return session.Run(
        id=session.new_run_id(),
        name=f"{stem} (uploaded)",
        spec=spec,
        config=checkpoint.config if checkpoint.config is not None else TrainConfig(),
        history=history,
        model=checkpoint.model,
        origin="uploaded",
    )


def analyse_on_test_set(model, history, test) -> None:
    """Fill `history`'s per-class accuracy, confusion matrix and mistakes from `model` on `test`."""
    from core.training import final_analysis  # fit's own end-of-training analysis

    X, y = test
    final_analysis(model, X, y, history)
