/**
 * `clearance dry-run --from virustotal:<file>` and `clearance pull --source virustotal`, against
 * the simulator's VirusTotal mode on loopback. The key is a premium one (quotas given by
 * CLEARANCE_VT_QUOTA) so the runs do not wait for minutes; the public quota's waiting is the
 * client's, tested in packages/client.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningSimulator, startSimulator } from "@clearance/platform-sim";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { root, runWith } from "./helpers.js";

const KEY = "vt_premium";
const QUEUED = "ab".repeat(32);
const UNKNOWN = "00".repeat(32);

let dir: string;
let sim: RunningSimulator;
let seeded: string[];
let env: Record<string, string>;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "clearance-cli-vt-"));
  sim = await startSimulator({
    port: 0,
    virustotal: {
      keys: [
        { key: KEY, perMinute: 1000, perDay: 100_000 },
        { key: "vt_small", perMinute: 1000, perDay: 3 },
      ],
      queued: [QUEUED],
    },
  });
  const res = await sim.app.inject({ method: "POST", url: "/_sim/files", payload: { count: 5 } });
  seeded = (res.json().data as { sha256: string }[]).map((f) => f.sha256);
  env = { CLEARANCE_VT_URL: sim.url, CLEARANCE_VT_KEY: KEY, CLEARANCE_VT_QUOTA: "1000/100000" };
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A file's MD5 and SHA-1, as the simulator's VirusTotal mode reports them. */
async function digestsOf(sha256: string): Promise<{ md5: string; sha1: string }> {
  const res = await sim.app.inject({
    method: "GET",
    url: `/api/v3/files/${sha256}`,
    headers: { "x-apikey": KEY },
  });
  const { md5, sha1 } = res.json().data.attributes;
  return { md5, sha1 };
}

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

describe("clearance dry-run --from virustotal:<file>", () => {
  test("decides the reports; not-found and queued hashes are listed, never decided", async () => {
    const hashes = file(
      "hashes.txt",
      `# three reports, one unknown, one queued\n${seeded.slice(0, 3).join("\n")}\n\n${UNKNOWN}\n${QUEUED.toUpperCase()}\n${seeded[0]}\n`,
    );
    const decisions = join(dir, "decisions.ndjson");
    const r = await runWith(
      env,
      "dry-run",
      "--rules",
      join(root, "rules"),
      "--from",
      `virustotal:${hashes}`,
      "--decisions",
      decisions,
      "--no-progress",
    );
    expect(r.code, r.err).toBe(0);
    const lines = readFileSync(decisions, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.sha256).sort()).toEqual(seeded.slice(0, 3).sort());
    expect(r.err).toContain(
      `virustotal: 1 not found (VirusTotal never saw them), not decided: ${UNKNOWN}`,
    );
    expect(r.err).toContain(`virustotal: 1 still queued for analysis, not decided`);
    expect(r.err).toContain(QUEUED);
  });

  test("takes MD5s, SHA-1s and SHA-256s mixed, and decides a file named twice once", async () => {
    const [a, b] = [await digestsOf(seeded[0]!), await digestsOf(seeded[1]!)];
    const hashes = file(
      "mixed.txt",
      [
        "# an EDR export and an IOC feed",
        a.md5,
        b.sha1.toUpperCase(),
        `${seeded[2]}  # by SHA-256`,
        seeded[0], // the file of the MD5 above
        a.sha1.toUpperCase(), // and again
        "",
      ].join("\n"),
    );
    const decisions = join(dir, "mixed.ndjson");
    const r = await runWith(
      env,
      "dry-run",
      "--rules",
      join(root, "rules"),
      "--from",
      `virustotal:${hashes}`,
      "--decisions",
      decisions,
      "--no-progress",
    );
    expect(r.code, r.err).toBe(0);
    const decided = readFileSync(decisions, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).sha256);
    expect(decided).toEqual(seeded.slice(0, 3));
    expect(r.err).toContain(
      `virustotal: 2 hashes name files another hash named, decided once: ${seeded[0]}, ${a.sha1} (${seeded[0]})`,
    );
    expect(r.err).not.toContain("not found");
  });

  test.each([
    ["not-a-hash"],
    ["ab".repeat(16).slice(1)], // an MD5 a digit short
    ["ab".repeat(24)], // 48 digits: no hash VirusTotal takes
    [`${"ab".repeat(31)}zz`],
  ])(
    "a line that is not an MD5, SHA-1 or SHA-256 (%s) fails before any lookup, naming the line",
    async (bad) => {
      const hashes = file("bad.txt", `${seeded[0]}\n${"cd".repeat(16)}\n${bad}\n`);
      const r = await runWith(
        env,
        "dry-run",
        "--rules",
        join(root, "rules"),
        "--from",
        `virustotal:${hashes}`,
      );
      expect(r.code).toBe(1);
      expect(r.err).toBe(
        `error: \`${hashes}\` line 3: \`${bad}\` is not an MD5, SHA-1 or SHA-256\n` +
          "hint: give one hash a line: an MD5 (32 hexadecimal digits), a SHA-1 (40) or a SHA-256 (64)",
      );
    },
  );

  test("no key, a wrong key, a bad quota", async () => {
    const hashes = file("one.txt", `${seeded[0]}\n`);
    const args = [
      "dry-run",
      "--rules",
      join(root, "rules"),
      "--from",
      `virustotal:${hashes}`,
      "--no-progress",
    ];
    const none = await runWith({ CLEARANCE_VT_URL: sim.url }, ...args);
    expect(none.code).toBe(1);
    expect(none.err).toContain("no VirusTotal API key: set `CLEARANCE_VT_KEY` (or `VT_API_KEY`)");
    const wrong = await runWith({ ...env, CLEARANCE_VT_KEY: "wrong" }, ...args);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain("WrongCredentialsError");
    expect(wrong.err).not.toContain("wrong`");
    // VT_API_KEY is read when CLEARANCE_VT_KEY is not set
    const { CLEARANCE_VT_KEY: _k, ...rest } = env;
    expect((await runWith({ ...rest, VT_API_KEY: KEY }, ...args)).code).toBe(0);
    const quota = await runWith({ ...env, CLEARANCE_VT_QUOTA: "lots" }, ...args);
    expect(quota.code).toBe(1);
    expect(quota.err).toContain(
      "`CLEARANCE_VT_QUOTA` must be `public` or `<per minute>/<per day>`, got `lots`",
    );
  });
});

