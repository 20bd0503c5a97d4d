"""Every page in Chinese, in its main states, shows no English prose — and every page in English no Chinese.

Each test opens a page with ``lang="zh"`` (as ``?lang=zh`` does), brings it into a state a class meets
(a run trained, a refused upload, a drawn digit, …) and reads **every text the page sends to the
browser**: markdown, captions, alerts, headings, widget labels, help tooltips, placeholders and
options, button and link labels, metric labels, tab and expander labels, progress texts, the
HTML tables' cells and the plotly figures' titles, axis titles, legend names, hover templates and
annotations. What is not prose is taken out first — code spans and fenced code, LaTeX, URLs, HTML
tags, plotly's ``%{…}`` fields — and a text fails when three or more Latin-alphabet words still
follow each other: English that a Chinese-speaking student would have to read.
"""

from __future__ import annotations

import gzip
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from google.protobuf.descriptor import FieldDescriptor

from core import momentum as mo
from core.checkpoint import checkpoint_bytes
from core.jobs import TrainingJob
from core.models import ModelSpec, build_model
from core.training import TrainConfig
from playground import addresses, i18n, nav, runs, teacher
from playground.room import get_room
from tests.pages.conftest import (
    TRAIN_W,
    configure_train,
    figure,
    new_app,
    poll,
    show_tab,
    student_of,
    texts,
    train,
    wait_for_run,
)
from tests.pages.test_draw_page import draw_on, mnist_digit, on_black_canvas
from tests.pages.test_own_data_page import points_csv, train_to_the_end, upload
from tests.pages.test_teacher_page import PASSCODE

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
LANGUAGE_SWITCH = i18n.LANGUAGE_NAMES["zh"]  # the switch's own label for Chinese, on every page

# Proto fields that are not text for a reader: ids, keys, icons, formats, page paths, raw values.
NOT_TEXT = {
    "id",
    "form_id",
    "icon",
    "type",
    "tag",
    "format",
    "page",
    "page_script_hash",
    "query_string",
    "raw_value",
    "query_param_key",
    "url",
    "spec",  # a plotly figure: read by its own rules (figure_texts)
    "json_args",
    "component_name",
    "js_content",
    "js_source_path",
    "css_content",
    "css_source_path",
    "theme",
}

# Plotly keys whose strings a reader sees.
FIGURE_TEXT_KEYS = {"text", "name", "hovertemplate", "texttemplate", "hovertext", "ticktext", "title"}


# --------------------------------------------------------------------------- reading every text


def _proto_strings(message, path: str):
    for field, value in message.ListFields():
        if field.name in NOT_TEXT:
            continue
        items = value if field.is_repeated else [value]
        where = f"{path}.{field.name}"
        if field.type == FieldDescriptor.TYPE_STRING:
            for item in items:
                yield where, item
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            for item in items:
                if hasattr(item, "ListFields"):
                    yield from _proto_strings(item, where)


class _HtmlText(HTMLParser):
    """The text nodes of an HTML body (styles and scripts left out) and its title / alt attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1
        self.found.extend(value for name, value in attrs if name in ("title", "alt", "aria-label") and value)

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.found.append(data)


def html_texts(body: str) -> list[str]:
    reader = _HtmlText()
    reader.feed(body)
    return reader.found


def json_strings(value) -> list[str]:
    """Every string value of a component's JSON data (the texts a component draws come in it)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in json_strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in json_strings(item)]
    return []


def figure_texts(spec, path: str = "figure"):
    """Every string of a plotly spec under a key a reader sees (the template's styles left out)."""
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "template":
                continue
            if key in FIGURE_TEXT_KEYS:
                for text in value if isinstance(value, list) else [value]:
                    if isinstance(text, str):
                        yield f"{path}.{key}", text
            yield from figure_texts(value, f"{path}.{key}")
    elif isinstance(spec, list):
        for item in spec:
            yield from figure_texts(item, path)


def _nodes(node):
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _nodes(child)


