# The gateway image for docker-compose.yml. Neo4j comes from the official image there.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY graph ./graph
COPY plugins ./plugins
RUN pip install --no-cache-dir . && useradd --system --home /app tightrope
USER tightrope
ENV NEO4J_URI=bolt://neo4j:7687
EXPOSE 8000
# Migrate (idempotent), load the demo data set once, then serve.
CMD ["sh", "-c", "tightrope graph migrate && tightrope load demo --if-empty && exec tightrope serve --host 0.0.0.0 --port 8000"]
