"""Prepared operations: a query seen before runs from a plan compiled once.

``plan`` compiles a validated document into a plan (what to run for each
field, decided once), ``execute`` runs one as graphql-core would, and
``store`` keeps each known document's plans and answers an operation with
one exactly as the generic path answers it (gateway/web/endpoint.py chooses).
docs/performance.md says what it saves; a differential test in the suite
holds every operation the tests send to the same answer both ways.
"""

from gateway.graphql.prepared.plan import Plan, Uncovered, compile_plan
from gateway.graphql.prepared.store import PreparedOperations

__all__ = ["Plan", "PreparedOperations", "Uncovered", "compile_plan"]
