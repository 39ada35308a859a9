#!/usr/bin/env node
// The Santa benchmark's agents (bench/server/santa.js forks this process and sends it one job at a
// time over IPC): in a process of their own, so that they never share an event loop with a server
// under test, and one that stays up for the whole run, so that every round meets a warm client.
//
// Jobs (each answered with one message, `{ok: true, ...}` or `{ok: false, error}`):
//   {op: "download", url, base, machine}
//       one sync of a machine that holds no rules: preflight, every RuleDownload page (following
//       `cursor` until it is empty), postflight. A page is timed from its request to the last
//       byte of its answer; it is parsed after, so the client's own parsing is in no server's time.
//       Answers the times, the statuses, the rules received (and how many distinct), the bytes,
//       and a SHA-256 over every page's bytes (the bare server must answer the very same).
//   {op: "prepare", url, base, kind, machines, uploads, events, prefix, stampBase}
//       makes `uploads` requests of `events` executions each, every one of a file of its own:
//       `kind` santa or bare: EventUpload bodies, deflate-compressed as Santa sends them, each for
//       machine `machines[i % machines.length]`, after a preflight of each machine; batch:
//       `POST /v1/decisions/batch` bodies of the same files as Clearance decides them. Nothing
//       of this is timed: santa.js reads the CPU times after this answers.
//   {op: "upload"}
//       sends what `prepare` made, each machine on its own connection, its requests one after
//       the other; answers the statuses, the answers that were not what the stage answers, the
//       elapsed time (first request to last answer) and the latencies.

import { createHash } from "node:crypto";
import { deflateSync } from "node:zlib";
import { Agent, request } from "undici";
import { batchItem, execution, fileSha256, TOKEN } from "./santa-data.js";

const agent = new Agent({ keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000 });

/** Headers as Santa sends them: its token (`SyncExtraHeaders`), deflate (its default encoding). */
const SANTA_HEADERS = {
  "content-type": "application/json",
  "content-encoding": "deflate",
  authorization: `Bearer ${TOKEN}`,
};

/** POST `body` (bytes) to `url`: the status, the answer's bytes and the milliseconds to its last byte. */
async function post(url, body, headers) {
  const t0 = performance.now();
  const res = await request(url, { method: "POST", body, headers, dispatcher: agent });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, bytes, ms: performance.now() - t0 };
}

const santaBody = (message) => deflateSync(JSON.stringify(message));

function preflightMessage(machine) {
  return {
    machine_id: machine,
    serial_num: `SERIAL-${machine}`,
    hostname: `${machine.toLowerCase()}.example.com`,
    os_version: "15.5",
    os_build: "24F74",
    model_identifier: "Mac15,3",
    santa_version: "2025.6",
    primary_user: "alice",
    client_mode: "LOCKDOWN",
    request_clean_sync: false,
    binary_rule_count: 0,
  };
}

function tally(statuses, status) {
  statuses[status] = (statuses[status] ?? 0) + 1;
}

async function download({ url, base, machine }) {
  const statuses = {};
  const wrong = [];
  const at = (stage) => `${url}${base}/${stage}/${encodeURIComponent(machine)}`;
  const t0 = performance.now();
  const pre = await post(at("preflight"), santaBody(preflightMessage(machine)), SANTA_HEADERS);
  tally(statuses, pre.status);
  const syncType = pre.status === 200 ? JSON.parse(pre.bytes).sync_type : undefined;
  if (syncType !== "CLEAN") wrong.push(`preflight: sync_type ${syncType} (${pre.status})`);
  const pageMs = [];
  const hash = createHash("sha256");
  const seen = new Set();
  let rules = 0;
  let bytes = 0;
  let cursor = "";
  do {
    const message = { machine_id: machine };
    if (cursor !== "") message.cursor = cursor;
    const page = await post(at("ruledownload"), santaBody(message), SANTA_HEADERS);
    tally(statuses, page.status);
    pageMs.push(page.ms);
    bytes += page.bytes.length;
    hash.update(page.bytes);
    if (page.status !== 200) {
      wrong.push(`ruledownload: ${page.status} ${page.bytes.toString("utf8", 0, 200)}`);
      break;
    }
    const answer = JSON.parse(page.bytes);
    rules += answer.rules.length;
    for (const r of answer.rules) seen.add(r.identifier);
    cursor = answer.cursor ?? "";
  } while (cursor !== "" && pageMs.length < 10_000);
  const pagesEnd = performance.now();
  const postflight = await post(
    at("postflight"),
    santaBody({
      machine_id: machine,
      rules_received: rules,
      rules_processed: rules,
      sync_type: "CLEAN",
    }),
    SANTA_HEADERS,
  );
  tally(statuses, postflight.status);
  const totalMs = performance.now() - t0;
  return {
    preflightMs: pre.ms,
    pageMs,
    pagesMs: pageMs.reduce((a, b) => a + b, 0),
    pagesWallMs: pagesEnd - t0 - pre.ms,
    postflightMs: postflight.ms,
    totalMs,
    statuses,
    wrong,
    rules,
    distinct: seen.size,
    bytes,
    sha256: hash.digest("hex"),
  };
}

