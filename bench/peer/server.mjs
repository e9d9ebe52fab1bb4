// The peer of `make bench`: what a frontend team would stand up with
// @neo4j/graphql 7 and Apollo Server 5 over the same graph tightrope serves.
//
// The type definitions map the labels and relationships the gateway reads
// (graph/catalogue.py, graph/history.py). Temporal properties (PURCHASED.at,
// Customer.created_at) are left out of what can be selected: returning a
// DateTime needs the APOC plugin, which Neo4j Community from Maven lacks;
// sorting by one does not, so `at` stays sortable on the relationship.
//
// Authentication is on as a team would deploy it: JWTs (HS256, a bench
// secret) verified by the library, Customer nodes readable only by the
// customer named in the token's `sub` (the `me` of the gateway).
//
// Processes: PEER_PROCESSES (default 1). Above 1, this process is the
// primary of a node:cluster and forks that many workers, each running the
// server on the same port; the primary accepts connections and hands them to
// the workers in turn (round robin, Node's default on Linux). That is how a
// Node service is run on N cores (the cluster module, or pm2's cluster mode,
// which is built on it), and what `make bench` sets against N gateway workers.
//
// Environment: NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD, PEER_PORT, PEER_JWT_SECRET,
// PEER_PROCESSES.
import cluster from "node:cluster";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { Neo4jGraphQL } from "@neo4j/graphql";
import neo4j from "neo4j-driver";

const typeDefs = /* GraphQL */ `
  type Product @node {
    sku: ID!
    name: String!
    price: Float!
    brand: [Brand!]! @relationship(type: "OF_BRAND", direction: OUT)
    categories: [Category!]! @relationship(type: "IN_CATEGORY", direction: OUT)
  }

  type Brand @node {
    id: ID!
    name: String!
  }

  type Category @node {
    id: ID!
    name: String!
    parent: [Category!]! @relationship(type: "PARENT", direction: OUT)
  }

  type Purchased @relationshipProperties {
    event_id: String!
    at: DateTime! @selectable(onRead: false, onAggregate: false)
    qty: Int
    price: Float
  }

  type Customer @node
    @authentication
    @authorization(filter: [{ where: { node: { id: { eq: "$jwt.sub" } } } }]) {
    id: ID!
    purchases: [Product!]!
      @relationship(type: "PURCHASED", direction: OUT, properties: "Purchased")
  }
`;

const processes = Number(process.env.PEER_PROCESSES || 1);

if (processes > 1 && cluster.isPrimary) {
  for (let i = 0; i < processes; i++) cluster.fork();
  let stopping = false;
  let exited = 0;
  cluster.on("exit", (worker, code) => {
    exited += 1;
    if (!stopping) {
      console.error(`peer worker ${worker.process.pid} exited (${code}); stopping`);
      process.exit(1);
    }
    if (exited === processes) process.exit(0);
  });
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      stopping = true;
      for (const worker of Object.values(cluster.workers)) worker.process.kill("SIGTERM");
    });
  }
} else {
  await serve();
}

async function serve() {
  const driver = neo4j.driver(
    process.env.NEO4J_URI,
    neo4j.auth.basic(process.env.NEO4J_USER, process.env.NEO4J_PASSWORD),
  );
  const neoSchema = new Neo4jGraphQL({
    typeDefs,
    driver,
    features: { authorization: { key: process.env.PEER_JWT_SECRET } },
  });
  const server = new ApolloServer({ schema: await neoSchema.getSchema() });
  const { url } = await startStandaloneServer(server, {
    listen: { host: "127.0.0.1", port: Number(process.env.PEER_PORT || 4000) },
    context: async ({ req }) => ({ token: req.headers.authorization }),
  });
  console.log(`peer ready at ${url} (pid ${process.pid})`);

  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, async () => {
      await server.stop();
      await driver.close();
      process.exit(0);
    });
  }
}
