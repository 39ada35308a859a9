#!/usr/bin/env node
// A server under test, in its own process (bench/server/run.js starts one per scenario).
//
//   node bench/server/serve.js '{"kind":"ceiling"}'
//   node bench/server/serve.js '{"kind":"clearance","config":{...}}'
//
// ceiling    a bare fastify app (the fastify the server uses) with `POST /ceiling`, which parses
//            the JSON body like any route and answers the constant `{"ok":true}`
// clearance  `startServer(resolveConfig(config))` from the built @clearance/server
//
// Prints one JSON line on stdout once listening: {"url": ..., "fastify": the instance's version}.
// On SIGTERM it closes (finishing requests in flight and flushing the audit log) and exits 0, so
// that a `--cpu-prof` profile is written.

import { resolveConfig, startServer } from "@clearance/server";
import Fastify from "fastify";

const spec = JSON.parse(process.argv[2] ?? "{}");

let server;
if (spec.kind === "ceiling") {
  const app = Fastify({ logger: false });
  app.post("/ceiling", async (request) => {
    if (typeof request.body !== "object" || request.body === null) throw new Error("no body");
    return { ok: true };
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address();
  server = { app, url: `http://127.0.0.1:${port}`, close: () => app.close() };
} else if (spec.kind === "clearance") {
  server = await startServer(resolveConfig(spec.config));
} else {
  throw new Error(`unknown server kind \`${spec.kind}\``);
}

process.stdout.write(`${JSON.stringify({ url: server.url, fastify: server.app.version })}\n`);

process.once("SIGTERM", () => {
  server.close().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
});
