#!/usr/bin/env node
import { main } from "./main.js";

// The only place that reads the process environment: colour and streams are decided here.
// A reader that goes away (`clearance eval ... | head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}
const color =
  process.stdout.isTTY === true &&
  process.env.NO_COLOR === undefined &&
  process.env.TERM !== "dumb";
const code = await main(
  process.argv.slice(2),
  {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    color,
    ...(process.stderr.isTTY === true
      ? {
          status: (line: string | null) =>
            process.stderr.write(line === null ? "\r\x1b[K" : `\r${line}\x1b[K`),
        }
      : {}),
  },
  process.env,
);
process.exitCode = code;
