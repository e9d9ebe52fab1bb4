"""The one settings object: environment variables and an optional file.

Neo4j is configured with the variables every Neo4j tool knows (``NEO4J_URI``,
``NEO4J_USER``, ``NEO4J_PASSWORD``, ``NEO4J_DATABASE``); everything else is
prefixed ``TIGHTROPE_``. A file named by ``TIGHTROPE_SETTINGS_FILE`` (dotenv
syntax) is read too; the environment wins over it. When ``NEO4J_URI`` is unset
the local development server started by ``tightrope neo4j start`` is used.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway.experiment import Experiment
from graph import Neo4jSettings
from graph.local import LocalNeo4jError, LocalServer
from graph.pii import DEV_PII_KEY
from graph.sealed import DEV_DATA_KEYS, DataKeys, parse_data_keys


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it."""


def _state_dir(name: str) -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(base, "tightrope", name)


# What the gateway listens on and publishes by default: right for development only.
DEV_ISSUER = "http://127.0.0.1:8000"


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a name or an address) can only be this machine."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ExternalIssuer(BaseModel):
    """An identity provider whose access tokens the resource server also accepts."""

    model_config = ConfigDict(frozen=True)

    issuer: str
    jwks_uri: str
    audience: str
    # The claim that lists scopes: a space-separated string or a list.
    scope_claim: str = "scope"
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    # What kind of client these tokens come from, and whether ``sub`` is our customer id.
    client_kind: Literal["first_party", "third_party", "public"] = "third_party"
    subject_is_customer: bool = True

    @field_validator("jwks_uri")
    @classmethod
    def _keys_come_over_https(cls, value: str) -> str:
        # Whoever can change the keys on the way can sign tokens the gateway
        # accepts; plain http is allowed only for an issuer on this machine.
        parts = urlsplit(value)
        if parts.hostname and (
            parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname))
        ):
            return value
        raise ValueError(
            f"jwks_uri {value!r} must be an https URL (plain http only on loopback): "
            "keys fetched over plain http could be swapped on the way"
        )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TIGHTROPE_", extra="ignore", frozen=True, populate_by_name=True
    )

    neo4j_uri: str | None = Field(default=None, validation_alias=AliasChoices("NEO4J_URI"))
    neo4j_user: str = Field(default="neo4j", validation_alias=AliasChoices("NEO4J_USER"))
    neo4j_password: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("NEO4J_PASSWORD")
    )
    neo4j_database: str = Field(default="neo4j", validation_alias=AliasChoices("NEO4J_DATABASE"))
    neo4j_port: int = Field(default=7687, ge=1, le=65535, description="port of the local server")
    neo4j_timeout: float = Field(default=1.0, gt=0, le=60)
    # Connections to Neo4j one gateway process keeps at most; a request that
    # finds them all busy for neo4j_timeout answers UNAVAILABLE.
    neo4j_max_connections: int = Field(default=100, ge=1, le=10_000)
    # Seconds a request's query may run before Neo4j stops it (UNAVAILABLE).
    query_timeout: float = Field(default=5.0, gt=0, le=300)

    # Dev mode turns on GraphiQL (and, unless set, introspection).
    dev_mode: bool = False

    # At start-up the gateway checks that the graph has the constraints and
    # indexes of `tightrope graph migrate`, and refuses to start without them;
    # with this on it migrates instead (unset: on in dev mode only).
    graph_migrate_on_start: bool | None = None
    # Before it says it is ready (/readyz), the gateway sends the request
    # path's statements once, so that a freshly started Neo4j has planned them
    # (gateway/web/readiness.py). Off only where a test counts round trips.
    warm_up: bool = True

    # The key of the HMAC that stands in for customers' emails in the graph
    # (graph/pii.py). Read here only, from the environment or the settings file,
    # and passed down through ``pii_secret()``. Required outside dev mode: with
    # the published development key, the hashes of guessable emails could be
    # reversed by anyone.
    pii_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TIGHTROPE_PII_KEY")
    )

    # The key of the hashes that stand in for linking signals (a network prefix,
    # a user-agent family; gateway/linking/signals.py). Unset, it is derived
    # from the PII key, so a deployment has one secret to keep; set it to rotate
    # the signals apart from the emails (rotating makes stored signals
    # unmatchable: devices are then linked from new evidence only).
    signals_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TIGHTROPE_SIGNALS_KEY")
    )

    # Devices linked to a customer with less confidence than this do not add
    # their sessions to the customer's history, journey and recommendations:
    # a probabilistic "same network, same products" link may be a household
    # member's tablet. 1.0 keeps to links a sign-in (or an email) proved.
    history_min_link_confidence: float = Field(default=1.0, ge=0.0, le=1.0)

    # Identity linking (gateway/linking, docs/linking.md). Guessing links from
    # shared networks (the built-in network linker) is off unless an operator
    # turns it on: measured on the evaluation's shoppers it does not reach
    # precision 0.98 at recall 0.85 (a household member's laptop can look like
    # one's own), and a wrong link shows one person another's history. Turned
    # on, each customer's cross_device consent is still required.
    linking_probabilistic: bool = False
    # The host's rules for what linkers propose. A probabilistic link needs at
    # least this confidence,
    linking_min_confidence: float = Field(default=0.9, gt=0.0, le=1.0)
    # and one from this confidence up to that is suggested to the customer to
    # confirm or reject (me { suggestedDevices }) instead of linked; at or above
    # linking_min_confidence there is nothing left to suggest.
    linking_suggest_confidence: float = Field(default=0.5, gt=0.0, le=1.0)
    # joins a device to at most this many customers (more candidates than that
    # for one device: none is linked), gives a customer at most this many
    # devices,
    linking_max_customers_per_device: int = Field(default=1, ge=1, le=10)
    linking_max_devices_per_customer: int = Field(default=8, ge=1, le=100)
    # and ignores a network seen, within the window, with more customers or
    # more devices than this (a cafe, an office, a mobile carrier): public.
    linking_public_network_customers: int = Field(default=4, ge=1, le=1000)
    linking_public_network_devices: int = Field(default=16, ge=2, le=10_000)
    linking_window_days: int = Field(default=90, ge=1, le=3650)
    # Households (gateway/linking/households.py): guesses at least this sure
    # about one device that name several customers make it their household's
    # (when together they reach linking_min_confidence) instead of anyone's;
    # a household has at most this many members.
    linking_household_member_confidence: float = Field(default=0.5, gt=0.0, le=1.0)
    linking_household_max_members: int = Field(default=6, ge=2, le=20)
    # Bits of an address kept as its network before hashing.
    linking_ipv4_prefix: int = Field(default=24, ge=8, le=32)
    linking_ipv6_prefix: int = Field(default=56, ge=16, le=128)
    # Batches of events waiting to be linked in the background; when full, a
    # trackEvents call waits for room rather than drop its events' linking.
    linking_queue_size: int = Field(default=1000, ge=1, le=1_000_000)

    # The keys that seal customers' contact details at rest (graph/sealed.py):
    # comma-separated ``id:base64url(32 bytes)`` entries; the first seals, all
    # open what they sealed (``tightrope keys new-data-key`` makes an entry,
    # ``tightrope keys rotate-data`` re-seals everything under the first).
    # Required outside dev mode, like the PII key.
    data_keys: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TIGHTROPE_DATA_KEYS")
    )

    # Retention (``tightrope prune``, graph/retention.py): behavioural events
    # older than this many days go; so do anonymous visits (no customer signed
    # in) and anonymous devices older than the anonymous lifetime, and access
    # records older than the access log's period.
    retention_event_days: int = Field(default=730, ge=1, le=36_500)
    retention_anonymous_days: int = Field(default=30, ge=1, le=3_650)
    retention_access_log_days: int = Field(default=730, ge=1, le=36_500)

    # Plugins (entry-point names, e.g. ``tightrope-events``) that are not loaded.
    # Comma-separated in the environment: TIGHTROPE_DISABLED_PLUGINS=a,b
    disabled_plugins: Annotated[tuple[str, ...], NoDecode] = ()

    # Pagination: a client may ask for at most max_page_size items per page.
    default_page_size: int = Field(default=20, ge=1)
    max_page_size: int = Field(default=100, ge=1, le=1000)

    # Query limits: a query beyond them is refused with QUERY_TOO_COMPLEX before
    # any resolver runs, and a body beyond max_body_bytes is refused unread.
    max_query_depth: int = Field(default=10, ge=1, le=100)
    max_aliases: int = Field(default=30, ge=0, le=1000)
    max_tokens: int = Field(default=2000, ge=50, le=100_000)
    max_body_bytes: int = Field(default=1_000_000, ge=1024, le=100_000_000)
    # The cost limit (gateway/graphql/cost.py): a field weighs its data category's weight
    # (personal data more than the catalogue), a list its ``first`` times what it
    # selects; a document over its client kind's limit is QUERY_TOO_COMPLEX.
    cost_catalogue_weight: int = Field(default=1, ge=0, le=1000)
    cost_personal_weight: int = Field(default=3, ge=0, le=1000)
    max_cost_anonymous: int = Field(default=5_000, ge=1)
    max_cost_public: int = Field(default=5_000, ge=1)
    max_cost_third_party: int = Field(default=2_000, ge=1)
    max_cost_first_party: int = Field(default=10_000, ge=1)

    # The catalogue (products, brands, categories) is kept in each process for at
    # most this many seconds (gateway/graphql/cache.py); a catalogue load is seen within
    # about a second whatever this is. 0 reads the graph on every request.
    catalogue_cache_seconds: float = Field(default=300.0, ge=0, le=86_400)
    # The aggregates recommendations are served from (item-to-item edges,
    # rankings: nobody's personal data) are kept in each process like the
    # catalogue; ``tightrope recompute`` is seen within about a second.
    recommendations_cache_seconds: float = Field(default=600.0, ge=0, le=86_400)
    # Entries kept (one per product and kind, or per ranking; up to 200 items
    # each): 10,000 entries hold at most about 160 MB.
    recommendations_cache_entries: int = Field(default=10_000, ge=100, le=1_000_000)

    # The access log (gateway/gate/access_log.py): allowed reads of personal data
    # are kept in memory and written to the graph every access_log_flush_seconds,
    # or as soon as access_log_batch records wait, and on shutdown. A crash loses
    # at most what waited (about a flush interval's worth); while the graph is
    # down at most access_log_max_pending records wait, beyond that the oldest
    # are dropped (and counted in the log).
    access_log_flush_seconds: float = Field(default=1.0, gt=0, le=300)
    access_log_batch: int = Field(default=500, ge=1, le=10_000)
    access_log_max_pending: int = Field(default=100_000, ge=1)
    # At shutdown, records the graph refuses are tried again for this long
    # (seconds) before what still waits is given up (counted, logged at ERROR).
    access_log_shutdown_seconds: float = Field(default=10.0, ge=0, le=300)

    # Introspection (``__schema``, ``__type``): unset follows dev_mode, so a
    # production gateway does not hand its schema to anyone who asks;
    # ``tightrope schema`` prints the SDL for client code generators.
    introspection: bool | None = None

    # Rate limits, per process (gateway/web/ratelimit.py); a rate of 0 turns one off.
    # /graphql: per authenticated client, else per client IP.
    rate_limit_per_second: float = Field(default=50.0, ge=0, allow_inf_nan=False)
    rate_limit_burst: int = Field(default=100, ge=1)
    # POST /oauth/token and /oauth/authorize: per client IP, against guessing.
    sign_in_rate_per_minute: float = Field(default=30.0, ge=0, allow_inf_nan=False)
    sign_in_burst: int = Field(default=20, ge=1)
    # Buckets kept at most (idle ones are dropped sooner).
    rate_limit_max_keys: int = Field(default=100_000, ge=100)
    # Gateways (processes: replicas times workers) sharing the limits above. Each
    # keeps its own buckets, so each allows the rates and bursts divided by this:
    # a balancer spreading a client evenly then sees about the limits as set
    # (docs/operations.md, "Running several").
    rate_limit_instances: int = Field(default=1, ge=1, le=10_000)

    # Allowlisted operations (gateway/graphql/operations.py): seconds a client's list of
    # registered operations (and its mode) is kept before it is read again.
    operations_cache_seconds: float = Field(default=5.0, ge=0, le=3600)
    # Prepared operations (gateway/graphql/prepared/): a query text seen before runs
    # from a plan compiled once. Off, every request takes the generic path
    # (the same answers, more CPU): a switch for an operator who suspects it.
    prepared_operations: bool = True

    # Plugin isolation (gateway/host/isolation.py): a plugin's resolver or strategy
    # that runs longer than its budget (seconds) is cut off, costing only its own
    # field or candidates. Per plugin, as JSON: {"tightrope-trending": 0.5}.
    plugin_budget_seconds: float = Field(default=2.0, gt=0, le=300)
    plugin_budgets: dict[str, Annotated[float, Field(gt=0, le=300)]] = Field(default_factory=dict)

    # The graph's answer to any one query is awaited at most this long (seconds)
    # on the request path; then the field is UNAVAILABLE (graph/driver.py). This
    # is what turns a Neo4j that hangs into an answer within about a second.
    # Each statement of a write transaction has it, the whole at most three.
    graph_deadline: float = Field(default=1.0, gt=0, le=300)
    # Once Neo4j refused a connection or let the deadline pass, nothing is sent
    # to it for this long (seconds; 0: off): requests answer UNAVAILABLE at once
    # instead of each waiting out a deadline, and the next query after it tries
    # again, so the gateway recovers on its own when Neo4j is back.
    graph_cooldown: float = Field(default=0.5, ge=0, le=60)

    # /metrics (gateway/web/metrics.py): Prometheus text, for loopback callers only
    # unless a bearer token is set, which then every caller must present.
    metrics_enabled: bool = True
    metrics_token: SecretStr | None = None
    # Distinct operation names kept as labels; later ones count as "other".
    metrics_max_operations: int = Field(default=100, ge=1, le=10_000)
    # "json" (one object per line) or "text"; unset: text in dev mode, else json.
    log_format: Literal["json", "text"] | None = None

    # CORS for /graphql (gateway/web/cors.py): the exact origins whose pages may call
    # it, comma-separated (https://shop.example,https://m.shop.example); none by
    # default. Credentials (cookies) stay off unless asked for.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    cors_allow_credentials: bool = False
    # Seconds a browser may cache a preflight's answer.
    cors_max_age: int = Field(default=600, ge=0, le=86_400)

    # Browsers reach the gateway over HTTPS (perhaps through a proxy): send HSTS.
    behind_tls: bool = False

    # OAuth 2 (gateway/oauth). The issuer is the public base URL of this gateway;
    # it is the ``iss`` of every token issued and, unless set, the ``aud`` too.
    # Outside dev mode it must be set (require_serving_secrets).
    oauth_issuer: str = Field(
        default=DEV_ISSUER, validation_alias=AliasChoices("TIGHTROPE_OAUTH_ISSUER")
    )
    oauth_audience: str | None = None
    # Signing keys and the sign-in cookie key: a directory only this user can read.
    oauth_keys_dir: str = Field(default_factory=lambda: _state_dir("oauth"))
    oauth_access_token_ttl: int = Field(default=300, ge=30, le=3600)
    oauth_refresh_token_ttl: int = Field(default=30 * 86400, ge=3600)
    oauth_code_ttl: int = Field(default=120, ge=10, le=600)
    # Seconds a verified token's grant is trusted as alive without asking the
    # graph again (gateway/oauth/liveness.py). A revocation made through this
    # process bites on its next request whatever this is; one made elsewhere
    # (another worker, `tightrope clients remove`) within this many seconds.
    # 0 asks the graph on every request.
    oauth_liveness_cache_seconds: float = Field(default=1.0, ge=0, le=30)
    # Other issuers whose tokens are accepted, as JSON:
    # [{"issuer": "...", "jwks_uri": "...", "audience": "...", "scope_claim": "scp"}]
    oauth_external_issuers: tuple[ExternalIssuer, ...] = ()

    # What personalisation earns (docs/insights.md). A purchase counts for the
    # list whose item the shopper last clicked on the same product at most this
    # many days before.
    attribution_window_days: int = Field(default=7, ge=1, le=90)
    # Figures are made only over at least this many customers; smaller cells
    # are suppressed (shown as such, without their numbers).
    insights_min_customers: int = Field(default=10, ge=2, le=100_000)
    # Served lists and the events sent back from them are kept this many days
    # (`tightrope prune`); the figures look back at most this far.
    retention_analytics_days: int = Field(default=90, ge=1, le=3_650)
    # The share of shoppers who get the non-personal baseline, to measure what
    # personalisation earns against (gateway/insights/experiment.py); 0: none.
    holdout_share: float = Field(default=0.05, ge=0, le=0.5)
    # An A/B test between blends, as JSON: {"name": "weights-2026-12", "variants":
    # [{"name": "A", "share": 0.5}, {"name": "B", "share": 0.5, "weights":
    # {"collaborative": 0.5}}]}; the first variant is the control.
    experiment: Experiment | None = None
    # Below this many shoppers (or 10 conversions) in either group a comparison
    # says "not enough data yet" instead of a number.
    insights_min_subjects: int = Field(default=100, ge=10, le=10_000_000)
    # A kind of data nothing read for this many days is dormant: proposed for
    # deletion (`tightrope prune --dormant --dry-run` shows what would go).
    dormant_days: int = Field(default=90, ge=1, le=3_650)

    @field_validator("disabled_plugins", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # An origin is scheme://host[:port], nothing more: a browser compares it
        # exactly, and a wildcard would let any site's page read the answers.
        for origin in value:
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or "*" in origin
                or parts.path not in ("", "/")
                or parts.query
                or parts.fragment
                or parts.username
                or origin.endswith("/")
            ):
                raise ValueError(
                    f"{origin!r} is not an exact origin (scheme://host[:port], no wildcard, "
                    "no path)"
                )
        return value

    @field_validator("data_keys")
    @classmethod
    def _data_keys_parse(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value():
            parse_data_keys(value.get_secret_value())  # a ValueError names what is wrong
        return value

    @model_validator(mode="after")
    def _page_sizes_agree(self) -> Self:
        if self.default_page_size > self.max_page_size:
            raise ValueError(
                f"default_page_size ({self.default_page_size}) exceeds "
                f"max_page_size ({self.max_page_size})"
            )
        return self

    def require_serving_secrets(self) -> None:
        """Refuse to serve real traffic with development secrets or addresses."""
        self.pii_secret()
        self.data_keys_in_use()
        if not self.dev_mode and "oauth_issuer" not in self.model_fields_set:
            # Tokens carry the issuer, and clients refuse metadata whose issuer
            # is not the URL they fetched it from (RFC 8414 §3.3): a gateway
            # published anywhere but this machine's port 8000 needs its own.
            raise SettingsError(
                "TIGHTROPE_OAUTH_ISSUER must be set when TIGHTROPE_DEV_MODE is off: the "
                f"public base URL clients reach this gateway at (the default {DEV_ISSUER} "
                "is for development)"
            )

    def pii_secret(self) -> str:
        """The key of the email hashes: the configured one, the dev key only in dev mode."""
        if self.pii_key is not None and self.pii_key.get_secret_value():
            return self.pii_key.get_secret_value()
        if self.dev_mode:
            return DEV_PII_KEY
        raise SettingsError(
            "TIGHTROPE_PII_KEY must be set to a secret when TIGHTROPE_DEV_MODE is off "
            "(it keys the hashes that stand in for customers' emails)"
        )

    def signals_secret(self) -> str:
        """The key of the linking signals' hashes: the configured one, else one from the PII key."""
        if self.signals_key is not None and self.signals_key.get_secret_value():
            return self.signals_key.get_secret_value()
        # A key of its own, derived: a signal hash can never be compared with an
        # email hash, and the PII key itself never hashes a signal.
        derived = hmac.new(self.pii_secret().encode(), b"tightrope linking signals", "sha256")
        return derived.hexdigest()

    @property
    def json_logs(self) -> bool:
        return (not self.dev_mode) if self.log_format is None else self.log_format == "json"

    def plugin_budget(self, plugin: str) -> float:
        """Seconds a plugin's resolver or strategy may run for one request."""
        return self.plugin_budgets.get(plugin, self.plugin_budget_seconds)

    def data_keys_in_use(self) -> DataKeys:
        """The keys of sealed contact details: the configured ones, the dev key only in dev mode."""
        if self.data_keys is not None and self.data_keys.get_secret_value():
            return parse_data_keys(self.data_keys.get_secret_value())
        if self.dev_mode:
            return DEV_DATA_KEYS
        raise SettingsError(
            "TIGHTROPE_DATA_KEYS must be set when TIGHTROPE_DEV_MODE is off (it seals "
            "customers' contact details at rest); `tightrope keys new-data-key` makes one"
        )

    @property
    def migrates_on_start(self) -> bool:
        return self.dev_mode if self.graph_migrate_on_start is None else self.graph_migrate_on_start

    @property
    def introspection_enabled(self) -> bool:
        return self.dev_mode if self.introspection is None else self.introspection

    def neo4j(self, timeout: float | None = None) -> Neo4jSettings:
        """How to reach Neo4j: the configured server, else the local one."""
        wait = self.neo4j_timeout if timeout is None else timeout
        if self.neo4j_uri:
            password = self.neo4j_password.get_secret_value() if self.neo4j_password else ""
            return Neo4jSettings(
                self.neo4j_uri,
                self.neo4j_user,
                password,
                self.neo4j_database,
                wait,
                pool_size=self.neo4j_max_connections,
            )
        try:
            conn = LocalServer(port=self.neo4j_port).connection()
        except LocalNeo4jError as exc:
            raise SettingsError(f"NEO4J_URI is not set and {exc}") from exc
        return Neo4jSettings(
            conn.uri,
            conn.user,
            conn.password,
            self.neo4j_database,
            wait,
            pool_size=self.neo4j_max_connections,
        )


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; a bad value raises SettingsError naming it."""
    env_file = os.environ.get("TIGHTROPE_SETTINGS_FILE")
    if env_file and not os.path.isfile(env_file):
        raise SettingsError(f"TIGHTROPE_SETTINGS_FILE={env_file!r} is not a readable file")
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = "; ".join(_describe(err["loc"], err["msg"]) for err in exc.errors())
        raise SettingsError(f"invalid settings: {problems}") from exc


def _describe(loc: tuple[int | str, ...], message: str) -> str:
    """Name a bad setting the way an operator sets it: field and environment variable."""
    if not loc:
        return f"settings: {message}"
    name = str(loc[0])
    field = Settings.model_fields.get(name)
    alias = field.validation_alias if field is not None else None
    env = alias.choices[0] if isinstance(alias, AliasChoices) else f"TIGHTROPE_{name.upper()}"
    return f"{name} ({env}): {message}"
