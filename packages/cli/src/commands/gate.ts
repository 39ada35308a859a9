import { basename } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { AbortedError, PlatformClient, PlatformError, TimeoutError } from "@clearance/client";
import type { AnalysisResult, Ruleset } from "@clearance/engine";
import { readJson } from "../io.js";
import { CliError, type Output, paint } from "../output.js";
import { loadRulesWithDiagnostics } from "../rules.js";
import {
  type ServerConnection,
  ServerProblemError,
  ServerUnreachableError,
  serverRequest,
} from "../server-api.js";
import type { Env } from "./serve.js";

export interface GateOptions {
  rules?: string;
  server?: string;
  platform?: string;
  context?: string;
  /** the deadline of the whole run: uploads, analyses, decisions and every body read */
  timeoutMs: number;
  reviewExit: number;
  json: boolean;
  /**
   * with a server: how long to wait, per file, for the review case a `review` decision opened or
   * joined to be resolved and the file decided again (within the deadline)
   */
  waitReviewMs?: number;
}

type Decision = "allow" | "deny" | "review";

export interface GateOutcome {
  file: string;
  sha256: string | null;
  decision: Decision | null;
  rule: string | null;
  reason: string | null;
  /** the audit entry, when a server decided */
  decisionId: string | null;
  /** the review case a server's `review` decision opened or joined (kept when a wait ends it) */
  case: string | null;
  /** what went wrong; the file then counts as failed, never as allowed */
  error: string | null;
}

/** Exit codes: the most severe outcome over all files wins; an error beats every decision. */
export const GATE_EXIT = Object.freeze({ allow: 0, error: 1, deny: 2 });

export function gateExitCode(outcomes: readonly GateOutcome[], reviewExit: number): number {
  if (outcomes.length === 0 || outcomes.some((o) => o.error !== null || o.decision === null))
    return GATE_EXIT.error;
  if (outcomes.some((o) => o.decision === "deny")) return GATE_EXIT.deny;
  if (outcomes.some((o) => o.decision === "review")) return reviewExit;
  return GATE_EXIT.allow;
}

/** Decides through a running server (recorded with source `gate`), or locally with a rule set. */
type Decider = (
  result: AnalysisResult,
  context: unknown,
  sha256: string,
) => Promise<Omit<GateOutcome, "file" | "sha256" | "error">>;

function localDecider(ruleset: Ruleset): Decider {
  return async (result, context) => {
    const d = ruleset.decide(result, context === undefined ? {} : { context });
    return { decision: d.decision, rule: d.rule, reason: d.reason, decisionId: null, case: null };
  };
}

/**
 * Decides through a server. Its answer counts only when it is a recorded decision for this file: a
 * decision, a `decisionId`, and the file's own SHA-256. Anything else fails the file, never allows it.
 */
function serverDecider(server: ServerConnection, deadline: Deadline): Decider {
  return async (result, context, sha256) => {
    const body = await askServer(server, deadline, "asking the Clearance server", () =>
      serverRequest<Record<string, unknown> | null>(server, "POST", "/v1/decisions", {
        body: { result, source: "gate", ...(context === undefined ? {} : { context }) },
      }),
    );
    return recordedDecision(body, sha256);
  };
}

/**
 * Runs one request to the server within the deadline: the deadline passing is said as such, the
 * server's problems as `the Clearance server answered 400: ...`.
 */
async function askServer<T>(
  server: ServerConnection,
  deadline: Deadline,
  doing: string,
  request: () => Promise<{ body: T }>,
): Promise<T> {
  try {
    return (await request()).body;
  } catch (error) {
    if (deadline.signal.aborted) throw deadlineError(deadline, doing);
    if (error instanceof ServerProblemError)
      throw new Error(`the Clearance server answered ${error.status}: ${error.message}`);
    if (error instanceof ServerUnreachableError) throw new Error(error.message);
    throw new Error(`${doing} at ${server.url}: ${(error as Error).message}`);
  }
}

/** A server's answer as the gate's outcome, when it is a recorded decision for the file. */
function recordedDecision(
  body: Record<string, unknown> | null,
  sha256: string,
): Omit<GateOutcome, "file" | "sha256" | "error"> {
  if (body === null) throw new Error("the Clearance server's answer is empty");
  const decision = body.decision;
  if (decision !== "allow" && decision !== "deny" && decision !== "review")
    throw new Error("the Clearance server's answer has no decision");
  if (typeof body.decisionId !== "string" || body.decisionId === "")
    throw new Error(
      `the Clearance server's answer (\`${decision}\`) has no \`decisionId\`: it was not recorded, so it does not count`,
    );
  if (typeof body.sha256 !== "string" || body.sha256.toLowerCase() !== sha256)
    throw new Error(
      `the Clearance server's answer is for another file (\`${String(body.sha256).slice(0, 64)}\`, not \`${sha256}\`)`,
    );
  return {
    decision,
    rule: typeof body.rule === "string" ? body.rule : null,
    reason: typeof body.reason === "string" ? body.reason : null,
    decisionId: body.decisionId,
    case: typeof body.case === "string" && body.case !== "" ? body.case : null,
  };
}

