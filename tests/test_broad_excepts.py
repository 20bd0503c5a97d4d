"""No error is swallowed silently: every ``except Exception`` in the product logs it, re-raises,
hands the error on (to the UI, a status, a list of reasons), or says on its line why not.

Read with ``ast`` (the code is not run), over core/, playground/, pages/ and the home page.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*ROOT.glob("core/**/*.py"), *ROOT.glob("playground/**/*.py"), *ROOT.glob("pages/*.py")]) + [
    ROOT / "streamlit_app.py"
]
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
ANNOTATION = "# not logged:"


def _catches_everything(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(kind, ast.Name) and kind.id in ("Exception", "BaseException") for kind in kinds)


def _deals_with_it(handler: ast.ExceptHandler, line: str) -> bool:
    nodes = [node for statement in handler.body for node in ast.walk(statement)]
    if any(isinstance(node, ast.Raise) for node in nodes):
        return True
    if any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LOG_METHODS
        for node in nodes
    ):
        return True
    if handler.name and any(isinstance(node, ast.Name) and node.id == handler.name for node in nodes):
        return True  # the error itself is handed on: stored for the page, a job's status, a reason listed
    return ANNOTATION in line


def silent_handlers(paths) -> list[str]:
    found = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ExceptHandler) and node.type is not None and _catches_everything(node):
                if not _deals_with_it(node, lines[node.lineno - 1]):
                    found.append(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{node.lineno}")
    return found


def test_no_broad_except_swallows_an_error_silently():
    assert not silent_handlers(SOURCES), "log it, re-raise it, hand it on, or say '# not logged: why'"


def test_the_check_finds_a_silent_handler_and_accepts_the_four_ways(tmp_path):
    code = tmp_path / "sample.py"
    code.write_text(
        "import logging\n"
        "def silent():\n    try:\n        f()\n    except Exception:\n        pass\n"
        "def logged():\n    try:\n        f()\n    except Exception:\n        logging.getLogger().exception('x')\n"
        "def raised():\n    try:\n        f()\n    except Exception as e:\n        raise ValueError() from e\n"
        "def handed_on(errors):\n    try:\n        f()\n    except Exception as error:\n        errors.append(error)\n"
        "def annotated():\n    try:\n        f()\n    except Exception:  # not logged: nothing to say\n        pass\n"
        "def named():\n    try:\n        f()\n    except (OSError, Exception):\n        pass\n",
        encoding="utf-8",
    )
    assert silent_handlers([code]) == [f"{code}:5", f"{code}:30"]
