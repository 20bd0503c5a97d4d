"""Errors the UI can show in any language: a stable code, its parameters, and an English default.

``core`` makes no decisions about UI text. Every error that can reach a user carries a
``code`` (e.g. ``"checkpoint.not_archive"``) and the ``params`` its message needs; ``str()``
is the English message, built from the module's own template, so logs and tests read well.
The UI looks the code up in its catalogues (``errors.<code>``) and formats the same params.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


class CodedError(Exception):
    """An error with a stable ``code`` and the ``params`` of its message.

    Subclasses set ``templates``: code → English template with named placeholders, the
    default ``str()`` of the error.
    """

    templates: Mapping[str, str] = MappingProxyType({})

    def __init__(self, code: str, **params: Any):
        if code not in self.templates:
            raise KeyError(f"{type(self).__name__} has no message for code {code!r}")
        self.code = code
        self.params = params
        super().__init__(self.templates[code].format(**params))

    def __reduce__(self):  # picklable, so errors survive a thread or process boundary
        return (_rebuild, (type(self), self.code, self.params))


def _rebuild(cls: type[CodedError], code: str, params: dict) -> CodedError:
    return cls(code, **params)


def all_templates() -> dict[str, str]:
    """Every code of every ``CodedError`` subclass loaded so far → its English template."""
    found: dict[str, str] = {}
    pending = [CodedError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        found.update(cls.templates)
    return found