def visible_texts(at) -> list[tuple[str, str]]:
    """(where, text) for every text of the page as AppTest received it."""
    found = []
    for node in _nodes(at._tree):
        proto = getattr(node, "proto", None)
        if proto is None or not hasattr(proto, "ListFields"):
            continue
        kind = type(proto).__name__
        if kind == "Code":  # st.code: code, links and diagnostics shown as typed
            continue
        for where, text in _proto_strings(proto, kind):
            if where in ("Html.body", "BidiComponent.html_content"):
                found.extend((where, part) for part in html_texts(text))
            elif where in ("BidiComponent.json", "BidiComponent.mixed.json"):
                found.extend((where, part) for part in json_strings(json.loads(text)))
            else:
                found.append((where, text))
        if kind == "PlotlyChart" and proto.spec:
            found.extend(figure_texts(json.loads(proto.spec), f"PlotlyChart[{proto.id.rsplit('-', 1)[-1]}]"))
    return found


# --------------------------------------------------------------------------- what counts as English

FENCED = re.compile(r"```.*?```", re.DOTALL)
CODE_SPAN = re.compile(r"`[^`]*`")
DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.DOTALL)
INLINE_MATH = re.compile(r"(?<!\\)\$[^$]+?(?<!\\)\$")
URL = re.compile(r"\b(?:https?|wss?)://\S+|\blocalhost:\d+\S*")
TAG = re.compile(r"<[^>]+>")
PLOTLY_FIELD = re.compile(r"%\{[^}]*\}")
# A word: Latin letters only (with inner ' or -), not part of a dotted name, a path or a call.
WORD = r"(?<![\w./\\])[A-Za-z]+(?:['’-][A-Za-z]+)*(?![\w/(\\])"
ENGLISH_RUN = re.compile(rf"{WORD}(?:[,;:]?\s+{WORD}){{2,}}")


def prose(text: str) -> str:
    """The text without what is code, maths, a link or markup."""
    for pattern in (FENCED, CODE_SPAN, DISPLAY_MATH, INLINE_MATH, URL, TAG, PLOTLY_FIELD):
        text = pattern.sub(" ", text)
    return text.replace("**", " ").replace("\\", " ")


def english_runs(text: str) -> list[str]:
    """Runs of three or more Latin words, at least two of them longer than a letter (``p log p`` is maths)."""
    return [
        run.group(0)
        for run in ENGLISH_RUN.finditer(prose(text))
        if sum(len(word) > 1 for word in re.findall(r"[A-Za-z'’-]+", run.group(0))) >= 2
    ]


