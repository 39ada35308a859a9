#!/usr/bin/env node

// A server under test, in its own process (bench/server/run.js starts one per scenario).
//
//   node bench/server/serve.js '{"kind":"ceiling"}'
//   node bench/server/serve.js '{"kind":"clearance","config":{...}}'
//
// ceiling    a bare fastify app (the fastify the server uses) with `POST /ceiling`, which parses
//            the JSON body like any route and answers the constant `{"ok":true}`
// logged-ceiling  the same route, which also records each body in an audit log (SQLite, full,
//            with its journal when `journal: true`; or PostgreSQL with `postgres: {url, schema}`)
//            before answering: the control for what durable recording alone costs
// clearance  `startServer(resolveConfig(config))` from the built @clearance/server
// santa-bare the bare routes of Santa's sync protocol (santa-bare.js), `rules` rules in memory:
//            the control of bench/server/santa.js
//
// Prints one JSON line on stdout once listening: {"url": ..., "fastify": the instance's version}.
// On SIGTERM it closes (finishing requests in flight and flushing the audit log) and exits 0, so
// that a `--cpu-prof` profile is written.

import { open } from "node:fs/promises";
import {
  AuditLog,
  PostgresBackend,
  resolveConfig,
  SqliteBackend,
  startServer,
} from "@clearance/server";
import { decisionRecord } from "@clearance/server/testing";
import Fastify from "fastify";

const spec = JSON.parse(process.argv[2] ?? "{}");

/** A bare app whose JSON bodies are parsed as fastify does, keeping the text (`request.rawJson`). */
function rawJsonApp() {
  const app = Fastify({ logger: false });
  const parse = app.getDefaultJsonParser("error", "error");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    request.rawJson = body;
    parse(request, body, done);
  });
  return app;
}

/** Listens on loopback; `close` closes the app, then what `release` releases. */
async function listening(app, release) {
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address();
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await app.close();
      await release();
    },
  };
}

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
} else if (spec.kind === "appended-ceiling") {
  // The floor of durable recording: each body appended to a plain file, one write and one
  // fdatasync per group of requests (on libuv's thread pool), before answering. No database.
  const app = rawJsonApp();
  const file = await open(spec.path, "a");
  let pending = [];
  let flushing = false;
  const flush = async () => {
    if (flushing || pending.length === 0) return;
    flushing = true;
    const batch = pending;
    pending = [];
    try {
      await file.write(`${batch.map((p) => p.text).join("\n")}\n`);
      await file.datasync();
      for (const p of batch) p.resolve();
    } catch (error) {
      for (const p of batch) p.reject(error);
    } finally {
      flushing = false;
      if (pending.length > 0) setImmediate(flush);
    }
  };
  app.post("/ceiling", async (request) => {
    if (typeof request.body?.result?.sha256 !== "string") throw new Error("no result");
    await new Promise((resolve, reject) => {
      pending.push({ text: request.rawJson, resolve, reject });
      if (pending.length === 1) setImmediate(flush);
    });
    return { ok: true };
  });
  server = await listening(app, () => file.close());
} else if (spec.kind === "logged-ceiling") {
  // The control: the bare route, plus what any server that keeps this audit log must do for a
  // request: record its body, durably, before answering. Clearance's own storage (sealing on the
  // writer thread, the same schema, group commits), without validation, rules or metrics.
  const app = rawJsonApp();
  const backend = spec.postgres
    ? new PostgresBackend({ url: spec.postgres.url, schema: spec.postgres.schema, poolSize: 4 })
    : new SqliteBackend({
        path: spec.path,
        synchronous: "full",
        writerThread: true,
        readers: 2,
        journal: spec.journal === true,
      });
  const log = new AuditLog(backend, { chain: "control", hmacSecret: null, maxBatch: 1000 });
  await log.open();
  app.post("/ceiling", async (request) => {
    const sha256 = request.body?.result?.sha256;
    if (typeof sha256 !== "string") throw new Error("no result");
    await log.append(
      decisionRecord({
        sha256,
        fileName: null,
        reason: "control",
        ruleset: { revision: "control", commit: null, dirty: false },
        latencyUs: 0,
      }),
      request.rawJson,
    );
    return { ok: true };
  });
  app.post("/v1/audit/verify", async () => log.verify());
  server = await listening(app, () => log.close());
} else if (spec.kind === "santa-bare") {
  const { santaBareApp } = await import("./santa-bare.js");
  server = await listening(santaBareApp(spec), async () => {});
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
