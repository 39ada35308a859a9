import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from "fastify";
import { isLoopback } from "./auth.js";
import { ConfigError, type ServerConfig } from "./config.js";
import app, { sendProblem } from "./http/app.js";
import { createServices, type ServiceHooks, type Services } from "./services.js";

/** Paths pino never writes: keys and signatures stay out of logs whatever the log level. */
const REDACTED_LOG_PATHS = [
  "req.headers.authorization",
  'req.headers["x-platform-signature"]',
  "config.audit.hmacSecret",
  "config.webhook.secret",
];

/** Options for the fastify instance that carries the app; tests build theirs with the same. */
export function fastifyOptions(
  config: Readonly<ServerConfig>,
  logger: FastifyServerOptions["logger"] | undefined,
): FastifyServerOptions {
  return {
    logger:
      logger === undefined
        ? {
            level: config.server.logLevel,
            redact: { paths: REDACTED_LOG_PATHS, censor: "[redacted]" },
          }
        : logger,
    bodyLimit: config.server.bodyLimit,
    logController: new LogController({ disableRequestLogging: !config.server.logRequests }),
    return503OnClosing: true,
    // the longest id a path takes (a Santa machine id: `santa.machines[].id`, up to 128)
    routerOptions: { maxParamLength: MAX_PATH_PARAM },
    // a URL the router cannot read, or a path segment past that length, is a problem document
    // like every other refusal, not fastify's own body
    frameworkErrors: (error, _request, reply) =>
      sendProblem(
        reply,
        "invalid_request",
        error.code === "FST_ERR_MAX_PARAM_LENGTH"
          ? `a path segment is longer than ${MAX_PATH_PARAM} characters`
          : "the URL cannot be decoded",
      ),
  };
}

const MAX_PATH_PARAM = 128;

/** The app on a fresh fastify instance, ready for `inject()` or `listen()`. */
export async function buildApp(
  services: Services,
  logger?: FastifyServerOptions["logger"],
  options: { consoleDir?: string } = {},
): Promise<FastifyInstance> {
  const fastify = Fastify(fastifyOptions(services.config, logger));
  await fastify.register(app, { services, ...options });
  await fastify.ready();
  return fastify;
}

export interface RunningServer {
  app: FastifyInstance;
  services: Services;
  /** `http://host:port` */
  url: string;
  /** stops accepting, finishes in-flight requests, flushes the audit log */
  close(): Promise<void>;
}

/**
 * Refuses a configuration that would expose decisions without authentication: without keys or
 * OpenID Connect sign-in the server only listens on loopback.
 */
export function checkExposure(config: Readonly<ServerConfig>): void {
  if (config.auth.keys.length === 0 && config.auth.oidc === null && !isLoopback(config.server.host))
    throw new ConfigError([
      `refusing to listen on \`${config.server.host}\` without API keys: anyone who can reach it could ask for decisions and read the audit log. Add keys (\`clearance keys create\`) or listen on 127.0.0.1`,
    ]);
}

