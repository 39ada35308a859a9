import { readFileSync } from "node:fs";
import { it } from "vitest";
import { compileRegex } from "../src/regex.js";
it("case", () => {
  const [source, flags, inputs] = JSON.parse(readFileSync("/tmp/case.json", "utf8")) as [string, string, string[]];
  let t = performance.now();
  const re = compileRegex(source, flags, { engine: "re2", reason: "" });
  console.log("compile", performance.now() - t);
  for (const input of inputs) { t = performance.now(); const r = re.test(input); console.log("re2", r, performance.now() - t); }
  const js = new RegExp(source, flags);
  for (const input of inputs) { t = performance.now(); const r = js.test(input); console.log("v8", r, performance.now() - t); }
});
