"""The GraphQL examples in the README are valid against the schema the gateway serves."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import parse, validate

from gateway.app import assemble
from tests.gateway.conftest import settings_for_tests

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_graphql_examples_validate() -> None:
    examples = re.findall(r"```graphql\n(.*?)```", README.read_text(), re.DOTALL)
    assert examples, "the README shows no GraphQL example"
    schema = assemble(settings_for_tests()).schema._schema
    for example in examples:
        errors = validate(schema, parse(example))
        assert not errors, f"{example}\n{errors}"
