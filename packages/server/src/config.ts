import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, isAbsolute, resolve } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import { parse as parseYaml } from "yaml";
import { SCOPES, type Scope } from "./auth.js";

/** Everything the server can be told, after defaults are applied. Frozen. */
export interface ServerConfig {
  server: {
    host: string;
    port: number;
    /** largest request body in bytes */
    bodyLimit: number;
    /** most items in one `POST /v1/decisions/batch` */
    batchLimit: number;
    logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
    /** seconds to finish in-flight requests on SIGTERM */
    shutdownGraceSeconds: number;
    /** log every request (the audit log records every decision either way) */
    logRequests: boolean;
  };
  rules: {
    dir: string;
    /** reload when a file under `dir` changes */
    watch: boolean;
    debounceMs: number;
  };
  /** a second rule set decided beside the live one: recorded and counted, never enforced */
  shadow: { rules: string } | null;
  audit: {
    backend: "sqlite" | "postgres";
    sqlite: {
      path: string;
      synchronous: "full" | "normal";
      /** reader threads for searches, entry reads, exports and verification */
      readers: number;
      /** `quick`: every page checked at start (`PRAGMA quick_check`); `fast`: header and size only */
      startupCheck: "quick" | "fast";
    };
    postgres: { url: string | null; poolSize: number; schema: string };
    /** this replica's chain; each replica sharing a PostgreSQL log needs its own */
    chain: string;
    /** key for the chain's HMAC; without it the chain is a plain SHA-256 chain */
    hmacSecret: string | null;
    /** JSON Pointers into the stored `{result, context}` removed before it is stored, e.g. `/result/fileName` */
    redact: string[];
    /** entries older than this many days are pruned (0 keeps everything) */
    retentionDays: number;
    /** most entries written in one group commit */
    maxBatch: number;
    // -- damaged logs and reads (issue 10) --
    /**
     * start with a new, empty log when the existing one is damaged or emptied (SQLite: the old
     * files are moved aside, never deleted); for one start after an incident, not to leave on
     */
    startNewLog: boolean;
  };
  auth: { keys: { id: string; scopes: Scope[]; sha256: string }[] };
  webhook: {
    /** HMAC-SHA256 secret shared with the platform; null accepts unsigned deliveries */
    secret: string | null;
    /** how old a signed timestamp may be, in seconds */
    toleranceSeconds: number;
    /** signed deliveries remembered for `toleranceSeconds`, so a replay under a new id is refused */
    replayCacheMax: number;
  };
  /** the file-analysis platform: results fetched on a miss (`?refresh=true`) and by the sync */
  platform: {
    url: string;
    apiKey: string;
    /** completed results kept in memory, by SHA-256 */
    cacheTtlMs: number;
    cacheMax: number;
  } | null;
  /** pull new results from the platform and decide them (for deployments without webhooks) */
  sync: {
    enabled: boolean;
    intervalMs: number;
    /** how far back the first run starts */
    lookbackDays: number;
  };
  limits: RequestLimits;
  /** decisions POSTed to other systems (a SIEM, a chat webhook, a ticketing system) */
  notifications: {
    targets: {
      id: string;
      url: string;
      secret: string | null;
      decisions: ("allow" | "deny" | "review")[];
      sources: ("api" | "batch" | "webhook" | "gate" | "sync")[];
      timeoutMs: number;
    }[];
    retry: { baseDelayMs: number; maxDelayMs: number };
    pollMs: number;
    concurrency: number;
  };
}

/**
 * What keeps one client from stalling the others (docs/configuration.md, `limits`): how deep a JSON
 * body may nest, how long one request may hold the event loop between yields, how many decision
 * requests one key may have in flight, and when the server sheds load.
 */
export interface RequestLimits {
  /** deepest nesting of arrays and objects in a JSON body, checked before it is parsed */
  jsonDepth: number;
  /** longest run of one request's work (parsing a large body, deciding batch items) between yields */
  sliceMs: number;
  /** decision requests in flight per API key (per client address without keys); more get 429 */
  inFlightPerKey: number;
  /** `@fastify/under-pressure` thresholds; 0 turns one off */
  pressure: {
    maxEventLoopDelayMs: number;
    maxHeapUsedBytes: number;
    maxRssBytes: number;
    /** the `Retry-After` of a shed request */
    retryAfterSeconds: number;
  };
}

