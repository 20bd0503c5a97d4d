"""core.tabular: target encoding, checks, the stratified split, standardization, and training a table."""

import pickle

import numpy as np
import pytest
import torch

from core import tabular as tb
from core.errors import CodedError, all_templates
from core.models import ModelSpec, build_model
from core.training import TrainConfig, fit


def blobs(n_per_class=100, num_classes=3, num_features=5, spread=4.0, seed=0):
    """Gaussian blobs in F dimensions, unit noise, centres `spread` apart along different axes.

    The last feature is in thousands around 5,000 (like a price next to lengths in cm),
    so the features only share a scale after standardizing.
    """
    rng = np.random.default_rng(seed)
    centres = spread * np.eye(num_classes, num_features)  # [C, F]
    X = np.concatenate([centres[c] + rng.standard_normal((n_per_class, num_features)) for c in range(num_classes)])
    X[:, -1] = 5_000 + 1_000 * X[:, -1]
    names = np.repeat([f"kind {c}" for c in range(num_classes)], n_per_class)
    return X, names


# ---- encoding and checks ---------------------------------------------------------------------


def test_text_classes_are_sorted_and_decode_back_to_the_values():
    values = np.array(["virginica", "setosa", "versicolor", "setosa"], dtype=object)
    y, names = tb.encode_target(values)
    assert names == ("setosa", "versicolor", "virginica")
    assert y.dtype == np.int64 and y.tolist() == [2, 0, 1, 0]
    assert [names[k] for k in y] == values.tolist()


def test_numeric_classes_sort_as_numbers_and_whole_floats_read_as_integers():
    y, names = tb.encode_target(np.array([10.0, 2.0, 2.0, 1.0]))
    assert names == ("1", "2", "10")  # as text, "10" would come before "2"
    assert y.tolist() == [2, 1, 1, 0]
    _, fractional = tb.encode_target(np.array([0.5, 1.5]))
    assert fractional == ("0.5", "1.5")


@pytest.mark.parametrize(
    "values, code",
    [
        (np.array([1.0, np.nan, 2.0]), "tabular.target_not_finite"),
        (np.array([1.0, np.inf, 2.0]), "tabular.target_not_finite"),
        (np.array(["a", None, "b"], dtype=object), "tabular.target_missing"),
        (np.array(["a", "  ", "b"], dtype=object), "tabular.target_missing"),
    ],
)
def test_a_target_with_gaps_is_refused(values, code):
    with pytest.raises(tb.TabularError, match="missing") as error:
        tb.encode_target(values)
    assert error.value.code == code and error.value.params == {}


def test_a_two_dimensional_target_is_a_callers_mistake():
    with pytest.raises(ValueError, match="one column") as error:
        tb.encode_target(np.zeros((3, 2)))
    assert not isinstance(error.value, CodedError)


def test_one_class_is_refused_with_its_name():
    y, names = tb.encode_target(np.array(["spam"] * 20, dtype=object))
    with pytest.raises(tb.TabularError, match="the target 'kind' has only one class \\('spam'\\)") as error:
        tb.check_classes(y, names, "kind")
    assert error.value.code == "tabular.one_class" and error.value.params == {"target": "kind", "only": "spam"}
    with pytest.raises(tb.TabularError) as error:
        tb.check_classes(np.zeros(0, np.int64), (), "kind")
    assert error.value.code == "tabular.no_classes"


def test_hundreds_of_classes_read_as_an_id_or_a_measurement():
    y, names = tb.encode_target(np.arange(300) / 7)  # a continuous column picked as the target
    with pytest.raises(tb.TabularError, match="300 different values.*at most 50 classes") as error:
        tb.check_classes(y, names)
    assert error.value.code == "tabular.too_many_classes"
    assert error.value.params == {"target": "target", "classes": 300, "limit": tb.MAX_CLASSES}
    y, names = tb.encode_target(np.arange(2 * tb.MAX_CLASSES) % tb.MAX_CLASSES)  # exactly the limit, 2 rows each
    tb.check_classes(y, names)


def test_a_class_with_a_single_row_is_named():
    y, names = tb.encode_target(np.array(["a"] * 5 + ["b"] * 5 + ["lonely"], dtype=object))
    with pytest.raises(tb.TabularError, match="1 of the 3 classes.*\\(lonely\\)") as error:
        tb.check_classes(y, names)
    assert error.value.code == "tabular.rare_classes"
    assert error.value.params == {"target": "target", "rare": 1, "classes": 3, "min_rows": 2, "names": "lonely"}


