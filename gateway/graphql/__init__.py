"""The GraphQL layer: the schema assembled from plugins, documents, cost, pagination, inputs.

Also the registered (persisted) operations a client may be held to, and the
one schema extension that follows every operation's answer.
"""
