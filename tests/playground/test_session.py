"""The session's run list: add, find, rename, delete, and which model is active."""

import logging

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.models import ModelSpec, build_model
from core.training import EpochStats, History, TrainConfig
from playground import session


@pytest.fixture(autouse=True)
def fresh_state():
    """Outside `streamlit run` session_state is one process-wide dict: empty it per test."""
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    st.session_state.clear()
    yield
    st.session_state.clear()


def make_run(name="run", accuracy=None, hidden=(8,)):
    spec = ModelSpec(hidden_sizes=hidden)
    history = History()
    if accuracy is not None:
        history.epochs.append(EpochStats(1, 0.5, 0.4, accuracy, 1.25))
    model = build_model(spec, seed=0).train()  # add_run must switch it to eval mode
    return session.Run(id=session.new_run_id(), name=name, spec=spec, config=TrainConfig(),
                       history=history, model=model)


def test_empty_session_has_no_runs_and_no_active_model():
    assert session.list_runs() == []
    assert session.active_run() is None


def test_ids_are_unique_within_a_session():
    ids = {session.new_run_id() for _ in range(5)}
    assert len(ids) == 5


def test_added_runs_are_listed_in_order_and_found_by_id():
    first, second = session.add_run(make_run("a")), session.add_run(make_run("b"))
    assert [r.name for r in session.list_runs()] == ["a", "b"]
    assert session.get_run(second.id) is second
    assert session.get_run("nope") is None
    assert not first.model.training  # kept in eval mode


def test_adding_the_same_id_twice_is_refused():
    run = session.add_run(make_run())
    with pytest.raises(ValueError, match="already exists"):
        session.add_run(run)


def test_first_run_becomes_active_and_later_runs_do_not_take_over():
    first = session.add_run(make_run("a"))
    session.add_run(make_run("b"))
    assert session.active_run() is first


def test_set_active_run_switches_and_rejects_unknown_ids():
    session.add_run(make_run("a"))
    second = session.add_run(make_run("b"))
    session.set_active_run(second.id)
    assert session.active_run() is second
    with pytest.raises(KeyError):
        session.set_active_run("r999")
    assert session.active_run() is second


def test_deleting_the_active_run_hands_over_to_the_newest_remaining():
    a, b, c = (session.add_run(make_run(n)) for n in "abc")
    session.set_active_run(a.id)
    session.delete_run(a.id)
    assert session.active_run() is c
    session.delete_run(c.id)
    session.delete_run(b.id)
    assert session.active_run() is None and session.list_runs() == []


def test_deleting_another_run_keeps_the_active_one():
    a, b = session.add_run(make_run("a")), session.add_run(make_run("b"))
    session.delete_run(b.id)
    assert session.active_run() is a


def test_rename_trims_and_rejects_blank_names():
    run = session.add_run(make_run("old"))
    session.rename_run(run.id, "  momentum 0.9  ")
    assert session.get_run(run.id).name == "momentum 0.9"
    with pytest.raises(ValueError, match="empty"):
        session.rename_run(run.id, "   ")
    assert session.get_run(run.id).name == "momentum 0.9"


def test_final_accuracy_and_time_come_from_the_history():
    run = make_run(accuracy=0.91)
    assert run.final_accuracy == pytest.approx(0.91)
    assert run.seconds == pytest.approx(1.25)
    assert make_run().final_accuracy is None


def _two_runs_script():
    import streamlit as st

    from core.models import ModelSpec, build_model
    from core.training import History, TrainConfig
    from playground import session

    if st.button("add", key="add"):
        spec = ModelSpec(hidden_sizes=())
        session.add_run(session.Run(id=session.new_run_id(), name="x", spec=spec, config=TrainConfig(),
                                    history=History(), model=build_model(spec, seed=0)))
    st.write(f"runs={len(session.list_runs())}")


def test_runs_survive_reruns_and_stay_in_their_own_session():
    one, other = AppTest.from_function(_two_runs_script), AppTest.from_function(_two_runs_script)
    one.run()
    other.run()
    one.button(key="add").click().run()
    one.button(key="add").click().run()
    one.run()  # a plain rerun keeps them
    other.run()
    assert one.markdown[0].value == "runs=2"
    assert other.markdown[0].value == "runs=0"