def english_found(found: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    return [(where, text, run) for where, text in found for run in english_runs(text)]


def assert_chinese(at) -> list[tuple[str, str]]:
    """The page has no English prose; returns what it read (so a test can check it read enough)."""
    assert not at.exception, [e.value for e in at.exception]
    found = visible_texts(at)
    english = english_found(found)
    assert not english, "English on a Chinese page:\n" + "\n".join(
        f"  {where}: {run!r} in {text[:160]!r}" for where, text, run in english
    )
    assert any(CJK.search(text) for _, text in found), "the page shows no Chinese at all"
    return found


def assert_no_chinese(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    chinese = [(where, text) for where, text in visible_texts(at) if CJK.search(text) and text != LANGUAGE_SWITCH]
    assert not chinese, "Chinese on an English page:\n" + "\n".join(f"  {w}: {t[:160]!r}" for w, t in chinese)


# --------------------------------------------------------------------------- the checker itself


@pytest.mark.parametrize(
    "text",
    [
        "Press Train to start.",
        "按 **训练** 开始。The loss curve appears here",
        "训练失败：this is a test",
        "true digit, predicted digit and more",
    ],
)
def test_the_checker_finds_english_prose(text):
    assert english_runs(text)


@pytest.mark.parametrize(
    "text",
    [
        "按 **训练** 开始。损失曲线会出现在这里。",
        "`nn.CrossEntropyLoss()(z, y)` 与 `nn.NLLLoss()(nn.LogSoftmax(dim=1)(z), y)` 一致",
        "$\\text{{loss}} = -\\sum_i y_i \\log \\hat y_i$ 是交叉熵",
        "−Σ p log p：熵",
        "MLP 784-512-256-128-64-10 ReLU · SGD lr 0.01 动量 0.5",
        "打开 http://localhost:8501/Train?lesson=abc 就能看到",
        "torch.optim.SGD(momentum=γ) 的写法",
        "Linear + ReLU",
        "第 %{x} 轮<br>损失 %{y:.4f}<extra></extra>",
    ],
)
def test_the_checker_lets_code_maths_links_and_names_pass(text):
    assert not english_runs(text)


def test_the_reader_finds_texts_in_html_and_figures():
    assert html_texts('<style>.a b c {}</style><table><tr><th title="the tip">head</th></tr></table>') == [
        "the tip",
        "head",
    ]
    spec = {"data": [{"name": "test loss", "x": [1]}], "layout": {"xaxis": {"title": {"text": "epoch"}}}}
    assert sorted(text for _, text in figure_texts(spec)) == ["epoch", "test loss"]


# --------------------------------------------------------------------------- every page, as it opens

PAGE_SCRIPTS = {key: script for key, script, _ in nav.PAGES}


def open_in(open_page, key: str, lang: str, **others):
    """The page ``key`` of ``nav.PAGES`` opened in ``lang``: the home page is the entry script itself."""
    if key == "home":
        at = new_app(lang=lang)
        at.run()
        return at
    return open_page(Path(PAGE_SCRIPTS[key]).stem, lang=lang, **others)


def sidebar_names(at) -> list[str]:
    return [link.proto.label for link in at.sidebar.get("page_link")]


@pytest.mark.parametrize("key", list(PAGE_SCRIPTS))
def test_every_page_opens_in_chinese_with_chinese_texts(open_page, key):
    at = open_in(open_page, key, "zh")
    found = assert_chinese(at)
    assert len(found) > 10, found  # the reader did read the page
    with i18n.using("zh"):
        assert sidebar_names(at) == [i18n.plain(f"pages.{k}.nav") for k in PAGE_SCRIPTS]


@pytest.mark.parametrize("key", list(PAGE_SCRIPTS))
def test_every_page_in_english_shows_no_chinese(open_page, key):
    at = open_in(open_page, key, "en")
    assert_no_chinese(at)
    with i18n.using("en"):
        assert sidebar_names(at) == [i18n.plain(f"pages.{k}.nav") for k in PAGE_SCRIPTS]


# --------------------------------------------------------------------------- the pages' main states


@pytest.fixture
def in_chinese():
    """The test's own lookups in Chinese too: AppTest formats a chosen option with the page's
    ``format_func``, which runs in the test's thread, so it must name the options as the page does."""
    with i18n.using("zh"):
        yield


def test_train_before_during_and_after_a_run_and_with_risky_settings(open_page, in_chinese):
    at = open_page("3_Train", lang="zh")
    at.select_slider(key=TRAIN_W + "lr").set_value(0.5)
    at.slider(key=TRAIN_W + "momentum").set_value(0.9)
    at.radio(key=TRAIN_W + "activation").set_value("sigmoid")
    at.run()
    assert_chinese(at)  # advice under the controls
    at.radio(key=TRAIN_W + "optimizer").set_value("adam").run()
    assert_chinese(at)
    at.radio(key=TRAIN_W + "optimizer").set_value("sgd")
    at.radio(key=TRAIN_W + "activation").set_value("relu")
    at.select_slider(key=TRAIN_W + "lr").set_value(0.01)
    at.run()
    configure_train(at, depth=0, epochs=1)
    train(at)
    found = assert_chinese(at)  # the status and the curve
    assert any(where.startswith("PlotlyChart[train.live_chart]") for where, _ in found)
    found = assert_chinese(show_tab(at, "inside"))
    assert any(where.startswith("PlotlyChart[train.inside.confusion]") for where, _ in found)
    show_tab(at, "compare").radio(key="train.compare.by").set_value("step").run()
    assert_chinese(at)
    show_tab(at, "inside").button(key="train.setup_cnn").click().run()
    assert_chinese(at)  # the CNN's controls and architecture


def test_train_while_a_run_trains_and_after_stop_in_chinese(open_page, in_chinese):
    at = open_page("3_Train", lang="zh")
    configure_train(at, depth=1, size=32, epochs=2, batch_size=1)  # 12,000 batches: still training below
    at.button(key="train.start").click().run()
    entry = get_room().job_of(student_of(at), "train")
    poll(lambda: entry.job.snapshot().step > 0, 60, "the first batches")
    at.run()
    [progress] = at.get("progress")
    assert CJK.search(progress.proto.text), progress.proto.text
    assert_chinese(at)  # the progress line and the Stop button
    at.button(key=TRAIN_W + "stop").click().run()
    wait_for_run(at)
    assert entry.job.snapshot().status == "stopped"
    assert_chinese(at)


def test_a_run_waiting_for_a_place_in_chinese(open_page, install_room, in_chinese):
    room = install_room()
    room.scheduler.max_active = 1
    mnist = room.mnist()
    spec = ModelSpec(hidden_sizes=(32,))
    blocker = TrainingJob(
        build_model(spec, seed=0), TrainConfig(epochs=50, batch_size=1), mnist.train, mnist.test, device="cpu"
    )
    room.scheduler.submit(blocker)
    try:
        at = open_page("3_Train", lang="zh")
        configure_train(at, depth=0, epochs=1)
        at.button(key="train.start").click().run()
        assert room.job_of(student_of(at), "train").job.snapshot().status == "queued"
        assert_chinese(at)  # its place in line
    finally:
        room.scheduler.stop(blocker)
        assert blocker.wait(30)


def test_train_says_what_went_wrong_in_chinese(open_page, in_chinese):
    at = open_page("3_Train", lang="zh", query={"lr": "fast", "batch": "0", "hidden": "0,0,0", "act": "x"})
    assert_chinese(at)  # the link's notes
    configure_train(at, depth=2, size=256, epochs=1, lr=10.0, momentum=0.99)
    entry = train(at)
    assert entry.job.snapshot().status == "diverged"
    assert_chinese(at)
    not_a_checkpoint = ("notes.pt", b"not a checkpoint", "application/octet-stream")
    show_tab(at, "compare").file_uploader(key="train.upload").set_value(not_a_checkpoint)
    at.run()
    assert texts(at, "error")
    assert_chinese(at)


def test_train_within_the_rooms_limits_in_chinese(open_page, install_room, monkeypatch, in_chinese):
    monkeypatch.setenv("SOFTMAX_PLAYGROUND_MAX_EPOCHS", "3")
    monkeypatch.setenv("SOFTMAX_PLAYGROUND_RUN_MINUTES", "0.1")
    monkeypatch.setenv("SOFTMAX_PLAYGROUND_TRAIN_IMAGES", "3000")
    install_room()
    at = open_page("3_Train", lang="zh", query={"hidden": "32", "epochs": "10"})
    assert texts(at, "info")  # the capped epochs
    assert_chinese(at)
    at.number_input(key=TRAIN_W + "depth").set_value(2).run()
    configure_train(at, depth=2, size=4096, epochs=3, **{"hidden.1": 4096})
    assert at.button(key="train.start").disabled  # refused: more than the room's minutes
    assert_chinese(at)


def test_the_labs_in_their_states_in_chinese(open_page, in_chinese):
    lab = open_page("1_Softmax_Lab", lang="zh")
    for logits in ("0.2, banana, -0.1", "7", "", "1000, 0"):
        lab.text_input(key="lab.logits").set_value(logits).run()
        assert_chinese(lab)
    lab.text_input(key="lab.huge_logits").set_value("1, 2, 3").run()
    assert_chinese(lab)

    data = open_page("2_MNIST_Data", lang="zh")
    assert_chinese(data)
    data.button(key="data.next").click().run()
    data.toggle(key="data.log_y").set_value(False).run()
    assert_chinese(data)

    lab = open_page("4_Momentum", lang="zh")
    for preset in mo.PRESETS:
        lab.selectbox(key="momentum.preset").set_value(preset.key).run()
        assert_chinese(lab)
    lab.select_slider(key="momentum.lr").set_value(5.0)
    lab.slider(key="momentum.gamma").set_value(0.99)
    lab.run()
    assert texts(lab, "warning")  # diverged
    assert_chinese(lab)
    lab.selectbox(key="momentum.surface").set_value("rosenbrock").run()
    assert_chinese(lab)


def test_draw_with_a_drawn_digit_an_mlp_and_a_cnn_in_chinese(open_page, in_chinese):
    at = open_page("5_Draw", lang="zh")
    assert_chinese(at)  # the default model being prepared, or ready
    for name, spec in (("mlp.pt", ModelSpec(hidden_sizes=(16,))), ("cnn.pt", ModelSpec(kind="cnn"))):
        data = checkpoint_bytes(build_model(spec, seed=0), spec)
        at.file_uploader(key="draw.upload").set_value((name, data, "application/octet-stream")).run()
        assert texts(at, "success")
        draw_on(at, on_black_canvas(mnist_digit(0)))
        found = assert_chinese(at)  # the bars, the preprocessing, the numbers, the look inside
        assert any(where.startswith("PlotlyChart[draw.saliency]") for where, _ in found)
    at.segmented_control(key="draw.stage").set_value("pool2").run()
    assert_chinese(at)
    at.button(key="draw.test_mistake").click().run()
    assert_chinese(at)
    draw_on(at, png=b"GIF89a" + bytes(200))  # not the canvas's PNG
    assert_chinese(at)
    at.file_uploader(key="draw.upload").set_value(("notes.pt", b"not a checkpoint", "application/octet-stream"))
    at.run()
    assert texts(at, "error")
    assert_chinese(at)


def test_your_own_data_demo_upload_refusal_and_results_in_chinese(open_page, in_chinese):
    at = open_page("6_Your_Own_Data", lang="zh")
    assert_chinese(at)
    upload(at, "points.csv", points_csv(header="title of the table\nx,y,label"))
    assert_chinese(at)  # the first line is not the header
    upload(at, "packed.csv", gzip.compress(points_csv()))
    assert texts(at, "error")
    assert_chinese(at)
    gaps = points_csv().replace(b"\n0.", b"\n,", 3)
    upload(at, "gaps.csv", gaps)
    assert_chinese(at)  # missing values, and the offer to drop them
    upload(at, "points.csv", points_csv())
    assert_chinese(at)
    at.number_input(key="own.w.epochs").set_value(5).run()
    train_to_the_end(at)
    found = assert_chinese(at)  # held-out results, the confusion matrix, the softmax per row
    assert any(where.startswith("PlotlyChart[own.confusion]") for where, _ in found)
    at.radio(key="own.download_rows").set_value("all").run()
    assert_chinese(at)


def test_the_teacher_page_locked_and_unlocked_in_chinese(open_page, monkeypatch, in_chinese):
    monkeypatch.delenv(teacher.PASSCODE_ENV, raising=False)
    assert_chinese(open_page("7_Teacher", lang="zh"))  # how to set a passcode
    monkeypatch.setenv(teacher.PASSCODE_ENV, PASSCODE)
    monkeypatch.setattr(teacher, "WRONG_DELAY_S", 0.0)
    monkeypatch.setattr(addresses, "lan_addresses", lambda: ["192.168.1.20"])
    student = open_page("3_Train", lang="zh")
    configure_train(student, depth=0, epochs=1)
    train(student)
    [run] = runs.list_runs(student_of(student), get_room())
    runs.share_run(student_of(student), run.id, "小明", get_room())

    at = open_page("7_Teacher", lang="zh")
    assert_chinese(at)
    at.text_input(key="teacher.typed").set_value("wrong")
    unlock_button(at).click().run()
    assert texts(at, "error")
    assert_chinese(at)
    at.text_input(key="teacher.typed").set_value(PASSCODE)
    unlock_button(at).click().run()
    assert at.tabs
    assert_chinese(at)  # the room, the class board, the lesson maker
    at.multiselect(key="teacher.free.train").set_value(["momentum"]).run()
    at.button(key="teacher.make_link").click().run()
    assert_chinese(at)  # the link and its QR code
    train_lesson, _ = at.session_state["teacher.lesson"]
    at.radio(key="teacher.lesson_page").set_value("momentum").run()
    assert_chinese(at)
    at.button(key="teacher.make_link").click().run()
    momentum_lesson, _ = at.session_state["teacher.lesson"]

    # the students' side: a lesson's banner and fixed controls, a lesson for the other page, an unknown code
    for page, code in (("3_Train", train_lesson), ("4_Momentum", momentum_lesson), ("3_Train", momentum_lesson)):
        lesson = open_page(page, lang="zh", query={"lesson": code})
        assert texts(lesson, "info", "warning", "caption")
        assert_chinese(lesson)
    assert_chinese(open_page("4_Momentum", lang="zh", query={"lesson": "nosuchcode"}))


def unlock_button(at):
    with i18n.using("zh"):
        label = i18n.t("teacher.unlock")
    [button] = [b for b in at.button if b.proto.label == label]
    return button


def test_the_pages_in_their_states_in_english_show_no_chinese(open_page):
    at = open_page("3_Train")
    configure_train(at, depth=0, epochs=1)
    train(at)
    assert_no_chinese(at)  # the run, Compare runs, Look inside
    at.switch_page("pages/5_Draw.py").run()
    spec = ModelSpec(kind="cnn")
    at.file_uploader(key="draw.upload").set_value(
        ("cnn.pt", checkpoint_bytes(build_model(spec, seed=0), spec), "application/octet-stream")
    )
    at.run()
    draw_on(at, on_black_canvas(mnist_digit(0)))
    assert_no_chinese(at)
    at.switch_page("pages/6_Your_Own_Data.py").run()
    at.number_input(key="own.w.epochs").set_value(5).run()
    train_to_the_end(at)
    assert_no_chinese(at)
    at.switch_page("pages/1_Softmax_Lab.py").run()
    at.text_input(key="lab.logits").set_value("0.2, banana").run()
    assert_no_chinese(at)
    at.switch_page("pages/4_Momentum.py").run()
    at.select_slider(key="momentum.lr").set_value(5.0).run()
    assert_no_chinese(at)


def test_a_run_trained_in_english_is_shown_in_chinese_after_the_switch(open_page):
    """Figures kept in the session between reruns (the live curve) follow the language."""
    at = open_page("3_Train")
    configure_train(at, depth=0, epochs=1)
    train(at)
    assert_no_chinese(at)
    at.query_params["lang"] = "zh"  # what the sidebar's switch puts in the URL
    at.run()
    with i18n.using("zh"):
        found = assert_chinese(at)
    legend = [text for where, text in found if where == "PlotlyChart[train.live_chart].data.name"]
    with i18n.using("zh"):
        assert legend == [
            i18n.plain(k) for k in ("figures.training_loss", "figures.test_loss", "figures.test_accuracy")
        ]


def test_look_inside_seen_in_english_is_shown_in_chinese_after_the_switch(open_page):
    """Look inside keeps its figures per run and language: drawn in English first, then in Chinese."""
    at = open_page("3_Train")
    configure_train(at, depth=0, epochs=1)
    train(at)
    english = figure(show_tab(at, "inside"), "train.inside.weights")
    assert [a["text"] for a in english["layout"]["annotations"]] == [f"digit {c}" for c in range(10)]
    at.query_params["lang"] = "zh"  # the sidebar's switch: the student stays on Look inside
    at.run()
    weights = figure(at, "train.inside.weights")
    with i18n.using("zh"):
        assert [a["text"] for a in weights["layout"]["annotations"]] == [
            i18n.plain("figures.digit_title", digit=digit) for digit in range(10)
        ]
