// `clearance reviews` and `clearance exceptions`: review cases, votes and exceptions, through a
// running server's /v1/reviews and /v1/exceptions (docs/http-api.md). The answers' shapes are the
// server's own types (CASE_VIEW, EXCEPTION_VIEW, VOTE_VIEW in packages/server/src/wire.ts).
import { writeFileSync } from "node:fs";
import { ExceptionSet } from "@clearance/engine";
import type { CaseView, DecisionAnswer, ExceptionView, VoteView } from "@clearance/server";
import { parseDurationArg } from "../args.js";
import { CliError, type Output, paint } from "../output.js";
import { DEFAULT_SERVER, type ServerConnection, serverRequest } from "../server-api.js";
import type { Env } from "./serve.js";

type Decision = DecisionAnswer["decision"];
type Case = CaseView;
type Exception = ExceptionView;
type Vote = VoteView;
type ExceptionKind = ExceptionView["kind"];
type ExceptionScope = ExceptionView["scope"];

/** A decision in a case's listing: its requests, and the file's other decisions. */
interface DecisionBrief {
  decisionId: string;
  time: string;
  decision: Decision;
  rule: string | null;
  reason: string;
  source: string;
  requester: string | null;
  exception: string | null;
  case: string | null;
}

interface CaseDetail {
  case: Case;
  decision: Record<string, unknown> | null;
  explain: Record<string, unknown> | null;
  input: Record<string, unknown> | null;
  requests: DecisionBrief[];
  fileDecisions: DecisionBrief[];
}

interface VoteAnswer {
  vote: Vote;
  replayed: boolean;
  case: Case;
  exception: Exception | null;
  decision: DecisionAnswer | null;
}

export interface ServerOptions {
  server?: string;
}

/** The server to talk to: `--server`, else `$CLEARANCE_SERVER_URL`, else `clearance serve`'s default. */
function connection(options: ServerOptions, env: Env): ServerConnection {
  return {
    url: options.server ?? (env.CLEARANCE_SERVER_URL || DEFAULT_SERVER),
    key: env.CLEARANCE_SERVER_KEY,
  };
}

/** A case or exception id as the server writes them (UUIDv7): refused here before asking. */
function checkId(id: string, what: string): string {
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(id))
    throw new CliError(
      `${what} \`${id}\` is not an id`,
      `ids look like \`0193a9f4-5b2c-7d3e-8f40-1a2b3c4d5e6f\`: see \`clearance ${what === "exception id" ? "exceptions" : "reviews"} list\``,
    );
  return id.toLowerCase();
}

/** `--expires`: an RFC 3339 time, a duration from now (`30d`, `12h`), or `never` (null). */
export function expiresOf(value: string | undefined, now = Date.now()): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === "never") return null;
  if (/^\d+(?:\.\d+)?(ms|s|m|h|d)$/.test(value.trim()))
    return new Date(now + parseDurationArg(value, "--expires")).toISOString();
  const ms = Date.parse(value);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}/.test(value))
    throw new CliError(
      `--expires \`${value}\` is neither a time nor a duration`,
      "write it as 2027-03-01T00:00:00Z, as 30d (from now), or as never",
    );
  return new Date(ms).toISOString();
}

const STATUS_STYLE = {
  open: "yellow",
  resolved: "green",
  withdrawn: "dim",
  expired: "red",
  active: "green",
  revoked: "dim",
} as const;

function scopeText(scope: ExceptionScope): string {
  if ("sha256" in scope) return `file ${scope.sha256}`;
  if ("signer" in scope) return `signer ${scope.signer}`;
  return `vendor ${scope.vendor} / ${scope.product}`;
}

function contextText(context: Record<string, string> | null): string {
  const pairs = Object.entries(context ?? {});
  return pairs.length === 0 ? "" : pairs.map(([k, v]) => `${k}=${v}`).join(", ");
}

// ---- reviews ------------------------------------------------------------------------------

export interface ReviewsListOptions extends ServerOptions {
  status: string;
  sha256?: string;
  rule?: string;
  olderThan?: string;
  limit: number;
  json?: boolean;
}

