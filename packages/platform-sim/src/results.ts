/**
 * Deterministic analyses: a file's result is a function of its SHA-256 and the simulator's seed
 * (the test-data generator, seeded from both), plus the facts the simulator knows (name, size,
 * times, version). Same inputs -> the same object, byte for byte.
 */
import { createHash } from "node:crypto";
import { type PlatformFile, toPlatformFile } from "@clearance/platform";
import type { AnalysisResult } from "@clearance/result";
import { generateRecords, mulberry32, NOW, toVirusTotal } from "@clearance/testdata";

/** A 32-bit seed from a label and values: independent streams for independent purposes. */
export function mixSeed(label: string, ...values: readonly (string | number)[]): number {
  return createHash("sha256")
    .update(`${label}:${values.join(":")}`)
    .digest()
    .readUInt32BE(0);
}

/** The SHA-256 of the i-th generated file of a seed (seeded files and `POST /_sim/files` counts). */
export function seededSha256(seed: number, index: number): string {
  return createHash("sha256").update(`clearance-platform-sim:${seed}:${index}`).digest("hex");
}

/** What the simulator knows of a file besides its hash. Absent fields come from the generator. */
export interface FileFacts {
  fileName?: string;
  contentType?: string;
  size?: number;
  /** epoch ms */
  firstSeenMs?: number;
  uploadedAtMs?: number;
  analyzedAtMs?: number;
  version?: number;
  /** the MD5 and SHA-1 VirusTotal reports (see `fileDigests`) */
  digests?: FileDigests;
}

/** The other hashes VirusTotal knows a file by, in lower-case hexadecimal. */
export interface FileDigests {
  md5: string;
  sha1: string;
}

/**
 * The MD5 and SHA-1 of a file the simulator has no bytes of (seeded files, `virustotal.queued`):
 * stand-ins derived from its SHA-256, stable for a file, so the VirusTotal mode can be asked by
 * any of its three hashes. Uploaded files get the real ones of their bytes instead.
 */
export function derivedDigests(sha256: string): FileDigests {
  const of = (algorithm: string) =>
    createHash(algorithm).update(`clearance-platform-sim:${algorithm}:${sha256}`).digest("hex");
  return { md5: of("md5"), sha1: of("sha1") };
}

interface Draft {
  result: AnalysisResult;
  /** how long before its first upload the platform had first seen the file (the generator's age) */
  firstSeenAgeMs: number | undefined;
  stream: number;
}

function draft(sha256: string, seed: number): Draft {
  const stream = mixSeed("result", seed, sha256);
  const generated = generateRecords(1, stream).next().value as AnalysisResult;
  const result = JSON.parse(JSON.stringify(generated)) as AnalysisResult;
  result.sha256 = sha256;
  // Ages are measured from the generator's fixed "now"; the simulator re-anchors them on its clock.
  const firstSeenAgeMs =
    result.firstSeen === undefined ? undefined : Math.max(0, NOW - Date.parse(result.firstSeen));
  for (const engine of result.engines ?? []) engine.version = engineVersion(engine.engine);
  return { result, firstSeenAgeMs, stream };
}

const engineVersions = new Map<string, string>();

/** A stable version per engine, as a real fleet reports the same version for every file. */
function engineVersion(engine: string): string {
  let version = engineVersions.get(engine);
  if (version === undefined) {
    const n = mixSeed("engine", engine);
    version = `${(n % 9) + 1}.${(n >>> 4) % 40}.${(n >>> 10) % 9000}`;
    // Engine names come from the generator's fixed list: the map stays small.
    engineVersions.set(engine, version);
  }
  return version;
}

