import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bin, Client, positionOf, repo } from "./support/client.js";

// `clearance lsp`'s own options and how it ends.
describe("clearance lsp", () => {
  const clients: Client[] = [];
  afterAll(async () => {
    for (const c of clients) await c.close();
  });

  it("links diagnostics' codes to --docs-url", async () => {
    const client = new Client(["--docs-url", "https://docs.example/diagnostics.md#top"]);
    clients.push(client);
    await client.initialize(repo);
    const path = join(repo, "rules", "teams.rules");
    const source = readFileSync(path, "utf8");
    await client.open(path, source);
    const at = positionOf(source, "trustScore < 90");
    await client.change(path, [{ range: { start: at, end: at }, text: "x" }]);
    const list = await client.settled(path, (ds) => ds.length > 0);
    expect(list[0]!.codeDescription?.href).toBe(
      "https://docs.example/diagnostics.md#unknown_field",
    );
  });

  it.each([
    [
      ["--rules", "/nonexistent/rules"],
      "the rule directory `/nonexistent/rules` is not a directory",
    ],
    [["--docs-url", "not a url"], "must be a URL"],
  ])("refuses %j", (args, says) => {
    const r = spawnSync(process.execPath, [bin, "lsp", ...args], { input: "", encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(says);
  });

  it("ends with status 1 when the editor closes its input without `exit`", async () => {
    const child = spawn(process.execPath, [bin, "lsp"], { stdio: ["pipe", "pipe", "pipe"] });
    child.stdin.end();
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code).toBe(1);
  });
});