/** One case a line: opened, status, id, file, rule, reason, then what it waits for or how it ended. */
function caseLine(output: Output, c: Case): string {
  const state =
    c.status === "open"
      ? c.waitingFor
        ? `waiting for ${c.waitingFor}`
        : null
      : c.status === "resolved"
        ? `${c.outcome ?? "resolved"}${c.exception ? `, exception ${c.exception}` : ""}`
        : null;
  return `${c.opened}  ${paint(output, STATUS_STYLE[c.status], c.status.padEnd(9))} ${c.id}  ${c.sha256.slice(0, 12)}  ${(c.fileName ?? "-").slice(0, 32).padEnd(32)}  ${(c.rule ?? "(default)").padEnd(24)} ${c.reason}${state ? `  [${state}]` : ""}`;
}

export async function reviewsListCommand(
  output: Output,
  options: ReviewsListOptions,
  env: Env,
): Promise<number> {
  const { body } = await serverRequest<{ cases: Case[]; nextCursor: string | null }>(
    connection(options, env),
    "GET",
    "/v1/reviews",
    {
      query: {
        status: options.status,
        sha256: options.sha256,
        rule: options.rule,
        olderThan: options.olderThan,
        limit: options.limit,
      },
    },
  );
  if (options.json) {
    output.out(JSON.stringify(body, null, 2));
    return 0;
  }
  for (const c of body.cases) output.out(caseLine(output, c));
  if (body.cases.length === 0)
    output.err(`no ${options.status === "all" ? "" : `${options.status} `}review cases match`);
  else if (body.nextCursor) output.err("(more: raise --limit)");
  return 0;
}

export async function reviewsShowCommand(
  output: Output,
  id: string,
  options: ServerOptions & { json?: boolean },
  env: Env,
): Promise<number> {
  const { body } = await serverRequest<CaseDetail>(
    connection(options, env),
    "GET",
    `/v1/reviews/${checkId(id, "case id")}`,
  );
  if (options.json) output.out(JSON.stringify(body, null, 2));
  else output.out(renderCase(output, body));
  return 0;
}

function renderCase(output: Output, detail: CaseDetail): string {
  const c = detail.case;
  const lines = [
    `${paint(output, ["bold", STATUS_STYLE[c.status]], c.status.toUpperCase().padEnd(9))} ${paint(output, "bold", `review case ${c.id}`)}`,
    `  file       ${c.sha256}${c.fileName ? `  ${c.fileName}` : ""}`,
    `  rule       ${c.rule ?? paint(output, "dim", "(default)")}`,
    `  reason     ${c.reason}`,
    `  decision   ${c.decisionId}${c.requester ? ` (asked by ${c.requester})` : ""}`,
    `  opened     ${c.opened}`,
    c.status === "open" ? `  expires    ${c.expires}` : `  closed     ${c.closed ?? "-"}`,
  ];
  const context = contextText(c.context);
  if (context) lines.push(`  context    ${context}`);
  if (c.signer) lines.push(`  signer     ${c.signer}`);
  if (c.vendor) lines.push(`  vendor     ${c.vendor.name} / ${c.vendor.product}`);
  if (c.approvalForbiddenBy.length > 0)
    lines.push(
      `  ${paint(output, "red", "approval forbidden")} by ${c.approvalForbiddenBy.join(", ")}: it can only be rejected`,
    );
  if (c.status === "open") lines.push(`  waiting    for ${c.waitingFor ?? "votes"}`);
  if (c.outcome)
    lines.push(`  outcome    ${c.outcome}${c.exception ? ` (exception ${c.exception})` : ""}`);
  lines.push(`  votes      ${c.votes.length === 0 ? "none yet" : ""}`.trimEnd());
  for (const v of c.votes) {
    const asked = v.exception
      ? ` (${v.exception.kind}, until ${v.exception.expires ?? "never"})`
      : "";
    lines.push(`    ${v.time}  ${v.vote.padEnd(7)} ${v.voter}${asked}: ${v.justification}`);
  }
  lines.push(`  requests   ${detail.requests.length}`);
  for (const r of detail.requests) lines.push(`    ${briefLine(r)}`);
  if (detail.fileDecisions.length > 0) {
    lines.push("  the file's other decisions");
    for (const r of detail.fileDecisions) lines.push(`    ${briefLine(r)}`);
  }
  return lines.join("\n");
}

function briefLine(r: DecisionBrief): string {
  return `${r.time}  ${r.decision.padEnd(6)} ${r.source}${r.requester ? `/${r.requester}` : ""}  ${r.rule ?? "(default)"}: ${r.reason}  [${r.decisionId}]`;
}

