"""Training speed, measured side by side in one run on the same data, model and config.

    python -m bench.train_speed [--epochs 1]

1. the lecture's loop — DataLoader over a dataset that turns each uint8 image into a PIL
   image and applies ToTensor() + Normalize() per sample, as torchvision's MNIST does —
   versus `core.training.fit` over pre-normalized in-memory tensors;
2. `fit` inside a `TrainingJob` whose snapshot is read four times a second (more often than any
   page reads it: the pages are pushed a new point, see `playground.push`) versus bare `fit`;
3. evaluating the whole test set.

Each side runs at its own default thread setting: the lecture's loop at torch's default,
`fit` at the one thread a TrainingJob uses.
"""

from __future__ import annotations

import argparse
import time

import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from core import data
from core.jobs import TrainingJob
from core.models import build_mlp
from core.scheduler import Scheduler
from core.training import TrainConfig, evaluate, fit

DEFAULT_THREADS = torch.get_num_threads()
JOB_THREADS = 1


class LectureMNIST(Dataset):
    """What torchvision.datasets.MNIST does per item: uint8 → PIL image → transform."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        img = Image.fromarray(self.images[i].numpy(), mode="L")
        return self.transform(img), int(self.labels[i])


def lecture_epoch(images, labels, config: TrainConfig) -> float:
    """The lecture's training loop for one epoch; returns seconds."""
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((data.MNIST_MEAN,), (data.MNIST_STD,))])
    loader = DataLoader(LectureMNIST(images, labels, transform), batch_size=config.batch_size, shuffle=True)
    torch.manual_seed(config.seed)
    model = build_mlp()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    start = time.perf_counter()
    running_loss = 0.0
    for batch_idx, (inputs, target) in enumerate(loader):
        optimizer.zero_grad()
        loss = criterion(model(inputs), target)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
        if batch_idx % config.log_every == config.log_every - 1:
            running_loss = 0.0
    return time.perf_counter() - start


def fit_epochs(train, test, config: TrainConfig) -> float:
    torch.manual_seed(config.seed)
    model = build_mlp()
    start = time.perf_counter()
    fit(model, config, train, test)
    return (time.perf_counter() - start) / config.epochs


def job_epochs(train, test, config: TrainConfig) -> float:
    torch.manual_seed(config.seed)
    scheduler = Scheduler(workers=1)  # the room's trainer: slices on a worker thread at one torch thread
    job = TrainingJob(build_mlp(), config, train, test, device="cpu")
    start = time.perf_counter()
    scheduler.submit(job)
    while not job.done:
        job.snapshot()  # what a page's refresh reads, four times a second
        time.sleep(0.25)
    seconds = time.perf_counter() - start
    scheduler.shutdown()
    status = job.snapshot().status
    if status != "finished":
        raise RuntimeError(f"benchmark job ended as {status}")
    return seconds / config.epochs


def eval_seconds(test, repeats: int = 5) -> float:
    model = build_mlp().eval()
    evaluate(model, *test)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        evaluate(model, *test)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1, help="epochs per side (default 1)")
    args = parser.parse_args()

    train_split = data.load_mnist_split(train=True)
    test_split = data.load_mnist_split(train=False, sources=(train_split.source,))
    train = (data.normalize(train_split.images), train_split.labels)
    test = (data.normalize(test_split.images), test_split.labels)
    config = TrainConfig(epochs=args.epochs)
    print(f"data: {train_split.description}")
    print(f"model: lecture MLP 784-512-256-128-64-10, {config}")
    print(f"threads: lecture loop {DEFAULT_THREADS} (torch default), fit {JOB_THREADS} (TrainingJob default)\n")

    torch.set_num_threads(DEFAULT_THREADS)
    lecture = lecture_epoch(train_split.images, train_split.labels, config)
    torch.set_num_threads(JOB_THREADS)
    bare = fit_epochs(train, test, config)
    in_job = job_epochs(train, test, config)
    bare_again = fit_epochs(train, test, config)  # bracket the job run against drift
    bare_mean = (bare + bare_again) / 2
    eval_s = eval_seconds(test)

    print(f"{'what':44} {'s/epoch':>9} {'ratio':>8}")
    print(f"{'lecture loop (DataLoader + per-sample transforms)':44} {lecture:9.2f}")
    print(f"{'fit (in-memory tensors)':44} {bare_mean:9.2f} {lecture / bare_mean:7.2f}x  (target >= 4x)")
    print(
        f"{'fit in a TrainingJob read every 0.25 s':44} {in_job:9.2f} "
        f"{(in_job / bare_mean - 1) * 100:6.1f}%  overhead (target <= 5%)"
    )
    print(f"\nevaluating {len(test[1]):,} test images: {eval_s:.3f} s (target <= 0.2 s)")


if __name__ == "__main__":
    main()
