"""playground.tabular_ui and playground.figures.tabular: the class, feature and predictions tables,
the iris demo trained with the page's defaults, and the figures (reading a CSV: test_csv_reading)."""

import io

import numpy as np
import pandas as pd
import pytest
import torch

from core.tabular import prepare
from core.training import History, LossPoint, EpochStats, fit
from core.models import build_model
from playground import tabular_ui as ui
from playground.csv_reading import iris_demo, table_to_data
from playground.figures import tabular as figs


# ---- tables ---------------------------------------------------------------------------------------


def test_class_and_feature_tables_summarize_the_data():
    data = table_to_data(iris_demo(), "species")
    classes = ui.class_table(data)
    assert classes["rows"].tolist() == [50, 50, 50] and np.allclose(classes["share %"], 100 / 3)
    features = ui.feature_table(data).set_index("feature")
    petal = data.X[:, data.feature_names.index("petal_length")].astype(np.float64)
    assert features.loc["petal_length", "mean"] == pytest.approx(petal.mean())
    assert features.loc["petal_length", "std"] == pytest.approx(petal.std())
    assert (features.loc["petal_length", "min"], features.loc["petal_length", "max"]) == (1.0, pytest.approx(6.9))


def test_the_predictions_frame_holds_the_softmax_of_each_row():
    data = table_to_data(iris_demo(), "species")
    split = prepare(data, 0.2, seed=0)
    logits = torch.randn(data.num_rows, 3, generator=torch.Generator().manual_seed(0))
    probs = torch.softmax(logits, dim=1).numpy()  # [150, 3]
    held_out = ui.predictions_frame(data, split.test_idx, probs, rows="held-out")
    p_columns = ["p(setosa)", "p(versicolor)", "p(virginica)"]
    assert list(held_out.columns) == ["row", *data.feature_names, "true class", "predicted class", "correct", *p_columns]
    assert held_out["row"].tolist() == split.test_idx.tolist()
    assert np.allclose(held_out[p_columns].to_numpy(), probs[split.test_idx])
    assert held_out["predicted class"].tolist() == [data.class_names[k] for k in probs[split.test_idx].argmax(1)]
    assert (held_out["correct"] == (held_out["true class"] == held_out["predicted class"])).all()

    everything = ui.predictions_frame(data, split.test_idx, probs, rows="all")
    assert len(everything) == 150 and everything["part"].value_counts().to_dict() == {"train": 120, "held-out": 30}
    back = pd.read_csv(io.BytesIO(ui.to_csv_bytes(everything)))
    assert back.shape == everything.shape and np.allclose(back[p_columns], everything[p_columns])


# ---- settings and training ---------------------------------------------------------------------------


def test_settings_build_a_model_for_the_table():
    data = table_to_data(iris_demo(), "species")
    settings = ui.OwnSettings()
    spec = settings.spec(data)
    assert (spec.in_features, spec.hidden_sizes, spec.num_classes) == (4, (64, 32), 3)
    assert settings.errors(data) == []
    assert settings.config().batch_size == 16
    assert ui.OwnSettings(optimizer="adam", momentum=0.9).config().momentum == 0.0


def test_settings_advice_warns_about_big_steps_and_long_runs():
    assert "lr / (1 − momentum) = 20" in ui.OwnSettings(lr=2.0, momentum=0.9).advice(120)["lr"]
    assert "batch_size" in ui.OwnSettings(batch_size=200).advice(120)
    notes = ui.OwnSettings(batch_size=1, epochs=1000, log_every=1).advice(50_000)
    assert "50,000,000 batches" in notes["epochs"] and "logging every 50,000 batches" in notes["log_every"]
    assert ui.OwnSettings().advice(120) == {}


def test_iris_with_the_page_defaults_reaches_90_percent():
    """Held-out accuracy over 5 seeds: 30 held-out rows make one split noisy (a row is 3.3 points)."""
    data = table_to_data(iris_demo(), "species")
    accuracies = []
    for seed in range(5):
        settings = ui.OwnSettings(seed=seed)
        split = prepare(data, settings.test_fraction, settings.seed)
        history = fit(build_model(settings.spec(data), seed=seed), settings.config(), split.train, split.test,
                      device="cpu")
        accuracies.append(history.final_accuracy)
    assert np.mean(accuracies) >= 0.90, accuracies
    assert min(accuracies) >= 0.8, accuracies


# ---- figures --------------------------------------------------------------------------------------


def test_the_confusion_figure_names_the_classes_and_splits_right_from_wrong():
    confusion = [[10, 0, 0], [0, 9, 1], [0, 2, 8]]
    fig = figs.confusion_figure(confusion, ["setosa", "versicolor", "virginica"])
    correct, mistakes = fig.data
    assert list(correct.x) == list(correct.y) == ["setosa", "versicolor", "virginica"]
    assert np.diag(np.asarray(correct.z, dtype=float)).tolist() == [10, 9, 8]
    wrong = np.nan_to_num(np.asarray(mistakes.z, dtype=float))
    assert wrong.tolist() == [[0, 0, 0], [0, 0, 1], [0, 2, 0]] and mistakes.zmax == 2
    with pytest.raises(ValueError, match="needs 3 class names"):
        figs.confusion_figure(confusion, ["a", "b"])


def test_the_live_curve_speaks_of_held_out_rows_and_drops_crowded_labels():
    history = History(running_loss=[LossPoint(s, s / 8, 1.0 / s) for s in range(1, 17)],
                      epochs=[EpochStats(1, 0.9, 0.8, 0.7, 0.01), EpochStats(2, 0.5, 0.4, 0.9, 0.01)])
    few = figs.live_loss_figure(history, epochs=10)
    assert [trace.name for trace in few.data] == ["training loss (running)", "held-out loss", "held-out accuracy"]
    assert few.data[2].mode == "lines+markers+text" and list(few.data[2].y) == [70.0, 90.0]
    many = figs.live_loss_figure(history, epochs=100)
    assert many.data[2].mode == "lines" and many.layout.xaxis.range[1] == pytest.approx(102)