/** The requests `prepare` made, by machine: `{url, headers, bodies[]}`. */
let prepared;

async function prepare(spec) {
  const { url, base, kind, machines, uploads, events, prefix, stampBase } = spec;
  const lanes = machines.map((machine) => ({
    url:
      kind === "batch"
        ? `${url}/v1/decisions/batch`
        : `${url}${base}/eventupload/${encodeURIComponent(machine)}`,
    headers: kind === "batch" ? { "content-type": "application/json" } : SANTA_HEADERS,
    bodies: [],
  }));
  let raw = 0;
  let sent = 0;
  for (let u = 0; u < uploads; u++) {
    const machine = machines[u % machines.length];
    const list = [];
    for (let e = 0; e < events; e++) {
      const n = stampBase + u * events + e;
      const sha = fileSha256(prefix, n);
      list.push(kind === "batch" ? batchItem(sha, n) : execution(sha, n));
    }
    const text = JSON.stringify(
      kind === "batch" ? { items: list } : { machine_id: machine, events: list },
    );
    const body = kind === "batch" ? Buffer.from(text) : deflateSync(text);
    raw += Buffer.byteLength(text);
    sent += body.length;
    lanes[u % machines.length].bodies.push(body);
  }
  // each sync begins with a preflight; a machine's first registers it in the group
  const statuses = {};
  if (kind !== "batch")
    for (const machine of machines) {
      const pre = await post(
        `${url}${base}/preflight/${encodeURIComponent(machine)}`,
        santaBody(preflightMessage(machine)),
        SANTA_HEADERS,
      );
      tally(statuses, pre.status);
    }
  prepared = { kind, events, lanes };
  return { statuses, rawBytes: raw / uploads, sentBytes: sent / uploads };
}

/** What is wrong with an answer of a `kind` upload of `events` executions, or undefined. */
function wrongAnswer(kind, events, status, bytes) {
  if (status !== 200) return `${status} ${bytes.toString("utf8", 0, 300)}`;
  const answer = JSON.parse(bytes);
  if (kind === "santa" && !Array.isArray(answer.event_upload_bundle_binaries))
    return `no event_upload_bundle_binaries: ${bytes.toString("utf8", 0, 200)}`;
  if (kind === "batch") {
    if (answer.items?.length !== events) return `${answer.items?.length} answers`;
    const bad = answer.items.find((item) => typeof item.decision !== "string");
    if (bad) return `an item answered ${JSON.stringify(bad).slice(0, 200)}`;
  }
  return undefined;
}

async function upload() {
  if (!prepared) throw new Error("upload before prepare");
  const { kind, events, lanes } = prepared;
  prepared = undefined;
  const statuses = {};
  const wrong = [];
  const latencies = [];
  const t0 = performance.now();
  let lastAt = t0;
  await Promise.all(
    lanes.map(async (lane) => {
      for (const body of lane.bodies) {
        const r = await post(lane.url, body, lane.headers);
        lastAt = performance.now();
        latencies.push(r.ms);
        tally(statuses, r.status);
        const w = wrongAnswer(kind, events, r.status, r.bytes);
        if (w && wrong.length < 5) wrong.push(w);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    requests: latencies.length,
    statuses,
    wrong,
    elapsedMs: lastAt - t0,
    latency: { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), max: latencies.at(-1) },
  };
}

const OPS = { download, prepare, upload };
process.on("message", async (job) => {
  try {
    const op = OPS[job.op];
    if (!op) throw new Error(`no job \`${job.op}\``);
    process.send({ ok: true, ...(await op(job)) });
  } catch (error) {
    process.send({ ok: false, error: error.stack ?? String(error) });
  }
});
process.on("disconnect", () => process.exit(0));
