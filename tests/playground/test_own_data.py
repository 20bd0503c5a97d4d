"""Your own data's run: which table a run belongs to, the iris defaults a teacher can rely on, and a
table run trained on the room and stored with what it was trained on."""

import io

import numpy as np
import pandas as pd
import pytest
import streamlit as st
import torch

from core.models import build_model
from core.tabular import make_data, prepare
from core.training import fit
from playground import own_data, runs
from playground.csv_reading import iris_demo, table_to_data
from tests.playground.room_helpers import finish


@pytest.fixture(scope="module")
def iris():
    return table_to_data(iris_demo(), "species")


def iris_accuracy(data, seed: int) -> float:
    """Held-out accuracy of the page's defaults on one seed (its own split and initialization)."""
    settings = own_data.DEFAULTS.with_overrides(seed=seed)
    split = prepare(data, settings.test_fraction, settings.seed)
    model = build_model(settings.spec(data.num_features, data.num_classes), seed=seed)
    return fit(model, settings.config(), split.train, split.test, device="cpu").final_accuracy


# ---- which table ---------------------------------------------------------------------------------


def test_a_tables_fingerprint_tells_tables_apart(iris):
    again = table_to_data(iris_demo(), "species")
    assert own_data.table_fingerprint(iris) == own_data.table_fingerprint(again)
    assert len(own_data.table_fingerprint(iris)) == 16
    changed_value = iris_demo()
    changed_value.loc[7, "sepal_width"] += 0.1
    renamed_feature = iris_demo().rename(columns={"petal_width": "petal_w"})
    renamed_class = iris_demo().replace({"species": {"setosa": "Setosa"}})
    others = [
        table_to_data(changed_value, "species"),
        table_to_data(renamed_feature, "species"),
        table_to_data(renamed_class, "species"),
        table_to_data(iris_demo().iloc[:-1], "species"),
    ]
    prints = {own_data.table_fingerprint(t) for t in [iris, *others]}
    assert len(prints) == 5


def test_the_same_numbers_with_other_labels_are_another_table():
    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    a = make_data(X, ["a", "b"] * 10, ("x", "y"))
    b = make_data(X, ["b", "a"] * 10, ("x", "y"))
    assert own_data.table_fingerprint(a) != own_data.table_fingerprint(b)


# ---- the iris defaults ---------------------------------------------------------------------------------


def test_the_iris_defaults_are_the_documented_ones():
    d = own_data.DEFAULTS
    assert (d.hidden_sizes, d.optimizer, d.lr, d.momentum, d.batch_size, d.epochs, d.test_fraction) == (
        (32,),
        "sgd",
        0.05,
        0.9,
        16,
        100,
        0.3,
    )
    assert d.errors(4, 3) == []


def test_the_iris_defaults_learn_iris(iris):
    """The regression test for the page's defaults: seed 0 is typical, and ten seeds average 94%+."""
    accuracies = [iris_accuracy(iris, seed) for seed in range(10)]
    assert accuracies[0] >= 0.93, accuracies
    assert np.mean(accuracies) >= 0.94, accuracies


# ---- a run on the room -----------------------------------------------------------------------------------


def test_a_table_run_trains_on_the_room_and_is_stored_with_its_table(room, iris):
    settings = own_data.DEFAULTS
    entry = own_data.start_run(room, "ada", iris, settings, "iris demo · target species")
    assert entry is not None and room.job_of("ada", "own") is entry
    finish(entry)
    assert own_data.has_model(entry)
    history = entry.job.snapshot().history
    assert history.final_accuracy == pytest.approx(iris_accuracy(iris, 0))  # the same run as alone

    (run,) = runs.list_runs("ada", room, dataset="table")
    assert run.id == entry.run_id and run.name == "iris demo · target species"
    meta = run.record.meta
    assert meta["table"] == own_data.table_fingerprint(iris) and meta["page"] == "own"
    assert meta["features"] == list(iris.feature_names) and meta["classes"] == list(iris.class_names)
    assert meta["test_fraction"] == settings.test_fraction
    assert run.spec.in_features == 4 and run.spec.num_classes == 3
    assert runs.list_runs("ada", room) == [] and runs.active_run("ada", room) is None  # never Draw's model


def test_a_table_runs_softmax_covers_every_row(room, iris):
    entry = finish(own_data.start_run(room, "ada", iris, own_data.DEFAULTS, "iris"))
    table = entry.details["table"]
    probs = table.probs(entry.job.model)
    assert probs.shape == (150, 3) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    X = torch.from_numpy(table.split.standardizer.transform(iris.X))
    with torch.no_grad():
        expected = torch.softmax(entry.job.model(X), dim=1).numpy()
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-7)
    held_out = table.split.test_idx
    accuracy = float((probs[held_out].argmax(axis=1) == iris.y[held_out]).mean())
    assert accuracy == pytest.approx(entry.job.snapshot().history.final_accuracy)
    assert table.probs(entry.job.model) is probs  # worked out once per run


def test_a_run_that_cannot_split_the_table_does_not_start(room, iris):
    settings = own_data.DEFAULTS.with_overrides(test_fraction=0.9)  # nothing left to learn from
    assert own_data.start_run(room, "ada", iris, settings, "iris") is None
    assert room.job_of("ada", "own") is None
    reason = st.session_state.pop(own_data.OWN.prefix + "start_error")  # what the page shows instead
    assert "held-out fraction" in reason


def test_predictions_download_as_csv(iris):
    frame = pd.DataFrame({"row": [0, 1], "p(setosa)": [0.123456789, 1e-9], "true class": ["setosa", "é"]})
    back = pd.read_csv(io.BytesIO(own_data.to_csv_bytes(frame)))
    assert back["row"].tolist() == [0, 1] and back["true class"].tolist() == ["setosa", "é"]
    assert back["p(setosa)"].tolist() == pytest.approx([0.123457, 1e-9])
    assert own_data.to_csv_bytes(frame).decode("utf-8").splitlines()[0] == "row,p(setosa),true class"
