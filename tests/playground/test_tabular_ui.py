"""playground.tabular_ui and playground.figures.tabular: reading uploads, every bad file's message,
the iris demo trained with the page's defaults, the predictions table and the figures."""

import io

import numpy as np
import pandas as pd
import pytest
import torch

from core.tabular import MAX_CLASSES, TabularError, prepare
from core.training import History, LossPoint, EpochStats, fit
from core.models import build_model
from playground import tabular_ui as ui
from playground.figures import tabular as figs


def csv_bytes(rows: list[str]) -> bytes:
    return ("\n".join(rows) + "\n").encode("utf-8")


def small_table(n=30) -> bytes:
    """Two numeric features and a text class, n rows."""
    return csv_bytes(["width,height,kind", *(f"{i % 7}.5,{(3 * i) % 5},{'ab'[i % 2]}" for i in range(n))])


# ---- reading a file: the good cases --------------------------------------------------------------


def test_a_plain_csv_is_read_with_its_types():
    df = ui.read_csv_upload(small_table(), "shapes.csv")
    assert df.shape == (30, 3) and list(df.columns) == ["width", "height", "kind"]
    assert df["width"].dtype == np.float64 and df["height"].dtype == np.int64
    assert df.attrs["notes"] == []


def test_semicolons_and_decimal_commas_are_understood():
    df = ui.read_csv_upload("a;b;kind\n1,5;2;x\n2,25;3;y\n".encode(), "excel.csv")
    assert df["a"].tolist() == [1.5, 2.25]
    assert any("';'" in note and "decimal" in note for note in df.attrs["notes"])


def test_a_byte_order_mark_does_not_stick_to_the_first_column():
    df = ui.read_csv_upload("\ufeffa,b\n1,x\n".encode("utf-8"), "bom.csv")
    assert list(df.columns) == ["a", "b"]


def test_windows_1252_text_is_read_with_a_note():
    df = ui.read_csv_upload("größe,art\n1,Äpfel\n".encode("cp1252"), "alt.csv")
    assert list(df.columns) == ["größe", "art"] and df["art"][0] == "Äpfel"
    assert any("Windows-1252" in note for note in df.attrs["notes"])


# ---- reading a file: every bad upload has its own message ----------------------------------------


@pytest.mark.parametrize("data, name, message", [
    (small_table(), "shapes.xlsx", "is not a .csv file"),
    (b"", "empty.csv", "is empty"),
    (b"   \n\n", "blank.csv", "is empty"),
    (b"PK\x03\x04" + bytes(100), "book.csv", "Excel workbook"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "photo.csv", "binary file"),
    (b"width,height,kind\n", "header.csv", "header row but no data rows"),
    (b"only\n1\n2\n", "one.csv", "only one column"),
    (b"name,colour\nanne,red\nbob,blue\n", "text.csv", "no numeric columns"),
    (b"a,b\n1,2\n3,4,5,6\n", "ragged.csv", "could not be read as CSV: .*Expected 2 fields"),
    (b"a,b\n\x81\x8d,1\n", "garbled.csv", "not readable text"),
])
def test_each_bad_upload_gets_its_message(data, name, message):
    with pytest.raises(TabularError, match=message):
        ui.read_csv_upload(data, name)


