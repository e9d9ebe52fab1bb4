"""gateway: the host. What plugins may use is exported here and nowhere else."""

from gateway.app import create_app
from gateway.cache import VersionedCache, cached_batch_loader
from gateway.context import Context, batch_loader
from gateway.errors import (
    BadUserInput,
    ConsentRequired,
    ErrorCode,
    Forbidden,
    GatewayError,
    Internal,
    NotFound,
    QueryTooComplex,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from gateway.fields import (
    DataCategory,
    FieldRegistry,
    FieldSpec,
    Purpose,
    RowRule,
    ScopeSpec,
    TypeSpec,
)
from gateway.gate import ConsentPolicy, ConsentQuestion, Decision, RequestGate
from gateway.inputs import flat_input
from gateway.oauth.login import password_sign_in
from gateway.pagination import (
    Connection,
    PageInfo,
    connection_fields,
    connection_types,
    decode_cursor,
    encode_cursor,
    make_connection,
    page_size,
)
from gateway.plugins import hookimpl
from gateway.principal import ANONYMOUS, ClientKind, Principal
from gateway.settings import Settings

__all__ = [
    "ANONYMOUS",
    "BadUserInput",
    "ClientKind",
    "Connection",
    "ConsentPolicy",
    "ConsentQuestion",
    "ConsentRequired",
    "Context",
    "DataCategory",
    "Decision",
    "ErrorCode",
    "FieldRegistry",
    "FieldSpec",
    "Forbidden",
    "GatewayError",
    "Internal",
    "NotFound",
    "PageInfo",
    "Principal",
    "Purpose",
    "QueryTooComplex",
    "RateLimited",
    "RequestGate",
    "RowRule",
    "ScopeSpec",
    "Settings",
    "TypeSpec",
    "Unauthenticated",
    "Unavailable",
    "VersionedCache",
    "batch_loader",
    "cached_batch_loader",
    "connection_fields",
    "connection_types",
    "create_app",
    "decode_cursor",
    "encode_cursor",
    "flat_input",
    "hookimpl",
    "make_connection",
    "page_size",
    "password_sign_in",
]
