"""Allowlisted operations: a client may be held to the operations it registered, by hash.

An operator registers a client's operations ahead of time
(``tightrope operations add FILE --client ID``); each is known by the SHA-256
of its exact text. On the wire this is the persisted-query convention of
Apollo and Relay: a request carries ``extensions.persistedQuery.sha256Hash``,
with the text (checked against the hash) or without it (looked up).

A client in **allowlist** mode may run nothing else: any other text is
``FORBIDDEN`` before it is validated or executed, so a stolen third-party
token reads only what that app's own screens ask for. Third-party clients are
in that mode by default outside dev mode; ``tightrope operations mode``
changes a client's mode either way. A hash the client never registered is
answered ``PersistedQueryNotFound`` (the message clients of the convention
look for).

What a client may run is read from the graph once per client and kept for
``operations_cache_seconds``, so a request costs a dictionary lookup; a change
made with the CLI bites within that time.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import GraphQLError, GraphQLSchema, parse, validate
from graphql.error import GraphQLSyntaxError

from gateway.errors import (
    UNAVAILABLE_MESSAGE,
    BadUserInput,
    Forbidden,
    GatewayError,
    NotFound,
    Unavailable,
)
from gateway.principal import ClientKind, Principal
from graph import Graph, GraphUnavailable
from graph.operations import PersistedOperation, client_operations

ALLOWLIST, ANY = "allowlist", "any"
MODES = (ALLOWLIST, ANY)
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
# Clients kept in the cache at most.
MAX_CLIENTS = 10_000


class PersistedQueryNotFound(NotFound):
    """A hash this client has not registered (the convention's message, for its clients)."""

    def __init__(self, sha256: str) -> None:
        super().__init__(NOT_FOUND_MESSAGE, sha256Hash=sha256)


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Allowlist:
    """What one client may run: ``restricted`` to ``texts`` (by hash), or anything."""

    restricted: bool
    texts: Mapping[str, str]
    # Made without the graph's answer (it was unavailable): a client held to an
    # allowlist by its kind is told to try again, not that it may not.
    degraded: bool = False

    def refusal(self, query: str, sha256: str | None = None) -> GatewayError | None:
        """Why this client may not run ``query`` (None: it may)."""
        if not self.restricted:
            return None
        if self.degraded:
            return Unavailable(UNAVAILABLE_MESSAGE)
        digest = sha256 or sha256_of(query)
        if digest in self.texts:
            return None
        return Forbidden(
            "this client may run only its registered operations "
            "(tightrope operations add); this one is not registered",
            sha256Hash=digest,
        )


def persisted_hash(extensions: Mapping[str, Any] | None) -> str | None:
    """``extensions.persistedQuery.sha256Hash`` of a request, if it carries one."""
    if not extensions:
        return None
    persisted = extensions.get("persistedQuery")
    if not isinstance(persisted, dict):
        return None
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str):
        raise BadUserInput("extensions.persistedQuery.sha256Hash must be a string")
    return digest.lower()


def resolve_text(
    query: str | None, extensions: Mapping[str, Any] | None, allowlist: Allowlist | None
) -> str | None:
    """The query text of a request that may name its operation by hash.

    The text when sent (its hash must match the one named), else the
    registered text of the named hash; PersistedQueryNotFound when unknown.
    """
    digest = persisted_hash(extensions)
    if digest is None:
        return query
    if query is not None:
        if sha256_of(query) != digest:
            raise BadUserInput("provided sha does not match query")
        return query
    text = allowlist.texts.get(digest) if allowlist is not None else None
    if text is None:
        raise PersistedQueryNotFound(digest)
    return text