export interface VoteOptions extends ServerOptions {
  justification: string;
  kind?: ExceptionKind;
  expires?: string;
  as?: string;
  json?: boolean;
}

export async function reviewsVoteCommand(
  output: Output,
  vote: "approve" | "reject",
  id: string,
  options: VoteOptions,
  env: Env,
): Promise<number> {
  const expires = expiresOf(options.expires);
  const exception =
    options.kind !== undefined || expires !== undefined
      ? {
          ...(options.kind === undefined ? {} : { kind: options.kind }),
          ...(expires === undefined ? {} : { expires }),
        }
      : undefined;
  const { body } = await serverRequest<VoteAnswer>(
    connection(options, env),
    "POST",
    `/v1/reviews/${checkId(id, "case id")}/votes`,
    {
      body: {
        vote,
        justification: options.justification,
        ...(options.as === undefined ? {} : { voter: options.as }),
        ...(exception === undefined ? {} : { exception }),
      },
    },
  );
  if (options.json) {
    output.out(JSON.stringify(body, null, 2));
    return 0;
  }
  const v = body.vote;
  output.out(
    `${body.replayed ? "already recorded" : "recorded"}: ${v.voter} ${v.vote}s review case ${body.case.id} (${v.time})`,
  );
  const c = body.case;
  if (c.status === "open") output.out(`the case is open, waiting for ${c.waitingFor ?? "votes"}`);
  else
    output.out(
      `the case is ${c.status}${c.outcome ? `: ${c.outcome}` : ""}${c.closed ? ` at ${c.closed}` : ""}`,
    );
  if (body.exception) output.out(exceptionSummary(body.exception));
  const d = body.decision;
  if (d) {
    const color = d.decision === "allow" ? "green" : d.decision === "deny" ? "red" : "yellow";
    output.out(
      `the file is now ${paint(output, ["bold", color], d.decision)}: ${d.rule ?? "(default)"}  ${d.reason}  [${d.decisionId}]`,
    );
  }
  return 0;
}

function exceptionSummary(e: Exception): string {
  const context = contextText(e.context);
  return `exception ${e.id}: ${e.status} ${scopeText(e.scope)}${context ? ` when ${context}` : ""}, until ${e.expires ?? "never"}`;
}

// ---- exceptions ---------------------------------------------------------------------------

export interface ExceptionsListOptions extends ServerOptions {
  state: string;
  sha256?: string;
  kind?: string;
  case?: string;
  json?: boolean;
}

function exceptionLine(output: Output, e: Exception): string {
  const context = contextText(e.context);
  const style = e.state === "active" ? (e.status === "approved" ? "green" : "red") : "dim";
  return `${e.id}  ${paint(output, STATUS_STYLE[e.state], e.state.padEnd(7))} ${paint(output, style, e.status.padEnd(8))} ${scopeText(e.scope)}${context ? ` when ${context}` : ""}  until ${e.expires ?? "never"}  by ${e.approvers.join(", ")}: ${e.justification}`;
}

async function listExceptions(
  options: ExceptionsListOptions,
  env: Env,
): Promise<{ exceptions: Exception[] }> {
  return (
    await serverRequest<{ exceptions: Exception[] }>(
      connection(options, env),
      "GET",
      "/v1/exceptions",
      {
        query: {
          state: options.state,
          sha256: options.sha256,
          kind: options.kind,
          case: options.case === undefined ? undefined : checkId(options.case, "case id"),
        },
      },
    )
  ).body;
}

export async function exceptionsListCommand(
  output: Output,
  options: ExceptionsListOptions,
  env: Env,
): Promise<number> {
  const body = await listExceptions(options, env);
  if (options.json) output.out(JSON.stringify(body, null, 2));
  else {
    for (const e of body.exceptions) output.out(exceptionLine(output, e));
    if (body.exceptions.length === 0)
      output.err(`no ${options.state === "all" ? "" : `${options.state} `}exceptions match`);
  }
  return 0;
}

export interface ExceptionsAddOptions extends ServerOptions {
  status: "approved" | "rejected";
  sha256?: string;
  signer?: string;
  vendor?: string;
  product?: string;
  context: string[];
  expires?: string;
  justification: string;
  as?: string;
  json?: boolean;
}

