"""ingot's exception classes (pure Python, importable without torch).

Every failure of the C++ library reaches Python as an IngotError (or subclass)
whose message is the C++ message; `.code` keeps the C++ status code
("invalid_argument", "unsupported", "not_found", "corrupt", "io_error",
"device_error", "internal").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional


class IngotError(Exception):
    """An error reported by ingot (bad input, unsupported model, corrupt engine, ...)."""

    def __init__(self, message: str, code: str = "invalid_argument"):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class UnsupportedOperator:
    """One operator ingot cannot convert, with where the user's code first uses it."""

    target: str      # "aten.foo.default"
    node_name: str   # the first graph node with this target
    location: str    # "model.py:42" (the user's source line), "" if unknown
    code: str        # the text of that source line
    count: int       # how many nodes use this target (for this reason)
    reason: str      # "no converter" or the converter's own message


class UnsupportedOperatorError(IngotError):
    """The model uses operators ingot cannot convert; `.unsupported` lists every one."""

    def __init__(self, message: str, unsupported: Optional[List[UnsupportedOperator]] = None, report=None):
        super().__init__(message, code="unsupported")
        self.unsupported = list(unsupported or [])
        self.report = report


def error_from_status(code: str, message: str) -> IngotError:
    """Builds the exception for a failed C++ Status (called by the extension)."""
    return IngotError(message, code)
