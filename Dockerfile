# The gateway image for docker-compose.yml. Neo4j comes from the official image there.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY graph ./graph
COPY plugins ./plugins
# The signing keys live in /var/lib/tightrope/oauth, a volume in docker-compose.yml:
# tokens and sign-in cookies then survive a restart. The directory is made here so
# that a new volume is owned by the unprivileged user.
RUN pip install --no-cache-dir . \
    && useradd --system --home /app tightrope \
    && install -d -o tightrope -g tightrope -m 0700 /var/lib/tightrope /var/lib/tightrope/oauth
USER tightrope
ENV NEO4J_URI=bolt://neo4j:7687 \
    TIGHTROPE_OAUTH_KEYS_DIR=/var/lib/tightrope/oauth
EXPOSE 8000
# Migrate (idempotent), then serve. A production image never loads demo data:
# `docker compose --profile demo run --rm demo` does that, on purpose.
CMD ["sh", "-c", "tightrope graph migrate && exec tightrope serve --host 0.0.0.0 --port 8000"]
