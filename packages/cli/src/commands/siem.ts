import { ConfigError, sendSamples, sinksFrom } from "@clearance/server";
import { CliError, type Output, paint } from "../output.js";
import { VERSION } from "../version.js";
import { openLog } from "./audit.js";
import { type Env, readConfig } from "./serve.js";

export interface SiemTestOptions {
  config?: string;
  sink: string;
  json: boolean;
  timeoutMs: number;
}

/**
 * `clearance siem test --sink <name>`: one sample event of each kind to a configured sink, each
 * sent alone, and what became of it. Exit 0 when the receiver took them all, 1 otherwise.
 */
export async function siemTestCommand(
  output: Output,
  options: SiemTestOptions,
  env: Env,
): Promise<number> {
  const config = readConfig(options.config, env);
  const index = config.siem.sinks.findIndex((s) => s.name === options.sink);
  if (index === -1) {
    const names = config.siem.sinks.map((s) => `\`${s.name}\``);
    throw new CliError(
      `no SIEM sink is named \`${options.sink}\``,
      names.length > 0
        ? `the configuration has ${names.join(", ")}`
        : "the configuration has no `siem.sinks`; see docs/siem.md",
    );
  }
  const configured = config.siem.sinks[index]!;
  let sink: ReturnType<typeof sinksFrom>[number];
  try {
    [sink] = sinksFrom(config.siem.sinks, configured.name) as [typeof sink];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new CliError(
      `invalid configuration: ${error.message}`,
      "see docs/siem.md for each transport's keys",
    );
  }
  const results = [];
  let unreachable = false;
  if (!options.json)
    output.out(
      `Sending ${configured.format.toUpperCase()} samples to sink \`${configured.name}\` (${sink.transport.type}, ${sink.transport.target})`,
    );
  try {
    for await (const r of sendSamples(sink, {
      now: Date.now(),
      version: VERSION,
      timeoutMs: options.timeoutMs,
    })) {
      results.push(r);
      if (!options.json) {
        const mark = r.ok ? paint(output, "green", "sent  ") : paint(output, "red", "failed");
        const why = r.ok
          ? ""
          : `  ${r.error}${r.retryable ? " (may succeed later)" : " (will not succeed as sent)"}`;
        output.out(`  ${mark} ${r.kind.padEnd(20)} ${r.ms} ms${why}`);
      }
      // the first sample failing for a reason that is not about it (the receiver is not there):
      // the others would only say the same
      if (!r.ok && r.retryable && results.length === 1) {
        unreachable = true;
        break;
      }
    }
  } finally {
    await sink.transport.close().catch(() => {});
  }
  const failed = results.filter((r) => !r.ok).length;
  if (options.json)
    output.out(
      JSON.stringify(
        { sink: configured.name, sent: results.length - failed, failed, unreachable, results },
        null,
        2,
      ),
    );
  else if (unreachable)
    output.out("the sink's receiver could not be reached: no other sample was sent");
  else output.out(`${results.length - failed} sent, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

export interface DeadLettersOptions {
  config?: string;
  db?: string;
  sink?: string;
  limit: number;
  json: boolean;
}

/**
 * `clearance siem dead-letters`: how many events each sink set aside, or (`--sink`) those events,
 * oldest first, with why. Reads the audit log without writing to it.
 */
export async function siemDeadLettersCommand(
  output: Output,
  options: DeadLettersOptions,
  env: Env,
): Promise<number> {
  const config = readConfig(options.config, env);
  const log = await openLog({ config: options.config, db: options.db }, env);
  try {
    const outbox = log.store.outbox;
    if (options.sink === undefined) {
      const counts = await outbox.deadLetterCounts();
      const names = [...new Set([...config.siem.sinks.map((s) => s.name), ...counts.keys()])];
      const rows = names.map((sink) => ({ sink, deadLetters: counts.get(sink) ?? 0 }));
      if (options.json) output.out(JSON.stringify(rows, null, 2));
      else if (rows.length === 0)
        output.out("no SIEM sinks are configured, and none set anything aside");
      else for (const r of rows) output.out(`${r.sink.padEnd(24)} ${r.deadLetters}`);
      return 0;
    }
    const letters = await outbox.deadLetters(options.sink, options.limit);
    if (options.json) output.out(JSON.stringify(letters, null, 2));
    else if (letters.length === 0) output.out(`sink \`${options.sink}\` has set nothing aside`);
    else
      for (const l of letters)
        output.out(`${l.time} ${l.kind.padEnd(20)} ${l.eventId} ${l.chain}:${l.seq}\n  ${l.error}`);
    return 0;
  } finally {
    await log.close();
  }
}
