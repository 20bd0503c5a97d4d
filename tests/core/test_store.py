"""core.store: runs, preferences, lessons and presence, shared by threads, tabs and processes.

Every test that asks for ``target`` (or ``store``) runs twice: on a SQLite file and on PostgreSQL
(a throw-away server, ``tests/postgres.py``). What only one backend has — a damaged file moved
aside, the server going away — is tested on that backend alone.
"""

import io
import json
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import zipfile
from dataclasses import asdict
from pathlib import Path

import pytest

from core.store import (
    LESSON_CODE,
    SCHEMA_VERSION,
    STATUSES,
    Lesson,
    RunStore,
    StoredRun,
    StoreError,
    StoreUnavailable,
    migration_statements,
    open_store,
    store_target,
)

ROOT = Path(__file__).resolve().parents[2]

SPEC = {"hidden_sizes": [8, 4], "activation": "tanh", "in_features": 6, "num_classes": 3}
CONFIG = {"epochs": 2, "batch_size": 8, "lr": 0.05, "momentum": 0.5, "seed": 0, "log_every": 2, "optimizer": "sgd"}
HISTORY = {"running_loss": [{"step": 1, "epoch": 0.5, "loss": 1.1}], "epochs": [], "steps": 2, "stopped": False}


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path):
    """Where a store is opened: a SQLite file, or a PostgreSQL URL with a fresh schema of its own."""
    if request.param == "sqlite":
        return tmp_path / "runs.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(target):
    opened = RunStore(target)
    yield opened
    opened.close()


def add(store, owner="ada", *, weights=b"w" * 10, **fields) -> StoredRun:
    """Add a run with plausible defaults; returns only the record (``add_pruning`` for both)."""
    return add_pruning(store, owner, weights=weights, **fields)[0]


def add_pruning(store, owner="ada", *, weights=b"w" * 10, **fields) -> tuple[StoredRun, list[StoredRun]]:
    values = (
        dict(name="run", origin="trained", status="finished", spec=SPEC, config=CONFIG, history=HISTORY, accuracy=0.5)
        | fields
    )
    return store.add_run(owner, weights=weights, **values)


def sound(target) -> bool:
    """A SQLite file passes its integrity check (PostgreSQL keeps its own files sound)."""
    return not isinstance(target, Path) or integrity(target) == "ok"


def integrity(path) -> str:
    """``PRAGMA integrity_check`` of the file, read apart from the store; it must also be in WAL mode."""
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


# --------------------------------------------------------------------------- round trip


def test_every_field_round_trips_and_survives_a_restart(target):
    store = RunStore(target)
    blob = random.Random(0).randbytes(5000)
    run, pruned = store.add_run(
        "student-1",
        name="  my first MLP  ",
        origin="uploaded",
        status="stopped",
        spec=SPEC,
        config=CONFIG,
        history=HISTORY,
        accuracy=0.875,
        weights=blob,
        created=1234.5,
    )
    assert pruned == []
    assert run.id.startswith("r") and len(run.id) == 13
    assert (run.owner, run.name, run.origin, run.status) == ("student-1", "my first MLP", "uploaded", "stopped")
    assert (run.spec, run.config, run.history) == (SPEC, CONFIG, HISTORY)
    assert (run.accuracy, run.created, run.size_bytes, run.shared_as) == (0.875, 1234.5, 5000, None)
    assert store.notice is None
    store.close()

    reopened = RunStore(target)  # a server restart
    assert reopened.list_runs("student-1") == [run]
    assert reopened.get_run(run.id) == run
    assert reopened.get_run(run.id, "student-1") == run
    assert reopened.weights(run.id, "student-1") == blob
    assert reopened.weights(run.id) == blob
    assert reopened.usage() == (1, 5000)
    reopened.close()


def test_the_files_folders_are_made_as_needed(tmp_path):
    path = tmp_path / "deep" / "folder" / "runs.db"  # the parent folders do not exist yet
    store = RunStore(str(path))
    assert add(store) in store.list_runs("ada")
    store.close()
    assert integrity(path) == "ok"


def test_tuples_come_back_as_lists_in_the_returned_record_too(store):
    run = add(store, spec={"hidden_sizes": (8, 4)})
    assert run.spec == {"hidden_sizes": [8, 4]} == store.get_run(run.id).spec


def test_unknown_run_gives_none(store):
    assert store.get_run("r000000000000") is None
    assert store.weights("r000000000000") is None


def test_runs_are_listed_oldest_first_and_ties_in_insertion_order(store):
    late, early, middle = add(store, created=30.0), add(store, created=10.0), add(store, created=20.0)
    tie_1, tie_2 = add(store, created=40.0), add(store, created=40.0)
    assert [r.id for r in store.list_runs("ada")] == [early.id, middle.id, late.id, tie_1.id, tie_2.id]


def test_run_ids_are_distinct(store):
    ids = {add(store, "ada" if i % 2 else "bob").id for i in range(50)}
    assert len(ids) == 50


def test_owners_never_see_or_change_each_others_runs(store):
    mine = add(store, "ada", name="mine")
    assert store.list_runs("bob") == []
    assert store.get_run(mine.id, "bob") is None
    assert store.weights(mine.id, "bob") is None
    assert store.rename_run(mine.id, "bob", "stolen") is False
    assert store.delete_run(mine.id, "bob") is False
    assert store.share_run(mine.id, "bob", "Bob") is False
    assert store.set_active("bob", mine.id, True) is False
    assert store.get_active("bob") == (None, False)
    assert store.get_run(mine.id) == mine
    assert store.weights(mine.id, "ada") == b"w" * 10


def test_rename_and_delete_by_the_owner(store):
    keep, gone = add(store, name="a"), add(store, name="b")
    assert store.rename_run(keep.id, "ada", "  better name ") is True
    assert store.get_run(keep.id).name == "better name"
    assert store.delete_run(gone.id, "ada") is True
    assert store.delete_run(gone.id, "ada") is False
    assert [r.id for r in store.list_runs("ada")] == [keep.id]
    assert store.weights(gone.id) is None
    assert store.usage() == (1, 10)


