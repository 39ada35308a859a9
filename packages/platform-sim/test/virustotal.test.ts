import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { createSimulator, type SimulatorOptions } from "../src/index.js";
import { derivedDigests, seededSha256 } from "../src/results.js";
import { clock, makeSim, type Sim, T0 } from "./helpers.js";

const PUBLIC = "vt_public_key";
const PREMIUM = "vt_premium_key";
const QUEUED = "ab".repeat(32);

let sim: Sim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function vt(options: SimulatorOptions = {}) {
  const time = clock();
  sim = await makeSim({
    seedFiles: 3,
    analysisDelayMs: 60_000,
    now: time.now,
    virustotal: {
      keys: [{ key: PUBLIC }, { key: PREMIUM, perMinute: 100, perDay: 1000 }],
      queued: [QUEUED],
    },
    ...options,
  });
  const get = (sha256: string, key: string | null = PUBLIC) =>
    sim!.app.inject({
      method: "GET",
      url: `/api/v3/files/${sha256}`,
      headers: key === null ? {} : { "x-apikey": key },
    });
  return { time, get, sim: sim! };
}

describe("the VirusTotal mode", () => {
  it("answers a seeded file as a v3 file object", async () => {
    const { get } = await vt();
    const sha = seededSha256(42, 0);
    const res = await get(sha);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.data).toMatchObject({ id: sha, type: "file" });
    const a = body.data.attributes;
    for (const field of [
      "last_analysis_stats",
      "last_analysis_results",
      "last_analysis_date",
      "names",
      "meaningful_name",
      "size",
      "type_description",
      "first_submission_date",
    ])
      expect(a, field).toHaveProperty(field);
    expect(Object.keys(a.last_analysis_results).length).toBeGreaterThan(0);
    // the same file, the same answer
    expect((await get(sha)).body).toBe(res.body);
  });

  it("answers a file by its MD5 and SHA-1 as by its SHA-256, in either case", async () => {
    const { get, sim } = await vt();
    const bytes = "bytes uploaded to the platform";
    const real = (algorithm: string) => createHash(algorithm).update(bytes).digest("hex");
    const uploaded = (await sim.upload(bytes)).sha256;
    const files = [
      { what: "a seeded file", sha256: seededSha256(42, 0), status: "done" },
      { what: "a queued one", sha256: QUEUED, status: "queued" },
      { what: "an uploaded one", sha256: uploaded, status: "queued" },
    ];
    for (const { what, sha256, status } of files) {
      const bySha256 = await get(sha256, PREMIUM);
      expect(bySha256.statusCode, what).toBe(200);
      const { md5, sha1 } = bySha256.json().data.attributes;
      // uploaded bytes have their real MD5 and SHA-1; files without bytes, stable stand-ins
      expect({ md5, sha1 }, what).toEqual(
        sha256 === uploaded ? { md5: real("md5"), sha1: real("sha1") } : derivedDigests(sha256),
      );
      for (const id of [md5, sha1, md5.toUpperCase(), sha1.toUpperCase(), sha256.toUpperCase()]) {
        const res = await get(id, PREMIUM);
        expect(res.statusCode, `${what} by ${id}`).toBe(200);
        expect(res.body, `${what} by ${id}`).toBe(bySha256.body);
      }
      expect(bySha256.json().data.attributes.last_analysis_date === undefined, what).toBe(
        status === "queued",
      );
    }
  });

  it("replaces a seeded file's stand-in MD5 and SHA-1 by the real ones once its bytes are uploaded", async () => {
    const { get, sim } = await vt();
    const bytes = "seeded first, uploaded later";
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    await sim.app.inject({ method: "POST", url: "/_sim/files", payload: { files: [{ sha256 }] } });
    const stand = derivedDigests(sha256);
    expect((await get(stand.md5, PREMIUM)).statusCode).toBe(200);
    await sim.upload(bytes);
    expect((await get(stand.md5, PREMIUM)).statusCode).toBe(404);
    expect((await get(stand.sha1, PREMIUM)).statusCode).toBe(404);
    const md5 = createHash("md5").update(bytes).digest("hex");
    const res = await get(md5, PREMIUM);
    expect(res.statusCode).toBe(200);
    expect(res.json().data.id).toBe(sha256);
  });

  it("answers 404 NotFoundError, as VirusTotal words it, for a hash it does not know", async () => {
    const { get, time } = await vt();
    time.set(T0 - (T0 % 60_000));
    for (const id of ["00".repeat(16), "00".repeat(20), "00".repeat(32), "not-a-hash"]) {
      const res = await get(id);
      expect(res.statusCode, id).toBe(404);
      expect(res.json(), id).toEqual({
        error: { code: "NotFoundError", message: `File "${id}" not found` },
      });
    }
    // each counted against the key's quota, as VirusTotal counts 404s
    expect((await get(seededSha256(42, 0))).statusCode).toBe(429);
  });

  it("answers 404 NotFoundError for a file it does not know", async () => {
    const { get } = await vt();
    const res = await get("00".repeat(32));
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe("NotFoundError");
  });

  it("answers a queued analysis without a date or engine results", async () => {
    const { get, sim } = await vt();
    for (const sha of [QUEUED, (await sim.upload("fresh bytes")).sha256]) {
      const res = await get(sha);
      expect(res.statusCode).toBe(200);
      const a = res.json().data.attributes;
      expect(a.last_analysis_date).toBeUndefined();
      expect(a.last_analysis_results).toEqual({});
    }
  });

  it("answers 401 for a missing key and a wrong key", async () => {
    const { get } = await vt();
    const sha = seededSha256(42, 0);
    const none = await get(sha, null);
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe("AuthenticationRequiredError");
    const wrong = await get(sha, "sim_key_full");
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error).toEqual({ code: "WrongCredentialsError", message: "Wrong API key" });
  });

  it("holds a public key to 4 requests a minute, 404s included", async () => {
    const { get, time } = await vt();
    const sha = seededSha256(42, 1);
    time.set(T0 - (T0 % 60_000));
    for (let i = 0; i < 3; i++) expect((await get(sha)).statusCode).toBe(200);
    expect((await get("00".repeat(32))).statusCode).toBe(404);
    const refused = await get(sha);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.code).toBe("QuotaExceededError");
    expect(refused.json().error.message).toContain("4 requests a minute");
    // another key has its own quota
    expect((await get(sha, PREMIUM)).statusCode).toBe(200);
    time.advance(60_000);
    expect((await get(sha)).statusCode).toBe(200);
  });

  it("holds a key to its daily quota until 00:00 UTC", async () => {
    const { get, time } = await vt({
      virustotal: { keys: [{ key: PUBLIC, perMinute: 1000, perDay: 5 }] },
    });
    const sha = seededSha256(42, 2);
    for (let i = 0; i < 5; i++) expect((await get(sha)).statusCode).toBe(200);
    const refused = await get(sha);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.message).toContain("daily quota of 5 requests");
    time.advance(3_600_000);
    expect((await get(sha)).statusCode).toBe(429);
    time.set(Date.parse("2026-11-27T00:00:00Z"));
    expect((await get(sha)).statusCode).toBe(200);
  });

  it("is off by default, and the platform's rate limit does not apply to it", async () => {
    const off = await createSimulator();
    expect((await off.inject({ method: "GET", url: `/api/v3/files/${QUEUED}` })).statusCode).toBe(
      404,
    );
    expect(
      (await off.inject({ method: "GET", url: `/api/v3/files/${QUEUED}` })).json().error.code,
    ).toBe("not_found");
    await off.close();
    const { get } = await vt({ rateLimit: { limit: 1, windowMs: 60_000 } });
    for (let i = 0; i < 3; i++)
      expect((await get(seededSha256(42, 0), PREMIUM)).statusCode).toBe(200);
  });

  it("rejects bad VirusTotal options by name", async () => {
    await expect(
      createSimulator({ virustotal: { keys: [{ key: "k", perMinute: 0 }] } }),
    ).rejects.toThrow(/`virustotal.keys\[0\].perMinute`/);
    await expect(
      createSimulator({ virustotal: { keys: [{ key: "k" }, { key: "k" }] } }),
    ).rejects.toThrow(/`virustotal.keys\[1\].key` is given twice/);
    await expect(createSimulator({ virustotal: { queued: ["nothex"] } })).rejects.toThrow(
      /`virustotal.queued\[0\]`/,
    );
    await expect(
      createSimulator({ virustotal: { keys: [{ key: "k", perWeek: 3 } as never] } }),
    ).rejects.toThrow(/`virustotal.keys\[0\].perWeek` is not a known option/);
  });
});
