"""Who is asking: the result of checking a request's bearer token.

The resource server (gateway/oauth) turns a request into a Principal; the
schema's gate reads only this. Nothing downstream looks at tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ClientKind(StrEnum):
    FIRST_PARTY = "first_party"
    THIRD_PARTY = "third_party"
    PUBLIC = "public"


@dataclass(frozen=True)
class Principal:
    """The client behind a request, the customer its token is about (if any), its scopes."""

    client_id: str | None = None
    client_kind: ClientKind | None = None
    customer_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    # True when verifying the token also proved that the customer exists (our
    # own tokens: a family's check requires its customer), so nobody needs to
    # read the customer node only to know that.
    customer_exists: bool = False
    # The external issuer that vouched for the token (None: this gateway's own).
    # Its client_id is then namespaced by the issuer and no local client's.
    issuer: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.client_id is not None

    def missing(self, required: frozenset[str]) -> frozenset[str]:
        """The scopes of ``required`` this principal lacks."""
        return required - self.scopes


ANONYMOUS = Principal()
