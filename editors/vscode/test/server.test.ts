/**
 * How the extension starts the server: src/server.ts turns the settings into a command line,
 * and vscode-languageclient appends `--stdio` (TransportKind.stdio) and spawns it. Here that
 * command line starts the repository's own CLI, through an executable named by `clearance.path`
 * as a user's would be, and answers an LSP `initialize` over standard input and output.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { serverCommand } from "../src/server.js";

const REPO = join(import.meta.dirname, "..", "..", "..");

describe("serverCommand", () => {
  it("runs `clearance lsp` from PATH by default", () => {
    expect(serverCommand({}, "/ws")).toEqual({ command: "clearance", args: ["lsp"] });
    expect(serverCommand({ path: "  ", rulesDirectory: "" }, "/ws")).toEqual({
      command: "clearance",
      args: ["lsp"],
    });
  });

  it("takes clearance.path, and a rule directory relative to the workspace folder", () => {
    expect(serverCommand({ path: "/opt/c/bin/clearance", rulesDirectory: "rules" }, "/ws")).toEqual(
      { command: "/opt/c/bin/clearance", args: ["lsp", "--rules", join("/ws", "rules")] },
    );
    expect(serverCommand({ rulesDirectory: "/abs/rules" }, "/ws").args).toEqual([
      "lsp",
      "--rules",
      "/abs/rules",
    ]);
    // no workspace folder (a single file opened): the directory is passed as written
    expect(serverCommand({ rulesDirectory: "rules" }, undefined).args).toEqual([
      "lsp",
      "--rules",
      "rules",
    ]);
  });
});

describe("the command line the extension builds", () => {
  const dir = mkdtempSync(join(tmpdir(), "clearance-vscode-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("starts the CLI's language server, which answers initialize over stdio", async () => {
    const cli = join(dir, "clearance");
    const bin = join(REPO, "packages", "cli", "dist", "bin.js");
    writeFileSync(cli, `#!/bin/sh\nexec "${process.execPath}" "${bin}" "$@"\n`);
    chmodSync(cli, 0o755);
    const { command, args } = serverCommand({ path: cli, rulesDirectory: "rules" }, REPO);
    // what vscode-languageclient spawns for TransportKind.stdio
    const child = spawn(command, [...args, "--stdio"], { stdio: ["pipe", "pipe", "pipe"] });
    const send = (message: object) => {
      const body = JSON.stringify({ jsonrpc: "2.0", ...message });
      child.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    };
    const answer = new Promise<{ id: number; result: { capabilities: Record<string, unknown> } }>(
      (resolve, reject) => {
        let buffered = Buffer.alloc(0);
        child.on("error", reject);
        child.on("exit", (code) => reject(new Error(`the server exited with ${code}`)));
        child.stdout.on("data", (chunk: Buffer) => {
          buffered = Buffer.concat([buffered, chunk]);
          for (;;) {
            const head = buffered.indexOf("\r\n\r\n");
            if (head < 0) return;
            const length = Number(
              /Content-Length: (\d+)/i.exec(buffered.toString("ascii", 0, head))?.[1],
            );
            if (buffered.length < head + 4 + length) return;
            const message = JSON.parse(buffered.toString("utf8", head + 4, head + 4 + length));
            buffered = buffered.subarray(head + 4 + length);
            if (message.id === 1) resolve(message);
          }
        });
      },
    );
    send({
      id: 1,
      method: "initialize",
      params: { processId: process.pid, rootUri: null, capabilities: {}, workspaceFolders: null },
    });
    try {
      const { result } = await answer;
      expect(result.capabilities).toMatchObject({
        hoverProvider: true,
        documentFormattingProvider: true,
      });
    } finally {
      child.kill();
    }
  });
});
