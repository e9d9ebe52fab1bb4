"""Relay-style cursor connections, for any node type built at start-up.

A plugin that serves a list declares ``<Node>Connection`` and ``<Node>Edge`` with
:func:`connection_types` / :func:`connection_fields` and returns a
:class:`Connection` from its resolver. Cursors are opaque to clients (base64 of
a small JSON object the plugin chooses, e.g. the last SKU or an offset); a
cursor that does not decode is BAD_USER_INPUT.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import strawberry

from gateway.errors import BadUserInput
from gateway.fields import FieldSpec, TypeSpec


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@dataclass(frozen=True)
class Edge:
    cursor: str
    node: Any


@dataclass(frozen=True)
class Connection:
    edges: Sequence[Edge]
    page_info: PageInfo

    @property
    def nodes(self) -> list[Any]:
        return [edge.node for edge in self.edges]


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The position a cursor stands for; None for no cursor; BAD_USER_INPUT if garbled."""
    if cursor is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadUserInput("after: not a cursor this API issued", argument="after") from None
    if not isinstance(value, dict):
        raise BadUserInput("after: not a cursor this API issued", argument="after")
    return value


def decode_time_cursor(cursor: str | None, *keys: str) -> tuple[Any, ...] | None:
    """A newest-first list's position: its time (``at``) then the strings ``keys``.

    None for no cursor; BAD_USER_INPUT for one that is not such a position. A
    time without a timezone names no instant: compared with the graph's times it
    would match nothing and answer an empty page instead of an error.
    """
    position = decode_cursor(cursor)
    if position is None:
        return None
    at, rest = position.get("at"), tuple(position.get(key) for key in keys)
    refused = BadUserInput("after: not a cursor of this list", argument="after")
    if not isinstance(at, str) or not all(isinstance(value, str) for value in rest):
        raise refused
    try:
        parsed = datetime.fromisoformat(at)
    except ValueError:
        raise refused from None
    if parsed.tzinfo is None:
        raise BadUserInput(
            "after: not a cursor of this list (its time has no timezone)", argument="after"
        )
    return (parsed, *rest)


def page_size(first: int | None, default: int, maximum: int) -> int:
    """The page size to use; asking for more than ``maximum`` is BAD_USER_INPUT."""
    if first is None:
        return default
    if first < 1 or first > maximum:
        raise BadUserInput(f"first must be between 1 and {maximum}", argument="first")
    return first


def make_connection(nodes: Sequence[Any], cursors: Sequence[str], has_next: bool) -> Connection:
    edges = [Edge(cursor, node) for cursor, node in zip(cursors, nodes, strict=True)]
    return Connection(
        edges, PageInfo(has_next_page=has_next, end_cursor=cursors[-1] if cursors else None)
    )


def connection_types(node_type: str) -> list[TypeSpec]:
    return [
        TypeSpec(f"{node_type}Connection", f"A page of {node_type} items."),
        TypeSpec(f"{node_type}Edge", f"A {node_type} with its cursor."),
    ]


def connection_fields(node_type: str) -> list[FieldSpec]:
    conn, edge = f"{node_type}Connection", f"{node_type}Edge"
    return [
        FieldSpec(conn, "edges", f"[{edge}!]!"),
        FieldSpec(conn, "nodes", f"[{node_type}!]!", description="The nodes, without cursors."),
        FieldSpec(conn, "pageInfo", PageInfo, attr="page_info"),
        FieldSpec(edge, "cursor", "String!"),
        FieldSpec(edge, "node", f"{node_type}!"),
    ]
