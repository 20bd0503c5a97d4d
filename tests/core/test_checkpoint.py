"""core.checkpoint: round trip and every kind of bad file, none of which runs code."""

import io
import json
import os
import pickle
import struct
import zipfile

import pytest
import torch

from core.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from core.models import ModelSpec, build_model
from core.training import TrainConfig, fit

SPEC = ModelSpec(hidden_sizes=(8, 4), activation="tanh", in_features=6, num_classes=3)


@pytest.fixture(scope="module")
def trained():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(40, 6, generator=g), torch.randint(0, 3, (40,), generator=g)
    model = build_model(SPEC, seed=0)
    config = TrainConfig(epochs=2, batch_size=8, lr=0.05, log_every=2)
    history = fit(model, config, (X, y), (X, y), device="cpu")
    return model, config, history, X


def checkpoint_bytes(model, spec=SPEC, config=None, history=None) -> bytes:
    buffer = io.BytesIO()
    save_checkpoint(buffer, model, spec, config, history)
    return buffer.getvalue()


def torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def valid_payload(model) -> dict:
    return torch.load(io.BytesIO(checkpoint_bytes(model)), weights_only=True)


# --------------------------------------------------------------------------- round trip


def test_round_trip_through_a_path(tmp_path, trained):
    model, config, history, X = trained
    path = tmp_path / "run.pt"
    save_checkpoint(path, model, SPEC, config, history)
    loaded = load_checkpoint(path)
    assert isinstance(loaded, Checkpoint)
    assert loaded.spec == SPEC and loaded.config == config and loaded.history == history
    assert not loaded.model.training
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.model.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    assert torch.equal(loaded.model(X), model(X))
    assert loaded.history.final_accuracy == history.final_accuracy


@pytest.mark.parametrize("as_", ["bytes", "file", "str"])
def test_round_trip_through_bytes_and_files(tmp_path, trained, as_):
    model, config, history, _ = trained
    data = checkpoint_bytes(model, SPEC, config, history)
    if as_ == "bytes":
        source = data  # what an upload arrives as
    elif as_ == "file":
        source = io.BytesIO(data)
        source.read(5)  # a file read from before: load rewinds it
    else:
        (tmp_path / "c.pt").write_bytes(data)
        source = str(tmp_path / "c.pt")
    loaded = load_checkpoint(source)
    assert loaded.spec == SPEC and loaded.history == history


def test_cnn_and_no_history_round_trip():
    model = build_model(ModelSpec(kind="cnn"), seed=1)
    loaded = load_checkpoint(checkpoint_bytes(model, ModelSpec(kind="cnn")))
    assert loaded.config is None and loaded.history is None
    X = torch.randn(2, 1, 28, 28)
    assert torch.equal(loaded.model(X), model.eval()(X))


def test_the_file_holds_only_plain_values(trained):
    model, config, history, _ = trained
    payload = torch.load(io.BytesIO(checkpoint_bytes(model, SPEC, config, history)), weights_only=True)
    assert ModelSpec.from_json(payload["spec"]) == SPEC
    assert json.loads(payload["config"]) == config.to_dict()
    assert all(isinstance(v, torch.Tensor) for v in payload["state_dict"].values())


# --------------------------------------------------------------------------- bad files


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty"),
        (b"hello, I am a text file\n", "not a PyTorch archive"),
        (bytes(range(256)) * 4, "not a PyTorch archive"),
        (b"PK\x03\x04" + b"\x00" * 100, "truncated or damaged"),
    ],
)
def test_garbage_is_named(data, words):
    with pytest.raises(CheckpointError, match=words):
        load_checkpoint(data)


def test_truncated_file(trained):
    data = checkpoint_bytes(trained[0])
    for keep in (len(data) // 2, len(data) - 30):
        with pytest.raises(CheckpointError, match="truncated or damaged"):
            load_checkpoint(data[:keep])


def test_corrupted_member_fails_its_checksum(trained):
    data = bytearray(checkpoint_bytes(trained[0]))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = next(i for i in archive.infolist() if i.file_size > 100)  # a weights record
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)  # local header
    start = info.header_offset + 30 + name_len + extra_len  # first byte of the stored data
    data[start + 10] ^= 0xFF
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(bytes(data))


def test_a_plain_state_dict_is_foreign(trained):
    with pytest.raises(CheckpointError, match="plain PyTorch state_dict"):
        load_checkpoint(torch_bytes(trained[0].state_dict()))


@pytest.mark.parametrize("obj", [torch.zeros(3), [1, 2, 3], {"format": "keras", "weights": 1}, {"a": "b"}])
def test_other_torch_files_are_foreign(obj):
    with pytest.raises(CheckpointError, match="foreign"):
        load_checkpoint(torch_bytes(obj))


@pytest.mark.parametrize("key", ["spec", "config", "history", "state_dict", "version"])
def test_missing_keys_are_named(trained, key):
    payload = valid_payload(trained[0])
    del payload[key]
    with pytest.raises(CheckpointError, match=f"missing keys: {key}"):
        load_checkpoint(torch_bytes(payload))


def test_bad_spec_json(trained):
    payload = valid_payload(trained[0])
    payload["spec"] = "{not json"
    with pytest.raises(CheckpointError, match="spec is not valid"):
        load_checkpoint(torch_bytes(payload))
    payload["spec"] = ModelSpec(hidden_sizes=(99999,)).to_json()
    with pytest.raises(CheckpointError, match="spec is not valid"):
        load_checkpoint(torch_bytes(payload))


def test_newer_version_is_refused(trained):
    payload = valid_payload(trained[0])
    payload["version"] = 99
    with pytest.raises(CheckpointError, match="newer"):
        load_checkpoint(torch_bytes(payload))


