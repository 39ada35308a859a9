import { DEFAULT_KEY, startSimulator } from "@clearance/platform-sim";
import { CliError, type Output, paint } from "../output.js";
import type { Env } from "./serve.js";

export interface SimOptions {
  host: string;
  port: number;
  seedFiles: number;
  delayMs: number;
  seed: number;
  webhook?: string;
  /** also serve the VirusTotal v3 mode, with one public key */
  virustotal?: boolean;
}

/** The VirusTotal mode's key in `clearance sim --virustotal`: a public key (4 a minute, 500 a day). */
export const SIM_VT_KEY = "sim_vt_key";

/** `clearance sim`: the platform simulator, to try uploads, the gate and webhooks on one machine. */
export async function simCommand(output: Output, options: SimOptions, env: Env): Promise<number> {
  const secret = env.CLEARANCE_WEBHOOK_SECRET;
  if (options.webhook && !secret)
    throw new CliError(
      "--webhook needs CLEARANCE_WEBHOOK_SECRET: the deliveries are signed with it",
      "set the same secret as `webhook.secret` in the server's configuration",
    );
  let sim: Awaited<ReturnType<typeof startSimulator>>;
  try {
    sim = await startSimulator({
      host: options.host,
      port: options.port,
      seedFiles: options.seedFiles,
      analysisDelayMs: options.delayMs,
      seed: options.seed,
      virustotal: options.virustotal === true ? { keys: [{ key: SIM_VT_KEY }] } : null,
      ...(options.webhook ? { webhooks: [{ url: options.webhook, secret: secret! }] } : {}),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE")
      throw new CliError(`port ${options.port} is already in use`, "pass --port");
    throw error;
  }
  output.err(`${paint(output, "bold", "Platform simulator")} on ${sim.url}`);
  output.err(`  API key: ${DEFAULT_KEY} (scopes upload, files.read)`);
  if (options.seedFiles > 0) output.err(`  ${options.seedFiles} completed analyses to list`);
  if (options.webhook) output.err(`  webhooks to ${options.webhook}`);
  if (options.virustotal === true)
    output.err(
      `  VirusTotal v3 at ${sim.url}/api/v3/files/{md5|sha1|sha256}, key ${SIM_VT_KEY} (4 a minute, 500 a day):\n    export CLEARANCE_VT_URL=${sim.url} CLEARANCE_VT_KEY=${SIM_VT_KEY}`,
    );
  output.err("  try:");
  output.err(`    export CLEARANCE_PLATFORM_URL=${sim.url} CLEARANCE_PLATFORM_KEY=${DEFAULT_KEY}`);
  output.err("    clearance gate README.md --rules rules");
  output.err("    clearance pull --since 30d --out history.ndjson");
  output.err(
    `  faults: curl -s ${sim.url}/_sim/faults -H 'content-type: application/json' -d '{"errorRate":0.3}'`,
  );
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      sim.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
