"""graph: Neo4j and nothing else.

What plugins and the gateway may use is exported here; everything else in this
package is internal to it.
"""

from graph.driver import Graph, GraphUnavailable, Neo4jSettings, connect

__all__ = ["Graph", "GraphUnavailable", "Neo4jSettings", "connect"]
