import { existsSync } from "node:fs";
import { relative } from "node:path";
import {
  AuditDamagedError,
  AuditInUseError,
  AuditUnavailableError,
  ConfigError,
  installSignalHandlers,
  loadConfig,
  RulesLoadError,
  resolveConfig,
  type ServerConfig,
  startServer,
} from "@clearance/server";
import { CliError, type Output, paint } from "../output.js";

export type Env = Readonly<Record<string, string | undefined>>;

export interface ServeOptions {
  config?: string;
  host?: string;
  port?: number;
  rules?: string;
  /** start a new, empty audit log when the existing one is damaged or emptied */
  newLog?: boolean;
  /** the platform's URL (overrides platform.url; the key from the configuration or $CLEARANCE_PLATFORM_KEY) */
  platform?: string;
}

/** The config file: `--config`, else `clearance.yaml` in the working directory when present. */
export function readConfig(path: string | undefined, env: Env): Readonly<ServerConfig> {
  try {
    if (path !== undefined) return loadConfig(path, env);
    if (existsSync("clearance.yaml")) return loadConfig("clearance.yaml", env);
    return resolveConfig({}, { env });
  } catch (error) {
    if (error instanceof ConfigError)
      throw new CliError(
        `invalid configuration: ${error.message}`,
        "see docs/configuration.md for every key and its default",
      );
    throw error;
  }
}

/** The flags that override configuration keys, for messages about them. */
const FLAGS = {
  host: "server.host",
  port: "server.port",
  rules: "rules.dir",
  platform: "platform.url",
} as const;