@pytest.mark.parametrize(
    "owner, fields, code",
    [
        ("", {}, "store.bad_owner"),
        ("x" * 65, {}, "store.bad_owner"),
        (None, {}, "store.bad_owner"),
        ("ada", {"name": "   "}, "store.bad_text"),
        ("ada", {"name": "n" * 81}, "store.bad_text"),
        ("ada", {"name": 7}, "store.bad_text"),
        ("ada", {"origin": "downloaded"}, "store.bad_choice"),
        ("ada", {"status": "diverged"}, "store.bad_choice"),
        ("ada", {"spec": ["not", "an", "object"]}, "store.not_json"),
        ("ada", {"history": {"x": object()}}, "store.not_json"),
        ("ada", {"accuracy": 1.5}, "store.bad_number"),
        ("ada", {"accuracy": True}, "store.bad_number"),
        ("ada", {"created": float("nan")}, "store.bad_number"),
        ("ada", {"weights": "not bytes"}, "store.bad_weights"),
    ],
)
def test_bad_inputs_are_refused_with_a_code(store, owner, fields, code):
    with pytest.raises(StoreError) as raised:
        add(store, owner, **fields)
    assert raised.value.code == code
    assert isinstance(raised.value, ValueError) and str(raised.value)
    assert store.usage() == (0, 0)


def test_longest_allowed_owner_and_name_are_accepted(store):
    run = add(store, "x" * 64, name="n" * 80)
    assert store.list_runs("x" * 64) == [run]
    with pytest.raises(StoreError):
        store.rename_run(run.id, "x" * 64, "n" * 81)


# --------------------------------------------------------------------------- caps


def test_an_owner_beyond_the_cap_loses_the_oldest_runs(target):
    store = RunStore(target, max_runs_per_owner=3)
    other = add(store, "bob", created=0.0)
    runs = [add_pruning(store, "ada", created=float(t)) for t in range(1, 6)]
    assert [pruned for _, pruned in runs[:3]] == [[], [], []]
    assert runs[3][1] == [runs[0][0]]  # the pruned records come back, whole
    assert runs[4][1] == [runs[1][0]]
    assert [r.id for r in store.list_runs("ada")] == [r.id for r, _ in runs[2:]]
    assert store.list_runs("bob") == [other]  # another owner's runs do not count
    assert store.weights(runs[0][0].id) is None
    store.close()


def test_the_byte_cap_prunes_oldest_first_across_owners(target):
    store = RunStore(target, max_total_bytes=100)
    a1 = add(store, "ada", weights=b"1" * 40, created=1.0)
    b2 = add(store, "bob", weights=b"2" * 40, created=2.0)
    a3, pruned = add_pruning(store, "ada", weights=b"3" * 40, created=3.0)
    assert pruned == [a1]
    b4, pruned = add_pruning(store, "bob", weights=b"4" * 90, created=4.0)
    assert pruned == [b2, a3]
    assert store.usage() == (1, 90)
    assert store.list_runs("bob") == [b4]
    store.close()


def test_the_run_just_added_is_kept_even_when_it_is_the_oldest(target):
    store = RunStore(target, max_total_bytes=100)
    newer = add(store, "bob", weights=b"n" * 60, created=50.0)
    old, pruned = add_pruning(store, "ada", weights=b"o" * 60, created=1.0)  # an upload with an old date
    assert pruned == [newer]
    assert store.list_runs("ada") == [old]
    store.close()


def test_shared_runs_are_pruned_after_unshared_ones(target):
    store = RunStore(target, max_runs_per_owner=3, max_total_bytes=100)
    shared = add(store, "ada", weights=b"s" * 30, created=1.0)
    assert store.share_run(shared.id, "ada", "Ada")
    plain = add(store, "ada", weights=b"p" * 30, created=2.0)
    later = add(store, "ada", weights=b"q" * 30, created=3.0)
    _, pruned = add_pruning(store, "ada", weights=b"r" * 10, created=4.0)  # 4 runs > 3: one goes
    assert [r.id for r in pruned] == [plain.id]
    _, pruned = add_pruning(store, "bob", weights=b"b" * 40, created=5.0)  # 110 bytes > 100
    assert [r.id for r in pruned] == [later.id]  # unshared, though the shared one is older
    assert shared.id in [r.id for r in store.shared_runs()]
    store.close()


def test_shared_runs_go_too_when_nothing_else_is_left(target):
    store = RunStore(target, max_total_bytes=100)
    shared = add(store, "ada", weights=b"s" * 60)
    store.share_run(shared.id, "ada", "Ada")
    _, pruned = add_pruning(store, "bob", weights=b"b" * 60)
    assert [r.id for r in pruned] == [shared.id]
    assert pruned[0].shared_as == "Ada"
    assert store.shared_runs() == []
    store.close()


def test_a_blob_bigger_than_the_whole_store_is_refused(target):
    store = RunStore(target, max_total_bytes=100)
    kept = add(store, weights=b"k" * 50)
    with pytest.raises(StoreError) as raised:
        add(store, weights=b"x" * 101)
    assert raised.value.code == "store.too_large"
    assert raised.value.params == {"size": 101, "limit": 100}
    assert store.list_runs("ada") == [kept]
    _, pruned = add_pruning(store, weights=b"y" * 100)  # exactly the cap fits, alone
    assert pruned == [kept]
    store.close()


# --------------------------------------------------------------------------- sharing


def test_shared_runs_are_ranked_by_accuracy_and_can_be_withdrawn(store):
    middle = add(store, "ada", accuracy=0.7)
    best = add(store, "bob", accuracy=0.9)
    unknown = add(store, "cy", accuracy=None)
    add(store, "ada", accuracy=0.99)  # not shared, not on the board
    assert store.share_run(unknown.id, "cy", "Cy")
    assert store.share_run(middle.id, "ada", "  Ada  ")
    assert store.share_run(best.id, "bob", "Bob")
    board = store.shared_runs()
    assert [(r.id, r.shared_as) for r in board] == [(best.id, "Bob"), (middle.id, "Ada"), (unknown.id, "Cy")]
    assert store.share_run(best.id, "bob", None) is True
    assert [r.id for r in store.shared_runs()] == [middle.id, unknown.id]
    assert store.get_run(best.id).shared_as is None