class OperationStore:
    """Each client's allowlist, read from the graph and kept for ``max_age`` seconds."""

    def __init__(
        self,
        *,
        dev_mode: bool,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dev_mode = dev_mode
        self.max_age = max_age
        self.clock = clock
        self._cache: OrderedDict[str, tuple[float, Allowlist]] = OrderedDict()

    def default_restricted(self, kind: str | None) -> bool:
        return kind == ClientKind.THIRD_PARTY.value and not self.dev_mode

    async def for_principal(self, principal: Principal, graph: Graph) -> Allowlist | None:
        """The allowlist of the principal's client; None for anonymous callers."""
        client_id = principal.client_id
        if client_id is None:
            return None
        if principal.issuer is not None:
            # A client of an external issuer is not registered here: its kind decides.
            kind = principal.client_kind.value if principal.client_kind else None
            return Allowlist(self.default_restricted(kind), {})
        now = self.clock()
        cached = self._cache.get(client_id)
        if cached is not None and now - cached[0] < self.max_age:
            return cached[1]
        try:
            found = await client_operations(graph, client_id)
        except GraphUnavailable:
            # What was known a while ago beats nothing; with nothing, the kind decides.
            if cached is not None:
                return cached[1]
            kind = principal.client_kind.value if principal.client_kind else None
            return Allowlist(self.default_restricted(kind), {}, degraded=True)
        if found is None:
            # A client removed since its token was issued: its kind decides.
            kind = principal.client_kind.value if principal.client_kind else None
            allowlist = Allowlist(self.default_restricted(kind), {})
        else:
            restricted = (
                found.mode == ALLOWLIST
                if found.mode in MODES
                else self.default_restricted(found.kind)
            )
            allowlist = Allowlist(restricted, {o.sha256: o.text for o in found.operations})
        self._cache[client_id] = (now, allowlist)
        self._cache.move_to_end(client_id)
        while len(self._cache) > MAX_CLIENTS:
            self._cache.popitem(last=False)
        return allowlist


class ManifestError(Exception):
    """A file of operations that cannot be registered; the message says why."""


def read_operations(path: Path, schema: GraphQLSchema) -> list[PersistedOperation]:
    """The operations of a file, each checked against the schema.

    ``.json``: an Apollo persisted-query manifest (``{"operations": [{"id",
    "name", "body"}]}``) or a Relay one (``{"<hash>": "<text>"}``); each hash
    must be the SHA-256 of its text. Anything else: the whole file is one
    document, registered under the hash of its exact text.
    """
    raw = path.read_text(encoding="utf-8")
    entries: list[tuple[str | None, str, str | None]] = []
    if path.suffix == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{path}: not JSON: {exc}") from exc
        if isinstance(data, dict) and isinstance(data.get("operations"), list):
            for op in data["operations"]:
                if not isinstance(op, dict) or not isinstance(op.get("body"), str):
                    raise ManifestError(f"{path}: each operation needs a string 'body'")
                entries.append((op.get("id"), op["body"], op.get("name")))
        elif isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
            entries.extend((digest, text, None) for digest, text in data.items())
        else:
            raise ManifestError(f"{path}: neither an Apollo nor a Relay persisted-query manifest")
    else:
        entries.append((None, raw, None))
    found: list[PersistedOperation] = []
    for declared, text, name in entries:
        digest = sha256_of(text)
        if declared is not None and declared.lower() != digest:
            raise ManifestError(f"{path}: {declared} is not the SHA-256 of its text ({digest})")
        problems = _problems(text, schema)
        if problems:
            raise ManifestError(f"{path}: operation {name or digest[:12]}: {problems}")
        found.append(PersistedOperation(digest, text, name or _name_of(text)))
    if not found:
        raise ManifestError(f"{path}: no operations")
    return found


def _problems(text: str, schema: GraphQLSchema) -> str:
    try:
        document = parse(text)
    except GraphQLSyntaxError as exc:
        return exc.message
    errors: list[GraphQLError] = validate(schema, document)
    return "; ".join(e.message for e in errors)


def _name_of(text: str) -> str | None:
    from graphql import OperationDefinitionNode

    names = [
        d.name.value
        for d in parse(text).definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    ]
    return ", ".join(names) or None
