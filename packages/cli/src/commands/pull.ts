import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { PlatformClient, PlatformError, VirusTotalClient } from "@clearance/client";
import { parseTime } from "../io.js";
import { CliError, type Output } from "../output.js";
import { lookUp, readHashes, VirusTotalTally, virustotalSettings } from "../virustotal-source.js";
import type { Env } from "./serve.js";

export interface PullOptions {
  /** where a first platform pull starts; `30d` when not given */
  since?: string;
  out: string;
  state?: string;
  platform?: string;
  force: boolean;
  /** where the results come from (default the platform) */
  source?: string;
  /** `--source virustotal`: the file of hashes (MD5, SHA-1 or SHA-256) to look up */
  hashes?: string;
}

/**
 * Where a pull stopped. `bytes` is how much of the output file holds records that the state
 * accounts for: a rerun after a crash cuts anything after it, so no record is written twice.
 * `atCursor` holds the results listed at the cursor's instant, which the next listing (its `since`
 * is inclusive) returns again.
 */
interface PullState {
  version: 1;
  platform: string;
  since: string;
  atCursor: string[];
  bytes: number;
  records: number;
}

/** Records between two saves of the state: a crash repeats at most this many. */
const SAVE_EVERY = 500;

function readState(path: string): PullState | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const s = JSON.parse(readFileSync(path, "utf8")) as PullState;
    if (s.version !== 1 || typeof s.since !== "string" || !Array.isArray(s.atCursor))
      throw new Error("unknown layout");
    return s;
  } catch (error) {
    throw new CliError(
      `the state file \`${path}\` cannot be read: ${(error as Error).message}`,
      "delete it (and the output) to pull from scratch",
    );
  }
}

function writeState(path: string, state: PullState | VirusTotalPullState): void {
  // write aside and rename: a crash leaves the old state or the new one, never half of one
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, path);
}

/**
 * `clearance pull`: appends the platform's completed results to an NDJSON file, incrementally.
 * The file feeds `clearance dry-run --from`.
 */
export async function pullCommand(output: Output, options: PullOptions, env: Env): Promise<number> {
  const source = options.source ?? "platform";
  if (source === "virustotal") return pullVirusTotal(output, options, env);
  if (source !== "platform")
    throw new CliError(
      `\`--source ${source}\` is not a source: give \`platform\` or \`virustotal\``,
    );
  if (options.hashes !== undefined)
    throw new CliError("--hashes is for `--source virustotal`: the platform is listed by time");
  const platformUrl = options.platform ?? env.CLEARANCE_PLATFORM_URL;
  const key = env.CLEARANCE_PLATFORM_KEY;
  if (!platformUrl)
    throw new CliError("no platform: pass --platform <url> or set CLEARANCE_PLATFORM_URL");
  if (!key)
    throw new CliError(
      "CLEARANCE_PLATFORM_KEY is not set: pull needs a platform API key with the `files.read` scope",
    );
  const statePath = options.state ?? `${options.out}.state.json`;
  let state = readState(statePath);
  if (state && state.platform !== platformUrl && !options.force)
    throw new CliError(
      `\`${statePath}\` is the state of a pull from ${state.platform}, not ${platformUrl}`,
      "use another --out, or --force to start over",
    );
  if (!state || options.force) {
    if (!options.force && existsSync(options.out) && statSync(options.out).size > 0)
      throw new CliError(
        `\`${options.out}\` exists but has no state file (\`${statePath}\`): a pull would not know where it stopped`,
        "pass --force to overwrite it, or another --out",
      );
    state = {
      version: 1,
      platform: platformUrl,
      since: new Date(parseTime(options.since ?? "30d", "--since")).toISOString(),
      atCursor: [],
      bytes: 0,
      records: 0,
    };
    writeFileSync(options.out, "");
  } else if (existsSync(options.out) && statSync(options.out).size > state.bytes) {
    // records written after the last saved state: the listing will give them again
    truncateSync(options.out, state.bytes);
  }

  const st: PullState = state;
  const client = new PlatformClient({ baseUrl: platformUrl, apiKey: key });
  const fd = openSync(options.out, "a");
  const started = Date.now();
  let written = 0;
  let skipped = 0;
  let cursorMs = Date.parse(st.since);
  let atCursor = new Set(st.atCursor);
  let pending = 0;
  const save = () => {
    fsyncSync(fd);
    st.since = new Date(cursorMs).toISOString();
    st.atCursor = [...atCursor];
    writeState(statePath, st);
    pending = 0;
  };
  try {
    for await (const { file } of client.listFiles({ since: st.since })) {
      const at = Date.parse(String(file.analyzed_at));
      const id = `${file.sha256}:${file.version ?? 1}`;
      if (at === cursorMs && atCursor.has(id)) {
        skipped++;
        continue;
      }
      const line = `${JSON.stringify(file)}\n`;
      writeSync(fd, line);
      st.bytes += Buffer.byteLength(line);
      st.records++;
      written++;
      if (at > cursorMs) {
        cursorMs = at;
        atCursor = new Set([id]);
      } else atCursor.add(id);
      if (++pending >= SAVE_EVERY) save();
      if (output.status && written % 50 === 0) {
        const rate = Math.round(written / Math.max(0.001, (Date.now() - started) / 1000));
        const quota = client.rateLimit?.remaining;
        output.status(
          `pull: ${written.toLocaleString("en-US")} results, ${rate}/s${quota === undefined ? "" : `, ${quota} requests left in this window`}`,
        );
      }
    }
    save();
  } catch (error) {
    // what was written and saved stays; the next run continues from there
    save();
    output.status?.(null);
    if (error instanceof PlatformError)
      throw new CliError(
        `the platform: ${error.message}`,
        `${written} results were saved; run the same command again to continue`,
      );
    throw error;
  } finally {
    closeSync(fd);
    await client.close();
  }
  output.status?.(null);
  output.err(
    `${written} new results written to ${options.out} (${st.records} in all${skipped ? `, ${skipped} already there` : ""}); next pull starts at ${st.since}`,
  );
  return 0;
}