/** A configuration problem, naming the key at fault (`audit.backend`, `auth.keys[0].sha256`). */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(
      problems.length === 1
        ? problems[0]!
        : `${problems.length} problems:\n  ${problems.join("\n  ")}`,
    );
  }
}

export const CONFIG_SCHEMA = {
  $id: "https://clearance.dev/schemas/config.json",
  type: "object",
  additionalProperties: false,
  properties: {
    server: {
      type: "object",
      additionalProperties: false,
      properties: {
        host: { type: "string", minLength: 1 },
        port: { type: "integer", minimum: 0, maximum: 65535 },
        bodyLimit: { type: "integer", minimum: 1024, maximum: 104_857_600 },
        batchLimit: { type: "integer", minimum: 1, maximum: 100_000 },
        logLevel: { enum: ["fatal", "error", "warn", "info", "debug", "trace", "silent"] },
        shutdownGraceSeconds: { type: "number", minimum: 0, maximum: 600 },
        logRequests: { type: "boolean" },
      },
    },
    rules: {
      type: "object",
      additionalProperties: false,
      properties: {
        dir: { type: "string", minLength: 1 },
        watch: { type: "boolean" },
        debounceMs: { type: "integer", minimum: 0, maximum: 60_000 },
      },
    },
    shadow: {
      type: ["object", "null"],
      additionalProperties: false,
      required: ["rules"],
      properties: { rules: { type: "string", minLength: 1 } },
    },
    audit: {
      type: "object",
      additionalProperties: false,
      properties: {
        backend: { enum: ["sqlite", "postgres"] },
        sqlite: {
          type: "object",
          additionalProperties: false,
          properties: {
            path: { type: "string", minLength: 1 },
            synchronous: { enum: ["full", "normal"] },
            readers: { type: "integer", minimum: 1, maximum: 16 },
            startupCheck: { enum: ["quick", "fast"] },
          },
        },
        postgres: {
          type: "object",
          additionalProperties: false,
          properties: {
            url: { type: ["string", "null"], minLength: 1 },
            poolSize: { type: "integer", minimum: 2, maximum: 100 },
            schema: { type: "string", pattern: "^[a-z_][a-z0-9_]{0,62}$" },
          },
        },
        chain: { type: "string", pattern: "^[A-Za-z0-9._-]{1,64}$" },
        hmacSecret: { type: ["string", "null"], minLength: 16 },
        redact: {
          type: "array",
          items: { type: "string", pattern: "^(/([^~/]|~[01])*)+$" },
          uniqueItems: true,
        },
        retentionDays: { type: "number", minimum: 0 },
        maxBatch: { type: "integer", minimum: 1, maximum: 10_000 },
        startNewLog: { type: "boolean" },
      },
    },
    auth: {
      type: "object",
      additionalProperties: false,
      properties: {
        keys: {
          type: "array",
          items: {
            type: "object",
            additionalProperties: false,
            required: ["id", "scopes", "sha256"],
            properties: {
              id: { type: "string", pattern: "^[A-Za-z0-9._-]{1,64}$" },
              scopes: {
                type: "array",
                minItems: 1,
                uniqueItems: true,
                items: { enum: [...SCOPES] },
              },
              sha256: { type: "string", pattern: "^[0-9a-f]{64}$" },
            },
          },
        },
      },
    },
    webhook: {
      type: "object",
      additionalProperties: false,
      properties: {
        secret: { type: ["string", "null"], minLength: 16 },
        toleranceSeconds: { type: "integer", minimum: 1, maximum: 86_400 },
        replayCacheMax: { type: "integer", minimum: 1_000, maximum: 10_000_000 },
      },
    },
    limits: {
      type: "object",
      additionalProperties: false,
      properties: {
        jsonDepth: { type: "integer", minimum: 8, maximum: 1_000 },
        sliceMs: { type: "number", minimum: 1, maximum: 1_000 },
        inFlightPerKey: { type: "integer", minimum: 1, maximum: 100_000 },
        pressure: {
          type: "object",
          additionalProperties: false,
          properties: {
            maxEventLoopDelayMs: { type: "integer", minimum: 0, maximum: 60_000 },
            maxHeapUsedBytes: { type: "integer", minimum: 0 },
            maxRssBytes: { type: "integer", minimum: 0 },
            retryAfterSeconds: { type: "integer", minimum: 1, maximum: 3_600 },
          },
        },
      },
    },
    platform: {
      type: ["object", "null"],
      additionalProperties: false,
      required: ["url", "apiKey"],
      properties: {
        url: { type: "string", pattern: "^https?://" },
        apiKey: { type: "string", minLength: 8 },
        cacheTtlMs: { type: "integer", minimum: 0, maximum: 86_400_000 },
        cacheMax: { type: "integer", minimum: 1, maximum: 10_000_000 },
      },
    },
    sync: {
      type: "object",
      additionalProperties: false,
      properties: {
        enabled: { type: "boolean" },
        intervalMs: { type: "integer", minimum: 1_000, maximum: 86_400_000 },
        lookbackDays: { type: "number", minimum: 0, maximum: 3_650 },
      },
    },
    notifications: {
      type: "object",
      additionalProperties: false,
      properties: {
        targets: {
          type: "array",
          items: {
            type: "object",
            additionalProperties: false,
            required: ["id", "url"],
            properties: {
              id: { type: "string", pattern: "^[A-Za-z0-9._-]{1,64}$" },
              url: { type: "string", pattern: "^https?://" },
              secret: { type: ["string", "null"], minLength: 16 },
              decisions: {
                type: "array",
                minItems: 1,
                uniqueItems: true,
                items: { enum: ["allow", "deny", "review"] },
              },
              sources: {
                type: "array",
                uniqueItems: true,
                items: { enum: ["api", "batch", "webhook", "gate", "sync"] },
              },
              timeoutMs: { type: "integer", minimum: 100, maximum: 120_000 },
            },
          },
        },
        retry: {
          type: "object",
          additionalProperties: false,
          properties: {
            baseDelayMs: { type: "integer", minimum: 1, maximum: 3_600_000 },
            maxDelayMs: { type: "integer", minimum: 1, maximum: 86_400_000 },
          },
        },
        pollMs: { type: "integer", minimum: 10, maximum: 3_600_000 },
        concurrency: { type: "integer", minimum: 1, maximum: 256 },
      },
    },
  },
} as const;