def test_many_rare_classes_are_named_up_to_five():
    values = np.array(["common"] * 4 + [f"r{i}" for i in range(7)], dtype=object)
    with pytest.raises(tb.TabularError) as error:
        tb.check_classes(*tb.encode_target(values), "code")
    assert error.value.params["rare"] == 7 and error.value.params["names"] == "r0, r1, r2, r3, r4, …"


def test_feature_checks_name_the_bad_columns():
    X = np.ones((20, 3))
    X[4, 1] = np.inf
    X[7, 2] = 1e300  # finite in float64, infinite as float32
    with pytest.raises(tb.TabularError, match="non-finite.*: b, c") as error:
        tb.make_data(X, ["p", "q"] * 10, ("a", "b", "c"))
    assert error.value.code == "tabular.not_finite" and error.value.params == {"columns": "b, c"}
    with pytest.raises(tb.TabularError, match="only 3 row\\(s\\)") as error:
        tb.check_features(np.ones((3, 2), np.float32), ("a", "b"))
    assert error.value.code == "tabular.too_few_rows" and error.value.params == {"rows": 3, "min_rows": tb.MIN_ROWS}
    with pytest.raises(tb.TabularError, match="only 1 row\\(s\\);"):
        tb.check_features(np.ones((1, 2), np.float32), ("a", "b"))
    with pytest.raises(tb.TabularError, match="at most 1,000") as error:
        tb.check_features(np.ones((20, tb.MAX_FEATURES + 1), np.float32), tuple(map(str, range(tb.MAX_FEATURES + 1))))
    assert error.value.code == "tabular.too_many_features" and error.value.params["features"] == tb.MAX_FEATURES + 1
    with pytest.raises(tb.TabularError, match="no numeric feature columns") as error:
        tb.check_features(np.ones((20, 0), np.float32), ())
    assert error.value.code == "tabular.no_features"


def test_too_many_rows_are_refused(monkeypatch):
    monkeypatch.setattr(tb, "MAX_ROWS", 50)
    with pytest.raises(tb.TabularError, match="60 rows; this page takes at most 50") as error:
        tb.check_features(np.ones((60, 2), np.float32), ("a", "b"))
    assert error.value.code == "tabular.too_many_rows" and error.value.params == {"rows": 60, "limit": 50}


def test_every_tabular_code_is_namespaced_and_errors_survive_pickling():
    codes = [code for code in all_templates() if code in tb.TabularError.templates]
    assert codes and all(code.startswith("tabular.") for code in codes)
    error = tb.TabularError("tabular.one_class", target="kind", only="spam")
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, ValueError) and (again.code, again.params, str(again)) == (
        error.code,
        error.params,
        str(error),
    )


def test_no_message_wraps_a_name_in_markdown():
    for template in tb.TabularError.templates.values():
        assert "`" not in template and "**" not in template


def test_make_data_gives_float32_features_int64_labels_and_row_numbers():
    X, names = blobs(n_per_class=10)
    data = tb.make_data(X, names, [f"x{i}" for i in range(5)], notes=("read",), rows=np.arange(100, 130))
    assert data.X.dtype == np.float32 and data.X.shape == (30, 5)
    assert data.y.dtype == np.int64 and data.class_counts().tolist() == [10, 10, 10]
    assert data.class_names == ("kind 0", "kind 1", "kind 2")
    assert data.rows.tolist() == list(range(100, 130)) and data.notes == ("read",)
    assert tb.make_data(X, names, [f"x{i}" for i in range(5)]).rows.tolist() == list(range(30))


# ---- the split ---------------------------------------------------------------------------------


def test_stratified_split_keeps_each_class_share_in_both_parts():
    y = np.repeat([0, 1, 2], [50, 30, 7])
    train, test = tb.stratified_split(y, 0.2, seed=0)
    assert np.bincount(y[test]).tolist() == [10, 6, 1]  # round(50·0.2), round(30·0.2), round(7·0.2)
    assert np.bincount(y[train]).tolist() == [40, 24, 6]


