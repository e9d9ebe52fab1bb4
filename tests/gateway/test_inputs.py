"""flat_input builds an input from its GraphQL value alone, and refuses inputs that need more."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum

import pytest
import strawberry

from gateway import flat_input


@strawberry.enum
class Colour(Enum):
    RED = "red"


@flat_input
@strawberry.input
class Flat:
    name_of_thing: str
    at: datetime
    colour: Colour | None = None
    count: int | None = None


@strawberry.type
class Query:
    @strawberry.field
    def echo(self, items: list[Flat]) -> str:
        return "|".join(f"{i.name_of_thing},{i.at.isoformat()},{i.colour},{i.count}" for i in items)


def test_a_flat_input_arrives_with_its_python_names_and_parsed_values() -> None:
    schema = strawberry.Schema(Query)
    result = schema.execute_sync(
        '{ echo(items: [{nameOfThing: "a", at: "2026-01-02T03:04:05Z", colour: RED},'
        ' {nameOfThing: "b", at: "2026-01-02T03:04:05+01:00"}]) }'
    )
    assert result.errors is None
    a, b = result.data["echo"].split("|")  # type: ignore[index]
    assert a == f"a,{datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).isoformat()},Colour.RED,None"
    assert b.startswith("b,2026-01-02T03:04:05+01:00,None,None")


def test_an_input_with_a_list_or_a_nested_input_is_refused() -> None:
    with pytest.raises(TypeError, match=r"Nested\.inner is not a scalar"):

        @flat_input
        @strawberry.input
        class Nested:
            inner: Flat

    with pytest.raises(TypeError, match=r"Listed\.names is not a scalar"):

        @flat_input
        @strawberry.input
        class Listed:
            names: list[str]
