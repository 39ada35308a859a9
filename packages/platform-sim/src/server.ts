import Fastify, { type FastifyInstance } from "fastify";
import { simulatorApp } from "./app.js";
import { resolveOptions, type SimulatorOptions, type StartOptions } from "./options.js";
import { SimulatorState } from "./state.js";

function build(options: SimulatorOptions, extraKeys: readonly string[]): FastifyInstance {
  const resolved = resolveOptions(options, extraKeys);
  const app = Fastify({
    logger: resolved.logger,
    // Unknown query parameters and admin fields are errors, not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
    return503OnClosing: true,
  });
  void app.register(simulatorApp, { state: new SimulatorState(resolved) });
  return app;
}

/**
 * The simulator on a fresh fastify instance, ready for `inject()`; nothing listens. Throws a
 * TypeError naming any bad or unknown option.
 */
export async function createSimulator(options: SimulatorOptions = {}): Promise<FastifyInstance> {
  const app = build(options, []);
  await app.ready();
  return app;
}

export interface RunningSimulator {
  /** `http://host:port` */
  url: string;
  app: FastifyInstance;
  /** stops listening, abandons pending webhook deliveries and analysis timers */
  close(): Promise<void>;
}

/** Builds the simulator and listens (default `127.0.0.1:9090`). The only place that opens a port. */
export async function startSimulator(options: StartOptions = {}): Promise<RunningSimulator> {
  const { host = "127.0.0.1", port = 9090, ...rest } = options;
  if (typeof host !== "string" || host === "")
    throw new TypeError("invalid simulator options: `host` must be a host name or address");
  if (!Number.isSafeInteger(port) || port < 0 || port > 65_535)
    throw new TypeError("invalid simulator options: `port` must be an integer from 0 to 65535");
  const app = build(rest, []);
  try {
    await app.listen({ host, port });
  } catch (error) {
    await app.close();
    throw error;
  }
  const address = app.server.address();
  const bound = typeof address === "object" && address !== null ? address.port : port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${bound}`,
    app,
    close() {
      closing ??= app.close();
      return closing;
    },
  };
}