/**
 * Where a VirusTotal pull stopped: the hashes whose reports are in the output, both those asked
 * for and the files' SHA-256s (a rerun looks up only the others, sparing the quota, and writes no
 * file twice), and how many bytes of the output they fill.
 */
interface VirusTotalPullState {
  version: 1;
  source: "virustotal";
  done: string[];
  bytes: number;
  records: number;
}

function readVirusTotalState(path: string): VirusTotalPullState | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const s = JSON.parse(readFileSync(path, "utf8")) as VirusTotalPullState;
    if (s.version !== 1 || s.source !== "virustotal" || !Array.isArray(s.done))
      throw new Error("not the state of a VirusTotal pull");
    return s;
  } catch (error) {
    throw new CliError(
      `the state file \`${path}\` cannot be read: ${(error as Error).message}`,
      "delete it (and the output) to pull from scratch, or give another --out",
    );
  }
}

/**
 * `clearance pull --source virustotal --hashes <file>`: appends the VirusTotal reports of the
 * file's hashes to the NDJSON output, within the key's quotas. Hashes already pulled are skipped;
 * queued and unknown ones are said, not written, and looked up again by the next run.
 */
async function pullVirusTotal(output: Output, options: PullOptions, env: Env): Promise<number> {
  if (options.since !== undefined)
    throw new CliError(
      "--since is for the platform, which is listed by time: `--source virustotal` looks up the hashes of --hashes",
    );
  if (options.hashes === undefined)
    throw new CliError(
      "`--source virustotal` needs --hashes <file>: the MD5s, SHA-1s or SHA-256s to look up, one a line",
    );
  if (options.platform !== undefined)
    throw new CliError(
      "--platform is for `--source platform`; VirusTotal's URL is `CLEARANCE_VT_URL`",
    );
  const hashes = readHashes(options.hashes);
  const settings = virustotalSettings(env);
  const statePath = options.state ?? `${options.out}.state.json`;
  let state = options.force ? undefined : readVirusTotalState(statePath);
  if (!state) {
    if (!options.force && existsSync(options.out) && statSync(options.out).size > 0)
      throw new CliError(
        `\`${options.out}\` exists but has no state file (\`${statePath}\`): a pull would not know what it holds`,
        "pass --force to overwrite it, or another --out",
      );
    state = { version: 1, source: "virustotal", done: [], bytes: 0, records: 0 };
    writeFileSync(options.out, "");
  } else if (existsSync(options.out) && statSync(options.out).size > state.bytes) {
    truncateSync(options.out, state.bytes);
  }
  const st: VirusTotalPullState = state;
  const done = new Set(st.done);
  const todo = hashes.filter((h) => !done.has(h));
  const tally = new VirusTotalTally();
  const client = new VirusTotalClient(settings);
  const fd = openSync(options.out, "a");
  let written = 0;
  const save = () => {
    fsyncSync(fd);
    // a hash whose file another hash had written is done too
    for (const same of tally.same) done.add(same.id);
    st.done = [...done];
    writeState(statePath, st);
  };
  try {
    // `done` holds the SHA-256s already written: a file named again by another hash is not
    const files = new Set(done);
    for await (const { id, sha256, report } of lookUp(client, todo, tally, files)) {
      const line = `${JSON.stringify(report)}\n`;
      writeSync(fd, line);
      st.bytes += Buffer.byteLength(line);
      st.records++;
      written++;
      done.add(id);
      done.add(sha256);
      // each lookup costs quota: never lose one to a crash
      save();
      output.status?.(
        `pull: ${written} of ${todo.length} reports (${client.usage.today} of ${client.usage.perDay} requests today)`,
      );
    }
    save();
  } catch (error) {
    save();
    output.status?.(null);
    if (error instanceof CliError)
      throw new CliError(
        error.message,
        `${written} reports were saved; run the same command again to continue`,
      );
    throw error;
  } finally {
    closeSync(fd);
    await client.close();
  }
  output.status?.(null);
  const already = hashes.length - todo.length;
  output.err(
    `${written} new VirusTotal reports written to ${options.out} (${st.records} in all${already ? `, ${already} already there` : ""})`,
  );
  for (const line of tally.lines("written")) output.err(line);
  return 0;
}