/** The one scope the options give: `--sha256`, `--signer`, or `--vendor` with `--product`. */
function scopeOf(o: ExceptionsAddOptions): ExceptionScope {
  const given = [
    o.sha256 !== undefined ? "--sha256" : null,
    o.signer !== undefined ? "--signer" : null,
    o.vendor !== undefined || o.product !== undefined ? "--vendor" : null,
  ].filter((g) => g !== null);
  if (given.length !== 1)
    throw new CliError(
      given.length === 0
        ? "an exception needs a scope"
        : `an exception has one scope, not ${given.join(" and ")}`,
      "pass --sha256 HASH (one file), --signer THUMBPRINT, or --vendor NAME --product NAME",
    );
  if (o.sha256 !== undefined) return { sha256: o.sha256 };
  if (o.signer !== undefined) return { signer: o.signer };
  if (o.vendor === undefined || o.product === undefined)
    throw new CliError(
      `${o.vendor === undefined ? "--product" : "--vendor"} needs ${o.vendor === undefined ? "--vendor" : "--product"}`,
      "a vendor exception covers one product of one vendor: pass both",
    );
  return { vendor: o.vendor, product: o.product };
}

/** `--context group=finance` (repeatable) as `{group: "finance"}`. */
function contextOf(pairs: readonly string[]): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined;
  const context: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0)
      throw new CliError(
        `--context \`${pair}\` is not \`field=value\``,
        "pass one --context field=value per field, e.g. --context group=finance",
      );
    context[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return context;
}

export async function exceptionsAddCommand(
  output: Output,
  options: ExceptionsAddOptions,
  env: Env,
): Promise<number> {
  const scope = scopeOf(options);
  const context = contextOf(options.context);
  const expires = expiresOf(options.expires);
  const { body } = await serverRequest<Exception>(
    connection(options, env),
    "POST",
    "/v1/exceptions",
    {
      body: {
        status: options.status,
        scope,
        justification: options.justification,
        ...(context === undefined ? {} : { context }),
        ...(expires === undefined ? {} : { expires }),
        ...(options.as === undefined ? {} : { by: options.as }),
      },
    },
  );
  if (options.json) output.out(JSON.stringify(body, null, 2));
  else output.out(`created ${exceptionSummary(body)}`);
  return 0;
}

export async function exceptionsRevokeCommand(
  output: Output,
  id: string,
  options: ServerOptions & { justification: string; as?: string; json?: boolean },
  env: Env,
): Promise<number> {
  const { body } = await serverRequest<Exception>(
    connection(options, env),
    "DELETE",
    `/v1/exceptions/${checkId(id, "exception id")}`,
    {
      body: {
        justification: options.justification,
        ...(options.as === undefined ? {} : { by: options.as }),
      },
    },
  );
  if (options.json) output.out(JSON.stringify(body, null, 2));
  else
    output.out(
      `revoked exception ${body.id} (${body.status} ${scopeText(body.scope)})${body.ended ? ` at ${body.ended.time}` : ""}`,
    );
  return 0;
}

/**
 * The active exceptions as the records `ExceptionSet` takes (packages/engine/src/exceptions.ts),
 * sorted by id, with their keys in one order, 2-space JSON and a final newline: a file that
 * diffs well in git.
 */
export function exportRecords(exceptions: readonly Exception[]): { text: string; count: number } {
  const records = exceptions
    .filter((e) => e.state === "active")
    .map((e) => ({
      id: e.id,
      status: e.status,
      scope: e.scope,
      ...(e.context === null ? {} : { context: e.context }),
      created: e.created,
      expires: e.expires,
      approvers: e.approvers,
      justification: e.justification,
      case: e.case,
    }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // checked as deciding reads them: what is written loads
  new ExceptionSet(records, { allowNoExpiry: true });
  return { text: `${JSON.stringify(records, null, 2)}\n`, count: records.length };
}

export async function exceptionsExportCommand(
  output: Output,
  options: ServerOptions & { out?: string },
  env: Env,
): Promise<number> {
  const { exceptions } = await listExceptions({ ...options, state: "active" }, env);
  const { text, count: n } = exportRecords(exceptions);
  if (options.out === undefined) {
    output.out(text.trimEnd());
    return 0;
  }
  try {
    writeFileSync(options.out, text);
  } catch (error) {
    throw new CliError(`cannot write \`${options.out}\`: ${(error as Error).message}`);
  }
  output.err(`${n} ${n === 1 ? "exception" : "exceptions"} written to ${options.out}`);
  return 0;
}
