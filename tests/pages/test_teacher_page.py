"""The Teacher page under AppTest: the passcode gate, the room live, the class board, lesson links —
and that students see nothing of each other without the passcode."""

import re
import secrets

import pytest

from playground import addresses, runs, teacher
from playground.room import get_room
from tests.pages.conftest import (
    configure_train,
    html_tables,
    metric,
    poll,
    show_tab,
    student_of,
    table_text,
    texts,
    train,
    wait_for_run,
    widget_keys,
)

PASSCODE = "kettle-7-lamp"


@pytest.fixture
def no_passcode(monkeypatch):
    monkeypatch.delenv(teacher.PASSCODE_ENV, raising=False)


@pytest.fixture
def passcode(monkeypatch):
    monkeypatch.setenv(teacher.PASSCODE_ENV, PASSCODE)
    monkeypatch.setattr(teacher, "WRONG_DELAY_S", 0.0)  # the delay slows guessing by hand, not this test
    return PASSCODE


@pytest.fixture
def classmate(open_page):
    """Another student with a finished run of their own on the Train page."""
    at = open_page("3_Train")
    configure_train(at, depth=0, epochs=1)
    train(at)
    return at


def unlock(at, typed: str):
    at.text_input(key="teacher.typed").set_value(typed)
    [unlock_button] = [b for b in at.button if b.proto.label == "Unlock"]
    unlock_button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def everything_shown(at) -> str:
    """Every text on the page, tables and code included: nothing of the room may hide in any of them."""
    parts = [texts(at)] + [c.value for c in at.code] + [m.label + m.value for m in at.metric]
    parts += [table.to_string() for table in html_tables(at)]
    return "\n".join(parts)


def assert_shows_nothing_of_the_room(at, *names: str):
    assert not at.tabs and not at.metric and not html_tables(at) and not at.get("plotly_chart")
    assert not {k for k in widget_keys(at) if k.startswith("teacher.") and k != "teacher.typed"}
    shown = everything_shown(at)
    for name in names:
        assert name not in shown


def test_without_a_passcode_the_page_only_says_how_to_set_one(open_page, no_passcode, classmate):
    [their_run] = runs.list_runs(student_of(classmate), get_room())
    runs.share_run(student_of(classmate), their_run.id, "Ada", get_room())
    at = open_page("7_Teacher")
    assert teacher.PASSCODE_ENV in texts(at, "info") and "secrets.toml" in texts(at, "info")
    assert "teacher.typed" not in widget_keys(at)  # not even a passcode field: there is nothing to unlock
    assert_shows_nothing_of_the_room(at, their_run.name, "Ada", teacher.student_label(student_of(classmate)))


def test_a_wrong_passcode_is_refused_and_shows_nothing_else(open_page, passcode, classmate):
    [their_run] = runs.list_runs(student_of(classmate), get_room())
    at = open_page("7_Teacher")
    assert "teacher.typed" in widget_keys(at)
    unlock(at, "kettle-7-lam")
    assert "That passcode is not the one set on this server." in texts(at, "error")
    assert_shows_nothing_of_the_room(at, their_run.name)
    assert teacher.UNLOCKED_KEY not in at.session_state or not at.session_state[teacher.UNLOCKED_KEY]


def test_the_room_panel_lists_another_students_running_run_and_stops_it(open_page, install_room, passcode):
    tabs = {"tab-a", "tab-b"}  # AppTest runs every app in one session: two tabs are told to the room
    room = install_room(connected=lambda session_id: session_id in tabs)
    room.seen("a" * 22, "tab-a")
    room.seen("b" * 22, "tab-b")
    student = open_page("3_Train")
    configure_train(student, depth=4, size=512, epochs=5, batch_size=1)  # 30,000 batches: still running later
    student.button(key="train.start").click().run()
    entry = room.job_of(student_of(student), "train")
    poll(lambda: entry.job.snapshot().step > 0, 60, "the classmate's run to start")

    at = unlock(open_page("7_Teacher"), passcode)
    assert [t.label for t in at.tabs] == ["The room", "Class board", "Lesson links"]
    assert metric(at, "Runs training") == "1"
    assert metric(at, "Students connected") == "2"
    count, size = room.store.usage()
    assert metric(at, "Runs kept on the server") == f"{count} ({size / 2**20:.1f} MB)"
    jobs = table_text(at, "teacher-jobs")
    mine = jobs[jobs["student"] == teacher.student_label(student_of(student))]
    assert list(mine["run"]) == [entry.name] and list(mine["status"]) == ["training"]
    assert list(mine["page"]) == ["Train"]
    assert student_of(student) not in everything_shown(at)  # the id is secret: only its hash is shown

    at.selectbox(key="teacher.stop_id").set_value(entry.job.id).run()
    at.button(key="teacher.stop_button").click().run()
    assert entry.job.wait(30), "the teacher's Stop did not stop the run"
    wait_for_run(student)
    assert entry.job.snapshot().status == "stopped"
    assert "Your teacher stopped this run from the Teacher page." in texts(student, "warning")  # who stopped it
    at.run()
    jobs = table_text(at, "teacher-jobs")
    assert list(jobs[jobs["student"] == teacher.student_label(student_of(student))]["status"]) == ["stopped"]


