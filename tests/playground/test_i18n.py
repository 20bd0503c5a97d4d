"""Texts by key: the catalogues, plurals, escaping for markdown, the language, coded errors — and that
every text the app looks up exists and can be formatted."""

import ast
import importlib
import pkgutil
import re
import string
import textwrap
import unicodedata
from pathlib import Path
from types import MappingProxyType

import pytest

import core
import playground
from core.errors import CodedError, all_templates
from playground import i18n
from playground.csv_reading import NOTE_TEMPLATES, ReadNote

ROOT = Path(__file__).resolve().parents[2]
FORMATTER = string.Formatter()
for package in (core, playground):  # every module, so that every CodedError subclass (and its codes) exists
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")

EN = """
[greeting]
hello = "Hello, {name}!"
rich = "**{name}** wrote {text}"
only_en = "English only"
[greeting.apples]
one = "{count} apple"
other = "{count} apples"
[greeting.left]
count = "dropped"
one = "Left out {dropped} row; {remaining} remain."
other = "Left out {dropped} rows; {remaining} remain."
[errors.test]
broken = "it broke at {where}"
"""
ZH = """
[greeting]
hello = "你好，{name}！"
"""


@pytest.fixture
def catalogues(tmp_path, monkeypatch):
    """Small catalogues of our own in place of the app's."""
    (tmp_path / "en.toml").write_text(textwrap.dedent(EN), encoding="utf-8")
    (tmp_path / "zh.toml").write_text(textwrap.dedent(ZH), encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    i18n.catalogue.cache_clear()
    with i18n.using("en"):
        yield
    i18n.catalogue.cache_clear()


class BrokenError(CodedError):
    templates = MappingProxyType({"test.broken": "it broke at {where}", "test.uncatalogued": "no text for {what}"})


# ---- the catalogue --------------------------------------------------------------------------------


def test_nested_tables_become_dotted_keys_and_plurals_stay_tables(catalogues):
    flat = i18n.catalogue("en")
    assert flat["greeting.hello"] == "Hello, {name}!"
    assert flat["greeting.apples"] == {"one": "{count} apple", "other": "{count} apples"}
    assert flat["greeting.left"]["count"] == "dropped"
    assert "greeting.apples.one" not in flat


def test_the_catalogue_is_read_once(catalogues):
    assert i18n.catalogue("en") is i18n.catalogue("en")


@pytest.mark.parametrize("count, text", [(0, "0 apples"), (1, "1 apple"), (2, "2 apples"), (21, "21 apples")])
def test_plurals_follow_count(catalogues, count, text):
    assert i18n.plain("greeting.apples", count=count) == text


def test_a_plural_table_can_name_its_own_count(catalogues):
    assert i18n.plain("greeting.left", dropped=1, remaining=9) == "Left out 1 row; 9 remain."
    assert i18n.plain("greeting.left", dropped=3, remaining=7) == "Left out 3 rows; 7 remain."


def test_t_escapes_text_parameters_for_markdown(catalogues):
    assert i18n.t("greeting.hello", name="*Ada*") == r"Hello, \*Ada\*!"
    link = i18n.t("greeting.rich", name="[click](http://x)", text=i18n.Markdown("**ours**"))
    assert link == r"**\[click\]\(http\:\/\/x\)** wrote **ours**"
    assert i18n.t("greeting.apples", count=2) == "2 apples"  # numbers are not text


def test_plain_leaves_parameters_as_they_are(catalogues):
    assert i18n.plain("greeting.hello", name="*Ada*") == "Hello, *Ada*!"


def test_escape_markdown_covers_what_markdown_reads():
    escaped = i18n.escape_markdown("a_b*c[d](e)<f>`g`#h|i~j$k")
    assert escaped == r"a\_b\*c\[d\]\(e\)\<f\>\`g\`\#h\|i\~j\$k"


def test_an_unknown_key_raises(catalogues):
    with pytest.raises(KeyError, match="no.such.key"):
        i18n.plain("no.such.key")
    assert not i18n.has("no.such.key")


def test_another_language_falls_back_to_english_for_a_missing_key(catalogues):
    with i18n.using("zh"):
        assert i18n.current_language() == "zh"
        assert i18n.plain("greeting.hello", name="Ada") == "你好，Ada！"
        assert i18n.plain("greeting.only_en") == "English only"
        assert not i18n.has("greeting.only_en")
        with pytest.raises(KeyError):
            i18n.plain("no.such.key")
    assert i18n.current_language() == "en"


def test_only_known_languages_can_be_forced():
    with pytest.raises(ValueError):
        i18n.using("fr")


def test_outside_a_page_the_language_is_english():
    assert i18n.current_language() == "en"


@pytest.mark.parametrize(
    "locale, lang",
    [
        ("zh-CN", "zh"),
        ("zh_TW", "zh"),
        ("zh", "zh"),
        ("ZH-hant-HK", "zh"),
        ("en-US", "en"),
        ("de", "en"),
        ("", "en"),
        (None, "en"),
        ("zhx", "en"),
    ],
)
def test_language_of_locale(locale, lang):
    assert i18n.language_of_locale(locale) == lang


# ---- errors ------------------------------------------------------------------------------------------


def test_a_coded_error_is_worded_from_the_catalogue(catalogues):
    error = BrokenError("test.broken", where="step *3*")
    assert i18n.error_text(error) == r"it broke at step \*3\*"
    assert i18n.error_text(error, markdown=False) == "it broke at step *3*"


def test_a_coded_error_without_a_text_and_a_plain_exception_keep_their_message(catalogues):
    assert i18n.error_text(BrokenError("test.uncatalogued", what="x_y")) == r"no text for x\_y"
    assert i18n.error_text(ValueError("bad [link](x)")) == r"bad \[link\]\(x\)"
    assert i18n.error_text(ValueError("bad [link](x)"), markdown=False) == "bad [link](x)"


def test_a_read_note_is_worded_by_its_code():
    note = ReadNote("csv.note.text_columns", {"columns": "name, colour"})
    with i18n.using("en"):
        assert i18n.note_text(note) == "Not numeric, so not used as features: name, colour."


# ---- the app's own catalogues ----------------------------------------------------------------------------


def placeholders(entry) -> set[str]:
    texts = [entry] if isinstance(entry, str) else [v for k, v in entry.items() if k != "count"]
    return {
        field.split(".")[0].split("[")[0]
        for text in texts
        for _, field, _, _ in FORMATTER.parse(text)
        if field is not None
    }


def dummy_for(text: str, field: str):
    """A value that formats under every spec this placeholder has in ``text``: 1.5, else 1, else "x"."""
    uses = [(spec, conversion) for _, name, spec, conversion in FORMATTER.parse(text) if name == field]
    for value in (1.5, 1, "x"):
        try:
            for spec, conversion in uses:
                shown = FORMATTER.convert_field(value, conversion)
                format(shown, spec or "")
        except (ValueError, TypeError):
            continue
        return value
    raise AssertionError(f"no value formats {field!r} in {text!r}")


def catalogue_entries(lang):
    flat = i18n.catalogue(lang)
    for key, entry in flat.items():
        texts = [entry] if isinstance(entry, str) else [(form, v) for form, v in entry.items() if form != "count"]
        yield key, texts


SHIPPED = [lang for lang in i18n.LANGUAGES if (i18n.LOCALES / f"{lang}.toml").exists()]


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_text_formats_with_its_own_placeholders(lang):
    problems = []
    for key, texts in catalogue_entries(lang):
        for text in texts:
            form, text = text if isinstance(text, tuple) else (None, text)
            try:
                params = {field: dummy_for(text, field) for field in placeholders(text)}
                text.format(**params)
            except Exception as error:  # noqa: BLE001 - collect them all
                problems.append(f"{key}{'.' + form if form else ''}: {error!r}")
    assert not problems, problems


def test_english_is_shipped():
    assert "en" in SHIPPED and i18n.catalogue("en")


def test_plural_tables_have_an_other_form_and_show_the_number_they_follow():
    plurals = {key: entry for key, entry in i18n.catalogue("en").items() if isinstance(entry, dict)}
    assert plurals
    for key, entry in plurals.items():
        assert "other" in entry and set(entry) <= i18n.PLURAL_FORMS, key
        assert entry.get("count", "count") in placeholders(entry), key


def app_error_templates() -> dict[str, str]:
    """Every code of the app's own ``CodedError`` classes (not this test's) → its English template."""
    found, pending = {}, [CodedError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in ("core", "playground"):
            found.update(cls.templates)
    return found


def test_every_core_error_has_an_english_text_with_the_same_parameters():
    templates = app_error_templates()
    assert set(templates) <= set(all_templates())
    assert len(templates) > 50  # every core module was imported
    problems = []
    for code, template in templates.items():
        key = f"errors.{code}"
        if not i18n.has(key, "en"):
            problems.append(f"{key} is missing")
            continue
        wanted = placeholders(i18n.catalogue("en")[key])
        known = placeholders(template)
        if not wanted <= known:
            problems.append(f"{key} uses {sorted(wanted - known)}, which {code} does not carry")
    assert not problems, problems


def test_every_note_about_reading_a_csv_has_an_english_text_with_the_same_parameters():
    problems = []
    for code, template in NOTE_TEMPLATES.items():
        if not i18n.has(code, "en"):
            problems.append(f"{code} is missing")
        elif not placeholders(i18n.catalogue("en")[code]) <= placeholders(template):
            problems.append(f"{code} uses parameters its note does not carry")
    assert not problems, problems


APP_SOURCES = (
    *sorted((ROOT / "playground").rglob("*.py")),
    *sorted((ROOT / "pages").rglob("*.py")),
    ROOT / "streamlit_app.py",
)
LOOKUPS = {"t", "plain", "Note", "has", "say"}  # their first argument is a key (``say``: prepare's both-language print)
# Calls that pass a key on to a lookup: (which argument, the key it becomes, the parameters it is given).
KEY_ARGUMENTS = {
    "show_plan": (1, "{}", {"estimate"}),  # runkit.show_plan(plan, "train.estimate") → t(key, estimate=…)
    "checkpoint_upload": (2, "{}.label", set()),  # uploads.checkpoint_upload(room, student, "train.upload", …)
}


def _literal_keys(node) -> list[str]:
    """A literal key, or each branch's of ``"a" if … else "b"``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        branches = [_literal_keys(node.body), _literal_keys(node.orelse)]
        return branches[0] + branches[1] if all(branches) else []
    return []


def _called(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def literal_lookups():
    """Every ``t("key", …)`` / ``plain`` / ``has`` / ``say`` / ``Note("key", …)`` with a literal key in the app
    (either branch of a conditional key counts), and the keys passed on through ``KEY_ARGUMENTS``."""
    for path in APP_SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name, where = _called(node), f"{path.relative_to(ROOT)}:{node.lineno}"
            if name in KEY_ARGUMENTS:
                position, key_of, keywords = KEY_ARGUMENTS[name]
                if len(node.args) > position:
                    for key in _literal_keys(node.args[position]):
                        yield where, key_of.format(key), keywords
                continue
            if name not in LOOKUPS:
                continue
            keywords = {k.arg for k in node.keywords}  # None stands for **params
            if name == "Note" and len(node.args) > 1 and isinstance(node.args[1], ast.Dict):
                keywords = {k.value if isinstance(k, ast.Constant) else None for k in node.args[1].keys}
            elif name in ("Note", "has"):  # a note's parameters are checked by its text; has() formats nothing
                keywords = {None}
            for key in _literal_keys(node.args[0]):
                yield where, key, keywords


def test_every_key_the_app_looks_up_exists_with_the_parameters_it_is_given():
    lookups = list(literal_lookups())
    assert len(lookups) > 300
    flat = i18n.catalogue("en")
    problems = []
    for where, key, given in lookups:
        if key not in flat:
            problems.append(f"{where}: no English text for {key!r}")
        elif None not in given:  # a call with **params passes what it has
            missing = placeholders(flat[key]) - given
            if missing:
                problems.append(f"{where}: {key!r} needs {sorted(missing)}")
    assert not problems, problems


def test_user_text_inside_a_code_span_is_shown_as_typed_and_cannot_close_the_span():
    from playground.i18n import _fields_in_code_spans

    assert _fields_in_code_spans("`{name}={raw}` is bad; {other}") == {"name", "raw"}
    with i18n.using("en"):
        text = i18n.t("url.not_number", name="lr", raw="5_a`*b*", default=0.01)
    assert text.startswith("`lr=5_a'*b*`")  # no backslashes inside the span, and no way out of it


# ---- both catalogues: the same keys, the same placeholders -------------------------------------------------


def forms(entry) -> dict[str | None, str]:
    """A text as {None: text}; a plural table as {form: text} (its ``count`` entry left out)."""
    return {None: entry} if isinstance(entry, str) else {k: v for k, v in entry.items() if k != "count"}


def catalogue_differences(en: dict, other: dict) -> list[str]:
    """What keeps ``other`` from being a translation of ``en``: keys, plural forms, placeholders.

    A plural in ``en`` must be a plural in ``other`` with the same ``count`` parameter and an ``other``
    form; ``other`` may leave out ``one`` (``i18n`` then uses ``other`` for a count of 1 as well), and
    every form it has uses exactly the placeholders of the same form in English.
    """
    problems = [f"{key}: missing" for key in sorted(set(en) - set(other))]
    problems += [f"{key}: not in English" for key in sorted(set(other) - set(en))]
    for key in sorted(set(en) & set(other)):
        theirs, ours = forms(en[key]), forms(other[key])
        if isinstance(en[key], dict) != isinstance(other[key], dict):
            problems.append(f"{key}: a plural in one catalogue and not in the other")
            continue
        if isinstance(en[key], dict):
            if "other" not in ours or not set(ours) <= set(theirs):
                problems.append(f"{key}: plural forms {sorted(ours)}, English has {sorted(theirs)}")
                continue
            if en[key].get("count", "count") != other[key].get("count", "count"):
                problems.append(f"{key}: counts by another parameter than English")
        for form, text in ours.items():
            if placeholders(text) != placeholders(theirs[form]):
                problems.append(
                    f"{key}{'.' + form if form else ''}: placeholders {sorted(placeholders(text))}, "
                    f"English has {sorted(placeholders(theirs[form]))}"
                )
    return problems


@pytest.mark.parametrize("lang", [lang for lang in i18n.LANGUAGES if lang != "en"])
def test_every_language_has_every_key_with_the_same_placeholders(lang):
    assert lang in SHIPPED, f"no catalogue for {lang}"
    problems = catalogue_differences(dict(i18n.catalogue("en")), dict(i18n.catalogue(lang)))
    assert not problems, problems


def test_the_catalogue_comparison_can_fail():
    en = {"a": "{x} and {y}", "b": "plain", "n": {"one": "{count} row", "other": "{count} rows"}}
    assert catalogue_differences(en, {"a": "{x} 和 {y}", "b": "纯", "n": {"other": "{count} 行"}}) == []
    problems = catalogue_differences(en, {"a": "{x} 和 {z}", "n": {"one": "{count} 行"}, "extra": "多余"})
    assert problems == [
        "b: missing",
        "extra: not in English",
        "a: placeholders ['x', 'z'], English has ['x', 'y']",
        "n: plural forms ['one'], English has ['one', 'other']",
    ]
    assert catalogue_differences(en, {**en, "b": {"other": "x"}}) == [
        "b: a plural in one catalogue and not in the other"
    ]


# ---- no key without a use ------------------------------------------------------------------------------------
#
# Besides literal keys, the app builds keys from its own values: ``plain(f"pages.{key}.nav")``. Each such
# family is declared here with the values it is built from, taken from the code's constants wherever the
# code has them, so that a key nobody looks up fails (and a value without a text too).


def page_constant(page: str, name: str):
    """A module-level constant of a page script (pages run as scripts and cannot be imported): a literal
    value, or the keys of a dict literal."""
    for node in ast.parse((ROOT / page).read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if isinstance(target, ast.Name) and target.id == name:
                if isinstance(node.value, ast.Dict):
                    return tuple(ast.literal_eval(key) for key in node.value.keys)
                return ast.literal_eval(node.value)
            if isinstance(target, ast.Tuple) and name in [e.id for e in target.elts if isinstance(e, ast.Name)]:
                names = [e.id for e in target.elts]
                return ast.literal_eval(node.value)[names.index(name)]
    raise AssertionError(f"{page} has no constant {name}")


def key_families() -> dict[str, list[tuple]]:
    """Each key pattern the app formats (``{}`` for each value) → the values it is formatted with."""
    import numpy as np

    from core import data, insight, jobs, momentum, tabular, transforms
    from core.training import HYPERS
    from playground import default_model, momentum_lab, nav, own_data, settings, train_run
    from playground.figures import tabular as tabular_figs
    from playground.figures import training as training_figs

    pages = [key for key, _, _ in nav.PAGES]
    run_pages = [train_run.TEXTS.page, own_data.TEXTS.page]  # runkit.PanelTexts: each page's status lines
    job_codes = [code.removeprefix("job.") for code in jobs.MESSAGES]
    steps = transforms.lecture_transform_steps(np.zeros((28, 28), dtype=np.uint8))
    return {
        # nav.setup / nav's sidebar / streamlit_app.py / lessons / the Teacher page: every page's names
        "pages.{}.tab": [(key,) for key in pages],
        "pages.{}.nav": [(key,) for key in pages],
        "home.blurb.{}": [(key,) for key in pages[1:]],  # streamlit_app.py: a blurb under each link
        "home.default_model.{}": [(status,) for status in default_model.STATUSES],  # streamlit_app.py
        "status.source.{}": [(source,) for source in data.SOURCES],  # status.source_line
        "prepare.source.{}": [(source,) for source in data.SOURCES],  # prepare: where MNIST came from
        # i18n.choice: the options of every choice control; runkit: every control's label and help
        "choice.{}.{}": [(c.name, value) for c in settings.CONTROLS if c.widget == "choice" for value in c.choices],
        "settings.{}.label": [(c.name,) for c in settings.CONTROLS],
        # optional: shown where one exists; "depth" is the hidden sizes' first input (runkit._sizes)
        "settings.{}.help": [(c.name,) for c in settings.CONTROLS] + [("depth",)],
        "controls.group.{}": [(group,) for group in dict.fromkeys(c.group for c in settings.CONTROLS)],
        # runkit: a run's status line by its job's message code, its progress line, and the room's words
        "{}.status.{}": [(page, code) for page in run_pages for code in [*job_codes, "kept", "waiting"]],
        "{}.progress": [(page,) for page in run_pages],
        "teacher.status.{}": [(status,) for status in jobs.JOB_STATUSES],  # the Teacher page's jobs table
        "steer.change.{}": [(name,) for name in HYPERS],  # figures.training: a live change on the curve
        # the momentum lab, its lesson captions and the Teacher page's lesson maker
        "momentum.surface.{}": [(key,) for key in momentum.SURFACE_KEYS],
        "momentum.optimizer.{}": [(name,) for name in momentum.LAB_OPTIMIZERS],
        "momentum.label.{}": [(name,) for name in momentum_lab.LESSON_CONTROLS],
        "momentum.preset.{}.title": [(key,) for key in momentum.PRESET_KEYS],
        "momentum.preset.{}.lesson": [(key,) for key in momentum.PRESET_KEYS],
        "draw.stage.{}": [(name,) for name, _, _ in insight.CNN_STAGES],  # Draw: the CNN's stages
        "data.step.{}": [(step.key,) for step in steps],  # figures.data.steps_frame
        "data.view.{}": [(view,) for view in page_constant("pages/2_MNIST_Data.py", "VALUE_VIEWS")],
        "train.tab_{}": [(tab,) for tab in page_constant("pages/3_Train.py", "TABS")],  # Train's tabs
        # Your own data: the table's source, which rows to download, which part a row was in
        "own.source_{}": [(page_constant("pages/6_Your_Own_Data.py", name),) for name in ("DEMO", "UPLOAD")],
        "own.download_rows_{}": [(rows.replace("-", "_"),) for rows in tabular_figs.PREDICTION_ROWS],
        "own.part.{}": [(part.replace("-", "_"),) for part in sorted(set(tabular.split_labels(2, np.array([0]))))],
        # figures.training: a curve measured on the test set (Train) or the held-out rows (Your own data)
        "figures.{}_loss": [("test",), ("held_out",)],
        "figures.{}_accuracy": [("test",), ("held_out",)],
        "figures.{}_accuracy_percent": [("test",), ("held_out",)],
        "figures.{}": [(by,) for by in training_figs.COMPARE_BY],  # Compare runs: the x axis
        # i18n.error_text: every coded error (the families' own test below checks their parameters)
        "errors.{}": [(code,) for code in app_error_templates()],
    }


def pattern_of(node: ast.JoinedStr) -> str:
    """``f"pages.{key}.nav"`` → ``"pages.{}.nav"``."""
    return "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)


# Functions that build a key from an argument their callers pass: KEY_ARGUMENTS reads those calls.
KEY_BUILDERS = {("playground/uploads.py", "checkpoint_upload")}

# Where a key arrives as a variable, not as a literal or an f-string: the function passes its
# caller's key on (and its callers are read as literal lookups or families).
KEY_FORWARDERS = {
    ("playground/i18n.py", "note_text"),  # a ReadNote's code: NOTE_TEMPLATES
    ("playground/prepare.py", "say"),
    ("playground/runkit.py", "show_plan"),  # KEY_ARGUMENTS
    ("playground/settings.py", "text"),  # Note.text: the Note(...) calls are literal lookups
}


def dynamic_lookups():
    """(where, how) for every lookup whose key is not a literal: ``("f", pattern)`` or ``("forwarded", function)``."""
    for path in APP_SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where_of = {}
        for function in ast.walk(tree):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(function):
                    where_of.setdefault(id(node), function.name)  # outer functions first: inner ones overwrite
                for node in ast.walk(function):
                    if isinstance(node, ast.Call):
                        where_of[id(node)] = function.name
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args and _called(node) in LOOKUPS - {"Note"}):
                continue
            key, where = node.args[0], f"{path.relative_to(ROOT).as_posix()}:{node.lineno}"
            if _literal_keys(key):
                continue
            function = (path.relative_to(ROOT).as_posix(), where_of.get(id(node)))
            if isinstance(key, ast.JoinedStr) and function not in KEY_BUILDERS:
                yield where, ("f", pattern_of(key))
            elif not isinstance(key, ast.JoinedStr):
                yield where, ("forwarded", function)


def family_of(pattern: str, families) -> str | None:
    """The declared family a built key belongs to: itself, or a wider one (``choice.optimizer.{}`` is
    part of ``choice.{}.{}``)."""
    for family in families:
        if re.fullmatch(".+".join(re.escape(part) for part in family.split("{}")), pattern):
            return family
    return None


def test_every_key_built_from_values_is_a_declared_family_and_exists():
    families = key_families()
    problems = []
    found_patterns, forwarders = set(), set()
    for where, (how, what) in dynamic_lookups():
        if how == "f":
            family = what if what in families else family_of(what, families)
            found_patterns.add(family)
            if family is None:
                problems.append(f"{where}: keys {what!r} are built from values no family declares")
        elif what not in KEY_FORWARDERS:
            problems.append(f"{where}: a key passed in a variable by {what[1]}() is not a known forwarder")
        else:
            forwarders.add(what)
    idle = sorted(KEY_FORWARDERS - forwarders)
    problems += [f"{path}: {name}() is a declared forwarder but passes no key" for path, name in idle]
    unbuilt = families.keys() - found_patterns
    problems += [f"family {pattern!r} is declared, but no code builds it" for pattern in sorted(unbuilt)]
    flat = i18n.catalogue("en")
    optional = {"settings.{}.help"}  # runkit shows a help text only where the catalogue has one
    for pattern, values in families.items():
        assert values, f"family {pattern!r} has no values"
        problems += [
            f"{pattern.format(*value)} ({pattern}) has no English text"
            for value in values
            if pattern not in optional and pattern.format(*value) not in flat
        ]
    assert not problems, problems


def used_keys() -> set[str]:
    """Every key the app can look up: literal lookups, the declared families, the CSV reader's notes."""
    used = {key for _, key, _ in literal_lookups()}
    used |= {pattern.format(*value) for pattern, values in key_families().items() for value in values}
    used |= set(NOTE_TEMPLATES)  # i18n.note_text(note): a ReadNote's code is its key
    return used


@pytest.mark.parametrize("lang", SHIPPED)
def test_no_catalogue_has_a_key_the_app_never_looks_up(lang):
    unused = sorted(set(i18n.catalogue(lang)) - used_keys())
    assert not unused, f"{lang}.toml has texts nothing shows: {unused}"


def test_the_unused_key_check_sees_a_new_key(monkeypatch, tmp_path):
    """The check itself: a key added to a catalogue and looked up nowhere is reported."""
    text = (i18n.LOCALES / "en.toml").read_text(encoding="utf-8") + '\n[nowhere]\nnobody_reads_this = "x"\n'
    (tmp_path / "en.toml").write_text(text, encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    i18n.catalogue.cache_clear()
    try:
        assert sorted(set(i18n.catalogue("en")) - used_keys()) == ["nowhere.nobody_reads_this"]
    finally:
        i18n.catalogue.cache_clear()


# ---- emphasis that renders ------------------------------------------------------------------------------------


def _punctuation(ch: str) -> bool:
    return ch == "" or unicodedata.category(ch)[0] in "PS"


def _space(ch: str) -> bool:
    return ch == "" or ch.isspace()


def unrendered_emphasis(text: str) -> list[str]:
    """The ``*`` / ``**`` marks of a markdown text that CommonMark would show as asterisks.

    CommonMark lets ``**`` close only when it is *right-flanking*: after punctuation it must be
    followed by a space or punctuation. Chinese puts no space after ``：`` or ``。``, so
    ``**数据：**连不上`` shows its asterisks, where ``**数据**：连不上`` is bold. Code spans and
    formulas keep their marks; a placeholder stands for a word; a ``*`` that can neither open nor
    close (``L*`` or ``a * b``) is meant as the star it shows.
    """
    text = re.sub(r"`[^`]*`", "`x`", text)
    text = re.sub(r"\$\$.*?\$\$|\$[^$]+\$", "$x$", text, flags=re.DOTALL)
    text = re.sub(r"\{[^{}]*\}", "x", text)
    open_marks: list[tuple[int, int]] = []  # (position, length) of marks waiting for their closer
    problems = []
    for mark in re.finditer(r"(?<![*\\])\*{1,2}(?!\*)", text):
        before = text[mark.start() - 1] if mark.start() else ""
        after = text[mark.end()] if mark.end() < len(text) else ""
        can_open = not _space(after) and (not _punctuation(after) or _space(before) or _punctuation(before))
        can_close = not _space(before) and (not _punctuation(before) or _space(after) or _punctuation(after))
        length = mark.end() - mark.start()
        if can_close and open_marks and open_marks[-1][1] == length:
            open_marks.pop()
        elif can_open:
            open_marks.append((mark.start(), length))
        elif length == 2:  # a lone "*" that neither opens nor closes ("L* = 0") is the star it shows
            problems.append(text[max(0, mark.start() - 10) : mark.end() + 10])
    problems += [text[position : position + 20] for position, _ in open_marks]
    return problems


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_bold_and_italic_mark_renders(lang):
    problems = {}
    for key, texts in catalogue_entries(lang):
        for text in texts:
            found = unrendered_emphasis(text if isinstance(text, str) else text[1])
            if found:
                problems[key] = found
    assert not problems, problems


@pytest.mark.parametrize(
    "text, shown_as_asterisks",
    [
        ("**数据**：连不上完整的 MNIST", False),
        ("**数据：**连不上完整的 MNIST", True),
        ("**Data:** the full MNIST", False),
        ("按 **训练** 开始；*有把握*，不表示 *正确*。", False),
        ("**本课：{title}**。这一页", False),
        ("**{title}。**{lesson}", True),
        ("`a**b` and $x**2$", False),
        ("the minimum L* = 0 and 2 * 3", False),
        ("*有把握，不表示", True),
    ],
)
def test_the_emphasis_check_follows_commonmark(text, shown_as_asterisks):
    assert bool(unrendered_emphasis(text)) == shown_as_asterisks


# ---- the glossary ---------------------------------------------------------------------------------------------

GLOSSARY = ROOT / "docs" / "glossary.md"


def glossary_terms() -> list[tuple[str, str, str]]:
    """(English term, Chinese term, where) for every row of the glossary's tables; the Chinese term
    without its explanation in brackets, each of "训练集 / 测试集" on its own."""
    rows = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("English term", "") or set(cells[0]) <= set("-"):
            continue
        english, chinese, where = cells
        main = re.split(r"[（；]", chinese.replace("`", ""))[0]
        rows += [(english, term.strip(), where) for term in main.split(" / ")]
    return rows


def test_every_glossary_term_is_the_one_the_chinese_catalogue_uses():
    terms = glossary_terms()
    assert len(terms) > 40 and ("cross-entropy loss", "交叉熵损失") in [(e, c) for e, c, _ in terms]
    texts = [
        text
        for entry in i18n.catalogue("zh").values()
        for text in ([entry] if isinstance(entry, str) else list(entry.values()))
    ]
    missing = [
        f"{english} → {chinese}"
        for english, chinese, where in terms
        if not where.startswith("not named on a page") and not any(chinese in text for text in texts)
    ]
    assert not missing, f"glossary terms the Chinese pages never use: {missing}"


# Other words for the glossary's terms, which the Chinese pages must not use (one term per idea).
VARIANTS = {
    "批次": "批量",
    "批大小": "批量大小",
    "小批量": "批量",
    "轮次": "轮",
    "正确率": "准确率",
    "精度": "准确率",
    "滤波器": "卷积核",
    "过滤器": "卷积核",
    "规范化": "归一化",
    "神经元": "单元",
    "有把握": "自信",
    "独热向量": "独热编码",
    "样例": "样本",
    "鞍部": "鞍点",
}


def test_the_chinese_catalogue_uses_no_other_word_for_a_glossary_term():
    glossary = {chinese for _, chinese, _ in glossary_terms()}
    assert set(VARIANTS.values()) <= glossary  # each variant stands for a term the glossary fixes
    found = [
        f"{key}: {variant} (the glossary's word is {term})"
        for key, entry in i18n.catalogue("zh").items()
        for text in ([entry] if isinstance(entry, str) else list(entry.values()))
        for variant, term in VARIANTS.items()
        if variant in text
    ]
    assert not found, found