/** The first-seen age a file is given when the platform first sees it. */
export function firstSeenAgeMs(sha256: string, seed: number): number {
  return draft(sha256, seed).firstSeenAgeMs ?? 0;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The canonical result the simulator reports for a file (what `fromPlatform` of
 * @clearance/platform reads back from the file object), with `platformVersion` and `uploadedAt` as
 * extra fields.
 */
export function simulatedResult(sha256: string, seed = 42, facts: FileFacts = {}): AnalysisResult {
  const { result } = draft(sha256.toLowerCase(), seed);
  return applyFacts(result, facts);
}

function applyFacts(result: AnalysisResult, facts: FileFacts): AnalysisResult {
  if (facts.fileName !== undefined) result.fileName = facts.fileName;
  if (facts.contentType !== undefined) result.contentType = facts.contentType;
  if (facts.size !== undefined) result.fileSize = facts.size;
  // A generated result may lack first_seen (the generator drops optional fields now and then).
  if (facts.firstSeenMs !== undefined && result.firstSeen !== undefined)
    result.firstSeen = iso(facts.firstSeenMs);
  if (facts.analyzedAtMs !== undefined) result.analyzedAt = iso(facts.analyzedAtMs);
  if (facts.uploadedAtMs !== undefined) result.uploadedAt = iso(facts.uploadedAtMs);
  result.platformVersion = facts.version ?? 1;
  return result;
}

/**
 * The completed file object for a file. Beyond the canonical mapping, a share of failed engines
 * report `timeout` rather than `failure` (both exist on the platform; the canonical form has one).
 */
export function simulatedFile(sha256: string, seed: number, facts: FileFacts): PlatformFile {
  const { result, stream } = draft(sha256, seed);
  const file = toPlatformFile(applyFacts(result, facts));
  const rnd = mulberry32(mixSeed("timeouts", stream));
  for (const entry of Object.values(file.detection_results ?? {}))
    if (entry.category === "failure" && rnd() < 0.5) entry.category = "timeout";
  return file;
}

/**
 * A completed file as VirusTotal v3 answers `GET /api/v3/files/{id}`: the simulated result
 * written by the test-data generator's `toVirusTotal` (real v3 shapes: `last_analysis_stats`,
 * `last_analysis_results`, `signature_info`, `names`, ...), the same for the same file and seed.
 */
export function simulatedVirusTotalFile(
  sha256: string,
  seed: number,
  facts: FileFacts,
): Record<string, unknown> {
  const result = simulatedResult(sha256, seed, facts);
  delete result.platformVersion;
  delete result.uploadedAt;
  const file = toVirusTotal(result, mulberry32(mixSeed("virustotal", seed, sha256)));
  // the generator draws md5 and sha1 at random; VirusTotal's are the file's own
  Object.assign(
    (file.data as { attributes: object }).attributes,
    facts.digests ?? derivedDigests(sha256),
  );
  return file;
}

/**
 * A file VirusTotal knows whose analysis is still queued: a file object with no
 * `last_analysis_date`, empty `last_analysis_results` and zero `last_analysis_stats`.
 */
export function queuedVirusTotalFile(
  sha256: string,
  facts: FileFacts,
  nowMs: number,
): Record<string, unknown> {
  const submitted = Math.floor((facts.uploadedAtMs ?? nowMs) / 1000);
  const attributes: Record<string, unknown> = {
    ...(facts.digests ?? derivedDigests(sha256)),
    sha256,
    names: facts.fileName === undefined ? [] : [facts.fileName],
    first_submission_date: submitted,
    last_submission_date: submitted,
    times_submitted: 1,
    last_analysis_stats: {
      malicious: 0,
      suspicious: 0,
      undetected: 0,
      harmless: 0,
      timeout: 0,
      "confirmed-timeout": 0,
      failure: 0,
      "type-unsupported": 0,
    },
    last_analysis_results: {},
  };
  if (facts.size !== undefined) attributes.size = facts.size;
  return {
    data: {
      id: sha256,
      type: "file",
      links: { self: `https://www.virustotal.com/api/v3/files/${sha256}` },
      attributes,
    },
  };
}
