import { createWriteStream, mkdirSync, type WriteStream, writeFileSync } from "node:fs";
import { dirname, extname } from "node:path";
import {
  type Action,
  CSV_HEADER,
  type DryRunReport,
  dryRun,
  MAX_RECORD_BYTES_LIMIT,
  RulesError,
  renderHtml,
  renderMarkdown,
  renderTerminal,
  SourceError,
  StrictError,
} from "@clearance/dryrun";
import type { InputFormat } from "@clearance/engine";
import { loadRuleset, type Ruleset } from "@clearance/engine";
import {
  type AuditFilter,
  defaultConfig,
  previewSantaRules,
  type SantaPreview,
} from "@clearance/server";
import {
  auditSource,
  isAuditSource,
  PLATFORM_SOURCE,
  platformSource,
  withAuditLog,
} from "../audit-source.js";
import { parseNow, parseTime, readJson } from "../io.js";
import { CliError, type Output, paint } from "../output.js";
import { renderDiagnostics } from "../render.js";
import { VirusTotalTally, virustotalSource } from "../virustotal-source.js";

export interface DryRunCliOptions {
  rules: string;
  from: string[];
  baseline?: string;
  context?: string;
  now?: string;
  workers: number;
  report: string[];
  decisions?: string;
  failOn?: { from: Action; to: Action }[];
  strict: boolean;
  limit?: number;
  /** `--max-input-bytes`: the largest record read */
  maxInputBytes?: number;
  format?: InputFormat;
  progress: boolean;
  /** false with `--no-exceptions`: replay without the rule sets' exceptions.json */
  exceptions?: boolean;
  /** `--santa`: preview the Santa rules the candidate would change (one audit-log source) */
  santa?: boolean;
  /** time range for audit-log sources */
  since?: string;
  until?: string;
}

/**
 * `clearance dry-run`: decide historical records with the candidate rules (and a baseline), report
 * what changes. Exit 0, 3 when a `--fail-on` transition happened, 1 on errors.
 */
