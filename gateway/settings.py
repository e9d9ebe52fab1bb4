"""The one settings object: environment variables and an optional file.

Neo4j is configured with the variables every Neo4j tool knows (``NEO4J_URI``,
``NEO4J_USER``, ``NEO4J_PASSWORD``, ``NEO4J_DATABASE``); everything else is
prefixed ``TIGHTROPE_``. A file named by ``TIGHTROPE_SETTINGS_FILE`` (dotenv
syntax) is read too; the environment wins over it. When ``NEO4J_URI`` is unset
the local development server started by ``tightrope neo4j start`` is used.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from graph import Neo4jSettings
from graph.local import LocalNeo4jError, LocalServer


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIGHTROPE_", extra="ignore", frozen=True)

    neo4j_uri: str | None = Field(default=None, validation_alias=AliasChoices("NEO4J_URI"))
    neo4j_user: str = Field(default="neo4j", validation_alias=AliasChoices("NEO4J_USER"))
    neo4j_password: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("NEO4J_PASSWORD")
    )
    neo4j_database: str = Field(default="neo4j", validation_alias=AliasChoices("NEO4J_DATABASE"))
    neo4j_port: int = Field(default=7687, ge=1, le=65535, description="port of the local server")
    neo4j_timeout: float = Field(default=1.0, gt=0, le=60)

    dev_mode: bool = False

    def neo4j(self, timeout: float | None = None) -> Neo4jSettings:
        """How to reach Neo4j: the configured server, else the local one."""
        wait = self.neo4j_timeout if timeout is None else timeout
        if self.neo4j_uri:
            password = self.neo4j_password.get_secret_value() if self.neo4j_password else ""
            return Neo4jSettings(
                self.neo4j_uri, self.neo4j_user, password, self.neo4j_database, wait
            )
        try:
            conn = LocalServer(port=self.neo4j_port).connection()
        except LocalNeo4jError as exc:
            raise SettingsError(f"NEO4J_URI is not set and {exc}") from exc
        return Neo4jSettings(conn.uri, conn.user, conn.password, self.neo4j_database, wait)


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; a bad value raises SettingsError naming it."""
    env_file = os.environ.get("TIGHTROPE_SETTINGS_FILE")
    if env_file and not os.path.isfile(env_file):
        raise SettingsError(f"TIGHTROPE_SETTINGS_FILE={env_file!r} is not a readable file")
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from exc
