"""Guards the architecture: the one-way dependency direction pages → playground → core, a core
that returns data, a module map in ARCHITECTURE.md that names every module, and a repository
that stands alone.

Reads the source of every module (without running it), so a forbidden import fails here even
on a code path no other test exercises.
"""

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What each room may not import (top-level package names).
FORBIDDEN = {
    "core": {"streamlit", "playground", "pages", "streamlit_drawable_canvas", "plotly", "matplotlib", "pandas"},
    "playground": {"pages"},
}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant):
                names.add(str(node.args[0].value).split(".")[0])
    return names


def modules_in(room: str) -> list[Path]:
    return sorted(p for p in (ROOT / room).rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_room_does_not_import_upstream(room):
    offenders = {}
    for path in modules_in(room):
        bad = imported_top_levels(path) & FORBIDDEN[room]
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert not offenders, f"{room}/ imports what it must not: {offenders}"


def test_rooms_exist_and_hold_code():
    for room in ("core", "playground", "pages"):
        assert modules_in(room), f"{room}/ has no Python modules"


def test_guard_catches_a_forbidden_import(tmp_path):
    """The guard itself must be able to fail."""
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def f():\n    import streamlit as st\n    from pages import x\n")
    assert {"streamlit", "pages"} <= imported_top_levels(sneaky)


def test_core_has_no_module_level_mutable_state():
    """Module-level names in core/ are constants, functions and classes, not caches or registries."""
    mutable_calls = {"dict", "list", "set", "defaultdict", "OrderedDict", "deque", "Lock", "Semaphore"}
    offenders = []
    for path in modules_in("core"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if not isinstance(node, (ast.Assign, ast.AnnAssign)):
                continue
            value = node.value
            if isinstance(value, (ast.Dict, ast.List, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)):
                offenders.append(f"{path.name}:{node.lineno}")
            elif isinstance(value, ast.Call):
                func = value.func
                name = getattr(func, "id", None) or getattr(func, "attr", None)
                if name in mutable_calls:
                    offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, f"module-level mutable state in core/: {offenders}"


def test_pages_do_not_use_st_navigation():
    """Classic pages/ folder only: mixing it with st.navigation loses session state."""
    for path in [ROOT / "streamlit_app.py", *modules_in("pages")]:
        assert "st.navigation" not in path.read_text(encoding="utf-8"), path.name


def test_core_never_prints():
    """core returns data; what reaches a user is the UI's business (and a terminal's, in scripts)."""
    offenders = []
    for path in modules_in("core"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{path.relative_to(ROOT).as_posix()}:{node.lineno}")
    assert not offenders, f"print() in core/: {offenders}"


# ---- the module map in ARCHITECTURE.md ---------------------------------------------------------------

ARCHITECTURE = ROOT / "ARCHITECTURE.md"
MAPPED_ROOMS = ("core", "playground", "pages")
ENTRY_SCRIPTS = ("streamlit_app.py",)
FENCED_BLOCK = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
PYTHON_PATH = re.compile(r"[\w.-]+(?:/[\w.-]+)+\.py")  # a path with a folder: `core/jobs.py`, `bench/x.py`


def code_spans(markdown: str) -> set[str]:
    """The inline code spans of a markdown text (fenced code blocks left out)."""
    return {span.strip() for span in CODE_SPAN.findall(FENCED_BLOCK.sub("", markdown))}


def is_bare_package_init(path: Path) -> bool:
    """An ``__init__.py`` with nothing but a docstring and imports: a package marker, not a module to map."""
    if path.name != "__init__.py":
        return False
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        docstring = (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        )
        if not (docstring or isinstance(node, (ast.Import, ast.ImportFrom))):
            return False
    return True


def modules_to_map() -> list[str]:
    """Repo-relative paths of every module the map must name."""
    paths = [p for room in MAPPED_ROOMS for p in modules_in(room) if not is_bare_package_init(p)]
    paths += [ROOT / script for script in ENTRY_SCRIPTS]
    return sorted(p.relative_to(ROOT).as_posix() for p in paths)


def test_the_module_map_names_every_module():
    named = code_spans(ARCHITECTURE.read_text(encoding="utf-8"))
    missing = [module for module in modules_to_map() if module not in named]
    assert not missing, (
        "ARCHITECTURE.md's module map does not name these modules (as a code span with the path "
        f"from the repository root, e.g. `core/jobs.py`): {missing}"
    )


def test_every_module_the_architecture_names_exists():
    named = code_spans(ARCHITECTURE.read_text(encoding="utf-8"))
    paths = sorted(span for span in named if PYTHON_PATH.fullmatch(span) or span in ENTRY_SCRIPTS)
    assert any(path.startswith(MAPPED_ROOMS) for path in paths), "ARCHITECTURE.md names no module at all"
    gone = [path for path in paths if not (ROOT / path).is_file()]
    assert not gone, f"ARCHITECTURE.md names modules that do not exist: {gone}"


def test_the_module_map_check_reads_code_spans_only(tmp_path):
    """The guard itself: a path in prose or in a code block does not count, one in backticks does."""
    text = "core/jobs.py in prose\n```\ncore/store.py in a block\n```\n| `core/scheduler.py` | ok |\n"
    assert code_spans(text) == {"core/scheduler.py"}
    marker = tmp_path / "__init__.py"
    marker.write_text('"""A package."""\nfrom x import y\n')
    assert is_bare_package_init(marker)
    marker.write_text('"""A package."""\nVALUE = 1\n')
    assert not is_bare_package_init(marker)


# ---- the repository stands alone -----------------------------------------------------------------------

# Built from pieces, so that this file does not contain what it looks for.
OUTSIDE_MENTIONS = (".." + "/shared", "FIND" + "INGS")
TEXT_SUFFIXES = (".py", ".md", ".toml", ".txt", ".ini", ".cfg")
TEXT_FILES = ("Makefile", ".ci/run", ".gitignore")
NOT_OURS = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "artifacts", "node_modules"}


def repository_files() -> list[Path]:
    """Tracked files, and new ones not ignored; without git, every file outside tool folders."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout.decode("utf-8")
        paths = [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.SubprocessError):
        paths = [p for p in ROOT.rglob("*") if not NOT_OURS & set(p.relative_to(ROOT).parts)]
    return sorted(p for p in paths if p.is_file())


def is_text_file(path: Path) -> bool:
    return path.suffix in TEXT_SUFFIXES or path.relative_to(ROOT).as_posix() in TEXT_FILES


def outside_mentions(path: Path) -> list[tuple[int, str]]:
    """(line number, line) of every line of ``path`` that points outside the repository."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [(number, line) for number, line in enumerate(lines, start=1) if any(m in line for m in OUTSIDE_MENTIONS)]


def test_the_repository_mentions_nothing_outside_itself():
    """Code and documents describe the product; nothing points at files beyond the repository."""
    files = [p for p in repository_files() if is_text_file(p)]
    assert ROOT / "ARCHITECTURE.md" in files and Path(__file__).resolve() in files
    offenders = [
        f"{path.relative_to(ROOT).as_posix()}:{number}: {line.strip()[:120]}"
        for path in files
        for number, line in outside_mentions(path)
    ]
    assert not offenders, "mentions of files outside the repository:\n" + "\n".join(offenders)


def test_the_outside_mentions_check_can_fail(tmp_path):
    """The guard itself: each mention is found, with its line."""
    note = tmp_path / "note.md"
    note.write_text("".join(f"line {i}\nsee {mention}/x\n" for i, mention in enumerate(OUTSIDE_MENTIONS)))
    assert [number for number, _ in outside_mentions(note)] == [2 * i + 2 for i in range(len(OUTSIDE_MENTIONS))]
