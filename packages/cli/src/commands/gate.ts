import { basename } from "node:path";
import { AbortedError, PlatformClient, PlatformError, TimeoutError } from "@clearance/client";
import type { AnalysisResult, Ruleset } from "@clearance/engine";
import { readJson } from "../io.js";
import { CliError, type Output, paint } from "../output.js";
import { loadRulesWithDiagnostics } from "../rules.js";
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
    return { decision: d.decision, rule: d.rule, reason: d.reason, decisionId: null };
  };
}

/**
 * Decides through a server. Its answer counts only when it is a recorded decision for this file: a
 * decision, a `decisionId`, and the file's own SHA-256. Anything else fails the file, never allows it.
 */
function serverDecider(url: string, key: string | undefined, deadline: Deadline): Decider {
  const endpoint = `${url.replace(/\/+$/, "")}/v1/decisions`;
  return async (result, context, sha256) => {
    let res: Response;
    try {
      res = await fetch(endpoint, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(key ? { authorization: `Bearer ${key}` } : {}),
        },
        body: JSON.stringify({
          result,
          source: "gate",
          ...(context === undefined ? {} : { context }),
        }),
        signal: deadline.signal,
      });
    } catch (error) {
      if (deadline.signal.aborted) throw deadlineError(deadline, "asking the Clearance server");
      throw new Error(`cannot reach the Clearance server at ${url}: ${(error as Error).message}`);
    }
    // the same signal stops a body that arrives slowly, not only a late answer
    const body = (await res.json().catch(() => {
      if (deadline.signal.aborted)
        throw deadlineError(deadline, "reading the Clearance server's answer");
      return null;
    })) as Record<string, unknown> | null;
    if (!res.ok || body === null)
      throw new Error(
        `the Clearance server answered ${res.status}${body && typeof body.detail === "string" ? `: ${body.detail}` : ""}`,
      );
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
    };
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
  const decide = options.server
    ? serverDecider(options.server, env.CLEARANCE_SERVER_KEY, deadline)
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
      outcomes.push(
        await gateFile(file, client, decide, context, deadline, (line) => output.status?.(line)),
      );
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
        `${paint(output, color, o.decision!.toUpperCase().padEnd(6))} ${o.file}  ${o.rule ?? "(default)"}  ${o.reason ?? ""}${o.decisionId ? `  [${o.decisionId}]` : ""}`,
      );
    }
  }
  if (env.GITHUB_ACTIONS === "true") for (const o of outcomes) output.out(annotation(o));
  return code;
}
