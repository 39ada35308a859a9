// The public surface of @clearance/testdata, listed by name: the deterministic generator of
// analysis results (canonical and VirusTotal) behind `pnpm gen:history`, `examples/history/`, the
// simulator's analyses and the benchmarks' data, and its seeded random source. The command itself
// is the `clearance-gen-history` bin (src/gen-history.ts).
export {
  generateRecords,
  generateResults,
  HISTORY_NOW,
  type HistoryFormat,
  historyLines,
  NOW,
  SANCTIONED_SHA256,
  toVirusTotal,
  VIRUSTOTAL_MESS,
  type VirusTotalMess,
  virusTotalHistory,
} from "./generate.js";
export { mulberry32 } from "./random.js";