/** The defaults: serve `rules/` on loopback with an SQLite log under `data/`. */
export function defaultConfig(): ServerConfig {
  return {
    server: {
      host: "127.0.0.1",
      port: 8080,
      bodyLimit: 1_048_576,
      batchLimit: 1_000,
      logLevel: "info",
      shutdownGraceSeconds: 10,
      logRequests: false,
    },
    rules: { dir: "rules", watch: true, debounceMs: 250 },
    shadow: null,
    audit: {
      backend: "sqlite",
      sqlite: { path: "data/audit.db", synchronous: "full", readers: 2, startupCheck: "quick" },
      postgres: { url: null, poolSize: 10, schema: "public" },
      chain:
        hostname()
          .replace(/[^A-Za-z0-9._-]/g, "-")
          .slice(0, 64) || "main",
      hmacSecret: null,
      redact: [],
      retentionDays: 0,
      maxBatch: 1_000,
      startNewLog: false,
    },
    auth: { keys: [] },
    webhook: { secret: null, toleranceSeconds: 300, replayCacheMax: 100_000 },
    platform: null,
    sync: { enabled: false, intervalMs: 300_000, lookbackDays: 30 },
    limits: {
      jsonDepth: 64,
      sliceMs: 10,
      inFlightPerKey: 64,
      pressure: {
        maxEventLoopDelayMs: 500,
        maxHeapUsedBytes: 0,
        maxRssBytes: 0,
        retryAfterSeconds: 5,
      },
    },
    notifications: {
      targets: [],
      retry: { baseDelayMs: 1_000, maxDelayMs: 300_000 },
      pollMs: 5_000,
      concurrency: 8,
    },
  };
}

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validateConfig = ajv.compile(CONFIG_SCHEMA);

/** `/audit/sqlite/path` -> `audit.sqlite.path`, `/auth/keys/0/id` -> `auth.keys[0].id` */
function keyPath(pointer: string): string {
  let out = "";
  for (const part of pointer.split("/").slice(1)) {
    const p = part.replaceAll("~1", "/").replaceAll("~0", "~");
    out += /^\d+$/.test(p) ? `[${p}]` : out === "" ? p : `.${p}`;
  }
  return out;
}

