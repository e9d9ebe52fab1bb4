"""``tightrope serve``: run the gateway with uvicorn.

Before uvicorn starts, the settings are checked (a bad one is an error) and two
easy deployment mistakes are pointed out (warnings, since a proxy in front can
make either one right): an issuer that is not where the gateway listens, and
a public address without the forwarded-address settings that per-client
limits need behind a proxy.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any
from urllib.parse import urlsplit

import click
import uvicorn

from gateway.cli.common import settings
from gateway.host.manager import PluginError
from gateway.settings import Settings, SettingsError, is_loopback
from gateway.web.logs import log_config
from gateway.web.workers import serve_workers

# Listening on every interface includes loopback.
WILDCARDS = ("0.0.0.0", "::", "")  # noqa: S104 (names, not a bind)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes, each with its own socket on the port (SO_REUSEPORT).",
)
@click.option(
    "--proxy-headers/--no-proxy-headers",
    default=True,
    show_default=True,
    help="Take the client's address and scheme from X-Forwarded-For and X-Forwarded-Proto "
    "when they come from a trusted proxy (--forwarded-allow-ips).",
)
@click.option(
    "--forwarded-allow-ips",
    default=None,
    help="Comma-separated addresses (or networks, or '*') of the proxies whose forwarded "
    "headers are trusted. Default: $FORWARDED_ALLOW_IPS, else 127.0.0.1.",
)
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="Log a line per request (off: the proxy or load balancer in front usually does).",
)
def serve(
    host: str,
    port: int,
    workers: int,
    proxy_headers: bool,
    forwarded_allow_ips: str | None,
    access_log: bool,
) -> None:
    """Serve the GraphQL API (GraphiQL at /graphql in dev mode).

    Neo4j is the one NEO4J_URI names, else the local server on
    TIGHTROPE_NEO4J_PORT (7687), as for every other command.
    """
    from gateway.app import assemble
    from gateway.web.protocol import OneWriteProtocol

    # Assemble once here so that a bad setting or a broken plugin is reported
    # plainly before uvicorn starts its workers (each builds its own app).
    try:
        checked = settings()
        checked.require_serving_secrets()
        assemble(checked)
    except (PluginError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from exc
    for warning in start_up_warnings(
        checked,
        host=host,
        port=port,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips or os.environ.get("FORWARDED_ALLOW_IPS"),
    ):
        click.echo(f"warning: {warning}", err=True)
    options: dict[str, Any] = {
        "proxy_headers": proxy_headers,
        "forwarded_allow_ips": forwarded_allow_ips,
        "access_log": access_log,
        "log_config": log_config(json_lines=checked.json_logs),
        # httptools, each response's head and body in one write (gateway/web/protocol.py).
        "http": OneWriteProtocol,
    }
    if workers > 1:
        # uvicorn's own workers share one socket and the first to wake takes the
        # connections; ours each bind the port (gateway/web/workers.py).
        serve_workers(workers, host, port, options)
        return
    uvicorn.run("gateway.app:app_from_environment", factory=True, host=host, port=port, **options)


def start_up_warnings(
    settings: Settings,
    *,
    host: str,
    port: int,
    proxy_headers: bool,
    forwarded_allow_ips: str | None,
) -> list[str]:
    """What looks wrong about serving these settings on ``host``:``port``."""
    warnings = []
    elsewhere = issuer_elsewhere(settings.oauth_issuer, host, port)
    if elsewhere:
        warnings.append(elsewhere)
    if proxy_headers and not forwarded_allow_ips and not is_loopback(host):
        # uvicorn trusts forwarded headers from 127.0.0.1 only. Behind a proxy
        # elsewhere every request then comes "from the proxy": one rate-limit
        # bucket, one sign-in limit and one bad-token limit for all clients, so
        # twenty junk tokens from anyone refuse every authenticated client.
        warnings.append(
            f"serving on {host or 'every interface'} without --forwarded-allow-ips: behind a "
            "proxy that is not on this machine, every client would share the proxy's address "
            "(and its rate limits). Name the proxy with --forwarded-allow-ips, or pass "
            "--no-proxy-headers if clients connect directly."
        )
    return warnings


def issuer_elsewhere(issuer: str, host: str, port: int) -> str | None:
    """Why clients following the issuer URL would not reach ``host``:``port``, if they would not.

    Only a plain-http issuer is judged: an https one is served by a TLS proxy,
    whose address says nothing about where the gateway itself listens.
    """
    parts = urlsplit(issuer)
    if parts.scheme != "http":
        return None
    problem = None
    issuer_port = parts.port or 80
    if issuer_port != port:
        problem = f"points at port {issuer_port} but the gateway listens on port {port}"
    elif host not in WILDCARDS and not _same_machine_address(parts.hostname or "", host):
        problem = f"points at {parts.hostname} but the gateway listens on {host}"
    if problem is None:
        return None
    return (
        f"the OAuth issuer {issuer} {problem}. Clients find the server's metadata and check "
        "tokens by the issuer URL (RFC 8414 §3.3): set TIGHTROPE_OAUTH_ISSUER to the URL "
        "clients use, unless a proxy forwards it here."
    )


def _same_machine_address(issuer_host: str, host: str) -> bool:
    """Whether a client going to ``issuer_host`` may reach a server bound to ``host``."""
    if is_loopback(issuer_host) or is_loopback(host):
        return is_loopback(issuer_host) and is_loopback(host)
    try:
        return ipaddress.ip_address(issuer_host.strip("[]")) == ipaddress.ip_address(host)
    except ValueError:
        return True  # a name: where it resolves is DNS's business