/** The end of the whole run (`--timeout`): one signal that every request and wait listens to. */
interface Deadline {
  signal: AbortSignal;
  /** epoch milliseconds */
  at: number;
  /** as given, for messages: `8s` */
  text: string;
}

function deadlineError(deadline: Deadline, doing: string): Error {
  return new Error(`the gate's deadline (--timeout ${deadline.text}) passed while ${doing}`);
}

/** One file: hash, upload when the platform does not know it, wait for the analysis, decide. */
async function gateFile(
  file: string,
  client: PlatformClient,
  decide: Decider,
  context: unknown,
  deadline: Deadline,
  progress: (line: string | null) => void,
): Promise<GateOutcome> {
  const outcome = notDecided(file);
  try {
    const up = await client.upload(file, {
      onProgress: (sent, total) =>
        progress(`${basename(file)}: uploading ${Math.floor((sent / Math.max(1, total)) * 100)}%`),
    });
    outcome.sha256 = up.sha256;
    progress(`${basename(file)}: waiting for the analysis`);
    const found = up.skipped
      ? up
      : await client.waitForResult(up.sha256, {
          timeoutMs: Math.max(0, deadline.at - Date.now()),
          pollMs: 500,
          maxPollMs: 10_000,
        });
    const result = found.result;
    if (!result.ok)
      throw new Error(
        `the platform's result cannot be decided: ${result.problems.map((p) => `${p.pointer || "/"} ${p.message}`).join("; ")}`,
      );
    if (deadline.signal.aborted) throw deadlineError(deadline, "deciding");
    Object.assign(outcome, await decide(result.result, context, up.sha256));
  } catch (error) {
    outcome.error =
      error instanceof AbortedError
        ? deadlineError(deadline, `waiting for the platform (${error.what})`).message
        : error instanceof TimeoutError
          ? deadlineError(deadline, "waiting for the analysis").message
          : error instanceof PlatformError
            ? `the platform: ${error.message}`
            : (fileError(file, error) ?? (error as Error).message);
  } finally {
    progress(null);
  }
  return outcome;
}

/** How often the newest decision is asked for while waiting for a review: from, at most. */
const REVIEW_POLL_MS = { first: 500, max: 5_000 };

/**
 * Waits for the review of a file the server decided `review` with a case (`--wait-review`): asks
 * for the file's newest decision (`GET /v1/decisions/{sha256}`) until it is no longer `review`, as
 * when the case was resolved and the file decided again, then takes that decision. When the wait
 * or the run's deadline ends first, the review stands (the review exit code, as without waiting).
 * A server that cannot be reached meanwhile is asked again; a refusal (a key without the `decide`
 * scope) ends the wait with a warning.
 */
async function waitForReview(
  outcome: GateOutcome,
  server: ServerConnection,
  deadline: Deadline,
  waitMs: number,
  progress: (line: string | null) => void,
  warn: (text: string) => void,
): Promise<void> {
  const sha256 = outcome.sha256;
  if (outcome.case === null || sha256 === null) return;
  const stop = AbortSignal.any([deadline.signal, AbortSignal.timeout(waitMs)]);
  const asking = { ...server, signal: stop };
  let pause = REVIEW_POLL_MS.first;
  try {
    while (!stop.aborted) {
      progress(`${basename(outcome.file)}: waiting for review case ${outcome.case}`);
      await sleep(pause, undefined, { signal: stop }).catch(() => {});
      if (stop.aborted) return;
      pause = Math.min(pause * 2, REVIEW_POLL_MS.max);
      let latest: ReturnType<typeof recordedDecision>;
      try {
        const { body } = await serverRequest<Record<string, unknown> | null>(
          asking,
          "GET",
          `/v1/decisions/${sha256}`,
        );
        latest = recordedDecision(body, sha256);
      } catch (error) {
        if (stop.aborted) return;
        if (error instanceof ServerProblemError && error.status < 500 && error.status !== 429) {
          warn(
            `stopped waiting for review case \`${outcome.case}\` of \`${outcome.file}\`: the Clearance server answered ${error.status}: ${error.detail}`,
          );
          return;
        }
        continue; // unreachable, busy or a bad answer: ask again
      }
      if (latest.decision !== "review") {
        Object.assign(outcome, latest, { case: outcome.case });
        return;
      }
    }
  } finally {
    progress(null);
  }
}

/** A file the gate cannot read, said in words rather than as Node's `ENOENT: ..., stat '...'`. */
function fileError(file: string, error: unknown): string | undefined {
  const why: Record<string, string> = {
    ENOENT: "no such file",
    EISDIR: "it is a directory; give the files in it",
    EACCES: "permission denied",
    EPERM: "permission denied",
  };
  const code = (error as NodeJS.ErrnoException).code;
  return code !== undefined && why[code] ? `cannot read \`${file}\`: ${why[code]}` : undefined;
}