def test_the_class_board_ranks_shared_runs_by_accuracy(open_page, passcode):
    first = open_page("3_Train")
    configure_train(first, depth=0, epochs=1, lr=0.001)  # a slow learner
    train(first)
    second = open_page("3_Train")
    configure_train(second, depth=1, size=32, epochs=1, lr=0.1)
    train(second)
    [weak] = runs.list_runs(student_of(first), get_room())
    [strong] = runs.list_runs(student_of(second), get_room())
    assert weak.accuracy < strong.accuracy

    grace, ada = f"Grace {secrets.token_hex(2)}", f"Ada {secrets.token_hex(2)}"  # the board is the whole room's
    show_tab(second, "compare")
    second.text_input(key="train.compare.nickname").set_value(grace).run()  # the Train page's share button
    second.button(key="train.compare.share").click().run()
    assert not second.exception
    assert f"Shared on the class board as {grace}" in texts(second, "caption")
    runs.share_run(student_of(first), weak.id, ada, get_room())

    at = unlock(open_page("7_Teacher"), passcode)
    board = table_text(at, "teacher-board")
    ours = board[board["nickname"].isin([ada, grace])]
    assert list(ours["nickname"]) == [grace, ada]  # best first
    assert list(ours["accuracy %"]) == [f"{100 * strong.accuracy:.2f}", f"{100 * weak.accuracy:.2f}"]
    accuracies = [float(a) for a in board["accuracy %"] if a]
    assert accuracies == sorted(accuracies, reverse=True)
    assert list(board["#"]) == [str(i) for i in range(1, len(board) + 1)]
    assert list(ours["run"]) == [strong.name, weak.name]


def test_the_lesson_maker_makes_a_short_link_and_a_qr_code(open_page, passcode, monkeypatch):
    monkeypatch.setattr(addresses, "lan_addresses", lambda: ["192.168.1.20"])
    at = unlock(open_page("7_Teacher"), passcode)
    at.text_input(key="teacher.lesson_title").set_value("Best momentum").run()
    at.multiselect(key="teacher.free.train").set_value(["momentum", "epochs"]).run()
    at.button(key="teacher.make_link").click().run()
    assert not at.exception, [e.value for e in at.exception]
    links = [c.value for c in at.code if "lesson=" in c.value]
    assert links and links[0].startswith("http://192.168.1.20:8501/Train?lesson=")
    code = re.search(r"\?lesson=([a-z0-9]+)&lang=en$", links[0]).group(1)
    assert len(code) == 8 and f"Lesson {code} is ready" in texts(at, "success")
    lesson = get_room().store.get_lesson(code)
    assert lesson.page == "train" and lesson.settings["title"] == "Best momentum"
    assert "momentum" not in lesson.locked and "epochs" not in lesson.locked and "lr" in lesson.locked
    [qr] = [image for image in at.get("image") if image.captions == ["Scan to open the lesson"]]
    assert qr.value


@pytest.fixture
def server_address():
    """Set Streamlit's ``server.address`` as ``--server.address`` would; the default is back afterwards."""
    from streamlit import config

    option = config.get_config_options()["server.address"]
    before = (option.value, option.where_defined)

    def set_address(address: str) -> None:
        config._set_option("server.address", address, "command-line argument or environment variable")

    yield set_address
    config._set_option("server.address", *before)


