"""One thread at a time builds a Python AST in the test process.

CPython 3.11 keeps the AST constructor's recursion counter in the interpreter, not in the thread
(python/cpython#106905): when two threads turn source into an AST at once (pytest's assertion rewriting,
Hypothesis and Schemathesis reading source for constants, anyio's lazy imports, an app's lifespan thread
importing), the one that finishes second fails with "SystemError: AST constructor recursion depth mismatch".
The suite runs servers' lifespans and portals in threads beside the main one, so it met this once in CI.
Every Python-level caller reaches the constructor through `compile(..., ast.PyCF_ONLY_AST)` (ast.parse
included), so holding one lock there makes them take turns. Reentrant: a finalizer run by the garbage
collector inside a parse may parse too.
"""

from __future__ import annotations

import ast
import builtins
import threading
from typing import Any

_FLAGS_POSITION = 3  # compile(source, filename, mode, flags, ...)


def serialize_ast_construction() -> None:
    """Wrap `compile` so that only AST-producing calls take the lock (idempotent)."""
    original = builtins.compile
    if getattr(original, "__wrapped_for_ast_turns__", False):
        return
    turn = threading.RLock()

    def compile_in_turn(*args: Any, **kwargs: Any) -> Any:
        flags = args[_FLAGS_POSITION] if len(args) > _FLAGS_POSITION else kwargs.get("flags", 0)
        if not flags & ast.PyCF_ONLY_AST:
            return original(*args, **kwargs)
        with turn:
            return original(*args, **kwargs)

    compile_in_turn.__wrapped_for_ast_turns__ = True  # type: ignore[attr-defined]
    builtins.compile = compile_in_turn