function notDecided(file: string): GateOutcome {
  return {
    file,
    sha256: null,
    decision: null,
    rule: null,
    reason: null,
    decisionId: null,
    case: null,
    error: null,
  };
}

/** 8000 -> "8s", 600000 -> "10m", as `--timeout` takes it. */
function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

function annotation(o: GateOutcome): string {
  // GitHub Actions workflow commands: one annotation per file, on the file
  const escapeData = (s: string) =>
    s.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
  const prop = (s: string) => escapeData(s).replaceAll(":", "%3A").replaceAll(",", "%2C");
  if (o.error !== null)
    return `::error file=${prop(o.file)},title=${prop("Clearance: not decided")}::${escapeData(o.error)}`;
  const level = o.decision === "deny" ? "error" : o.decision === "review" ? "warning" : "notice";
  return `::${level} file=${prop(o.file)},title=${prop(`Clearance: ${o.decision}`)}::${escapeData(`${o.rule ?? "(default)"}: ${o.reason ?? ""}`)}`;
}

/**
 * `clearance gate`: a CI step. Exit 0 only when every file was decided allow; 2 on any deny, the
 * review exit code on any review, 1 when anything failed (it never reports allow then).
 */
export async function gateCommand(
  output: Output,
  files: string[],
  options: GateOptions,
  env: Env,
): Promise<number> {
  if (files.length === 0) throw new CliError("give at least one file to check");
  if (options.rules !== undefined && options.server !== undefined)
    throw new CliError("give --rules or --server, not both");
  if (options.waitReviewMs !== undefined && options.server === undefined)
    throw new CliError(
      "--wait-review needs --server: review cases are the server's",
      "pass --server <url> of the Clearance server that opens the cases",
    );
  const platformUrl = options.platform ?? env.CLEARANCE_PLATFORM_URL;
  const platformKey = env.CLEARANCE_PLATFORM_KEY;
  if (!platformUrl)
    throw new CliError(
      "no platform: pass --platform <url> or set CLEARANCE_PLATFORM_URL",
      "for a local try, start `clearance sim` and pass --platform http://127.0.0.1:9090",
    );
  if (!platformKey)
    throw new CliError(
      "CLEARANCE_PLATFORM_KEY is not set: the gate needs a platform API key with the `upload` and `files.read` scopes",
      "with `clearance sim`, the key is sim_key_full",
    );
  const context = options.context ? readJson(options.context, "context") : undefined;
  // one signal for the whole run: every request, wait and body read stops when it fires
  const deadline: Deadline = {
    signal: AbortSignal.timeout(options.timeoutMs),
    at: Date.now() + options.timeoutMs,
    text: formatDuration(options.timeoutMs),
  };
  const server: ServerConnection | undefined = options.server
    ? { url: options.server, key: env.CLEARANCE_SERVER_KEY, signal: deadline.signal }
    : undefined;
  const decide = server
    ? serverDecider(server, deadline)
    : localDecider(loadRulesWithDiagnostics(output, options.rules ?? "rules").ruleset);

  const client = new PlatformClient({
    baseUrl: platformUrl,
    apiKey: platformKey,
    signal: deadline.signal,
  });
  const outcomes: GateOutcome[] = [];
  try {
    for (const file of files) {
      if (deadline.signal.aborted) {
        const error = deadlineError(deadline, "gating the files before it").message;
        outcomes.push({ ...notDecided(file), error });
        continue;
      }
      const progress = (line: string | null) => output.status?.(line);
      const outcome = await gateFile(file, client, decide, context, deadline, progress);
      if (server && options.waitReviewMs !== undefined && outcome.decision === "review")
        await waitForReview(outcome, server, deadline, options.waitReviewMs, progress, (text) =>
          output.err(`warning: ${text}`),
        );
      outcomes.push(outcome);
    }
  } finally {
    await client.close();
  }

  const code = gateExitCode(outcomes, options.reviewExit);
  if (options.json) output.out(JSON.stringify({ exitCode: code, files: outcomes }, null, 2));
  else {
    for (const o of outcomes) {
      if (o.error !== null) {
        output.out(`${paint(output, "red", "ERROR ")} ${o.file}  ${o.error}`);
        continue;
      }
      const color = o.decision === "allow" ? "green" : o.decision === "deny" ? "red" : "yellow";
      output.out(
        `${paint(output, color, o.decision!.toUpperCase().padEnd(6))} ${o.file}  ${o.rule ?? "(default)"}  ${o.reason ?? ""}${o.decisionId ? `  [${o.decisionId}]` : ""}${o.case ? `  (${o.decision === "review" ? "" : "after "}review case ${o.case})` : ""}`,
      );
    }
  }
  if (env.GITHUB_ACTIONS === "true") for (const o of outcomes) output.out(annotation(o));
  return code;
}
