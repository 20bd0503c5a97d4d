"""Texts by key: the catalogues, plurals, escaping for markdown, the language, coded errors — and that
every text the app looks up exists and can be formatted."""

import ast
import importlib
import pkgutil
import string
import textwrap
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


def literal_lookups():
    """Every ``t("key", …)`` / ``plain("key", …)`` / ``Note("key", …)`` with a literal key in the app."""
    names = {"t", "plain", "Note"}
    paths = [
        *sorted((ROOT / "playground").rglob("*.py")),
        *sorted((ROOT / "pages").rglob("*.py")),
        ROOT / "streamlit_app.py",
    ]
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            key = node.args[0]
            if name in names and isinstance(key, ast.Constant) and isinstance(key.value, str):
                keywords = {k.arg for k in node.keywords}  # None stands for **params
                if name == "Note" and len(node.args) > 1 and isinstance(node.args[1], ast.Dict):
                    keywords = {k.value if isinstance(k, ast.Constant) else None for k in node.args[1].keys}
                elif name == "Note":
                    keywords = {None}
                yield f"{path.relative_to(ROOT)}:{node.lineno}", key.value, keywords


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