@pytest.mark.parametrize("nickname", ["", "    ", "n" * 41, 5])
def test_nicknames_must_have_1_to_40_characters(store, nickname):
    run = add(store)
    with pytest.raises(StoreError) as raised:
        store.share_run(run.id, "ada", nickname)
    assert raised.value.code == "store.bad_text"
    assert store.shared_runs() == []


# --------------------------------------------------------------------------- active run


def test_active_run_round_trips_and_is_cleared_on_delete(target):
    store = RunStore(target)
    first, second = add(store), add(store)
    assert store.get_active("ada") == (None, False)
    assert store.set_active("ada", first.id, False) is True
    assert store.get_active("ada") == (first.id, False)
    assert store.set_active("ada", second.id, True) is True
    store.close()
    store = RunStore(target)
    assert store.get_active("ada") == (second.id, True)
    assert store.delete_run(first.id, "ada")
    assert store.get_active("ada") == (second.id, True)  # another run's deletion leaves it
    assert store.delete_run(second.id, "ada")
    assert store.get_active("ada") == (None, False)
    assert store.set_active("ada", None, True) is True  # "no model" chosen on purpose
    assert store.get_active("ada") == (None, True)
    store.close()


def test_a_pruned_active_run_clears_the_preference(target):
    store = RunStore(target, max_runs_per_owner=1)
    old = add(store)
    store.set_active("ada", old.id, True)
    add(store)
    assert store.get_active("ada") == (None, False)
    store.close()


# --------------------------------------------------------------------------- export


def test_export_holds_every_record_and_each_blob_byte_identical(store):
    rng = random.Random(1)
    runs = [add(store, name=f"run {i}", weights=rng.randbytes(1000 + i), created=float(i)) for i in range(4)]
    store.share_run(runs[2].id, "ada", "Ada")
    add(store, "bob", weights=b"not yours")
    with zipfile.ZipFile(io.BytesIO(store.export_owner("ada"))) as archive:
        assert archive.testzip() is None
        assert set(archive.namelist()) == {"index.json"} | {f"{r.id}.pt" for r in runs}
        index = json.loads(archive.read("index.json"))
        assert index["runs"] == [asdict(r) for r in store.list_runs("ada")]
        assert index["runs"][2]["shared_as"] == "Ada"
        for run in runs:
            assert archive.read(f"{run.id}.pt") == store.weights(run.id)


def test_export_of_an_owner_without_runs_is_an_empty_index(store):
    with zipfile.ZipFile(io.BytesIO(store.export_owner("nobody"))) as archive:
        assert archive.namelist() == ["index.json"]
        assert json.loads(archive.read("index.json"))["runs"] == []


# --------------------------------------------------------------------------- lessons


def test_lessons_round_trip_and_survive_a_restart(target):
    store = RunStore(target)
    lesson = store.save_lesson("train", {"lr": 0.1, "hidden": [64, 32]}, ["lr", "optimizer"])
    assert isinstance(lesson, Lesson) and LESSON_CODE.fullmatch(lesson.code)
    assert (lesson.page, lesson.settings, lesson.locked) == (
        "train",
        {"lr": 0.1, "hidden": [64, 32]},
        ("lr", "optimizer"),
    )
    store.close()
    store = RunStore(target)
    assert store.get_lesson(lesson.code) == lesson
    assert store.get_lesson(f"  {lesson.code.upper()} ") == lesson  # typed off the projector
    store.close()


@pytest.mark.parametrize("code", ["aaaaaaaa", "", "abc", "!!!!!!!!", "a" * 100, "1" * 8, None, 12345678, ["x"]])
def test_unknown_or_malformed_lesson_codes_give_none(store, code):
    store.save_lesson("train", {}, ())
    assert store.get_lesson(code) is None


def test_lesson_codes_are_distinct(store):
    codes = [store.save_lesson("train", {"i": i}, ()).code for i in range(300)]
    assert len(set(codes)) == 300
    assert all(LESSON_CODE.fullmatch(code) for code in codes)
    assert store.get_lesson(codes[123]).settings == {"i": 123}


def test_bad_lessons_are_refused(store):
    with pytest.raises(StoreError):
        store.save_lesson("", {}, ())
    with pytest.raises(StoreError):
        store.save_lesson("train", "lr=1", ())
    with pytest.raises(StoreError):
        store.save_lesson("train", {}, ["lr", ""])


# --------------------------------------------------------------------------- concurrency


