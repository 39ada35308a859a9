// Peak memory of `clearance dry-run` on a stream of generated records, never written to disk:
// `gen-history --out -` piped into `clearance dry-run --from -`, each in its own process.
//
// The peak RSS comes from `/usr/bin/time -f %M` (getrusage: exact) when it exists; the RSS is also
// sampled from /proc/<pid>/status every `sampleMs`, to show that it stays flat while the records
// stream through. Without /usr/bin/time, the peak is the last VmHWM sampled before the exit.

import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

const TIME = "/usr/bin/time";
const MAX_RSS = /^__MAXRSS_KB=(\d+)$/m;

/** VmRSS and VmHWM of `pid` in KiB, or undefined once it is gone. */
function procStatus(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? "NaN");
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
  } catch {
    return undefined;
  }
}

/** The first child of `pid` (the node process `/usr/bin/time` started), once it exists. */
function firstChild(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    return text ? Number(text.split(/\s+/)[0]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `node <gen> --count <count> --seed <seed> --out -` piped into `node <cli> dry-run <args>
 * --from -` and returns the dry-run's peak RSS (KiB), its RSS samples and its output.
 * @param {{gen: string, cli: string, cwd: string, count: number, seed: number, args: string[], sampleMs?: number}} o
 */
export function measurePipeMemory(o) {
  const sampleMs = o.sampleMs ?? 250;
  const useTime = existsSync(TIME);
  const node = process.execPath;
  const dryRunArgv = [o.cli, "dry-run", ...o.args, "--from", "-"];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const gen = spawn(
      node,
      [o.gen, "--count", String(o.count), "--seed", String(o.seed), "--out", "-"],
      { cwd: o.cwd, stdio: ["ignore", "pipe", "inherit"] },
    );
    const child = useTime
      ? spawn(TIME, ["-f", "__MAXRSS_KB=%M", node, ...dryRunArgv], {
          cwd: o.cwd,
          stdio: ["pipe", "pipe", "pipe"],
        })
      : spawn(node, dryRunArgv, { cwd: o.cwd, stdio: ["pipe", "pipe", "pipe"] });
    // The records pass through this process (Node cannot hand one child's pipe to another
    // without reading from it): one copy, a few percent of a core.
    gen.stdout.pipe(child.stdin);
    child.stdin.on("error", () => {}); // EPIPE if the dry-run stops early: reported by its exit
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s) => (stderr += s));

    const samples = [];
    let lastHwm = Number.NaN;
    let pid = useTime ? undefined : child.pid;
    const timer = setInterval(() => {
      pid ??= firstChild(child.pid);
      if (pid === undefined) return;
      const s = procStatus(pid);
      if (!s) return;
      samples.push({ ms: Math.round(performance.now() - t0), rssKb: s.rss });
      lastHwm = s.hwm;
    }, sampleMs);

    let genCode;
    gen.on("exit", (code) => (genCode = code));
    gen.on("error", reject);
    child.on("error", (e) => {
      clearInterval(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearInterval(timer);
      const ms = performance.now() - t0;
      const m = MAX_RSS.exec(stderr);
      const peakKb = m ? Number(m[1]) : lastHwm;
      const cleanStderr = stderr.replace(MAX_RSS, "").trim();
      const totals =
        /read ([\d,]+) = decided ([\d,]+) \+ invalid ([\d,]+) \+ malformed ([\d,]+)/.exec(stdout);
      const num = (s) => Number(s.replaceAll(",", ""));
      resolve({
        code,
        signal,
        genCode,
        ms,
        peakKb,
        peakSource: m ? "/usr/bin/time (getrusage)" : "/proc VmHWM, last sample",
        samples,
        read: totals ? num(totals[1]) : Number.NaN,
        decided: totals ? num(totals[2]) : Number.NaN,
        invalid: totals ? num(totals[3]) : Number.NaN,
        malformed: totals ? num(totals[4]) : Number.NaN,
        stderr: cleanStderr,
        command: `node ${o.gen} --count ${o.count} --seed ${o.seed} --out - | node ${dryRunArgv.join(" ")}`,
      });
    });
  });
}
