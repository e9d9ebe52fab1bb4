"""The front door: a short README whose query, map and links are true, and docs whose
GraphQL examples run against the schema the gateway serves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import parse, validate

from gateway.app import assemble
from tests.gateway.conftest import settings_for_tests

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# Where the GraphQL examples the README used to carry live now.
DOCS_WITH_EXAMPLES = [README, ROOT / "docs" / "api.md", ROOT / "docs" / "privacy.md"]


def test_the_readme_is_a_front_door_not_a_diary() -> None:
    text = README.read_text()
    assert len(text.splitlines()) < 150
    for heading in ("## Run it", "## One query", "## Map of the repository", "## Performance"):
        assert heading in text
    assert "make run" in text and "make test" in text
    performance = text.split("## Performance", 1)[1].strip().splitlines()
    assert len(performance) <= 3


def test_the_map_and_the_links_point_at_what_exists() -> None:
    text = README.read_text()
    mapped = re.findall(r"^\| `([^`]+)`", text, re.MULTILINE)
    assert "gateway/gate/" in mapped and "plugins/" in mapped
    linked = re.findall(r"\]\(([^)#]+)\)", text)
    assert "docs/privacy.md" in linked and "docs/oauth.md" in linked
    missing = [p for p in mapped + linked if not (ROOT / p.rstrip("/")).exists()]
    assert missing == []


def test_the_map_names_every_room_of_the_gateway() -> None:
    cells = re.findall(r"^\| (`[^|]+`) \|", README.read_text(), re.MULTILINE)
    mapped = {path for cell in cells for path in re.findall(r"`([^`]+)`", cell)}
    rooms = {
        f"gateway/{room.name}/"
        for room in (ROOT / "gateway").iterdir()
        if (room / "__init__.py").exists()
    }
    assert "gateway/web/" in rooms
    assert rooms <= mapped


@pytest.mark.parametrize("page", DOCS_WITH_EXAMPLES, ids=lambda p: p.name)
def test_graphql_examples_validate(page: Path) -> None:
    examples = re.findall(r"```graphql\n(.*?)```", page.read_text(), re.DOTALL)
    assert examples, f"{page.name} shows no GraphQL example"
    schema = assemble(settings_for_tests()).schema._schema
    for example in examples:
        errors = validate(schema, parse(example))
        assert not errors, f"{example}\n{errors}"
