"""What Draw's pad shows before anything is drawn, without PyTorch: its size, the classes, the bars.

After a restart, the first visitor's page run pays for importing PyTorch (about 1.2 s on a 2-core
laptop) and for loading MNIST and the default model. Draw draws its pad from this module first, so
a new visitor sees the pad and its hint while the rest of the page loads; a drawing needs the
model, and by the time the first stroke ends it is there.
"""

from __future__ import annotations

import html
import math

import numpy as np

from playground.figures import palette
from playground.i18n import plain

NUM_CLASSES = 10  # the digits 0…9
CANVAS_SIZE = 280  # 10× MNIST's 28 px; fits a 360 px phone with the page's margins


def max_entropy(num_classes: int = NUM_CLASSES) -> float:
    """log C: the entropy of a uniform softmax, the most unsure a model can be."""
    return math.log(num_classes)


# The Draw pad's bars are plain HTML, not plotly: a stroke's answer then costs the browser a few
# milliseconds instead of loading plotly's 4.7 MB of script (about 0.7 s of one core here, more on
# a phone) before the first bars, and about 50 ms of redrawing per stroke after it.
BARS_CSS = """<style>
.sp-bars { font-size: 0.8rem; }
.sp-bars-title { font-weight: 600; font-size: 0.95rem; margin-bottom: 0.25rem; }
.sp-bars-plot { display: flex; align-items: flex-end; gap: 4px; height: %(height)dpx;
  border-bottom: 1px solid rgba(128, 128, 128, 0.6); padding-top: 1.4em; }
.sp-bar-col { flex: 1 1 0; height: 100%%; display: flex; flex-direction: column; justify-content: flex-end;
  align-items: center; min-width: 0; }
.sp-bar-p { font-variant-numeric: tabular-nums; white-space: nowrap; font-size: 0.72rem; line-height: 1.3; }
.sp-bar { width: 100%%; border-radius: 2px 2px 0 0; }
.sp-bars-classes { display: flex; gap: 4px; }
.sp-bars-classes span { flex: 1 1 0; text-align: center; font-weight: 600; }
.sp-bars-axis { text-align: center; opacity: 0.75; }
</style>"""


def probs_bars_html(probs, title: str, empty: bool = False, height: int = 220) -> str:
    """The ten probabilities as a bar chart in HTML: each bar's height is its probability, the winner
    highlighted, each labelled in %; ``data-p`` keeps the exact value. ``empty``: the axes only."""
    probs = np.asarray(probs, dtype=np.float64)
    winner = None if empty else int(np.argmax(probs))
    columns, spoken = [], []
    for c, p in enumerate(probs):
        shown = "" if empty else f"{p:.1%}"
        color = palette.VERMILLION if c == winner else palette.CONTEXT
        columns.append(
            f'<div class="sp-bar-col" data-class="{c}" data-p="{float(p)!r}"><span class="sp-bar-p">{shown}</span>'
            f'<div class="sp-bar" style="height:{100 * p:.2f}%;background:{color}"></div></div>'
        )
        spoken.append(f"{c}: {shown or '—'}")
    classes = "".join(f"<span>{c}</span>" for c in range(len(probs)))
    label_text = html.escape(f"{title} — {', '.join(spoken)}")
    return (
        f'{BARS_CSS % {"height": height}}<div class="sp-bars" role="img" aria-label="{label_text}">'
        f'<div class="sp-bars-title">{html.escape(title)}</div><div class="sp-bars-plot">{"".join(columns)}</div>'
        f'<div class="sp-bars-classes">{classes}</div>'
        f'<div class="sp-bars-axis">{html.escape(plain("figures.class"))}</div></div>'
    )
