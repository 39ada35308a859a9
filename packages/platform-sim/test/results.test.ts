// Deterministic results: the simulator's file objects, and the platform's conversions over them.
import { fromPlatform, toPlatformFile } from "@clearance/platform";
import { describe, expect, test } from "vitest";
import { simulatedResult } from "../src/index.js";
import { simulatedFile } from "../src/results.js";
import { makeSim, sha256Of, T0 } from "./helpers.js";

describe("deterministic results", () => {
  const sha = sha256Of("determinism");
  const facts = {
    fileName: "x.exe",
    contentType: "application/x-msdownload",
    size: 10,
    firstSeenMs: T0 - 1000,
    uploadedAtMs: T0,
    analyzedAtMs: T0 + 1,
    version: 1,
  };

  test("same sha and seed -> the same object, byte for byte; another seed or sha -> another", () => {
    const a = JSON.stringify(simulatedFile(sha, 42, facts));
    expect(JSON.stringify(simulatedFile(sha, 42, facts))).toBe(a);
    expect(JSON.stringify(simulatedFile(sha, 43, facts))).not.toBe(a);
    expect(JSON.stringify(simulatedFile(sha256Of("other"), 42, facts))).not.toBe(a);
  });

  test("the file object is the mapping of simulatedResult, except failure/timeout", () => {
    for (let i = 0; i < 50; i++) {
      const s = sha256Of(`file ${i}`);
      const file = simulatedFile(s, 42, facts);
      const expected = toPlatformFile(simulatedResult(s, 42, facts));
      for (const d of Object.values(file.detection_results ?? {}))
        if (d.category === "timeout") d.category = "failure";
      expect(file).toEqual(expected);
    }
  });

  test("generated files vary: verdicts, signing states and timeouts all occur", () => {
    const verdicts = new Set<string>();
    const signing = new Set<string>();
    let timeouts = 0;
    for (let i = 0; i < 300; i++) {
      const file = simulatedFile(sha256Of(`variety ${i}`), 42, facts);
      if (file.verdict) verdicts.add(file.verdict);
      if (file.signing) signing.add(file.signing.status);
      timeouts += Object.values(file.detection_results ?? {}).filter(
        (d) => d.category === "timeout",
      ).length;
    }
    expect([...verdicts].sort()).toEqual(["Caution", "Clean", "High Risk"]);
    expect(signing.size).toBe(5);
    expect(timeouts).toBeGreaterThan(0);
  });

  test("two simulators with the same seed and clock report the same objects", async () => {
    const run = async () => {
      const sim = await makeSim({ analysisDelayMs: 0, now: () => T0, seedFiles: 3 });
      await sim.upload("same bytes", { fileName: "same.exe" });
      const list = (await sim.call("GET", "/v1/files")).json();
      await sim.close();
      return list;
    };
    const [a, b] = [await run(), await run()];
    expect(a.data).toHaveLength(4);
    expect(a).toEqual(b);
  });
});

describe("the platform's conversions read the simulator's objects back", () => {
  const facts = {
    uploadedAtMs: T0 - 60_000,
    analyzedAtMs: T0,
    firstSeenMs: T0 - 86_400_000,
    version: 2,
  };

  test("fromPlatform(simulated file) is the simulated result; toPlatformFile maps it back", () => {
    for (let i = 0; i < 200; i++) {
      const sha = sha256Of(`round trip ${i}`);
      const file = simulatedFile(sha, 42, facts);
      const outcome = fromPlatform(JSON.parse(JSON.stringify(file)));
      if (!outcome.ok) throw new Error(JSON.stringify(outcome.problems));
      // The only warning the contract allows: `invalid_signature` is "anything else" -> invalid.
      for (const w of outcome.warnings) expect(w).toMatch(/invalid_signature/);
      const { detections, platformApproval, ...read } = outcome.result;
      const { detections: _generated, ...expected } = simulatedResult(sha, 42, facts);
      expect(read).toEqual(expected);
      expect(platformApproval).toEqual({
        status: file.approval!.status.toLowerCase().replace(" ", "_"),
        rule: file.approval!.rule,
      });
      const counts = {
        malicious: 0,
        suspicious: 0,
        undetected: 0,
        harmless: 0,
        failed: 0,
        unsupported: 0,
      };
      for (const e of expected.engines ?? []) counts[e.category as keyof typeof counts]++;
      expect(detections).toEqual(counts);

      const back = toPlatformFile(outcome.result);
      for (const d of Object.values(file.detection_results ?? {}))
        if (d.category === "timeout") d.category = "failure";
      expect(back).toEqual(file);
    }
  });
});
