"""docs/hooks.md stays in step with gateway/host/hookspecs.py, and every hook has a test."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from gateway.host import hookspecs

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "hooks.md"


def hooks() -> dict[str, str]:
    """Each hook's name and its signature, written as in the hook reference."""
    found = {}
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction):
        if not hasattr(function, "tightrope_spec"):
            continue
        notes = function.__annotations__
        params = ", ".join(f"{p}: {notes[p]}" for p in inspect.signature(function).parameters)
        found[name] = f"{name}({params}) -> {notes['return']}"
    return found


def test_there_are_hooks() -> None:
    assert {"register_fields", "startup", "shutdown"} <= set(hooks())


def test_every_hook_is_documented_with_its_exact_signature() -> None:
    documented = re.findall(r"^### `(.+)`$", DOC.read_text(), re.MULTILINE)
    assert sorted(documented) == sorted(hooks().values())


def test_every_hook_has_a_test() -> None:
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    untested = [name for name in hooks() if not re.search(rf"def test_\w*?hook_{name}[_(]", tests)]
    assert untested == []