def test_sixteen_threads_adding_at_once_lose_nothing(target):
    store = RunStore(target)
    start = threading.Barrier(16)
    errors = []

    def student(n: int) -> None:
        try:
            start.wait()
            for i in range(20):
                add(store, f"s{n}", name=f"run {i}", weights=bytes([n]) * 1000)
        except Exception as error:  # noqa: BLE001 - reported below, with the thread's number
            errors.append((n, error))

    threads = [threading.Thread(target=student, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.usage() == (320, 320_000)
    assert all([r.name for r in store.list_runs(f"s{n}")] == [f"run {i}" for i in range(20)] for n in range(16))
    store.close()
    assert sound(target)


def test_two_stores_on_one_database_see_each_others_writes(target):
    tab_1, tab_2 = RunStore(target), RunStore(target)
    for i in range(10):
        add(tab_1 if i % 2 == 0 else tab_2, name=f"run {i}")
        assert [r.name for r in tab_2.list_runs("ada")] == [f"run {j}" for j in range(i + 1)]
    run = tab_1.list_runs("ada")[3]
    assert tab_2.rename_run(run.id, "ada", "renamed")
    assert tab_1.get_run(run.id).name == "renamed"
    assert tab_1.set_active("ada", run.id, True)
    assert tab_2.get_active("ada") == (run.id, True)
    tab_1.close()
    tab_2.close()
    assert sound(target)


def test_two_stores_writing_at_once_wait_for_each_other(target):
    stores = [RunStore(target), RunStore(target)]
    start = threading.Barrier(8)
    errors = []

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(15):  # set_active reads before it writes: the write lock is taken up front
                run = add(stores[n % 2], f"s{n}", name=f"run {i}")
                assert stores[n % 2].set_active(f"s{n}", run.id, True)
        except Exception as error:  # noqa: BLE001
            errors.append((n, error))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert stores[0].usage() == stores[1].usage() == (120, 1200)
    assert stores[1].get_active("s0") == (stores[0].list_runs("s0")[-1].id, True)
    for store in stores:
        store.close()
    assert sound(target)


def test_writers_pruning_at_once_never_drop_a_run_twice_or_overshoot_the_cap(target):
    """Every add prunes; two stores (two processes) pruning together must take turns."""
    stores = [RunStore(target, max_total_bytes=200), RunStore(target, max_total_bytes=200)]
    start = threading.Barrier(8)
    errors, dropped = [], []

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(15):
                _, pruned = add_pruning(stores[n % 2], f"s{n}", name=f"run {i}", weights=bytes(10))
                dropped.extend(run.id for run in pruned)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append((n, error))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(dropped) == len(set(dropped)) == 120 - 20  # each dropped once; 20 runs of 10 bytes fit
    assert stores[0].usage() == stores[1].usage() == (20, 200)
    for store in stores:
        store.close()
    assert sound(target)


KILLED_WRITER = """
import sys
from core.store import RunStore
store = RunStore(sys.argv[1], max_runs_per_owner=10**6)
i = 0
while True:
    run, _ = store.add_run("writer", name=f"run {i}", origin="trained", status="finished",
                           spec={"i": i}, config={}, history={"loss": [0.5] * 500}, accuracy=0.5,
                           weights=bytes([i % 256]) * 20000)
    print(run.id, i, flush=True)
    i += 1
"""


def test_a_killed_writer_loses_no_committed_run(target):
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(target)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        reported = [writer.stdout.readline().split() for _ in range(25)]
        assert all(len(line) == 2 for line in reported), writer.stderr.read()
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    rest = writer.stdout.read()  # lines printed before the kill; a cut-off last line does not count
    reported += [line.split() for line in rest[: rest.rfind("\n") + 1].splitlines()]
    writer.stdout.close()
    writer.stderr.close()
    assert writer.returncode == -signal.SIGKILL

    assert sound(target)
    store = RunStore(target)
    assert store.notice is None
    stored = {r.id: r for r in store.list_runs("writer")}
    for run_id, i in reported:
        assert stored[run_id].name == f"run {i}"
        assert store.weights(run_id) == bytes([int(i) % 256]) * 20000
    add(store, "writer")  # and the store goes on working
    store.close()


# --------------------------------------------------------------------------- damaged files


def corrupt_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.corrupt-*"))


def test_a_garbage_file_is_moved_aside_and_a_fresh_store_started(tmp_path):
    path = tmp_path / "runs.db"
    garbage = b"this is not a database\n" * 500
    path.write_bytes(garbage)
    Path(f"{path}-wal").write_bytes(b"stale wal")  # a sidecar of the damaged file
    store = RunStore(path)
    assert isinstance(store.notice, StoreError)
    assert store.notice.code == "store.damaged"
    moved = corrupt_files(path)
    assert len(moved) == 1 and moved[0].read_bytes() == garbage
    assert b"stale wal" not in Path(f"{path}-wal").read_bytes()  # the new store's WAL is its own
    assert store.notice.params["moved"] == str(moved[0])
    assert store.notice.params["path"] == str(path)
    assert str(moved[0]) in str(store.notice)
    assert add(store) in store.list_runs("ada")
    store.close()
    assert integrity(path) == "ok"
    assert RunStore(path).notice is None  # the fresh file is sound on the next start


def test_a_truncated_file_is_moved_aside_keeping_its_bytes(tmp_path):
    path = tmp_path / "runs.db"
    store = RunStore(path)
    for i in range(5):
        add(store, name=f"run {i}", weights=bytes(5000))
    store.close()
    truncated = path.read_bytes()[:100]  # the header cut short
    path.write_bytes(truncated)
    store = RunStore(path)
    assert store.notice is not None and store.notice.code == "store.damaged"
    assert [p.read_bytes() for p in corrupt_files(path)] == [truncated]
    assert store.list_runs("ada") == []
    store.close()


def test_a_busy_store_is_not_mistaken_for_a_damaged_one(tmp_path):
    path = tmp_path / "runs.db"
    RunStore(path).close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    other.execute("INSERT INTO lessons VALUES ('aaaaaaaa', 'train', '{}', '[]', 0)")
    try:
        store = RunStore(path, timeout=0.2)
        assert store.notice is None
        assert corrupt_files(path) == []
        assert store.get_lesson("aaaaaaaa") is None  # not committed yet: not visible
        store.close()
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_locked_new_file_raises_and_is_left_in_place(tmp_path):
    path = tmp_path / "runs.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("BEGIN IMMEDIATE")  # a sound file, still without the schema, being written
    other.execute("CREATE TABLE notes (x)")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            RunStore(path, timeout=0.1)
        assert corrupt_files(path) == []
    finally:
        other.execute("COMMIT")
        other.close()
    store = RunStore(path)  # once the other writer is done, it opens
    assert store.notice is None and add(store)
    store.close()


def test_a_store_from_a_newer_app_is_refused_not_replaced(tmp_path):
    path = tmp_path / "runs.db"
    RunStore(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(StoreError) as raised:
        RunStore(path)
    assert raised.value.code == "store.newer_schema"
    assert corrupt_files(path) == []


def test_a_file_damaged_inside_is_caught_by_the_check_on_open(tmp_path):
    path = tmp_path / "runs.db"
    store = RunStore(path)
    for i in range(20):
        add(store, name=f"run {i}", weights=bytes(3000))
    store.close()
    data = bytearray(path.read_bytes())
    data[2 * 4096 : 2 * 4096 + 600] = b"\xff" * 600  # page 3 overwritten, the header intact
    path.write_bytes(bytes(data))
    store = RunStore(path)
    assert store.notice is not None and store.notice.code == "store.damaged"
    assert [p.read_bytes() for p in corrupt_files(path)] == [bytes(data)]
    assert store.usage() == (0, 0)
    store.close()


def test_meta_round_trips_and_listings_can_leave_the_history_out(store):
    run = add(store, meta={"page": "own", "dataset": "table", "classes": ["a", "b"]})
    assert store.get_run(run.id).meta == {"page": "own", "dataset": "table", "classes": ["a", "b"]}
    light = store.list_runs("ada", history=False)[0]
    assert light.history == {} and light.meta == run.meta and light.accuracy == run.accuracy
    assert store.list_runs("ada")[0].history == HISTORY
    store.share_run(run.id, "ada", "Ada")
    assert store.shared_runs(history=False)[0].history == {}
    assert add(store).meta == {}  # runs without meta read back as an empty object


# --------------------------------------------------------------------------- runs in progress (schema v2)


def checkpoint(store, owner="ada", *, run_id=None, weights=b"c" * 10, resume_state=b"state", **fields):
    values = dict(name="run", status="running", spec=SPEC, config=CONFIG, history=HISTORY, accuracy=None) | fields
    return store.save_checkpoint(owner, run_id=run_id, weights=weights, resume_state=resume_state, **values)


@pytest.mark.parametrize("status", STATUSES)
def test_every_status_round_trips(store, status):
    run = add(store, status=status)
    assert store.get_run(run.id).status == status


def test_a_checkpoint_starts_a_run_then_updates_it_in_place(store):
    first, pruned = checkpoint(store, weights=b"epoch 1", resume_state=b"optimizer 1", created=100.0)
    assert pruned == [] and first.status == "running" and first.created == 100.0
    assert store.weights(first.id, "ada") == b"epoch 1"
    assert store.resume_state(first.id, "ada") == b"optimizer 1"
    history = {"epochs": [{"epoch": 1, "test_accuracy": 0.8}, {"epoch": 2, "test_accuracy": 0.85}]}
    second, pruned = checkpoint(
        store, run_id=first.id, weights=b"epoch 2!", resume_state=b"optimizer 2", history=history, accuracy=0.85
    )
    assert pruned == [] and second.id == first.id
    assert store.list_runs("ada") == [second]
    assert (second.history, second.accuracy, second.size_bytes, second.created) == (history, 0.85, 8, 100.0)
    assert store.weights(first.id) == b"epoch 2!"
    assert store.resume_state(first.id) == b"optimizer 2"
    assert store.usage() == (1, 8)


def test_a_finished_checkpoint_drops_the_resume_state(store):
    run, _ = checkpoint(store)
    done, _ = checkpoint(store, run_id=run.id, status="finished", resume_state=None, accuracy=0.9)
    assert store.get_run(run.id) == done and done.status == "finished"
    assert store.resume_state(run.id) is None
    assert store.weights(run.id) == b"c" * 10


def test_an_update_keeps_the_students_name_board_place_and_meta(store):
    run, _ = checkpoint(store, name="first name", meta={"page": "train", "dataset": "mnist"})
    assert store.rename_run(run.id, "ada", "renamed while training")
    assert store.share_run(run.id, "ada", "Ada")
    updated, _ = checkpoint(store, run_id=run.id, name="first name")
    assert (updated.name, updated.shared_as, updated.meta) == ("renamed while training", "Ada", run.meta)
    assert store.get_run(run.id) == updated
    replaced, _ = checkpoint(store, run_id=run.id, meta={"page": "own"}, created=5.0)
    assert (replaced.meta, replaced.created) == ({"page": "own"}, 5.0) and store.get_run(run.id) == replaced


def test_a_checkpoint_for_a_run_that_is_gone_or_not_the_owners_is_refused(store):
    run, _ = checkpoint(store, weights=b"mine")
    for owner, run_id in (("bob", run.id), ("ada", "r000000000000")):
        with pytest.raises(StoreError) as raised:
            checkpoint(store, owner, run_id=run_id, weights=b"theirs")
        assert raised.value.code == "store.unknown_run"
    assert store.delete_run(run.id, "ada")
    with pytest.raises(StoreError):
        checkpoint(store, run_id=run.id)  # deleted while it trained: not brought back
    assert store.usage() == (0, 0) and store.resume_state(run.id) is None


def test_a_checkpoint_checks_its_inputs_like_add_run(store):
    run, _ = checkpoint(store)
    for fields, code in (
        ({"status": "paused"}, "store.bad_choice"),
        ({"resume_state": "not bytes"}, "store.bad_weights"),
        ({"weights": None}, "store.bad_weights"),
        ({"history": ["x"]}, "store.not_json"),
    ):
        with pytest.raises(StoreError) as raised:
            checkpoint(store, run_id=run.id, **fields)
        assert raised.value.code == code
    assert store.get_run(run.id) == run


def test_updates_in_place_never_prune_and_running_runs_are_never_pruned(target):
    store = RunStore(target, max_runs_per_owner=2, max_total_bytes=100)
    training, _ = checkpoint(store, weights=b"t" * 40, created=1.0)  # the oldest, still training
    old = add(store, weights=b"o" * 40, created=2.0)
    new, pruned = add_pruning(store, weights=b"n" * 10, created=3.0)  # 3 runs > 2: the oldest *finished* goes
    assert pruned == [old]
    _, pruned = add_pruning(store, "bob", weights=b"b" * 60, created=4.0)  # 110 bytes > 100
    assert pruned == [new]
    assert [r.id for r in store.list_runs("ada")] == [training.id]
    updated, pruned = checkpoint(store, run_id=training.id, weights=b"T" * 90)  # over the byte cap: no pruning
    assert pruned == [] and store.usage() == (2, 150)
    assert store.set_status(training.id, "interrupted")
    _, pruned = add_pruning(store, "cy", weights=b"c" * 10, created=5.0)
    assert [r.id for r in pruned] == [training.id]  # no longer running: it goes, with its resume state
    assert store.resume_state(training.id) is None
    store.close()


def test_runs_with_status_and_set_status(store):
    running, _ = checkpoint(store, created=1.0)
    failed = add(store, "bob", status="failed", created=2.0)
    theirs, _ = checkpoint(store, "bob", created=3.0)
    add(store, status="finished", created=4.0)
    found = store.runs_with_status(("running", "failed"))
    assert [r.id for r in found] == [running.id, failed.id, theirs.id]
    assert all(r.history == {} for r in found)  # summaries
    assert [r.id for r in store.runs_with_status(("running",), owner="bob")] == [theirs.id]
    assert store.runs_with_status(()) == []
    assert store.set_status(theirs.id, "interrupted", owner="ada") is False  # not ada's
    assert store.set_status(theirs.id, "interrupted", owner="bob") is True
    assert store.set_status(running.id, "interrupted") is True  # owner=None: any owner's
    assert store.set_status("r000000000000", "failed") is False
    assert [r.id for r in store.runs_with_status(("interrupted",))] == [running.id, theirs.id]
    with pytest.raises(StoreError):
        store.set_status(running.id, "paused")
    with pytest.raises(StoreError):
        store.runs_with_status(("paused",))


def test_resume_state_is_the_owners_and_export_leaves_it_out(store):
    run, _ = checkpoint(store, resume_state=b"\x00secret optimizer state")
    assert store.resume_state(run.id, "bob") is None
    assert store.resume_state(run.id, "ada") == store.resume_state(run.id) == b"\x00secret optimizer state"
    with zipfile.ZipFile(io.BytesIO(store.export_owner("ada"))) as archive:
        assert archive.namelist() == ["index.json", f"{run.id}.pt"]


# --------------------------------------------------------------------------- presence


def test_presence_is_the_latest_heartbeat_of_each_student_within_the_window(store):
    store.heartbeat("ada", "p1", "tab-1", at=100.0)
    store.heartbeat("ada", "p2", "tab-2", at=130.0)  # the same student on another process
    store.heartbeat("bob", "p1", "tab-3", at=90.0)
    assert store.present(within_s=30, now=140.0) == {"ada": 130.0}
    assert store.present(within_s=50, now=140.0) == {"ada": 130.0, "bob": 90.0}
    store.heartbeat("bob", "p1", "tab-3", at=139.0)  # a later beat replaces the earlier one
    assert store.present(within_s=5, now=140.0) == {"bob": 139.0}


def test_a_process_forgets_only_its_own_closed_sessions(store):
    store.heartbeat("ada", "p1", "s", at=100.0)
    store.heartbeat("ada", "p2", "s", at=100.0)  # the same session id on another process
    store.heartbeat("bob", "p1", "t", at=100.0)
    store.forget_sessions("p1", ["s", "never-seen"])
    store.forget_sessions("p1", [])
    assert store.present(within_s=10, now=100.0) == {"ada": 100.0, "bob": 100.0}
    store.forget_sessions("p2", ["s"])
    assert store.present(within_s=10, now=100.0) == {"bob": 100.0}


def test_old_heartbeats_are_pruned_by_count(store):
    for i in range(5):
        store.heartbeat(f"s{i}", "p", f"t{i}", at=100.0 + i)
    assert store.prune_presence(older_than_s=2, now=105.0) == 3  # seen at 100, 101, 102
    assert store.present(within_s=100, now=105.0) == {"s3": 103.0, "s4": 104.0}
    assert store.prune_presence(older_than_s=2, now=105.0) == 0


def test_heartbeats_check_their_ids(store):
    for student, process, session in (("", "p", "s"), ("ada", "", "s"), ("ada", "p", None), ("ada", "p", "x" * 201)):
        with pytest.raises(StoreError):
            store.heartbeat(student, process, session)
    assert store.present(within_s=1e9) == {}


def test_presence_is_shared_by_every_store_on_the_database(target):
    one, two = RunStore(target), RunStore(target)
    one.heartbeat("ada", "p1", "s1")
    two.heartbeat("bob", "p2", "s2")
    assert set(one.present(within_s=60)) == set(two.present(within_s=60)) == {"ada", "bob"}
    one.close()
    two.close()


# --------------------------------------------------------------------------- opening and migrations

V1_SCHEMA = (  # the schema as version 1 of the app created it, kept here as it was
    """CREATE TABLE runs (
        seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL, name TEXT NOT NULL,
        origin TEXT NOT NULL, status TEXT NOT NULL, spec TEXT NOT NULL, config TEXT NOT NULL,
        history TEXT NOT NULL, accuracy REAL, created REAL NOT NULL, size_bytes INTEGER NOT NULL,
        shared_as TEXT, meta TEXT NOT NULL DEFAULT '{}')""",
    "CREATE INDEX runs_by_owner ON runs (owner, created, seq)",
    "CREATE TABLE blobs (run_id TEXT PRIMARY KEY, data BLOB NOT NULL)",
    "CREATE TABLE active (owner TEXT PRIMARY KEY, run_id TEXT, picked INTEGER NOT NULL)",
    """CREATE TABLE lessons (code TEXT PRIMARY KEY, page TEXT NOT NULL,
        settings TEXT NOT NULL, locked TEXT NOT NULL, created REAL NOT NULL)""",
)


def write_v1_file(path: Path) -> None:
    """A runs.db as version 1 left it: one shared run with weights, an active choice, a lesson."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for statement in V1_SCHEMA:
        db.execute(statement)
    db.execute(
        "INSERT INTO runs (id, owner, name, origin, status, spec, config, history, accuracy, created, "
        "size_bytes, shared_as, meta) VALUES ('r0123456789ab', 'ada', 'old run', 'trained', 'finished', ?, ?, ?, "
        "0.91, 1000.5, 4, 'Ada', '{\"page\": \"train\"}')",
        (json.dumps(SPEC), json.dumps(CONFIG), json.dumps(HISTORY)),
    )
    db.execute("INSERT INTO blobs VALUES ('r0123456789ab', X'00010203')")
    db.execute("INSERT INTO active VALUES ('ada', 'r0123456789ab', 1)")
    db.execute("INSERT INTO lessons VALUES ('abcdefgh', 'train', '{\"lr\": 0.1}', '[\"lr\"]', 999.0)")
    db.execute("PRAGMA user_version=1")
    db.close()


def test_a_version_1_file_is_migrated_keeping_everything(tmp_path):
    path = tmp_path / "runs.db"
    write_v1_file(path)
    store = RunStore(path)
    assert store.notice is None
    old = store.get_run("r0123456789ab")
    assert (old.name, old.status, old.accuracy, old.created, old.shared_as) == (
        "old run",
        "finished",
        0.91,
        1000.5,
        "Ada",
    )
    assert (old.spec, old.config, old.history, old.meta) == (SPEC, CONFIG, HISTORY, {"page": "train"})
    assert store.weights(old.id, "ada") == bytes([0, 1, 2, 3])
    assert store.get_active("ada") == (old.id, True)
    assert store.get_lesson("abcdefgh") == Lesson("abcdefgh", "train", {"lr": 0.1}, ("lr",), 999.0)
    assert [r.id for r in store.shared_runs()] == [old.id]
    run, _ = checkpoint(store)  # the new tables are there
    store.heartbeat("ada", "p", "s", at=5.0)
    assert store.resume_state(run.id) == b"state" and store.present(10, now=5.0) == {"ada": 5.0}
    new = add(store)  # and new runs keep their order after the old one
    assert [r.id for r in store.list_runs("ada")] == [old.id, run.id, new.id]
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    db.close()
    assert integrity(path) == "ok"
    assert RunStore(path).get_run(old.id) == old  # a second open finds nothing to do


def test_a_new_file_is_created_at_the_latest_version(tmp_path):
    RunStore(tmp_path / "runs.db").close()
    db = sqlite3.connect(tmp_path / "runs.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    assert tables == {"runs", "blobs", "active", "lessons", "resume", "presence"}


def test_a_write_that_cannot_get_the_file_raises_store_unavailable(tmp_path):
    path = tmp_path / "runs.db"
    store = RunStore(path, timeout=0.1)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock past the busy timeout
    try:
        with pytest.raises(StoreUnavailable) as raised:
            add(store)
        assert raised.value.code == "store.unavailable" and isinstance(raised.value, StoreError)
        assert str(path) in str(raised.value)
        assert store.list_runs("ada") == []  # reading still works meanwhile
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert add(store) in store.list_runs("ada")  # and the next write goes through
    store.close()


def test_store_target_reads_the_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("SOFTMAX_PLAYGROUND_STORE", raising=False)
    assert store_target(tmp_path) == tmp_path / "runs.db"
    monkeypatch.setenv("SOFTMAX_PLAYGROUND_STORE", "postgresql://teacher@db.school/room")
    assert store_target(tmp_path) == "postgresql://teacher@db.school/room"
    monkeypatch.setenv("SOFTMAX_PLAYGROUND_STORE", str(tmp_path / "elsewhere.db"))
    assert store_target(tmp_path) == tmp_path / "elsewhere.db"
    store = open_store(store_target(tmp_path), max_runs_per_owner=1)
    assert (store.backend, store.name, store.max_runs_per_owner) == ("sqlite", str(tmp_path / "elsewhere.db"), 1)
    add(store)
    assert add_pruning(store)[1] != []
    store.close()


# --------------------------------------------------------------------------- PostgreSQL alone

V1_POSTGRES = (  # version 1 as the PostgreSQL backend created it, kept here as it was
    """CREATE TABLE runs (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,
        name TEXT NOT NULL, origin TEXT NOT NULL, status TEXT NOT NULL, spec TEXT NOT NULL,
        config TEXT NOT NULL, history TEXT NOT NULL, accuracy DOUBLE PRECISION,
        created DOUBLE PRECISION NOT NULL, size_bytes BIGINT NOT NULL, shared_as TEXT,
        meta TEXT NOT NULL DEFAULT '{}')""",
    "CREATE INDEX runs_by_owner ON runs (owner, created, seq)",
    "CREATE TABLE blobs (run_id TEXT PRIMARY KEY, data BYTEA NOT NULL)",
    "CREATE TABLE active (owner TEXT PRIMARY KEY, run_id TEXT, picked INTEGER NOT NULL)",
    """CREATE TABLE lessons (code TEXT PRIMARY KEY, page TEXT NOT NULL,
        settings TEXT NOT NULL, locked TEXT NOT NULL, created DOUBLE PRECISION NOT NULL)""",
    "CREATE TABLE schema_version (version INTEGER PRIMARY KEY)",
    "INSERT INTO schema_version VALUES (1)",
)


def on_postgres(url: str, *statements: str, params=None) -> list[tuple]:
    """Run statements on the test's schema apart from the store; the last one's rows come back."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        for statement in statements:
            cursor = connection.execute(statement, params if statement is statements[-1] else None)
        return cursor.fetchall() if cursor.description else []


def test_a_version_1_postgres_database_is_migrated_keeping_everything(postgres_url):
    on_postgres(postgres_url, *V1_POSTGRES)
    on_postgres(
        postgres_url,
        "INSERT INTO runs (id, owner, name, origin, status, spec, config, history, accuracy, created, "
        "size_bytes, shared_as, meta) VALUES ('r0123456789ab', 'ada', 'old run', 'trained', 'finished', "
        "%s, %s, %s, 0.91, 1000.5, 4, 'Ada', '{\"page\": \"train\"}')",
        params=(json.dumps(SPEC), json.dumps(CONFIG), json.dumps(HISTORY)),
    )
    on_postgres(
        postgres_url,
        "INSERT INTO blobs VALUES ('r0123456789ab', '\\x00010203'::bytea)",
        "INSERT INTO active VALUES ('ada', 'r0123456789ab', 1)",
        "INSERT INTO lessons VALUES ('abcdefgh', 'train', '{\"lr\": 0.1}', '[\"lr\"]', 999.0)",
    )
    store = RunStore(postgres_url)
    old = store.get_run("r0123456789ab")
    assert (old.name, old.status, old.accuracy, old.created, old.shared_as) == (
        "old run",
        "finished",
        0.91,
        1000.5,
        "Ada",
    )
    assert (old.spec, old.config, old.history, old.meta) == (SPEC, CONFIG, HISTORY, {"page": "train"})
    assert store.weights(old.id, "ada") == bytes([0, 1, 2, 3])
    assert store.get_active("ada") == (old.id, True)
    assert store.get_lesson("abcdefgh") == Lesson("abcdefgh", "train", {"lr": 0.1}, ("lr",), 999.0)
    run, _ = checkpoint(store)
    store.heartbeat("ada", "p", "s", at=5.0)
    assert store.resume_state(run.id) == b"state" and store.present(10, now=5.0) == {"ada": 5.0}
    assert [r.id for r in store.list_runs("ada")] == [old.id, run.id]
    store.close()
    assert on_postgres(postgres_url, "SELECT version FROM schema_version ORDER BY version") == [(1,), (2,), (3,)]
    assert RunStore(postgres_url).get_run(old.id) == old  # a second open finds nothing to do


def test_a_postgres_database_from_a_newer_app_is_refused(postgres_url):
    RunStore(postgres_url).close()
    on_postgres(postgres_url, "INSERT INTO schema_version VALUES (99)")
    with pytest.raises(StoreError) as raised:
        RunStore(postgres_url)
    assert raised.value.code == "store.newer_schema" and raised.value.params["found"] == 99


def test_processes_opening_a_new_database_together_migrate_it_once(postgres_url):
    start = threading.Barrier(4)
    opened, errors = [], []

    def open_it() -> None:
        try:
            start.wait()
            opened.append(RunStore(postgres_url))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(opened) == 4
    assert on_postgres(postgres_url, "SELECT version FROM schema_version ORDER BY version") == [(1,), (2,), (3,)]
    run = add(opened[0])
    assert all(store.get_run(run.id) == run for store in opened)
    for store in opened:
        store.close()


def test_the_server_going_away_raises_store_unavailable_and_the_store_comes_back(postgres_server, postgres_url):
    import psycopg

    store = RunStore(postgres_url)
    kept, _ = checkpoint(store, weights=b"epoch 3", resume_state=b"state 3")
    store.heartbeat("ada", "p", "s", at=50.0)
    postgres_server.stop()
    try:
        for operation in (
            lambda: store.list_runs("ada"),
            lambda: checkpoint(store, run_id=kept.id, weights=b"epoch 4"),
        ):
            with pytest.raises(StoreUnavailable) as raised:
                operation()
            assert raised.value.code == "store.unavailable"
            assert not isinstance(raised.value, psycopg.Error)
            assert "127.0.0.1" in str(raised.value)  # which server, for the operator
    finally:
        postgres_server.start()
    assert store.list_runs("ada") == [kept]  # the same store reconnects; nothing was lost
    assert store.weights(kept.id) == b"epoch 3" and store.resume_state(kept.id) == b"state 3"
    assert store.present(10, now=55.0) == {"ada": 50.0}
    updated, _ = checkpoint(store, run_id=kept.id, weights=b"epoch 4")
    assert store.get_run(kept.id) == updated and store.weights(kept.id) == b"epoch 4"
    store.close()


def test_a_server_that_is_not_there_at_open_raises_store_unavailable():
    from tests.postgres import free_port

    with pytest.raises(StoreUnavailable) as raised:
        RunStore(f"postgresql://postgres:secret@127.0.0.1:{free_port()}/postgres")
    assert "secret" not in str(raised.value) and "postgres:***@127.0.0.1" in str(raised.value)


def test_a_restart_between_calls_goes_unnoticed(postgres_server, postgres_url):
    """Connections kept open die with the server; the next call finds that out and connects again."""
    store = RunStore(postgres_url)
    runs = [add(store, name=f"run {i}") for i in range(3)]
    postgres_server.stop()
    postgres_server.start()
    assert store.list_runs("ada") == runs
    assert add(store) and store.usage() == (4, 40)
    store.close()


def test_passwords_are_left_out_of_what_the_store_shows():
    from core.store import redacted

    assert redacted("postgresql://teacher:s3cret@db.school:5432/room") == "postgresql://teacher:***@db.school:5432/room"
    assert redacted("postgresql://teacher@db.school/room") == "postgresql://teacher@db.school/room"


def test_the_postgres_store_names_its_server_without_the_password(postgres_server, postgres_url):
    store = RunStore(postgres_url)
    assert store.backend == "postgresql" and store.notice is None and store.path is None
    assert store.name.startswith(f"postgresql://postgres@127.0.0.1:{postgres_server.port}/postgres")
    store.close()
    with pytest.raises(StoreUnavailable):
        store.usage()


def test_the_embedded_store_imports_no_postgres_driver(tmp_path):
    """`make run` needs nothing of requirements-cluster.txt: SQLite never loads psycopg."""
    script = (
        "import sys; from core.store import open_store; "
        f"store = open_store({str(tmp_path / 'runs.db')!r}); store.heartbeat('ada', 'p', 's'); store.close(); "
        "print(sorted(name for name in sys.modules if name.startswith('psycopg')))"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_postgres_keeps_weights_and_resume_states_uncompressed(postgres_url):
    RunStore(postgres_url).close()
    storage = on_postgres(
        postgres_url,
        "SELECT attrelid::regclass::text, attstorage FROM pg_attribute "
        "WHERE attname = 'data' AND attrelid IN ('blobs'::regclass, 'resume'::regclass) ORDER BY 1",
    )
    assert storage == [("blobs", "e"), ("resume", "e")]  # EXTERNAL: out of line, never compressed
    assert migration_statements(3, "sqlite") == []  # the version counts on SQLite all the same
    assert len(migration_statements(3, "postgresql")) == 2
