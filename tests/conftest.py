"""Shared test settings: offline, deterministic, one CPU thread.

The suite runs on the shipped MNIST subset unless a test asks otherwise, so it never
waits on a network and gives the same numbers on every machine.
"""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("SOFTMAX_PLAYGROUND_SOURCES", "subset")
# The run store and the kept default model go to a fresh folder, never the user's cache.
os.environ.setdefault("SOFTMAX_PLAYGROUND_DATA", tempfile.mkdtemp(prefix="softmax-playground-tests-"))
os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")

import torch  # noqa: E402

torch.set_num_threads(1)
