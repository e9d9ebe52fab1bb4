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
from gateway.hookspecs import API_VERSION
from gateway.inputs import flat_input
from gateway.manifests import Manifest, UndeclaredRead
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
from gateway.plugin_graph import PluginGraph, RawCypherNotDeclared
from gateway.plugins import PluginDeprecationWarning, hookimpl
from gateway.principal import ANONYMOUS, ClientKind, Principal
from gateway.settings import Settings
from gateway.strategies import (
    NOT_PERSONAL,
    PERSONALISATION,
    BlendRequest,
    Candidate,
    Reason,
    Recommendation,
    Recommender,
    Registered,
    Skipped,
    StrategyData,
    StrategyResult,
    Subject,
    SubjectKind,
    UndeclaredCategory,
)

__all__ = [
    "ANONYMOUS",
    "API_VERSION",
    "NOT_PERSONAL",
    "PERSONALISATION",
    "BadUserInput",
    "BlendRequest",
    "Candidate",
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
    "Manifest",
    "NotFound",
    "PageInfo",
    "PluginDeprecationWarning",
    "PluginGraph",
    "Principal",
    "Purpose",
    "QueryTooComplex",
    "RateLimited",
    "RawCypherNotDeclared",
    "Reason",
    "Recommendation",
    "Recommender",
    "Registered",
    "RequestGate",
    "RowRule",
    "ScopeSpec",
    "Settings",
    "Skipped",
    "StrategyData",
    "StrategyResult",
    "Subject",
    "SubjectKind",
    "TypeSpec",
    "Unauthenticated",
    "Unavailable",
    "UndeclaredCategory",
    "UndeclaredRead",
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
