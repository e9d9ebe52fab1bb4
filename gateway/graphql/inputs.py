"""Input types built straight from the values graphql-core already checked.

strawberry converts every argument field by field, resolving each field's
annotation again for every value: for ``trackEvents`` with 50 events that was
a quarter of the request's CPU (docs/performance.md). An input whose fields are
all scalars or enums needs none of it, since graphql-core has already coerced
each value to its Python form; :func:`flat_input` gives such a type a builder
that only renames the keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from strawberry.schema.config import StrawberryConfig
from strawberry.types.arguments import InputContext
from strawberry.types.base import StrawberryContainer, StrawberryOptional

T = TypeVar("T", bound=type)


def flat_input(cls: T) -> T:
    """Give a strawberry input of scalars and enums a fast builder; other inputs are refused."""
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    names = StrawberryConfig().name_converter
    fields: dict[str, str] = {}
    for field in definition.fields:
        kind = field.type
        if isinstance(kind, StrawberryOptional):
            kind = kind.of_type
        # Lists and nested inputs need strawberry's conversion; scalars and enums do not.
        if isinstance(kind, StrawberryContainer) or hasattr(kind, "__strawberry_definition__"):
            raise TypeError(f"{cls.__name__}.{field.python_name} is not a scalar or an enum")
        fields[names.from_field(field)] = field.python_name

    def build(target: type, value: Mapping[str, Any], context: InputContext) -> Any:
        return target(**{fields[key]: item for key, item in value.items() if key in fields})

    definition.from_input = build
    return cls
