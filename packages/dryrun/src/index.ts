// The public surface of @clearance/dryrun, listed by name: record sources and parsing, and the
// dry-run itself (runner, report model and renderers). The history generator is @clearance/testdata.
// the tallies and the record processor, for a caller that replays records of its own (the
// server's playground replays audit entries with rules sent over HTTP, as `--from audit:` does)
export { ACTIONS, emptyTallies, type Tallies, transitionAt } from "./aggregate.js";
export { loadBaseline, RulesError } from "./baseline.js";
export { SOURCE_ERROR_CODES, SourceError, type SourceErrorCode } from "./errors.js";
export { findJsonSyntaxError, type JsonSyntaxError } from "./json-error.js";
export {
  CSV_HEADER,
  csvField,
  type DecisionsFormat,
  type ProcessOptions,
  RecordProcessor,
  StrictError,
} from "./process.js";
export {
  type ParsedRecord,
  type ParseRecordOptions,
  parseRecord,
  type RawRecord,
  type RecordKind,
  recordLocation,
  resolveParseOptions,
  Tally,
  type Totals,
} from "./records.js";
export { renderHtml } from "./render-html.js";
export { renderMarkdown } from "./render-markdown.js";
export { renderTerminal } from "./render-terminal.js";
export type {
  Action,
  Change,
  DryRunReport,
  ExceptionsSummary,
  OutcomeCounts,
  RecordProblem,
  RuleStats,
  RulesetSummary,
  Side,
  Transition,
} from "./report.js";
export { REPORT_VERSION } from "./report.js";
export { type DryRunOptions, dryRun } from "./run.js";
export {
  DEFAULT_SOURCE_OPTIONS,
  listDirectory,
  MAX_RECORD_BYTES_LIMIT,
  openSource,
  openSources,
  resolveSourceOptions,
  type SourceOptions,
  STDIN,
} from "./sources.js";
export { type JsonSplitMode, JsonSplitter, LineSplitter, type Splitter } from "./split.js";