/** Builds everything and listens. The only place in the server that opens a port. */
export async function startServer(
  config: Readonly<ServerConfig>,
  options: { logger?: FastifyServerOptions["logger"]; hooks?: ServiceHooks } = {},
): Promise<RunningServer> {
  checkExposure(config);
  const services = await createServices(config, options.hooks);
  let fastify: FastifyInstance;
  try {
    fastify = await buildApp(services, options.logger);
  } catch (error) {
    await services.close();
    throw error;
  }
  const log = fastify.log;
  // a log deleted whole (with its -wal and -shm) looks like a first start: say it was one
  if (services.createdLog && !services.replacedLog)
    log.info(`no audit log at \`${services.createdLog}\`: started a new, empty one`);
  if (services.replacedLog)
    log.warn(
      { reason: services.replacedLog.reason, movedTo: services.replacedLog.movedTo },
      `the audit log was damaged; started a new, empty one (audit.startNewLog). The damaged files are kept: ${services.replacedLog.movedTo.join(", ")}`,
    );
  const journal = services.journal;
  if (journal?.repaired)
    log.warn(
      { journal: journal.repaired },
      `the audit journal's tail was cut at start: ${journal.repaired.bytes} bytes after the last whole group commit of segment ${journal.repaired.segment} (${journal.repaired.problem}). A crash left them unfinished; they were never acknowledged, so no answered decision is lost`,
    );
  if (journal?.created && journal.migrated > 0)
    log.info(
      { journal: { dir: journal.dir, migrated: journal.migrated } },
      `the audit log now keeps its entries in the journal \`${journal.dir}\`: its ${journal.migrated} entries were copied into it, unchanged`,
    );
  // one line when the log stops recording, one (with how long) when it records again
  const stopReportingHealth = services.audit.health.onChange((change) => {
    if (change.to === "unavailable")
      log.warn(
        { audit: { status: "unavailable", reason: change.reason } },
        `audit log unavailable: decisions are refused until it recovers (${change.reason})`,
      );
    else if (change.to === "available")
      log.warn(
        { audit: { status: "available", downSeconds: change.downSeconds, reason: change.reason } },
        `audit log available again after ${change.downSeconds.toFixed(1)} s: decisions are recorded again`,
      );
    else
      log.error(
        { audit: { status: "damaged", reason: change.reason } },
        `audit log damaged: ${change.reason}. Readiness fails until the log is restored or replaced (docs/operations.md#damaged-logs)`,
      );
  });
  if (services.signIn.required && services.signIn.ephemeralSecret)
    log.warn(
      "auth.sessions.secret is not set: console sessions are sealed with a random key, so they end when this process does, and other replicas cannot read them",
    );
  if (config.auth.keys.length === 0 && config.auth.oidc === null)
    log.warn(
      "NO API KEYS CONFIGURED: every request is accepted without authentication; listening on loopback only",
    );
  if (config.webhook.secret === null)
    log.warn(
      config.auth.keys.length > 0
        ? "webhook.secret is not set: platform deliveries must carry an API key with the decide scope"
        : "webhook.secret is not set: platform deliveries are accepted unsigned",
    );
  let pruneTimer: NodeJS.Timeout | undefined;
  if (config.audit.retentionDays > 0) {
    const prune = () => {
      const before = new Date(Date.now() - config.audit.retentionDays * 86_400_000);
      services.audit
        .prune(before)
        .then((n) => n > 0 && log.info({ removed: n, before }, "audit log pruned"))
        .catch((error: Error) => log.error({ err: error }, "audit log pruning failed"));
    };
    prune();
    pruneTimer = setInterval(prune, 3_600_000);
    pruneTimer.unref();
  }
  services.sync?.start();
  try {
    await fastify.listen({ host: config.server.host, port: config.server.port });
  } catch (error) {
    stopReportingHealth();
    await fastify.close();
    await services.close();
    throw error;
  }
  const address = fastify.server.address();
  const port = typeof address === "object" && address ? address.port : config.server.port;
  const host = config.server.host.includes(":") ? `[${config.server.host}]` : config.server.host;
  let closing: Promise<void> | undefined;
  return {
    app: fastify,
    services,
    url: `http://${host}:${port}`,
    close() {
      closing ??= (async () => {
        clearInterval(pruneTimer);
        const grace = setTimeout(
          () => fastify.server.closeAllConnections(),
          config.server.shutdownGraceSeconds * 1000,
        );
        grace.unref();
        try {
          await fastify.close();
        } finally {
          clearTimeout(grace);
          await services.close();
          stopReportingHealth();
        }
      })();
      return closing;
    },
  };
}

/** SIGHUP reloads the rules; SIGTERM and SIGINT shut down gracefully. Returns an uninstaller. */
export function installSignalHandlers(
  server: RunningServer,
  onExit: (code: number) => void,
): () => void {
  const log = server.app.log;
  const hup = () => {
    log.info("SIGHUP: reloading rules");
    // outcomes are logged by the holders' onReload; a reload never rejects
    void server.services.rules.reload("signal");
    void server.services.shadow?.reload("signal");
  };
  const stop = (signal: string) => () => {
    log.info(`${signal}: finishing in-flight requests, then stopping`);
    server.close().then(
      () => onExit(0),
      (error: Error) => {
        log.error({ err: error }, "shutdown failed");
        onExit(1);
      },
    );
  };
  const term = stop("SIGTERM");
  const int = stop("SIGINT");
  process.on("SIGHUP", hup);
  process.on("SIGTERM", term);
  process.on("SIGINT", int);
  return () => {
    process.off("SIGHUP", hup);
    process.off("SIGTERM", term);
    process.off("SIGINT", int);
  };
}
