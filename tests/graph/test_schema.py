from graph import Graph
from graph.schema import migrate


async def test_migrations_apply_twice_without_change(clean_graph: Graph) -> None:
    first = await migrate(clean_graph)
    second = await migrate(clean_graph)
    assert first == second
    assert {"customer_id", "product_sku", "viewed_event", "product_search"} <= set(first)


async def test_event_ids_are_unique_per_relationship_type(clean_graph: Graph) -> None:
    await clean_graph.write(
        "CREATE (:Session {id: 's'})-[:VIEWED {event_id: 'e1'}]->(:Product {sku: 'p'})"
    )
    import neo4j.exceptions

    try:
        await clean_graph.write(
            "MATCH (s:Session {id: 's'}), (p:Product {sku: 'p'}) "
            "CREATE (s)-[:VIEWED {event_id: 'e1'}]->(p)"
        )
    except neo4j.exceptions.ConstraintError:
        pass
    else:
        raise AssertionError("a second VIEWED with the same event id was stored")
