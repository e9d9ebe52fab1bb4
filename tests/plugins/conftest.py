"""The built-in plugins are tested over HTTP like the host: the gateway's fixtures."""

from tests.gateway.conftest import ana, demo_graph, served

__all__ = ["ana", "demo_graph", "served"]