def make_lesson_link(at):
    at.button(key="teacher.make_link").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return [c.value for c in at.code if "lesson=" in c.value]


def test_a_server_on_localhost_gives_no_lan_link_and_says_how_to_open_it(
    open_page, passcode, monkeypatch, server_address
):
    monkeypatch.setattr(addresses, "lan_addresses", lambda: ["192.168.1.20"])  # nothing listens there
    server_address("localhost")
    at = unlock(open_page("7_Teacher"), passcode)
    links = make_lesson_link(at)
    assert not any("192.168.1.20" in link for link in links), links
    warning = texts(at, "warning").replace("`", "")
    assert "only on this computer" in warning and "server.address = localhost" in warning
    assert "make run ADDRESS=0.0.0.0" in warning and "python -m playground.serve --server.address 0.0.0.0" in warning
    assert not [image for image in at.get("image") if image.captions == ["Scan to open the lesson"]]
    chinese = zh_text("teacher.local_only", address="localhost")  # the same advice in the other language
    assert (
        "只在这台电脑上" in chinese and "make run ADDRESS=0.0.0.0" in chinese and "--server.address 0.0.0.0" in chinese
    )


def zh_text(key: str, **params) -> str:
    from playground.i18n import plain, using

    with using("zh"):
        return plain(key, **params)


def test_a_server_on_one_address_links_to_that_address(open_page, passcode, monkeypatch, server_address):
    monkeypatch.setattr(addresses, "lan_addresses", lambda: ["192.168.1.20", "10.0.0.5"])
    server_address("10.0.0.5")
    at = unlock(open_page("7_Teacher"), passcode)
    links = make_lesson_link(at)
    assert links[0].startswith("http://10.0.0.5:8501/Train?lesson=") and "192.168.1.20" not in "".join(links)
    assert not texts(at, "warning")
    assert [image for image in at.get("image") if image.captions == ["Scan to open the lesson"]]


def test_the_passcode_never_reaches_the_url_or_the_page(open_page, passcode):
    at = open_page("7_Teacher")
    unlock(at, passcode)
    assert at.tabs
    assert passcode not in str(at.query_params)
    assert passcode not in everything_shown(at)
    at.run()  # still unlocked on the next rerun, from the session, not from anything in the URL
    assert at.tabs and passcode not in str(at.query_params)


def test_a_student_sees_only_their_own_runs_without_the_passcode(open_page, no_passcode, classmate):
    [their_run] = runs.list_runs(student_of(classmate), get_room())
    runs.share_run(student_of(classmate), their_run.id, "Ada", get_room())
    at = open_page("3_Train")
    configure_train(at, depth=1, size=16, epochs=1)
    train(at)
    [my_run] = runs.list_runs(student_of(at), get_room())
    listed = table_text(show_tab(at, "compare"), "train-runs-table")
    assert list(listed["name"]) == [my_run.name]
    assert at.selectbox(key="train.compare.run").options == [my_run.name]
    assert their_run.id not in str(at.multiselect(key="train.compare.overlay").value)
    at.switch_page("pages/7_Teacher.py").run()
    assert_shows_nothing_of_the_room(at, their_run.name, "Ada")


def test_the_unlock_token_is_bound_to_its_browser_passcode_and_time():
    now = 1_000_000.0
    token = teacher.make_token("browser-a" * 3, PASSCODE, now=now)
    assert PASSCODE not in token
    assert teacher.token_valid(token, "browser-a" * 3, PASSCODE, now=now + 3600)
    assert not teacher.token_valid(token, "browser-a" * 3, PASSCODE, now=now + teacher.TOKEN_HOURS * 3600 + 1)
    assert not teacher.token_valid(token, "browser-b" * 3, PASSCODE, now=now)  # another browser
    assert not teacher.token_valid(token, "browser-a" * 3, "a-new-passcode", now=now)  # the passcode changed
    expires, signature = token.split(".")
    assert not teacher.token_valid(f"{int(expires) + 86400}.{signature}", "browser-a" * 3, PASSCODE, now=now)
    for forged in (None, "", "abc", "1.2.3", f"{expires}.{'0' * 64}"):
        assert not teacher.token_valid(forged, "browser-a" * 3, PASSCODE, now=now)
