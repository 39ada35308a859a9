// One timed upload (or hash) in a process of its own, for bench/client/run.js, so that the peak
// RSS it reports is this work's alone.
//
//   node bench/client/upload.js --mode client   --url URL --file F   client.upload(F)
//   node bench/client/upload.js --mode progress --url URL --file F   the same with onProgress
//   node bench/client/upload.js --mode raw      --url URL --file F --sha256 S
//        POST /v1/upload, then a bare undici PUT of fs.createReadStream(F) with content-length
//        (--read-chunk N: the stream's highWaterMark; default Node's, 64 KiB)
//   node bench/client/upload.js --mode hashraw  --url URL --file F
//        by hand in one process: node:crypto SHA-256 over a 1 MiB-chunk stream, then the raw PUT
//   node bench/client/upload.js --mode hash     --file F             the client's hashFile(F)
//
// Prints one JSON line: {ms, maxRssKb, cpuUserMs, cpuSystemMs, ...}. `ms` is the timed call alone
// (from just before it to its end: not Node's start-up nor the module loading). Each mode loads
// only what it uses (the raw PUT: undici alone), and `importRssKb` is the peak RSS once loaded.

import { createHash } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    mode: { type: "string" },
    url: { type: "string" },
    file: { type: "string" },
    sha256: { type: "string" },
    "read-chunk": { type: "string" },
  },
});
const { mode, url, file } = args;
const KEY = "sim_key_full";

async function hashThenRaw() {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }))
    hash.update(chunk);
  const sha256 = hash.digest("hex");
  const hashedMs = performance.now() - t0;
  return { ...(await raw(sha256, 1024 * 1024)), sha256, hashedMs };
}

async function raw(sha256 = args.sha256, chunk = args["read-chunk"] && Number(args["read-chunk"])) {
  const { request } = loaded;
  const size = statSync(file).size;
  const reserve = await request(`${url}/v1/upload`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify({
      fileName: basename(file),
      contentType: "application/octet-stream",
      sha256,
    }),
  });
  const ticket = await reserve.body.json();
  if (reserve.statusCode !== 200) throw new Error(`POST /v1/upload: ${JSON.stringify(ticket)}`);
  const put = await request(ticket.uploadUrl, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream", "content-length": String(size) },
    body: createReadStream(file, chunk ? { highWaterMark: chunk } : undefined),
  });
  const answer = await put.body.json();
  if (put.statusCode !== 200 || answer.size !== size || answer.sha256 !== sha256)
    throw new Error(`PUT: ${put.statusCode} ${JSON.stringify(answer)}`);
  return { answer };
}

async function client(withProgress) {
  const { PlatformClient } = loaded;
  const c = new PlatformClient({ baseUrl: url, apiKey: KEY });
  const t0 = performance.now();
  let putStartMs;
  let putEndMs;
  let calls = 0;
  const options = withProgress
    ? {
        onProgress(sent, total) {
          calls++;
          if (sent === 0) putStartMs = performance.now() - t0;
          if (sent === total) putEndMs = performance.now() - t0;
        },
      }
    : {};
  try {
    const result = await c.upload(file, options);
    if (result.skipped) throw new Error("the upload was skipped: the simulator knew the file");
    return { result, putStartMs, putEndMs, progressCalls: calls };
  } finally {
    await c.close();
  }
}

const run = {
  hash: async () => ({ sha256: await loaded.hashFile(file) }),
  raw: () => raw(),
  hashraw: hashThenRaw,
  client: () => client(false),
  progress: () => client(true),
}[mode];
if (run === undefined) throw new Error(`unknown --mode ${mode}`);
// The raw modes load undici alone; the others @clearance/client (which loads the conversion of
// results, @clearance/platform with the result schema, only once it maps a first result).
const loaded =
  mode === "raw" || mode === "hashraw" ? await import("undici") : await import("@clearance/client");
const u0 = process.resourceUsage();

const t0 = performance.now();
const out = await run();
const ms = performance.now() - t0;
const u = process.resourceUsage();
process.stdout.write(
  `${JSON.stringify({
    mode,
    ms,
    maxRssKb: u.maxRSS,
    importRssKb: u0.maxRSS,
    // CPU of the timed call alone (loading the modules left out)
    cpuUserMs: (u.userCPUTime - u0.userCPUTime) / 1000,
    cpuSystemMs: (u.systemCPUTime - u0.systemCPUTime) / 1000,
    minorFaults: u.minorPageFault - u0.minorPageFault,
    ...out,
  })}\n`,
);