export async function dryRunCommand(
  output: Output,
  options: DryRunCliOptions,
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<number> {
  if (options.from.length === 0)
    throw new CliError(
      "give at least one `--from` source",
      "for example `--from examples/history/`",
    );
  for (const path of options.report) {
    if (![".json", ".md", ".html"].includes(extname(path))) {
      throw new CliError(`--report \`${path}\` must end in .json, .md or .html`);
    }
  }
  const decisionsFormat = options.decisions
    ? extname(options.decisions) === ".csv"
      ? "csv"
      : extname(options.decisions) === ".ndjson"
        ? "ndjson"
        : undefined
    : undefined;
  if (options.decisions && !decisionsFormat)
    throw new CliError(`--decisions \`${options.decisions}\` must end in .ndjson or .csv`);
  // the reader keeps a record whole as one string: V8 makes none much over 512 MiB
  if (options.maxInputBytes !== undefined && options.maxInputBytes > MAX_RECORD_BYTES_LIMIT)
    throw new CliError(
      `--max-input-bytes must be at most ${MAX_RECORD_BYTES_LIMIT}, got \`${options.maxInputBytes}\``,
    );
  const now = parseNow(options.now);
  const auditFilter: AuditFilter = {};
  if (options.since) auditFilter.from = new Date(parseTime(options.since, "--since")).toISOString();
  if (options.until) auditFilter.to = new Date(parseTime(options.until, "--until")).toISOString();
  const ranged = (spec: string) => isAuditSource(spec) || spec === PLATFORM_SOURCE;
  if ((options.since || options.until) && !options.from.some(ranged))
    throw new CliError(
      "--since and --until select entries of an audit log or the platform's results",
      "add a source such as `--from audit:data/audit.db` or `--from platform`",
    );
  const platformRange = {
    since: auditFilter.from ?? new Date(parseTime("30d", "--since")).toISOString(),
    ...(auditFilter.to ? { until: auditFilter.to } : {}),
  };
  const context = options.context ? readJson(options.context, "context") : undefined;
  const santaSources = options.from.filter(isAuditSource);
  if (options.santa && santaSources.length !== 1)
    throw new CliError(
      "--santa reads the Santa rules of one audit log: give exactly one `--from audit:<file>` (or PostgreSQL URL) source",
      "for example `--from audit:data/audit.db --santa`",
    );

  let decisionsStream: WriteStream | undefined;
  if (options.decisions) {
    mkdirSync(dirname(options.decisions), { recursive: true });
    decisionsStream = createWriteStream(options.decisions);
    if (decisionsFormat === "csv") decisionsStream.write(`${CSV_HEADER}\n`);
  }
  const progress = new Progress(output, options.progress);
  const vtTally = new VirusTotalTally();
  let report: DryRunReport;
  try {
    report = await dryRun({
      rules: options.rules,
      from: options.from,
      external: (spec) =>
        auditSource(spec, auditFilter) ??
        platformSource(spec, platformRange, env) ??
        virustotalSource(spec, env, vtTally),
      workers: options.workers,
      strict: options.strict,
      exceptions: options.exceptions !== false,
      ...(options.baseline === undefined ? {} : { baseline: options.baseline }),
      ...(context === undefined ? {} : { context }),
      ...(now === undefined ? {} : { now }),
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      ...(options.maxInputBytes === undefined ? {} : { maxRecordBytes: options.maxInputBytes }),
      ...(options.format === undefined ? {} : { format: options.format }),
      ...(options.failOn ? { failOn: options.failOn } : {}),
      ...(decisionsStream
        ? {
            decisions: {
              format: decisionsFormat!,
              write: (lines: string[]) => decisionsStream!.write(`${lines.join("\n")}\n`),
            },
          }
        : {}),
      onProgress: (p) => progress.update(p.read, p.bytes, p.totalBytes),
    });
  } catch (error) {
    progress.done();
    if (error instanceof RulesError) {
      const result = error.cause as
        | {
            diagnostics?: Parameters<typeof renderDiagnostics>[1];
            files?: Parameters<typeof renderDiagnostics>[2];
          }
        | undefined;
      if (result?.diagnostics && result.files)
        output.err(
          renderDiagnostics(
            output,
            result.diagnostics.filter((d) => d.severity === "error"),
            result.files,
          ),
        );
      throw new CliError(error.message);
    }
    if (error instanceof SourceError || error instanceof StrictError)
      throw new CliError(error.message);
    throw error;
  } finally {
    if (decisionsStream) await new Promise<void>((resolve) => decisionsStream!.end(resolve));
  }
  progress.done();
  // Hashes without a report were never records: said here, not counted as decided or malformed.
  for (const line of vtTally.lines()) output.err(line);
  const santa = options.santa
    ? await withAuditLog(santaSources[0]!, (log) =>
        previewSantaRules(log, loadCandidate(options.rules, now ?? Date.now()), {
          now: now ?? Date.now(),
          reviews: defaultConfig().reviews,
          blockMessage: null,
          limit: 50,
        }),
      )
    : undefined;
  for (const path of options.report) {
    const ext = extname(path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(
      path,
      ext === ".json"
        ? `${JSON.stringify(santa ? { ...report, santa } : report, null, 2)}\n`
        : ext === ".md"
          ? renderMarkdown(report) + (santa ? santaMarkdown(santa) : "")
          : renderHtml(report),
    );
  }
  output.out(renderTerminal(report, (s, t) => paint(output, s, t)));
  if (santa) output.out(santaTerminal(output, santa));
  for (const path of options.report) output.out(paint(output, "dim", `report written to ${path}`));
  if (options.decisions)
    output.out(paint(output, "dim", `decisions written to ${options.decisions}`));
  return report.failOn.triggered.length > 0 ? 3 : 0;
}

/** The candidate rules, compiled (the dry-run compiled them already: an error was said there). */
function loadCandidate(dir: string, now: number): Ruleset {
  const loaded = loadRuleset(dir, { now });
  if (!loaded.ruleset) throw new CliError(`the candidate rules (\`${dir}\`) do not compile`);
  return loaded.ruleset;
}

const FROM_TO = (c: SantaPreview["changes"][number]) =>
  `${c.from === "none" ? "no rule" : c.from} -> ${c.to === "none" ? "no rule" : c.to}`;

/** The Santa section of the terminal report. */
function santaTerminal(output: Output, p: SantaPreview): string {
  const lines = [
    "",
    paint(output, "bold", "Santa rules: the candidate against what the fleet holds"),
  ];
  if (p.groups.length === 0) lines.push("  no machine has reported a file yet");
  for (const g of p.groups)
    lines.push(
      `  ${g.group}: ${g.files} files; +${g.added.ALLOWLIST} allow, +${g.added.BLOCKLIST} block, -${g.removed.ALLOWLIST} allow, -${g.removed.BLOCKLIST} block, ${g.flipped} flipped; ${g.machines} machines reported them`,
    );
  for (const c of p.changes)
    lines.push(
      `  ${c.group}  ${c.sha256.slice(0, 12)}  ${c.fileName ?? "(no name)"}  ${FROM_TO(c)}  ${c.rule ?? "(default)"}: ${c.reason}  (${c.machines} machine${c.machines === 1 ? "" : "s"})`,
    );
  if (p.skipped > 0)
    lines.push(
      paint(output, "dim", `  ${p.skipped} files skipped: their recorded input no longer maps`),
    );
  return lines.join("\n");
}

/** The Santa section of the Markdown report. */
function santaMarkdown(p: SantaPreview): string {
  const rows = p.groups.map(
    (g) =>
      `| ${g.group} | ${g.files} | ${g.added.ALLOWLIST} | ${g.added.BLOCKLIST} | ${g.removed.ALLOWLIST} | ${g.removed.BLOCKLIST} | ${g.flipped} | ${g.machines} |`,
  );
  const changes = p.changes.map(
    (c) =>
      `| ${c.group} | \`${c.sha256}\` | ${FROM_TO(c)} | ${c.rule ? `\`${c.rule}\`` : "(default)"} | ${c.machines} |`,
  );
  return [
    "",
    "## Santa rules",
    "",
    "| group | files | + allow | + block | - allow | - block | flipped | machines |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    ...(changes.length > 0
      ? [
          "",
          "| group | file | rule change | deciding rule | machines |",
          "| --- | --- | --- | --- | ---: |",
          ...changes,
        ]
      : []),
    "",
  ].join("\n");
}

/** A progress line: redrawn in place on a terminal, a plain line every few seconds otherwise. */
class Progress {
  private readonly started = Date.now();
  // The first line waits a moment: short runs print none.
  private last = Date.now();
  constructor(
    private readonly output: Output,
    private readonly enabled: boolean,
  ) {}
  update(read: number, bytes: number, totalBytes: number | undefined): void {
    if (!this.enabled) return;
    const now = Date.now();
    const live = this.output.status !== undefined;
    if (now - this.last < (live ? 200 : 5_000)) return;
    this.last = now;
    const elapsed = Math.max(1, now - this.started);
    const rate = Math.round((read / elapsed) * 1000);
    let line = `dry-run: ${read.toLocaleString("en-US")} records, ${rate.toLocaleString("en-US")}/s, ${(elapsed / 1000).toFixed(0)} s`;
    // With the input's size known (plain files), the share read gives a percentage and an ETA.
    if (totalBytes !== undefined && totalBytes > 0 && bytes > 0) {
      const share = Math.min(1, bytes / totalBytes);
      const eta = (elapsed * (1 - share)) / share / 1000;
      const width = 24;
      const filled = Math.round(share * width);
      line = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(share * 100).toFixed(0)}% ${line.slice("dry-run: ".length)}, ETA ${eta.toFixed(0)} s`;
    }
    if (live) this.output.status!(line);
    else this.output.err(line);
  }

  done(): void {
    this.output.status?.(null);
  }
}
