"""Fair turns on the cores: every submitted run trains a slice, then the next one does.

A classroom presses Train at once. One run after another made the 25th student wait about 17
minutes; taking turns (slices of ~0.2 s, round robin) makes thirty curves grow side by side
and every run shows progress within a few seconds. The maths is untouched: a run trains the
same numbers in turns as alone (its loop owns its shuffle and optimizer), and the total work
per second is the same, because each worker keeps one core busy at one torch thread.

Measured on a 2-core laptop: one thread per job is steady at 4-6 s per epoch, while two
threads per job ran 5-46× slower whenever another process was busy (OpenMP spin-waiting).
So: one worker per core, each at one thread, and the workers run at a lower OS priority than
the web server, so that a student drawing a digit is answered first.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque

import torch

from core.jobs import TrainingJob

SLICE_S = 0.2  # a turn: a few dozen batches of the lecture's MLP; a stop waits at most this long
MAX_ACTIVE = 64  # runs taking turns at once; later ones wait (each active run holds its optimizer)
WORKER_NICE = 10  # lower OS priority for the training threads (Linux; ignored elsewhere)


def default_workers() -> int:
    """One per core the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Scheduler:
    """Worker threads that give every active job a turn in round-robin order.

    An object, not module state: the app keeps exactly one per server process.
    """

    def __init__(
        self,
        workers: int | None = None,
        slice_s: float = SLICE_S,
        max_active: int = MAX_ACTIVE,
        nice: int = WORKER_NICE,
    ):
        workers = default_workers() if workers is None else workers
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive integer, got {workers!r}")
        self.workers, self.slice_s, self.max_active, self.nice = workers, slice_s, max_active, nice
        self._cond = threading.Condition()
        self._ready: deque[TrainingJob] = deque()  # active jobs waiting for their next turn
        self._active: list[TrainingJob] = []  # admitted and not ended, in admission order
        self._waiting: deque[TrainingJob] = deque()  # submitted beyond max_active
        self._parked: set[TrainingJob] = set()  # active but paused with nothing to do: given no turns
        self._closing = False
        self._threads = [threading.Thread(target=self._work, name=f"trainer-{i}", daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()

    # ----------------------------------------------------------------- for the app

    def submit(self, job: TrainingJob, priority: bool = False) -> TrainingJob:
        """Queue ``job``; ``priority`` puts it first and past the active limit (the shared default model)."""
        with self._cond:
            if self._closing:
                raise RuntimeError("the scheduler has shut down")
            if priority:
                self._active.append(job)
                self._ready.appendleft(job)
            elif len(self._active) < self.max_active:
                self._active.append(job)
                self._ready.append(job)
            else:
                self._waiting.append(job)
            self._tell_places()
            self._cond.notify_all()
        return job

    def stop(self, job: TrainingJob) -> None:
        """End ``job`` soon: a waiting job at once, an active one within one slice."""
        job.request_stop()
        with self._cond:
            if job in self._waiting:
                self._waiting.remove(job)
                end_now = True
            else:
                end_now = False
                if job in self._parked:  # a paused run ends too: it needs one turn for its last evaluation
                    self._parked.discard(job)
                    self._ready.append(job)
                if job in self._ready:  # its next turn comes first, so the stop takes effect quickly
                    self._ready.remove(job)
                    self._ready.appendleft(job)
            self._tell_places()
            self._cond.notify_all()
        if end_now:
            job.run_slice(0.0)  # ends it: a stop requested before the first batch

    def pause(self, job: TrainingJob) -> None:
        """Pause ``job`` after its current batch: it keeps its place but takes no more turns."""
        job.pause()

    def resume(self, job: TrainingJob) -> None:
        job.resume()
        self.wake(job)

    def step(self, job: TrainingJob, batches: int = 1) -> None:
        """A paused job trains exactly ``batches`` more, at its next turn."""
        job.step(batches)
        self.wake(job)

    def step_epoch(self, job: TrainingJob) -> None:
        job.step_epoch()
        self.wake(job)

    def set_hyper(self, job: TrainingJob, **values: float) -> None:
        """Change the job's lr / momentum from its next batch on (a paused job records it at once)."""
        job.set_hyper(**values)
        self.wake(job)

    def wake(self, job: TrainingJob) -> None:
        """A parked job has something to do again (resumed, a Step, a change, a stop): give it turns."""
        with self._cond:
            if job in self._parked and not job.idle:
                self._parked.discard(job)
                self._ready.appendleft(job)
                self._cond.notify_all()

    @property
    def parked(self) -> int:
        """Paused runs waiting for their owner: they hold no core."""
        with self._cond:
            return len(self._parked)

    def jobs(self) -> list[TrainingJob]:
        """Every job not yet ended: the active ones in admission order, then those waiting."""
        with self._cond:
            return [*self._active, *self._waiting]

    @property
    def active(self) -> int:
        with self._cond:
            return len(self._active)

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every job and the workers (tests, and a server that exits)."""
        with self._cond:
            self._closing = True
            jobs = [*self._active, *self._waiting]
            self._ready.extend(self._parked)  # paused runs end like the others
            self._parked.clear()
            self._cond.notify_all()
        for job in jobs:
            job.request_stop()
        for thread in self._threads:
            thread.join(timeout)

    # ----------------------------------------------------------------- the workers

    def _work(self) -> None:
        torch.set_num_threads(1)  # this thread's own OpenMP setting: one core per worker
        self._lower_priority()
        while True:
            with self._cond:
                while not self._ready and not self._closing:
                    self._cond.wait()
                if self._closing and not self._ready:
                    return
                job = self._ready.popleft()
                share = max(1, len(self._active) - len(self._parked)) / self.workers
            over = job.run_slice(0.0 if self._closing else self.slice_s, share)
            with self._cond:
                if over:
                    self._active.remove(job)
                    self._admit()
                elif job.idle and not self._closing:  # paused: no turns until resumed, stepped or stopped
                    self._parked.add(job)
                elif not self._closing or job.stop_requested:
                    self._ready.append(job)
                self._tell_places()
                self._cond.notify_all()

    def _admit(self) -> None:
        while self._waiting and len(self._active) < self.max_active:
            job = self._waiting.popleft()
            self._active.append(job)
            self._ready.append(job)

    def _tell_places(self) -> None:
        sharing = len(self._active)
        for job in self._active:
            job.set_place(sharing)
        for position, job in enumerate(self._waiting, start=1):
            job.set_place(sharing, position)

    def _lower_priority(self) -> None:
        if self.nice and sys.platform.startswith("linux"):
            try:  # on Linux a thread's nice value is its own
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
            except OSError:
                pass
