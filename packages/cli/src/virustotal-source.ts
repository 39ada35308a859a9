/**
 * VirusTotal as a source of reports: a file of hashes (MD5, SHA-1 or SHA-256, as IOC feeds and EDR
 * exports give them) looked up one by one through `VirusTotalClient`, within the key's quotas.
 * Only reports go on to be decided, each file once whichever of its hashes named it; hashes
 * VirusTotal never saw, analyses still queued and hashes left when the day's quota ran out are
 * counted and said, never decided.
 */
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import {
  PlatformError,
  VIRUSTOTAL_URL,
  VirusTotalClient,
  type VirusTotalFileObject,
  type VirusTotalQuota,
  virustotalHashKind,
} from "@clearance/client";
import { CliError } from "./output.js";

/** `--from virustotal:<file of hashes>` */
export const VIRUSTOTAL_PREFIX = "virustotal:";

type Env = Readonly<Record<string, string | undefined>>;

/** The key, URL and quota of VirusTotal from the environment. */
export function virustotalSettings(env: Env): {
  apiKey: string;
  baseUrl: string;
  quota: "public" | VirusTotalQuota;
} {
  const apiKey = env.CLEARANCE_VT_KEY || env.VT_API_KEY;
  if (!apiKey)
    throw new CliError(
      "no VirusTotal API key: set `CLEARANCE_VT_KEY` (or `VT_API_KEY`)",
      "your key is on https://www.virustotal.com/gui/my-apikey",
    );
  const baseUrl = env.CLEARANCE_VT_URL || VIRUSTOTAL_URL;
  if (!URL.canParse(baseUrl) || !/^https?:/i.test(baseUrl))
    throw new CliError(`\`CLEARANCE_VT_URL\` must be an http or https URL, got \`${baseUrl}\``);
  const raw = env.CLEARANCE_VT_QUOTA?.trim() || "public";
  if (raw === "public") return { apiKey, baseUrl, quota: "public" };
  const match = /^(\d{1,7})\/(\d{1,10})$/.exec(raw);
  const perMinute = Number(match?.[1]);
  const perDay = Number(match?.[2]);
  if (match === null || perMinute < 1 || perDay < 1)
    throw new CliError(
      `\`CLEARANCE_VT_QUOTA\` must be \`public\` or \`<per minute>/<per day>\`, got \`${raw}\``,
      "a premium key's quotas, for example `1000/100000`; public keys allow 4 a minute and 500 a day",
    );
  return { apiKey, baseUrl, quota: { perMinute, perDay } };
}

/**
 * The hashes of a file, one a line: MD5s, SHA-1s and SHA-256s, in any mix (blank lines and `#`
 * comments skipped, repeats dropped), in lower case. A line that is none of them is an error naming
 * the file and the line.
 */
export function readHashes(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new CliError(
      `cannot read the hashes file \`${path}\`: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((line, i) => {
    const value = line.replace(/#.*$/, "").trim();
    if (value === "") return;
    if (virustotalHashKind(value) === undefined)
      throw new CliError(
        `\`${path}\` line ${i + 1}: \`${value.length > 80 ? `${value.slice(0, 80)}...` : value}\` is not an MD5, SHA-1 or SHA-256`,
        "give one hash a line: an MD5 (32 hexadecimal digits), a SHA-1 (40) or a SHA-256 (64)",
      );
    seen.add(value.toLowerCase());
  });
  if (seen.size === 0) throw new CliError(`\`${path}\` holds no hash`);
  return [...seen];
}

/** What the lookups of a run found besides reports. */
export class VirusTotalTally {
  reports = 0;
  cached = 0;
  notFound: string[] = [];
  queued: string[] = [];
  /** hashes not looked up: the day's quota ran out */
  unlooked: string[] = [];
  /** hashes whose report is of a file another hash already named (an MD5 and its SHA-256) */
  same: { id: string; sha256: string }[] = [];
  resetsAt: string | undefined;

