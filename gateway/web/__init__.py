"""The HTTP layer: the ``/graphql`` endpoint, the middleware, workers, logs, metrics, readiness.

Nothing here decides who may see what (that is gateway/gate/); these modules
carry requests to the schema and answers back, within limits.
"""
