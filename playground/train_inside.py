"""The Train page's "Look inside" tab: per-digit accuracy, the confusion matrix, the mistakes, the weights.

Clicking a cell of the confusion matrix picks the mistakes shown below it (true digit, guess).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from playground import charts, fmt, i18n, runs, widgets
from playground.figures import training as figs
from playground.i18n import plain, t
from playground.room import Room

P = "train.inside."
ANY = "any"
DIGITS = list(range(10))
SHOWN_MISTAKES = 12
FIGURE_CACHE = 8  # figures with many subplots take 0.4-0.7 s to build: kept per run and choice
# Narrower than its cells need (a phone), the confusion matrix keeps its size and scrolls sideways.
SCROLL_CSS = """<style>
.st-key-train-inside-confusion-box { overflow-x: auto; }
.st-key-train-inside-confusion-box > div { min-width: %(width)dpx; }
</style>"""


def draw(room: Room, student: str, on_setup_cnn) -> None:
    student_runs = runs.list_runs(student, room)
    if not student_runs:
        st.info(t("inside.empty"))
        return
    ids = [r.id for r in student_runs]
    names = {r.id: r.name for r in student_runs}
    active = runs.active_run(student, room)
    run_id = st.selectbox(
        plain("compare.run"),
        ids,
        format_func=names.get,
        key=P + "run",
        index=ids.index(active.id) if active is not None and active.id in ids else len(ids) - 1,
    )
    run = next(r for r in student_runs if r.id == run_id)
    history = run.history
    if not history.confusion:
        st.info(t("inside.no_analysis"))
        return
    # One above the other, each the column's whole width: side by side, the per-digit labels shrank
    # to 5 px and four-digit counts spilled over their cells at 1366×768.
    st.markdown(f"**{t('inside.per_digit')}**")
    charts.plotly(
        figs.per_class_figure(history.per_class_accuracy), key=P + "per_class", config={"displayModeBar": False}
    )
    st.markdown(f"**{t('inside.confusion')}**")
    st.html(SCROLL_CSS % {"width": figs.confusion_min_width(history.confusion)})
    with st.container(key="train-inside-confusion-box"):
        event = charts.plotly(
            figs.confusion_figure(history.confusion, selectable=True),
            key=P + "confusion",
            on_select="rerun",
            selection_mode="points",
            config={"displayModeBar": False},
        )
    pick_from_click(event)
    _why_not_higher(student_runs, on_setup_cnn)
    st.markdown(f"**{t('inside.mistakes')}**")
    _gallery(room, run.id, history)
    st.markdown(f"**{t('inside.first_layer')}**")
    _first_layer(run)


def pick_from_click(event) -> None:
    """A clicked cell becomes the true/predicted choice below (once per new click)."""
    cell = figs.selected_cell(event)
    if cell is not None and cell != st.session_state.get(P + "last_cell"):
        st.session_state[P + "last_cell"] = cell
        st.session_state[P + "true"], st.session_state[P + "pred"] = cell


def _digit_label(value) -> str:
    return plain("inside.any_digit") if value == ANY else str(value)


def _gallery(room: Room, run_id: str, history) -> None:
    choose_true, choose_pred = st.columns(2)
    true = choose_true.selectbox(
        plain("inside.true_digit"), [ANY, *DIGITS], key=widgets.worded(P + "true"), format_func=_digit_label
    )
    pred = choose_pred.selectbox(
        plain("inside.predicted_as"), [ANY, *DIGITS], key=widgets.worded(P + "pred"), format_func=_digit_label
    )
    picked = [
        i
        for i, (a, b) in enumerate(zip(history.misclassified_true, history.misclassified_pred))
        if (true == ANY or a == true) and (pred == ANY or b == pred)
    ]
    st.caption(mistakes_caption(len(picked), history.misclassified_total, len(history.misclassified), true, pred))
    shown = picked[:SHOWN_MISTAKES]
    if not shown:
        st.info(t("inside.no_such_mistakes"))
        return

    def build():
        mnist = room.mnist()
        images = mnist.test_images[[history.misclassified[i] for i in shown]].numpy()  # [K, 28, 28]
        probs = np.asarray([history.misclassified_probs[i] for i in shown])  # [K, 10]
        return figs.gallery_figure(
            images,
            probs,
            [history.misclassified_true[i] for i in shown],
            [history.misclassified_pred[i] for i in shown],
        )

    figure = cached_figure(("gallery", run_id, true, pred), build)
    charts.plotly(figure, key=P + "gallery", config={"displayModeBar": False})


def mistakes_caption(count: int, total: int, kept: int, true, pred) -> str:
    """How many mistakes the gallery draws from: all of them, the most confident kept, or one kind."""
    if true == ANY and pred == ANY:
        if kept >= total:
            return t("inside.mistakes_all", total=fmt.count(total))
        return t("inside.mistakes_kept", kept=fmt.count(kept), total=fmt.count(total))
    return t("inside.mistakes_picked", count=fmt.count(count), kept=fmt.count(kept))


def cached_figure(key: tuple, build):
    """A run's figure, built once per run and language (its titles are the reader's words)."""
    key = (*key, i18n.current_language())
    cache = st.session_state.setdefault(P + "figures", {})
    if key not in cache:
        if len(cache) >= FIGURE_CACHE:
            cache.pop(next(iter(cache)))
        cache[key] = build()
    return cache[key]


def _first_layer(run) -> None:
    model = run.model
    if run.spec.kind == "cnn":
        weights = model.conv1.weight.detach().cpu().numpy()  # [10, 1, 5, 5]
        st.caption(t("inside.cnn_filters"))
        titles = [plain("figures.filter", index=i) for i in range(len(weights))]
        figure = cached_figure(("weights", run.id), lambda: figs.weights_figure(weights, titles, cols=10))
    else:
        weights = model.linears[0].weight.detach().cpu().numpy()  # [K, 784]
        if not run.spec.hidden_sizes:
            st.caption(t("inside.templates"))
            titles, cols = [plain("figures.digit_title", digit=c) for c in DIGITS], 5
        else:
            count = min(len(weights), 32)
            st.caption(t("inside.units", count=count, total=len(weights)))
            weights, titles, cols = weights[:count], [plain("figures.unit", index=i) for i in range(count)], 8
        figure = cached_figure(("weights", run.id), lambda: figs.weights_figure(weights, titles, cols=cols))
    charts.plotly(figure, key=P + "weights", config={"displayModeBar": False})


def _why_not_higher(student_runs, on_setup_cnn) -> None:
    best = figs.best_by_kind(student_runs)
    st.markdown(f"**{t('inside.why_title')}**")
    mlp, cnn = best.get("mlp"), best.get("cnn")
    if mlp and cnn:
        st.markdown(
            t(
                "inside.why_both",
                mlp=mlp.name,
                mlp_accuracy=fmt.percent(mlp.accuracy),
                mlp_params=fmt.count(mlp.parameters),
                cnn=cnn.name,
                cnn_accuracy=fmt.percent(cnn.accuracy),
                cnn_params=fmt.count(cnn.parameters),
            )
        )
        return
    st.markdown(t("inside.why_missing_cnn" if mlp else "inside.why_missing_mlp"))
    if mlp:
        st.button(t("inside.setup_cnn"), key="train.setup_cnn", on_click=on_setup_cnn)