describe("clearance pull --source virustotal", () => {
  test("appends reports as NDJSON, skips what it has on the next run, stops at the day's quota", async () => {
    const hashes = file("pull.txt", `${seeded.join("\n")}\n${QUEUED}\n`);
    const out = join(dir, "vt.ndjson");
    const small = { ...env, CLEARANCE_VT_KEY: "vt_small", CLEARANCE_VT_QUOTA: "1000/3" };
    const first = await runWith(
      small,
      "pull",
      "--source",
      "virustotal",
      "--hashes",
      hashes,
      "--out",
      out,
    );
    expect(first.code, first.err).toBe(0);
    const written = readFileSync(out, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(written.map((w) => w.data.id)).toEqual(seeded.slice(0, 3));
    expect(written[0].data.attributes.last_analysis_results).toBeDefined();
    expect(first.err).toContain("3 new VirusTotal reports written");
    expect(first.err).toContain("the key's daily quota is used up: 3 not looked up");
    expect(existsSync(`${out}.state.json`)).toBe(true);

    // with a key that has quota left: only the two missing reports are looked up
    const second = await runWith(
      env,
      "pull",
      "--source",
      "virustotal",
      "--hashes",
      hashes,
      "--out",
      out,
    );
    expect(second.code, second.err).toBe(0);
    expect(second.err).toContain("2 new VirusTotal reports written");
    expect(second.err).toContain("(5 in all, 3 already there)");
    expect(second.err).toContain("1 still queued");
    const all = readFileSync(out, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).data.id);
    expect(all).toEqual(seeded);

    // the output feeds the dry-run
    const r = await runWith(
      {},
      "dry-run",
      "--rules",
      join(root, "rules"),
      "--from",
      out,
      "--no-progress",
      "--strict",
    );
    expect(r.code, r.err).toBe(0);
  });

  test("pulls MD5s, SHA-1s and SHA-256s mixed; a file named twice is written once, on a rerun too", async () => {
    const [d, e] = [await digestsOf(seeded[3]!), await digestsOf(seeded[4]!)];
    const out = join(dir, "mixed-vt.ndjson");
    const pull = (hashes: string) =>
      runWith(env, "pull", "--source", "virustotal", "--hashes", hashes, "--out", out);
    const first = await pull(file("pull-mixed.txt", `${d.md5}\n${e.sha1}\n${seeded[3]}\n`));
    expect(first.code, first.err).toBe(0);
    const ids = () =>
      readFileSync(out, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).data.id);
    expect(ids()).toEqual([seeded[3], seeded[4]]);
    expect(first.err).toContain("2 new VirusTotal reports written");
    expect(first.err).toContain(
      `virustotal: 1 hash names a file another hash named, written once: ${seeded[3]}`,
    );
    const state = JSON.parse(readFileSync(`${out}.state.json`, "utf8"));
    expect([...state.done].sort()).toEqual([d.md5, e.sha1, seeded[3], seeded[4]].sort());

    // the hashes already pulled are not looked up again; a new hash of a file there is not written
    const second = await pull(
      file("pull-mixed2.txt", `${d.md5}\n${e.sha1}\n${seeded[3]}\n${d.sha1.toUpperCase()}\n`),
    );
    expect(second.code, second.err).toBe(0);
    expect(second.err).toContain("0 new VirusTotal reports written");
    expect(second.err).toContain("(2 in all, 3 already there)");
    expect(second.err).toContain(
      `1 hash names a file another hash named, written once: ${d.sha1} (${seeded[3]})`,
    );
    expect(ids()).toEqual([seeded[3], seeded[4]]);
  });

  test("--hashes is required, and is only for VirusTotal", async () => {
    const out = join(dir, "none.ndjson");
    const r = await runWith(env, "pull", "--source", "virustotal", "--out", out);
    expect(r.code).toBe(1);
    expect(r.err).toContain("`--source virustotal` needs --hashes <file>");
    const p = await runWith(env, "pull", "--hashes", "x.txt", "--out", out);
    expect(p.code).toBe(1);
    expect(p.err).toContain("--hashes is for `--source virustotal`");
    // and --since is the platform's: with VirusTotal it is refused, not silently ignored
    const s = await runWith(
      env,
      "pull",
      "--source",
      "virustotal",
      "--hashes",
      "x.txt",
      "--since",
      "2d",
      "--out",
      out,
    );
    expect(s.code).toBe(1);
    expect(s.err).toContain("--since is for the platform, which is listed by time");
  });
});