  /**
   * Lines for standard error, one a kind; none when every hash had a report of its own. `verb`
   * says what happened to a file's one report (`decided`, `written`).
   */
  lines(verb = "decided"): string[] {
    const list = (hashes: string[]) =>
      hashes.length <= 5
        ? hashes.join(", ")
        : `${hashes.slice(0, 5).join(", ")} and ${hashes.length - 5} more`;
    const out: string[] = [];
    if (this.same.length > 0)
      out.push(
        `virustotal: ${this.same.length} ${this.same.length === 1 ? "hash names a file" : "hashes name files"} another hash named, ${verb} once: ${list(this.same.map((s) => (s.id === s.sha256 ? s.id : `${s.id} (${s.sha256})`)))}`,
      );
    if (this.notFound.length > 0)
      out.push(
        `virustotal: ${this.notFound.length} not found (VirusTotal never saw them), not decided: ${list(this.notFound)}`,
      );
    if (this.queued.length > 0)
      out.push(
        `virustotal: ${this.queued.length} still queued for analysis, not decided (look them up again later): ${list(this.queued)}`,
      );
    if (this.unlooked.length > 0)
      out.push(
        `virustotal: the key's daily quota is used up: ${this.unlooked.length} not looked up${this.resetsAt ? ` (it resets at ${this.resetsAt})` : ""}: ${list(this.unlooked)}`,
      );
    return out;
  }
}

/** A report found, with the hash it was asked by and the file's SHA-256. */
export interface VirusTotalFound {
  id: string;
  sha256: string;
  report: VirusTotalFileObject;
}

/**
 * Looks the hashes up in order and yields each file's report once: a report of a file whose
 * SHA-256 is in `files` (another hash of it came first, or an earlier run had it) is tallied as
 * `same`, not yielded. Everything else goes to the tally. Once the day's quota is used up, the
 * rest are tallied as not looked up.
 */
export async function* lookUp(
  client: VirusTotalClient,
  hashes: readonly string[],
  tally: VirusTotalTally,
  files: Set<string> = new Set(),
): AsyncGenerator<VirusTotalFound> {
  for (const [i, hash] of hashes.entries()) {
    let outcome: Awaited<ReturnType<VirusTotalClient["getFile"]>>;
    try {
      outcome = await client.getFile(hash);
    } catch (error) {
      if (error instanceof PlatformError) throw new CliError(`virustotal: ${error.message}`);
      throw error;
    }
    switch (outcome.kind) {
      case "report":
        tally.reports++;
        if (outcome.cached) tally.cached++;
        if (files.has(outcome.sha256)) {
          tally.same.push({ id: outcome.id, sha256: outcome.sha256 });
          break;
        }
        files.add(outcome.sha256);
        yield { id: outcome.id, sha256: outcome.sha256, report: outcome.report };
        break;
      case "not_found":
        tally.notFound.push(outcome.id);
        break;
      case "queued":
        tally.queued.push(outcome.id);
        break;
      case "quota_exhausted":
        tally.unlooked.push(...hashes.slice(i));
        tally.resetsAt = outcome.resetsAt;
        return;
      case "rate_limited":
        // the CLI's client waits as long as it takes (`maxWaitMs` unlimited)
        throw new CliError(
          `virustotal: the minute's quota is used up; try again in ${Math.ceil(outcome.retryAfterMs / 1000)} s`,
        );
    }
  }
}

/**
 * `--from virustotal:<file>`: the reports of the file's hashes as NDJSON (the dry-run detects
 * them as VirusTotal input), or undefined for another spec. The hashes file is read at once, so a
 * bad line fails before any lookup.
 */
export function virustotalSource(
  spec: string,
  env: Env,
  tally: VirusTotalTally,
): Readable | undefined {
  if (!spec.startsWith(VIRUSTOTAL_PREFIX)) return undefined;
  const path = spec.slice(VIRUSTOTAL_PREFIX.length);
  if (path === "")
    throw new CliError(
      "`--from virustotal:` needs a file of hashes (MD5, SHA-1 or SHA-256), e.g. `--from virustotal:hashes.txt`",
    );
  const hashes = readHashes(path);
  const client = new VirusTotalClient(virustotalSettings(env));
  async function* lines(): AsyncGenerator<string> {
    try {
      for await (const { report } of lookUp(client, hashes, tally))
        yield `${JSON.stringify(report)}\n`;
    } finally {
      await client.close();
    }
  }
  return Readable.from(lines(), { objectMode: false });
}