function describeError(e: ErrorObject): string {
  const at = keyPath(e.instancePath);
  if (e.keyword === "additionalProperties") {
    const key = (e.params as { additionalProperty: string }).additionalProperty;
    return `unknown key \`${at === "" ? key : `${at}.${key}`}\``;
  }
  if (e.keyword === "enum") {
    const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
    return `\`${at}\` must be one of ${allowed.map((v) => `\`${String(v)}\``).join(", ")}`;
  }
  return `\`${at || "(root)"}\` ${e.message ?? "is invalid"}`;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Replaces `${NAME}` in every string value with the environment variable (`$${` escapes a literal
 * `${`). A variable that is not set is an error naming it and the key that uses it.
 */
export function substituteEnv(value: unknown, env: Env, path = ""): unknown {
  if (typeof value === "string") {
    return value.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (match, name: string) => {
      if (match.startsWith("$$")) return match.slice(1);
      const v = env[name];
      if (v === undefined)
        throw new ConfigError([
          `\`${path}\` refers to the environment variable \`${name}\`, which is not set`,
        ]);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = substituteEnv(v, env, path === "" ? k : `${path}.${k}`);
    return out;
  }
  return value;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(over)) {
    const b = base[k];
    if (
      v !== null &&
      typeof v === "object" &&
      !Array.isArray(v) &&
      b !== null &&
      typeof b === "object" &&
      !Array.isArray(b)
    )
      merge(b as Record<string, unknown>, v as Record<string, unknown>);
    else base[k] = v;
  }
}

export interface ResolveOptions {
  env?: Env;
  /** relative paths in the config are relative to this directory (the config file's) */
  baseDir?: string;
}

/**
 * Validates a parsed configuration (unknown keys are errors naming the key), substitutes `${ENV}`,
 * fills in defaults and resolves paths. Returns a deeply frozen config; throws ConfigError.
 */
export function resolveConfig(raw: unknown, options: ResolveOptions = {}): Readonly<ServerConfig> {
  const input = raw ?? {};
  if (typeof input !== "object" || Array.isArray(input))
    throw new ConfigError(["the configuration must be a mapping of keys to values"]);
  const substituted = substituteEnv(input, options.env ?? {});
  if (!validateConfig(substituted)) {
    throw new ConfigError((validateConfig.errors ?? []).map(describeError));
  }
  const config = defaultConfig();
  merge(config as unknown as Record<string, unknown>, substituted as Record<string, unknown>);
  const base = options.baseDir ?? process.cwd();
  const path = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  config.rules.dir = path(config.rules.dir);
  if (config.shadow) config.shadow.rules = path(config.shadow.rules);
  config.audit.sqlite.path = path(config.audit.sqlite.path);
  if (config.audit.backend === "postgres" && !config.audit.postgres.url)
    throw new ConfigError([
      "`audit.postgres.url` is required when `audit.backend` is `postgres` (for example `postgres://user@host/db`)",
    ]);
  if (config.platform)
    config.platform = {
      ...config.platform,
      cacheTtlMs: config.platform.cacheTtlMs ?? 600_000,
      cacheMax: config.platform.cacheMax ?? 100_000,
    };
  if (config.sync.enabled && !config.platform)
    throw new ConfigError([
      "`sync.enabled` needs `platform` (its `url` and `apiKey`) to pull results from",
    ]);
  // a target's defaults are filled in per item: merge() replaces arrays whole
  config.notifications.targets = config.notifications.targets.map((t) => ({
    ...t,
    secret: t.secret ?? null,
    decisions: t.decisions ?? ["allow", "deny", "review"],
    sources: t.sources ?? [],
    timeoutMs: t.timeoutMs ?? 5_000,
  }));
  const targetIds = new Set<string>();
  for (const [i, t] of config.notifications.targets.entries()) {
    if (targetIds.has(t.id))
      throw new ConfigError([`\`notifications.targets[${i}].id\`: \`${t.id}\` is used twice`]);
    targetIds.add(t.id);
  }
  const ids = new Set<string>();
  for (const [i, key] of config.auth.keys.entries()) {
    if (ids.has(key.id))
      throw new ConfigError([`\`auth.keys[${i}].id\`: \`${key.id}\` is used twice`]);
    ids.add(key.id);
  }
  return deepFreeze(config);
}

/** Reads and resolves a YAML config file; relative paths in it are relative to the file. */
export function loadConfig(file: string, env: Env = {}): Readonly<ServerConfig> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError([
      `cannot read the configuration \`${file}\`: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    ]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError([`\`${file}\` is not valid YAML: ${(error as Error).message}`]);
  }
  return resolveConfig(raw, { env, baseDir: dirname(resolve(file)) });
}