def test_stratified_split_is_disjoint_covering_and_deterministic():
    y = np.random.default_rng(1).integers(0, 4, size=203)
    train, test = tb.stratified_split(y, 0.3, seed=5)
    assert not set(train) & set(test)
    assert sorted([*train, *test]) == list(range(203))
    again_train, again_test = tb.stratified_split(y, 0.3, seed=5)
    assert np.array_equal(train, again_train) and np.array_equal(test, again_test)
    _, other_test = tb.stratified_split(y, 0.3, seed=6)
    assert not np.array_equal(test, other_test)


def test_every_class_lands_in_both_parts_even_when_tiny():
    y = np.array([0, 0, 1, 1, 1, 2, 2] + [3] * 40)
    for fraction in (tb.MIN_TEST_FRACTION, 0.5):
        train, test = tb.stratified_split(y, fraction, seed=0)
        assert set(y[train]) == set(y[test]) == {0, 1, 2, 3}


def test_a_fraction_out_of_range_is_refused():
    with pytest.raises(tb.TabularError, match="held-out fraction must be in 0.05..0.5, got 0.9") as error:
        tb.stratified_split(np.array([0, 1] * 10), 0.9)
    assert error.value.code == "tabular.test_fraction"
    assert error.value.params == {"low": tb.MIN_TEST_FRACTION, "high": tb.MAX_TEST_FRACTION, "value": 0.9}


def test_a_class_of_one_row_cannot_be_split():
    with pytest.raises(tb.TabularError, match="class 1 has 1 row\\(s\\)") as error:
        tb.stratified_split(np.array([0] * 10 + [1]), 0.2)
    assert error.value.code == "tabular.class_too_small" and error.value.params == {"label": 1, "rows": 1}


# ---- standardization ---------------------------------------------------------------------------


def test_standardized_training_rows_have_mean_0_and_std_1_like_torch():
    X, _ = blobs()
    scaler = tb.Standardizer.fit(X)
    Z = scaler.transform(X)
    reference = torch.as_tensor(X, dtype=torch.float64)
    reference = (reference - reference.mean(dim=0)) / reference.std(dim=0, unbiased=False)
    assert np.allclose(Z, reference.numpy(), atol=1e-5)
    assert np.allclose(Z.mean(axis=0), 0, atol=1e-5) and np.allclose(Z.std(axis=0), 1, atol=1e-5)


def test_held_out_rows_are_scaled_with_the_training_statistics():
    X, y_names = blobs()
    data = tb.make_data(X, y_names, [f"x{i}" for i in range(5)])
    split = tb.prepare(data, 0.2, seed=0)
    train_rows = data.X[split.train_idx].astype(np.float64)
    assert np.allclose(split.standardizer.mean, train_rows.mean(axis=0), rtol=1e-5)
    assert np.allclose(split.standardizer.std, train_rows.std(axis=0), rtol=1e-5)
    by_hand = (data.X[split.test_idx] - train_rows.mean(axis=0)) / train_rows.std(axis=0)
    assert np.allclose(split.X_test.numpy(), by_hand, atol=1e-4)
    assert split.X_train.dtype == torch.float32 and split.y_test.dtype == torch.int64
    assert torch.equal(split.y_test, torch.from_numpy(data.y[split.test_idx]))


def test_a_constant_feature_is_left_unscaled_and_named():
    X = np.column_stack([np.arange(10.0), np.full(10, 3.0)])
    scaler = tb.Standardizer.fit(X)
    assert scaler.constant == (1,) and scaler.std[1] == 1.0
    assert np.isfinite(scaler.transform(X)).all() and np.allclose(scaler.transform(X)[:, 1], 0)
    assert scaler.constant_features(["length", "colour"]) == ["colour"]


def test_split_labels_mark_the_held_out_rows():
    assert tb.split_labels(4, np.array([1, 3])).tolist() == ["train", "held-out", "train", "held-out"]


# ---- training ---------------------------------------------------------------------------------


def test_three_blobs_in_5d_are_learned_through_fit():
    X, names = blobs(n_per_class=100)
    data = tb.make_data(X, names, [f"x{i}" for i in range(5)])
    split = tb.prepare(data, 0.2, seed=0)
    spec = ModelSpec(kind="mlp", hidden_sizes=(16,), in_features=5, num_classes=3)
    history = fit(
        build_model(spec, seed=0),
        TrainConfig(epochs=20, batch_size=16, lr=0.01, momentum=0.5),
        split.train,
        split.test,
        device="cpu",
    )
    assert len(split.test_idx) == 60
    assert sum(map(sum, history.confusion)) == 60
    assert history.final_accuracy >= 0.95