function withOverrides(
  config: Readonly<ServerConfig>,
  o: ServeOptions,
  env: Env,
): Readonly<ServerConfig> {
  if (
    o.host === undefined &&
    o.port === undefined &&
    o.rules === undefined &&
    o.platform === undefined &&
    !o.newLog
  )
    return config;
  for (const flag of ["host", "rules", "platform"] as const)
    if (o[flag]?.trim() === "")
      throw new CliError(
        `\`--${flag}\` must not be empty`,
        flag === "host"
          ? "pass a listen address, for example `--host 127.0.0.1`"
          : flag === "rules"
            ? "pass a rule directory, for example `--rules rules`"
            : "pass the platform's URL, for example `--platform http://127.0.0.1:9090`",
      );
  const plain = structuredClone(config) as ServerConfig;
  if (o.host !== undefined) plain.server.host = o.host;
  if (o.port !== undefined) plain.server.port = o.port;
  if (o.rules !== undefined) plain.rules.dir = o.rules;
  if (o.newLog) plain.audit.startNewLog = true;
  if (o.platform !== undefined) {
    const apiKey = plain.platform?.apiKey ?? (env.CLEARANCE_PLATFORM_KEY || undefined);
    if (apiKey === undefined)
      throw new CliError(
        "`--platform` needs the platform's API key",
        "set `platform.apiKey` in the configuration, or export CLEARANCE_PLATFORM_KEY",
      );
    // resolveConfig fills in the platform's other keys when they are not set
    plain.platform = { ...plain.platform, url: o.platform, apiKey } as ServerConfig["platform"];
  }
  try {
    return resolveConfig(plain, { env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // name the flag rather than the key it overrides
    let message = error.message;
    for (const [flag, key] of Object.entries(FLAGS))
      message = message.replaceAll(`\`${key}\``, `\`--${flag}\` (\`${key}\`)`);
    throw new CliError(`invalid option: ${message}`, "see `clearance serve --help`");
  }
}

/** Errors of `listen` that say the address is wrong, not that Clearance is. */
const ADDRESS_ERRORS = new Set(["ENOTFOUND", "EAI_AGAIN", "EADDRNOTAVAIL", "EACCES", "EINVAL"]);

/** Serves until SIGTERM or SIGINT; SIGHUP reloads the rules. */
export async function serveCommand(
  output: Output,
  options: ServeOptions,
  env: Env,
): Promise<number> {
  const config = withOverrides(readConfig(options.config, env), options, env);
  // SIGHUP's default action ends the process: one sent while the server starts (a deploy tool
  // reloading too early) is held and carried out once the server runs.
  let hupWhileStarting = false;
  const holdHup = () => {
    hupWhileStarting = true;
  };
  process.on("SIGHUP", holdHup);
  // A big rule set or a damaged-log check can take seconds: say what is happening meanwhile.
  output.err(
    `starting: loading the rules in ${relative(process.cwd(), config.rules.dir) || "."} and opening the audit log`,
  );
  let server: Awaited<ReturnType<typeof startServer>>;
  const siemErrors = new Map<string, string>();
  try {
    server = await startServer(config, {
      hooks: {
        onSync: (report, error) => {
          const log = server?.app.log;
          if (!log) return;
          if (error) log.warn({ err: error }, "platform sync stopped; the next round resumes");
          else if (report && (report.decided > 0 || report.invalid.length > 0))
            log.info(
              {
                decided: report.decided,
                skipped: report.skipped,
                invalid: report.invalid,
                cursor: report.cursor,
              },
              "platform sync",
            );
        },
        onNotifyError: (error) =>
          server?.app.log.warn(
            { err: error },
            "notifications could not be sent; they stay in the outbox",
          ),
        onReviewError: (error) =>
          server?.app.log.warn(
            { err: error },
            "a review step failed (a sweep, or a re-decision the outbox will retry)",
          ),
        // a sink that is down fails at every retry: said when what it says changes, not each time
        onSiemError: (sink, error) => {
          if (siemErrors.get(sink) === error.message) return;
          siemErrors.set(sink, error.message);
          server?.app.log.warn(
            { sink, err: error },
            "a SIEM sink could not send; its events wait in the audit log and it retries",
          );
        },
        onSantaError: (error) =>
          server?.app.log.error(
            { err: error },
            "a re-decision did not reach the Santa rules; the file's rules change again at its next reported execution",
          ),
        onServerEventError: (error) =>
          server?.app.log.warn({ err: error }, "a rule-set or verification event was not recorded"),
        onReload: (role, outcome, trigger) => {
          const log = server?.app.log;
          if (!log) return;
          if (outcome.ok)
            log.info(
              { role, trigger, revision: outcome.revision, changed: outcome.changed },
              "rules reloaded",
            );
          else
            log.error(
              { role, trigger, diagnostics: outcome.error.messages },
              `rules did not compile; still serving the previous rules:\n${outcome.error.printed}`,
            );
        },
      },
    });
  } catch (error) {
    process.off("SIGHUP", holdHup);
    if (error instanceof RulesLoadError)
      throw new CliError(error.message, "fix the rules (`clearance check`) and start again");
    if (error instanceof ConfigError) throw new CliError(error.message);
    if (error instanceof AuditDamagedError)
      throw new CliError(
        error.message,
        config.audit.backend === "sqlite"
          ? "check it with `clearance audit verify`; restore it from a backup, or start with `--new-log` to move it aside and begin a new log (docs/operations.md#damaged-logs)"
          : "check it with `clearance audit verify`; restore the schema from a backup, or point `audit.postgres.schema` at a new schema (docs/operations.md#damaged-logs)",
      );
    if (error instanceof AuditInUseError)
      throw new CliError(
        error.message,
        "stop the other server, or give this one a log of its own (`audit.sqlite.path`); servers that share one log need PostgreSQL (docs/operations.md#several-replicas-on-postgresql)",
      );
    if (error instanceof AuditUnavailableError)
      throw new CliError(
        error.message,
        "check `audit` in the configuration (docs/configuration.md)",
      );
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE")
      throw new CliError(
        `port ${config.server.port} on ${config.server.host} is already in use`,
        "stop the other server or pass --port",
      );
    if (code !== undefined && ADDRESS_ERRORS.has(code))
      throw new CliError(
        `cannot listen on \`${config.server.host}\` port ${config.server.port}: ${code}`,
        "pass an address of this machine with --host (or `server.host`), such as `127.0.0.1` or `0.0.0.0`",
      );
    throw error;
  }
  const { services, url } = server;
  const rs = services.rules.ruleset;
  const where =
    config.audit.backend === "sqlite"
      ? relative(process.cwd(), config.audit.sqlite.path) || config.audit.sqlite.path
      : `PostgreSQL (chain ${config.audit.chain})`;
  output.err(
    `${paint(output, "bold", "Clearance")} serving ${relative(process.cwd(), config.rules.dir) || "."} (${rs.rules.length} rule${rs.rules.length === 1 ? "" : "s"}, revision ${rs.revision}) on ${url}`,
  );
  output.err(`  audit log: ${where}${config.audit.hmacSecret ? " (HMAC chain)" : ""}`);
  if (services.shadow)
    output.err(
      `  shadow rules: ${relative(process.cwd(), services.shadow.dir) || "."} (revision ${services.shadow.ruleset.revision}; recorded, never enforced)`,
    );
  if (services.replacedLog)
    output.err(
      paint(
        output,
        "yellow",
        `  started a new audit log; the damaged one was moved to ${services.replacedLog.movedTo[0]}`,
      ),
    );
  if (services.sync) output.err(`  syncing results from ${config.platform!.url}`);
  if (config.auth.keys.length === 0)
    output.err(
      paint(output, "yellow", "  no API keys: requests are not authenticated (loopback only)"),
    );
  output.err("  try:");
  // a wildcard address is where the server listens, not where a client connects
  const wildcard = /^(0\.0\.0\.0|::|\[::\])$/.test(config.server.host);
  const tryUrl = wildcard ? url.replace(/\/\/[^/]+:(\d+)/, "//127.0.0.1:$1") : url;
  const auth = config.auth.keys.length > 0 ? " -H 'authorization: Bearer <your key>'" : "";
  output.err(
    `    curl -s ${tryUrl}/v1/decisions -H 'content-type: application/json'${auth} -d @examples/requests/malware.json`,
  );
  output.err(`    curl -s ${tryUrl}/v1/audit${auth}`);
  return new Promise((resolve) => {
    installSignalHandlers(server, resolve);
    process.off("SIGHUP", holdHup);
    if (hupWhileStarting) process.emit("SIGHUP", "SIGHUP");
  });
}
