"""Your own data's figures and tables: the classes, the features, the softmax of every row, the live curve."""

import numpy as np
import pandas as pd
import pytest
import torch

from core.tabular import make_data, prepare
from core.training import EpochStats, History, LossPoint
from playground import i18n
from playground.csv_reading import iris_demo, table_to_data
from playground.figures import tabular as figs

P_COLUMNS = ["p(setosa)", "p(versicolor)", "p(virginica)"]


@pytest.fixture(autouse=True)
def english():
    with i18n.using("en"):
        yield


@pytest.fixture(scope="module")
def iris():
    return table_to_data(iris_demo(), "species")


@pytest.fixture(scope="module")
def split_and_probs(iris):
    split = prepare(iris, 0.2, seed=0)
    logits = torch.randn(iris.num_rows, 3, generator=torch.Generator().manual_seed(0))
    return split, torch.softmax(logits, dim=1).numpy()  # [150, 3]


def test_class_table_counts_the_rows_of_each_class():
    labels = ["b"] * 6 + ["a"] * 4 + ["c"] * 2
    data = make_data(np.arange(24, dtype=np.float32).reshape(12, 2), labels, ("x", "y"))
    classes = figs.class_table(data)
    assert list(classes.columns) == ["class", "rows", "share %"]
    counts = dict(zip(classes["class"], classes["rows"]))
    assert counts == {"a": 4, "b": 6, "c": 2}
    assert classes["share %"].tolist() == pytest.approx([100 * counts[c] / 12 for c in classes["class"]])


def test_class_and_feature_tables_of_iris(iris):
    classes = figs.class_table(iris)
    assert classes["rows"].tolist() == [50, 50, 50] and np.allclose(classes["share %"], 100 / 3)
    features = figs.feature_table(iris).set_index("feature")
    assert list(features.index) == list(iris.feature_names)
    petal = iris.X[:, iris.feature_names.index("petal_length")].astype(np.float64)
    assert features.loc["petal_length", "mean"] == pytest.approx(petal.mean())
    assert features.loc["petal_length", "std"] == pytest.approx(petal.std())
    assert (features.loc["petal_length", "min"], features.loc["petal_length", "max"]) == (1.0, pytest.approx(6.9))


def test_feature_table_describes_the_table_as_uploaded(iris):
    """Standardizing is for training; the table shows the user's own units."""
    split = prepare(iris, 0.2, seed=0)
    assert abs(float(split.X_train.mean())) < 1e-5  # what the network sees
    assert figs.feature_table(iris)["mean"].tolist() == pytest.approx(iris.X.astype(np.float64).mean(axis=0))


def test_the_predictions_of_held_out_rows_hold_their_softmax(iris, split_and_probs):
    split, probs = split_and_probs
    held_out = figs.predictions_frame(iris, split.test_idx, probs, rows="held-out")
    assert list(held_out.columns) == [
        "row",
        "true class",
        "predicted class",
        "correct",
        *P_COLUMNS,
        *iris.feature_names,  # the answers first: they stay in view on a laptop's screen
    ]
    assert held_out["row"].tolist() == split.test_idx.tolist()
    np.testing.assert_array_equal(held_out[list(iris.feature_names)].to_numpy(), iris.X[split.test_idx])
    assert np.allclose(held_out[P_COLUMNS].to_numpy(), probs[split.test_idx])
    assert held_out["predicted class"].tolist() == [iris.class_names[k] for k in probs[split.test_idx].argmax(1)]
    assert held_out["true class"].tolist() == [iris.class_names[k] for k in iris.y[split.test_idx]]
    right = held_out["true class"] == held_out["predicted class"]
    assert held_out["correct"].tolist() == ["✓" if ok else "✗" for ok in right]


def test_the_predictions_of_all_rows_say_which_part_each_was_in(iris, split_and_probs):
    split, probs = split_and_probs
    everything = figs.predictions_frame(iris, split.test_idx, probs, rows="all")
    assert len(everything) == 150 and everything["row"].tolist() == list(range(150))
    assert everything["part"].value_counts().to_dict() == {"train": 120, "held-out": 30}
    assert set(everything.loc[everything["part"] == "held-out", "row"]) == set(split.test_idx.tolist())
    assert np.allclose(everything[P_COLUMNS].to_numpy(), probs)
    with pytest.raises(ValueError):
        figs.predictions_frame(iris, split.test_idx, probs, rows="some")


def test_rows_keep_their_numbers_in_the_source_table():
    frame = pd.DataFrame(
        {"x": [1.0, 2.0, None] + [float(i) for i in range(4, 14)], "y": ["a", "b", "a"] + ["a", "b"] * 5}
    )
    data = table_to_data(frame, "y", drop_missing=True)  # the third row is left out
    probs = np.full((data.num_rows, 2), 0.5)
    shown = figs.predictions_frame(data, np.array([0, 3]), probs, rows="held-out")
    assert shown["row"].tolist() == [int(data.rows[0]), int(data.rows[3])]
    assert int(data.rows[3]) != 3


def test_the_live_curve_speaks_of_held_out_rows():
    history = History(
        running_loss=[LossPoint(s, s / 8, 1.0 / s) for s in range(1, 17)],
        epochs=[EpochStats(1, 0.9, 0.8, 0.7, 0.01), EpochStats(2, 0.5, 0.4, 0.9, 0.01)],
    )
    figure = figs.live_loss_figure(history, epochs=10)
    assert [trace.name for trace in figure.data] == ["training loss (running)", "held-out loss", "held-out accuracy"]
    assert figure.layout.yaxis2.title.text == "held-out accuracy (%)"
    assert list(figure.data[2].y) == [70.0, 90.0] and "text" in figure.data[2].mode
    assert figure.layout.xaxis.range[1] == pytest.approx(10.2)


def test_the_live_curve_of_a_long_run_drops_crowded_labels():
    history = History(epochs=[EpochStats(e, 0.5, 0.4, 0.9, 0.01) for e in range(1, 101)])
    figure = figs.live_loss_figure(history, epochs=100)
    labelled = [e + 1 for e, text in enumerate(figure.data[2].text) if text]
    assert labelled == list(range(10, 101, 10)) and figure.layout.xaxis.range[1] == pytest.approx(102)
