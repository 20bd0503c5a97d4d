"""Guards the one-way dependency direction: pages → playground → core.

Reads the import statements of every module (without running them), so a forbidden
import fails here even on a code path no other test exercises.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What each room may not import (top-level package names).
FORBIDDEN = {
    "core": {"streamlit", "playground", "pages", "streamlit_drawable_canvas", "plotly", "pandas"},
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
    return sorted((ROOT / room).rglob("*.py"))


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