def test_weights_that_do_not_fit_the_spec(trained):
    other = ModelSpec(hidden_sizes=(5, 4), activation="tanh", in_features=6, num_classes=3)
    with pytest.raises(
        CheckpointError, match=r"shape mismatch for linears.0.weight: the file has \[8, 6\].*needs \[5, 6\]"
    ):
        load_checkpoint(checkpoint_bytes(trained[0], spec=other))
    deeper = ModelSpec(hidden_sizes=(8, 4, 4), activation="tanh", in_features=6, num_classes=3)
    with pytest.raises(CheckpointError, match="missing weights: linears.3.weight"):
        load_checkpoint(checkpoint_bytes(trained[0], spec=deeper))
    with pytest.raises(CheckpointError, match="unexpected weights"):
        load_checkpoint(checkpoint_bytes(build_model(ModelSpec(kind="cnn")), spec=SPEC))


def test_nan_weights_are_refused():
    model = build_model(SPEC, seed=0)
    with torch.no_grad():
        model.linears[0].weight[0, 0] = float("nan")
    with pytest.raises(CheckpointError, match="NaN"):
        load_checkpoint(checkpoint_bytes(model))


def test_unreadable_path(tmp_path):
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "missing.pt")


# --------------------------------------------------------------------------- files crafted to run code


class RunsCode:
    """Unpickling this object would run a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def test_a_bare_malicious_pickle_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    data = pickle.dumps({"format": "softmax-playground-checkpoint", "evil": RunsCode(marker)})
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(data)
    assert not marker.exists()
    pickle.loads(data)  # the control: the same bytes do run code when unpickled naively
    assert marker.exists()


def test_a_malicious_torch_archive_runs_nothing(tmp_path, trained):
    marker = tmp_path / "pwned"
    payload = valid_payload(trained[0])
    payload["history"] = RunsCode(marker)
    data = torch_bytes(payload)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(data)
    assert not marker.exists()
    torch.load(io.BytesIO(data), weights_only=False)  # control: an unsafe load would have run it
    assert marker.exists()


def test_a_refused_file_never_suggests_loading_it_unsafely(tmp_path, trained):
    payload = valid_payload(trained[0])
    payload["history"] = RunsCode(tmp_path / "pwned")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(torch_bytes(payload))
    assert info.value.code == "checkpoint.unsafe" and info.value.params["name"] == "posix.system"
    assert "weights_only" not in str(info.value) and "False" not in str(info.value)


def deflated_bomb(member_bytes: int) -> bytes:
    """A valid checkpoint plus one member of zeros, deflated: tiny on disk, huge when unpacked."""
    model = build_model(SPEC, seed=0)
    buffer = io.BytesIO()
    save_checkpoint(buffer, model, SPEC)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info.filename))
        zeros = zipfile.ZipInfo("archive/data/zeros")
        zeros.compress_type = zipfile.ZIP_DEFLATED
        with target.open(zeros, "w", force_zip64=True) as f:
            chunk = bytes(2**20)
            for _ in range(member_bytes // 2**20):
                f.write(chunk)
    return out.getvalue()


def test_a_zip_bomb_is_refused_before_it_inflates(monkeypatch):
    bomb = deflated_bomb(64 * 2**20)  # the real attack used 2 GB; the directory alone gives it away
    assert len(bomb) < 2 * 2**20
    monkeypatch.setattr(zipfile.ZipFile, "testzip", lambda self: pytest.fail("inflated the members"))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("unpickled the bomb"))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(bomb)
    assert info.value.code == "checkpoint.compressed" and info.value.params["size"] == 64 * 2**20


def test_a_stored_file_that_unpacks_past_the_limit_is_refused(trained):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(torch_bytes(valid_payload(trained[0])), max_unpacked=1000)
    assert info.value.code == "checkpoint.too_large" and info.value.params["limit"] == 1000


def test_a_spec_claiming_a_huge_model_is_refused_before_it_is_built(trained, monkeypatch):
    payload = valid_payload(trained[0])
    payload["spec"] = ModelSpec(hidden_sizes=(4096,) * 8).to_json()
    data = torch_bytes(payload)
    assert len(data) < 300_000
    built = []
    import core.checkpoint as checkpoint_module

    real_build = checkpoint_module.build_model
    monkeypatch.setattr(
        checkpoint_module,
        "build_model",
        lambda spec, **kw: built.append(torch.get_default_device()) or real_build(spec, **kw),
    )
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(data)
    assert info.value.code == "checkpoint.too_many_parameters" and info.value.params["params"] > 100_000_000
    assert all(device.type == "meta" for device in built)  # shapes only, never the 480 MB of weights


def test_weights_of_the_wrong_shape_are_refused_before_the_model_is_built(trained, monkeypatch):
    payload = valid_payload(trained[0])
    payload["spec"] = ModelSpec(hidden_sizes=(16, 4), activation="tanh", in_features=6, num_classes=3).to_json()
    import core.checkpoint as checkpoint_module

    real_build = checkpoint_module.build_model
    built = []
    monkeypatch.setattr(
        checkpoint_module,
        "build_model",
        lambda spec, **kw: built.append(torch.get_default_device()) or real_build(spec, **kw),
    )
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(torch_bytes(payload))
    assert info.value.code == "checkpoint.wrong_shape"
    assert all(device.type == "meta" for device in built)


def test_only_digit_classifiers_pass_the_mnist_check():
    from core.checkpoint import check_mnist_classifier

    check_mnist_classifier(ModelSpec())
    check_mnist_classifier(ModelSpec(kind="cnn"))
    with pytest.raises(CheckpointError) as info:
        check_mnist_classifier(SPEC)
    assert info.value.code == "checkpoint.not_mnist" and info.value.params["inputs"] == 6