def test_a_file_over_the_limit_is_refused_before_parsing():
    assert ui.MAX_UPLOAD_MB < 20  # below the server's maxUploadSize, so this message is the one shown
    too_big = small_table() + b"1.5,2,a\n" * (ui.MAX_UPLOAD_BYTES // 8)
    with pytest.raises(TabularError, match=f"big.csv is {len(too_big) / 2**20:.1f} MB.*up to {ui.MAX_UPLOAD_MB} MB"):
        ui.read_csv_upload(too_big, "big.csv")


# ---- choosing columns -----------------------------------------------------------------------------


def test_the_iris_demo_has_150_rows_4_features_3_species():
    df = ui.iris_demo()
    assert "species_id" not in df.columns  # it would give the answer away
    assert ui.guess_target(df) == "species"
    data = ui.table_to_data(df, "species")
    assert (data.num_rows, data.num_features, data.num_classes) == (150, 4, 3)
    assert data.class_names == ("setosa", "versicolor", "virginica")
    assert data.class_counts().tolist() == [50, 50, 50]
    assert np.allclose(data.X, df[list(data.feature_names)].to_numpy())


def test_a_target_is_guessed_by_name_then_as_the_last_text_column():
    assert ui.guess_target(pd.DataFrame({"Class": [1], "x": [2.0]})) == "Class"
    assert ui.guess_target(pd.DataFrame({"a": ["x"], "b": ["y"], "c": [1.0]})) == "b"
    assert ui.guess_target(pd.DataFrame({"a": [1.0], "b": [2]})) == "b"


def test_text_columns_and_row_numbers_are_left_out_with_notes():
    df = pd.DataFrame({"id": range(1, 21), "name": [f"n{i}" for i in range(20)],
                       "size": np.linspace(0, 1, 20), "kind": ["a", "b"] * 10})
    data = ui.table_to_data(df, "kind")
    assert data.feature_names == ("size",)
    assert any("Not numeric" in note and "name" in note for note in data.notes)
    assert any("running row number" in note and "id" in note for note in data.notes)


def test_a_numeric_target_and_a_boolean_feature_work():
    df = pd.DataFrame({"flag": [True, False] * 10, "x": np.arange(20) % 3, "grade": [3, 1] * 10})
    data = ui.table_to_data(df, "grade")
    assert data.class_names == ("1", "3") and data.feature_names == ("flag", "x")
    assert data.X[:2, 0].tolist() == [1.0, 0.0]


def test_one_class_in_the_target_is_refused():
    df = ui.read_csv_upload(csv_bytes(["x,kind", *(f"{i % 4},same" for i in range(20))]), "one.csv")
    with pytest.raises(TabularError, match="the target 'kind' has only one class \\('same'\\)"):
        ui.table_to_data(df, "kind")


def test_hundreds_of_classes_are_refused():
    df = ui.read_csv_upload(csv_bytes(["x,code", *(f"{i % 5},item-{i}" for i in range(300))]), "ids.csv")
    with pytest.raises(TabularError, match=f"300 different values.*at most {MAX_CLASSES} classes"):
        ui.table_to_data(df, "code")


def test_no_numeric_feature_besides_the_target_is_refused():
    df = ui.read_csv_upload(csv_bytes(["name,score", *(f"n{i},{i % 3}" for i in range(20))]), "names.csv")
    with pytest.raises(TabularError, match="no numeric column to use as a feature"):
        ui.table_to_data(df, "score")


def test_missing_values_name_the_columns_and_can_be_dropped():
    rows = [f"{i},{i % 4},{'ab'[i % 2]}" for i in range(30)]
    rows[3] = "3,,a"
    rows[8] = ",,b"
    rows[9] = "9,1,"
    df = ui.read_csv_upload(csv_bytes(["x,y,kind", *rows]), "gaps.csv")
    assert ui.missing_counts(df, ["x", "y", "kind"]) == {"x": 1, "y": 2, "kind": 1}
    with pytest.raises(TabularError) as error:
        ui.table_to_data(df, "kind")
    message = str(error.value)
    assert "'x' (1 empty cell), 'y' (2 empty cells), 'kind' (1 empty cell)" in message
    assert "3 of the 30 rows have a gap" in message and "other 27" in message
    data = ui.table_to_data(df, "kind", drop_missing=True)
    assert data.num_rows == 27 and 3 not in data.rows and 8 not in data.rows and 9 not in data.rows
    assert any("Left out 3 rows" in note for note in data.notes)


def test_gaps_in_an_unused_text_column_do_not_matter():
    df = pd.DataFrame({"x": np.arange(20.0), "comment": [None, "ok"] * 10, "kind": ["a", "b"] * 10})
    assert ui.table_to_data(df, "kind").num_rows == 20


# ---- tables ---------------------------------------------------------------------------------------


def test_class_and_feature_tables_summarize_the_data():
    data = ui.table_to_data(ui.iris_demo(), "species")
    classes = ui.class_table(data)
    assert classes["rows"].tolist() == [50, 50, 50] and np.allclose(classes["share %"], 100 / 3)
    features = ui.feature_table(data).set_index("feature")
    petal = data.X[:, data.feature_names.index("petal_length")].astype(np.float64)
    assert features.loc["petal_length", "mean"] == pytest.approx(petal.mean())
    assert features.loc["petal_length", "std"] == pytest.approx(petal.std())
    assert (features.loc["petal_length", "min"], features.loc["petal_length", "max"]) == (1.0, pytest.approx(6.9))


def test_the_predictions_frame_holds_the_softmax_of_each_row():
    data = ui.table_to_data(ui.iris_demo(), "species")
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
    data = ui.table_to_data(ui.iris_demo(), "species")
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
    data = ui.table_to_data(ui.iris_demo(), "species")
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


def test_notes_on_reading_the_file_reach_the_data():
    text = "a;b;kind\n" + "".join(f"{i % 3},5;{i % 4};{'xy'[i % 2]}\n" for i in range(20))
    data = ui.table_to_data(ui.read_csv_upload(text.encode(), "eu.csv"), "kind")
    assert data.X[:3, 0].tolist() == [0.5, 1.5, 2.5]
    assert any("decimal mark" in note for note in data.notes)
