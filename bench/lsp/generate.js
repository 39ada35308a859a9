// A generated rule directory of many rules, for the language server's benchmark and tests: rule
// files of 100 rules each that use lists, a hash list, context fields and nested fields, so that a
// keystroke touches every kind of name the server resolves. Deterministic: the same count gives
// the same files.

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const RULES_PER_FILE = 100;

/** Writes `count` rules under `dir` (emptied first); returns the rule files' paths, sorted. */
export function generateRuleDirectory(dir, count = 10_000) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "lists"), { recursive: true });
  writeFileSync(
    join(dir, "settings.rules"),
    `ruleset "generated"
strategy deny-overrides
default review "no rule matched"

list trusted_vendors = ["Microsoft Corporation", "Google LLC", "Apple Inc."]
list bad_words = ["crack", "keygen"]
hashlist known_bad from "lists/known-bad.sha256"
context { group: string, tags: list<string> }
`,
  );
  writeFileSync(join(dir, "lists", "known-bad.sha256"), `${"ab".repeat(32)}\n`);
  const templates = [
    (i) => `trustScore < ${10 + (i % 80)} and vendor.name in trusted_vendors`,
    (i) => `fileName endsWith ".exe" and detections.malicious >= ${1 + (i % 9)}`,
    (i) => `context.group == "team${i % 7}" and signature.status == "valid"`,
    () => `sha256 in known_bad`,
    (i) =>
      `(any e in engines: exists(e.category) and e.category == "malicious") and trustScore < ${20 + (i % 60)}`,
    () => `lower(fileName) contains "setup" and not (fileName in bad_words)`,
  ];
  const files = [];
  const effects = ["deny", "review", "allow"];
  for (let f = 0; f * RULES_PER_FILE < count; f++) {
    const rules = [];
    for (let j = 0; j < RULES_PER_FILE && f * RULES_PER_FILE + j < count; j++) {
      const i = f * RULES_PER_FILE + j;
      rules.push(
        `rule r${String(i).padStart(5, "0")} {\n  when ${templates[i % templates.length](i)}\n  ${effects[i % 3]} "rule ${i}"\n}\n`,
      );
    }
    const path = join(dir, `part-${String(f).padStart(3, "0")}.rules`);
    writeFileSync(path, rules.join("\n"));
    files.push(path);
  }
  return files;
}
