"""docs/insights.md explains every figure the back office can read."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLObjectType, build_schema, get_named_type

from gateway.app import assemble
from gateway.graphql.schema import sdl
from tests.gateway.conftest import settings_for_tests

DOCS = Path(__file__).resolve().parents[3] / "docs" / "insights.md"


def test_every_field_of_the_back_offices_figures_is_in_the_docs() -> None:
    schema = build_schema(sdl(assemble(settings_for_tests()).schema))
    seen: set[str] = set()
    todo = [get_named_type(schema.query_type.fields["insights"].type)]  # type: ignore[union-attr]
    missing = []
    text = DOCS.read_text(encoding="utf-8")
    while todo:
        kind = todo.pop()
        if not isinstance(kind, GraphQLObjectType) or kind.name in seen:
            continue
        seen.add(kind.name)
        if f"`{kind.name}`" not in text:
            missing.append(kind.name)
        for name, field in kind.fields.items():
            if f"`{name}`" not in text and f"`{name}(" not in text:
                missing.append(f"{kind.name}.{name}")
            todo.append(get_named_type(field.type))
    assert len(seen) == 7
    assert missing == []
