"""``tightrope serve``: run the gateway with uvicorn."""

from __future__ import annotations

import click
import uvicorn

from gateway.cli.common import settings
from gateway.plugins import PluginError
from gateway.requestid import log_config
from gateway.settings import SettingsError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="Log a line per request (off: the proxy or load balancer in front usually does).",
)
def serve(host: str, port: int, workers: int, access_log: bool) -> None:
    """Serve the GraphQL API (GraphiQL at /graphql in dev mode)."""
    from gateway.app import assemble

    # Assemble once here so that a bad setting or a broken plugin is reported
    # plainly before uvicorn starts its workers (each builds its own app).
    try:
        checked = settings()
        checked.require_serving_secrets()
        assemble(checked)
    except (PluginError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from exc
    uvicorn.run(
        "gateway.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        access_log=access_log,
        log_config=log_config(),
    )
