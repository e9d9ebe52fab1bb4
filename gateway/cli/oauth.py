"""OAuth administration: ``tightrope clients``, ``keys``, ``customers``, ``token``.

Secrets are printed once and never stored in clear: a client's secret and a
dev token go to stdout (so they can be piped), everything else to stderr.
"""

from __future__ import annotations

import asyncio
import sys
import time

import click

from gateway.cli.common import graph_session, settings
from gateway.oauth.clients import ClientError, register_client
from gateway.oauth.devtokens import dev_token
from gateway.oauth.passwords import hash_password
from gateway.oauth.routes import OAuthService
from gateway.oauth.scopes import ScopeCatalogue, join, parse
from graph.oauth import list_clients, remove_client, set_password_hash


def _catalogue() -> ScopeCatalogue:
    """The core scopes plus those the installed plugins declare."""
    from gateway.graphql.schema import collect_registry
    from gateway.host.manager import load_plugins

    config = settings()
    registry = collect_registry(load_plugins(config.disabled_plugins, ()), config)
    return ScopeCatalogue(registry.scopes)


# ------------------------------------------------------------------ clients


@click.group("clients")
def clients_group() -> None:
    """Register, list and remove OAuth clients."""


@clients_group.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(["first_party", "third_party", "public"]), required=True)
@click.option("--scopes", required=True, help='Space-separated, e.g. "profile:read purchases:read"')
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Exact URI; repeatable")
@click.option("--trusted", is_flag=True, help="First-party only: skip the consent page")
def add_client(
    name: str, kind: str, scopes: str, redirect_uris: tuple[str, ...], trusted: bool
) -> None:
    """Register a client; print its client_id (and its secret, once)."""
    catalogue = _catalogue()

    async def run() -> tuple[str, str | None]:
        async with graph_session() as graph:
            record, secret = await register_client(
                graph,
                catalogue,
                name=name,
                kind=kind,
                scopes=parse(scopes),
                redirect_uris=redirect_uris,
                trusted=trusted,
            )
            return record.client_id, secret

    try:
        client_id, secret = asyncio.run(run())
    except ClientError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"client_id: {client_id}")
    if secret:
        click.echo(f"client_secret: {secret}")
        click.echo("The secret is shown only now; store it safely.", err=True)


@clients_group.command("list")
def list_command() -> None:
    """List registered clients (never their secrets)."""

    async def run() -> None:
        async with graph_session() as graph:
            for c in await list_clients(graph):
                trusted = " trusted" if c.trusted else ""
                click.echo(f"{c.client_id}\t{c.name}\t{c.kind}{trusted}\t{join(c.allowed_scopes)}")
                for uri in c.redirect_uris:
                    click.echo(f"\t\tredirect: {uri}")

    asyncio.run(run())


@clients_group.command("remove")
@click.argument("client_id")
def remove_command(client_id: str) -> None:
    """Remove a client; every token issued to it stops working at once."""

    async def run() -> bool:
        async with graph_session() as graph:
            return await remove_client(graph, client_id, int(time.time()))

    if not asyncio.run(run()):
        raise click.ClickException(f"no client {client_id!r}")
    click.echo(f"removed {client_id}", err=True)


# ------------------------------------------------------------------ keys


@click.group("keys")
def keys_group() -> None:
    """Manage the keys that sign access tokens and seal contact details."""


@keys_group.command("rotate")
def rotate_command() -> None:
    """Start signing with a new key; the old one verifies until its tokens expire."""
    service = OAuthService(settings())
    fresh = service.keys.rotate()
    click.echo(f"signing with key {fresh.kid}; {len(service.keys.jwks()['keys'])} key(s) published")


# ------------------------------------------------------------------ customers


@click.group("customers")
def customers_group() -> None:
    """Customer sign-in credentials."""


@customers_group.command("set-password")
@click.argument("customer_id")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input")
def set_password(customer_id: str, password_stdin: bool) -> None:
    """Set the password a customer signs in with (stored as an Argon2id hash)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc

    async def run() -> bool:
        async with graph_session() as graph:
            return await set_password_hash(graph, customer_id, hashed, int(time.time()))

    if not asyncio.run(run()):
        raise click.ClickException(f"no customer {customer_id!r}")
    click.echo(f"password set for customer {customer_id}", err=True)


# ------------------------------------------------------------------ dev tokens


@click.command("token")
@click.option("--customer", "customer_id", help="Customer the token is about (omit for none)")
@click.option("--client", "client_id", required=True)
@click.option("--scopes", required=True)
@click.option(
    "--allow-outside-dev-mode",
    is_flag=True,
    help="Issue it although TIGHTROPE_DEV_MODE is off (a token for a customer who never "
    "signed in: use with care).",
)
def token_command(
    customer_id: str | None, client_id: str, scopes: str, allow_outside_dev_mode: bool
) -> None:
    """Issue an access token locally (development, benchmarks); prints only the token.

    The token obeys the client's rules: only scopes the client is allowed, and
    customers:read only for first-party clients; the customer must exist. It
    has no refresh token and lives as long as ``oauth_access_token_ttl``.
    Outside dev mode it is refused unless --allow-outside-dev-mode is given.
    """
    config = settings()
    if not config.dev_mode and not allow_outside_dev_mode:
        # Whoever runs this holds the keys: the token would be an impersonation
        # of a customer who neither signed in nor consented.
        raise click.ClickException(
            "tightrope token issues tokens nobody signed in for: it is refused when "
            "TIGHTROPE_DEV_MODE is off, unless --allow-outside-dev-mode is given"
        )
    service = OAuthService(config, _catalogue())

    async def run() -> str:
        async with graph_session() as graph:
            return await dev_token(
                graph, service, client_id=client_id, customer_id=customer_id, scopes=parse(scopes)
            )

    try:
        token = asyncio.run(run())
    except ClientError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(token)
