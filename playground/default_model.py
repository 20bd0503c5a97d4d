"""The default model: there is always one to predict on the Draw page, even on a first visit.

The lecture's MLP is trained on the spot for about 120,000 samples (two epochs of the full
MNIST, twenty of the shipped subset) with Adam, which gets there in a few seconds on a CPU.
It trains ONCE per server process, on a background thread kept in `st.cache_resource`, and is
then shared read-only by every session: a whole class opening the page at once waits once,
and each tab shows the same progress bar meanwhile.
"""

from __future__ import annotations

import math
import time

import streamlit as st

from core.jobs import TrainingJob
from core.models import ModelSpec, build_model
from core.training import TrainConfig
from playground import session
from playground.resources import get_mnist

DEFAULT_SAMPLES = 120_000  # about 5–10 s of the lecture's MLP on one CPU thread
DEFAULT_NAME = "default model (trained on the spot)"
DEFAULT_SPEC = ModelSpec()  # the lecture's 784-512-256-128-64-10 ReLU


def default_config(n_train: int, samples: int = DEFAULT_SAMPLES) -> TrainConfig:
    """Enough epochs to see about `samples` images; Adam, because it learns fastest in so few steps."""
    if n_train < 1:
        raise ValueError(f"need at least one training image, got {n_train}")
    epochs = max(1, math.ceil(samples / n_train))
    # log_every large: the default model's loss curve is never shown, only its accuracy.
    return TrainConfig(epochs=epochs, batch_size=64, lr=1e-3, momentum=0.0, seed=0,
                       log_every=10_000, optimizer="adam")


def start_default_training(train, test, samples: int = DEFAULT_SAMPLES) -> TrainingJob:
    """Start training the default model on a background thread (no queue: it is short)."""
    config = default_config(len(train[1]), samples)
    model = build_model(DEFAULT_SPEC, seed=0)
    return TrainingJob(model, config, train, test, queue=None, device="cpu", threads=1).start()


@st.cache_resource(show_spinner=False)
def get_default_job() -> TrainingJob:
    """The one default-model job of this server process (started by the first visitor)."""
    return start_default_training(*_mnist_pairs())


def _mnist_pairs():
    mnist = get_mnist()
    return mnist.train, mnist.test


def freeze(model):
    """Shared by every session: eval mode and no gradients, so nobody can train it by accident."""
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def default_run(job: TrainingJob) -> session.Run:
    """The finished job as a `Run` the pages can show like any other (never added to a session)."""
    snapshot = job.snapshot()
    return session.Run(
        id="default",
        name=DEFAULT_NAME,
        spec=DEFAULT_SPEC,
        config=job.config,
        history=snapshot.history,
        model=freeze(job.model),
        origin="default",
    )


def wait_for_default_model() -> session.Run | None:
    """The default model, with a progress bar on the page while it trains; None if training failed.

    Call from a page script. Every session waiting shows the same job's progress.
    """
    job = get_default_job()
    # Always exactly one element here, trained or not: if the page's element count changed
    # between reruns, every element below would move and the canvas would remount (and lose
    # the drawing) on the first stroke after the wait.
    slot = st.empty()
    if not job.done:
        with slot.container():
            _show_progress_until_done(job)
        slot.empty()
    snapshot = job.snapshot()
    if snapshot.status != "finished":
        st.error(f"The default model could not be trained: {snapshot.message}. "
                 "Train a model on the Train page or upload a checkpoint instead.")
        get_default_job.clear()  # the next visit tries again
        return None
    return default_run(job)


def _show_progress_until_done(job: TrainingJob, poll_s: float = 0.25) -> None:
    mnist = get_mnist()
    st.info(
        f"No model in this session yet, so a **default model** (the lecture's MLP) is being "
        f"trained right now on {len(mnist.train_labels):,} images for about {DEFAULT_SAMPLES:,} "
        "samples. This happens **once per server**; every visitor then shares it.",
        icon="⏳",
    )
    bar = st.progress(0.0, text="Training the default model…")
    start = time.perf_counter()
    while not job.wait(poll_s):
        snapshot = job.snapshot()
        bar.progress(min(snapshot.fraction, 1.0),
                     text=f"Training the default model… {snapshot.fraction:.0%} "
                          f"({time.perf_counter() - start:.0f} s)")
