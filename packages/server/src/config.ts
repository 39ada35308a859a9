import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, isAbsolute, resolve } from "node:path";
import { parseDuration } from "@clearance/dsl";
import {
  checkOptions,
  formatIssue,
  type Issue,
  keyPath,
  type Static,
  type TProperties,
  Type,
} from "@clearance/options";
import { parseTransportOptions, SIEM_EVENT_KINDS, SIEM_FORMATS } from "@clearance/siem";
import { parse as parseYaml } from "yaml";
import { DECISION_SOURCES } from "./audit/entry.js";
import { isLoopback, SCOPES } from "./auth.js";

// The configuration is declared once: CONFIG_SCHEMA is the JSON Schema the file is checked
// against, its `default`s are the defaults, and ServerConfig is its type. docs/configuration.md
// lists every key with its default, and a test holds the page to this declaration.

/** An object that refuses keys it does not declare. */
const Section = <P extends TProperties>(properties: P, options: { description?: string } = {}) =>
  Type.Object(properties, { additionalProperties: false, ...options });

const ID = "^[A-Za-z0-9._-]{1,64}$";
const HTTP_URL = "^https?://";
/** A duration as the rule language writes one: `90d`, `12h`, `1h30m`. */
const DURATION = "^([0-9]+(ms|[smhdw]))+$";
const SECRET = Type.Union([Type.String({ minLength: 16 }), Type.Null()], { default: null });

/** The host name as a chain name (`audit.chain`'s default): this replica's own chain. */
const HOST_CHAIN =
  hostname()
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .slice(0, 64) || "main";

/**
 * What keeps one client from stalling the others (docs/configuration.md, `limits`): how deep a JSON
 * body may nest, how long one request may hold the event loop between yields, how many decision
 * requests one key may have in flight, and when the server sheds load.
 */
const REQUEST_LIMITS = Section({
  jsonDepth: Type.Integer({
    minimum: 8,
    maximum: 1_000,
    default: 64,
    description:
      "deepest nesting of arrays and objects in a JSON body, checked before it is parsed",
  }),
  sliceMs: Type.Number({
    minimum: 1,
    maximum: 1_000,
    default: 10,
    description:
      "longest run of one request's work (parsing a large body, deciding batch items) between yields",
  }),
  inFlightPerKey: Type.Integer({
    minimum: 1,
    maximum: 100_000,
    default: 64,
    description:
      "decision requests in flight per API key (per client address without keys); more get 429",
  }),
  pressure: Section(
    {
      maxEventLoopDelayMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 500 }),
      maxHeapUsedBytes: Type.Integer({ minimum: 0, default: 0 }),
      maxRssBytes: Type.Integer({ minimum: 0, default: 0 }),
      retryAfterSeconds: Type.Integer({
        minimum: 1,
        maximum: 3_600,
        default: 5,
        description: "the `Retry-After` of a shed request",
      }),
    },
    { description: "`@fastify/under-pressure` thresholds; 0 turns one off" },
  ),
});

/**
 * Sign-in with OpenID Connect (docs/console.md#signing-in): the provider, this server's client at
 * it, and how a person's claims become an identity and Clearance scopes.
 */
const OIDC = Section({
  issuer: Type.String({
    pattern: HTTP_URL,
    description: "the provider's issuer URL; https unless it is on loopback",
  }),
  name: Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()], {
    default: null,
    description: "what the sign-in button calls the provider; the issuer's host name when null",
  }),
  clientId: Type.String({ minLength: 1 }),
  clientSecret: Type.String({
    minLength: 1,
    description:
      "the client's secret at the provider; give it from an environment variable, as other secrets",
  }),
  publicUrl: Type.String({
    pattern: HTTP_URL,
    description:
      "the URL people open the console at; the provider redirects to `<publicUrl>/auth/callback`",
  }),
  scopes: Type.Array(Type.String({ pattern: "^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$" }), {
    uniqueItems: true,
    default: ["email", "profile"],
    description: "scopes asked for besides `openid` (add the one that carries `rolesClaim`)",
  }),
  usernameClaim: Type.String({
    minLength: 1,
    default: "email",
    description: "the claim that names the person (recorded as `user:<value>`)",
  }),
  rolesClaim: Type.String({
    minLength: 1,
    default: "groups",
    description: "the claim listing the person's roles or groups (a string or a list of strings)",
  }),
  roles: Type.Object(
    {},
    {
      additionalProperties: Type.Array(Type.String()),
      default: {},
      description:
        "a value of `rolesClaim` -> the Clearance scopes it gives; a person with none is refused",
    },
  ),
});

/** Console sessions: sealed cookies (docs/console.md#signing-in). */
const SESSIONS = Section({
  secret: Type.Union([Type.String({ minLength: 32 }), Type.Null()], {
    default: null,
    description:
      "key that seals session cookies; null: a random one per process (sessions end at restart; replicas need one shared secret)",
  }),
  ttl: Type.String({
    pattern: DURATION,
    default: "8h",
    description: "how long a session lasts after sign-in",
  }),
  idleTimeout: Type.String({
    pattern: DURATION,
    default: "1h",
    description: "a session unused this long ends",
  }),
  cookieName: Type.String({ pattern: "^[A-Za-z0-9_-]{1,64}$", default: "clearance_session" }),
});

export const CONFIG_SCHEMA = Type.Object(
  {
    server: Section({
      host: Type.String({ minLength: 1, default: "127.0.0.1" }),
      port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
      bodyLimit: Type.Integer({
        minimum: 1024,
        maximum: 104_857_600,
        default: 1_048_576,
        description: "largest request body in bytes",
      }),
      batchLimit: Type.Integer({
        minimum: 1,
        maximum: 100_000,
        default: 1_000,
        description: "most items in one `POST /v1/decisions/batch`",
      }),
      logLevel: Type.Enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
        default: "info",
      }),
      shutdownGraceSeconds: Type.Number({
        minimum: 0,
        maximum: 600,
        default: 10,
        description: "seconds to finish in-flight requests on SIGTERM",
      }),
      logRequests: Type.Boolean({
        default: false,
        description: "log every request (the audit log records every decision either way)",
      }),
    }),
    rules: Section({
      dir: Type.String({ minLength: 1, default: "rules" }),
      watch: Type.Boolean({
        default: true,
        description: "reload when a file under `dir` changes",
      }),
      debounceMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 250 }),
    }),
    shadow: Type.Union([Section({ rules: Type.String({ minLength: 1 }) }), Type.Null()], {
      default: null,
      description:
        "a second rule set decided beside the live one: recorded and counted, never enforced",
    }),
    audit: Section({
      backend: Type.Enum(["sqlite", "postgres"], { default: "sqlite" }),
      sqlite: Section({
        path: Type.String({ minLength: 1, default: "data/audit.db" }),
        synchronous: Type.Enum(["full", "normal"], { default: "full" }),
        readers: Type.Integer({
          minimum: 1,
          maximum: 16,
          default: 2,
          description: "reader threads for searches, entry reads, exports and verification",
        }),
        startupCheck: Type.Enum(["quick", "fast"], {
          default: "quick",
          description:
            "`quick`: every page checked at start (`PRAGMA quick_check`); `fast`: header and size only",
        }),
        journal: Section({
          enabled: Type.Boolean({
            default: true,
            description:
              "the durable record is a journal of segment files beside the database (`<path>.journal/`), which the database indexes, filled behind; `false` writes the database alone (refused for a log that has a journal)",
          }),
          segmentBytes: Type.Integer({
            minimum: 1_048_576,
            maximum: 1_073_741_824,
            default: 67_108_864,
            description:
              "a journal segment is closed once it holds this many bytes; retention removes whole segments",
          }),
          maxIndexLagSeconds: Type.Number({
            minimum: 1,
            maximum: 3_600,
            default: 30,
            description:
              "readiness fails once the oldest entry the index has not applied is older than this",
          }),
          indexWaitMs: Type.Integer({
            minimum: 100,
            maximum: 60_000,
            default: 5_000,
            description:
              "how long a read waits for the index to apply what was journaled before it, before it fails",
          }),
        }),
      }),
      postgres: Section({
        url: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null }),
        poolSize: Type.Integer({ minimum: 2, maximum: 100, default: 10 }),
        schema: Type.String({ pattern: "^[a-z_][a-z0-9_]{0,62}$", default: "public" }),
      }),
      chain: Type.String({
        pattern: ID,
        default: HOST_CHAIN,
        description: "this replica's chain; each replica sharing a PostgreSQL log needs its own",
      }),
      hmacSecret: Type.Union([Type.String({ minLength: 16 }), Type.Null()], {
        default: null,
        description: "key for the chain's HMAC; without it the chain is a plain SHA-256 chain",
      }),
      redact: Type.Array(Type.String({ pattern: "^(/([^~/]|~[01])*)+$" }), {
        uniqueItems: true,
        default: [],
        description:
          "JSON Pointers into the stored `{result, context}` removed before it is stored, e.g. `/result/fileName`",
      }),
      retentionDays: Type.Number({
        minimum: 0,
        default: 0,
        description: "entries older than this many days are pruned (0 keeps everything)",
      }),
      maxBatch: Type.Integer({
        minimum: 1,
        maximum: 10_000,
        default: 1_000,
        description: "most entries written in one group commit",
      }),
      startNewLog: Type.Boolean({
        default: false,
        description:
          "start with a new, empty log when the existing one is damaged or emptied (SQLite: the old files are moved aside, never deleted); for one start after an incident, not to leave on",
      }),
    }),
    auth: Section({
      keys: Type.Array(
        Section({
          id: Type.String({ pattern: ID }),
          scopes: Type.Array(Type.Enum([...SCOPES]), { minItems: 1, uniqueItems: true }),
          sha256: Type.String({ pattern: "^[0-9a-f]{64}$" }),
        }),
        { default: [] },
      ),
      apiKeySignIn: Type.Boolean({
        default: true,
        description:
          "whether the console's sign-in page takes an API key (a one-person setup); Bearer keys work either way",
      }),
      oidc: Type.Union([OIDC, Type.Null()], {
        default: null,
        description: "sign-in with OpenID Connect for the console (docs/console.md#signing-in)",
      }),
      sessions: SESSIONS,
    }),
    webhook: Section({
      secret: Type.Union([Type.String({ minLength: 16 }), Type.Null()], {
        default: null,
        description:
          "HMAC-SHA256 secret shared with the platform; null accepts unsigned deliveries",
      }),
      toleranceSeconds: Type.Integer({
        minimum: 1,
        maximum: 86_400,
        default: 300,
        description: "how old a signed timestamp may be, in seconds",
      }),
      replayCacheMax: Type.Integer({
        minimum: 1_000,
        maximum: 10_000_000,
        default: 100_000,
        description:
          "signed deliveries remembered for `toleranceSeconds`, so a replay under a new id is refused",
      }),
    }),
    limits: REQUEST_LIMITS,
    platform: Type.Union(
      [
        Section({
          url: Type.String({ pattern: HTTP_URL }),
          apiKey: Type.String({ minLength: 8 }),
          cacheTtlMs: Type.Integer({
            minimum: 0,
            maximum: 86_400_000,
            default: 600_000,
            description: "completed results kept in memory, by SHA-256",
          }),
          cacheMax: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 100_000 }),
        }),
        Type.Null(),
      ],
      {
        default: null,
        description:
          "the file-analysis platform: results fetched on a miss (`?refresh=true`) and by the sync",
      },
    ),
    virustotal: Type.Union(
      [
        Section({
          url: Type.String({ pattern: HTTP_URL, default: "https://www.virustotal.com" }),
          apiKey: Type.String({ minLength: 8 }),
          perMinute: Type.Integer({
            minimum: 1,
            maximum: 1_000_000,
            default: 4,
            description: "requests a minute the key allows (public keys: 4)",
          }),
          perDay: Type.Integer({
            minimum: 1,
            maximum: 1_000_000_000,
            default: 500,
            description: "requests a UTC day the key allows (public keys: 500)",
          }),
          maxWaitMs: Type.Integer({
            minimum: 0,
            maximum: 120_000,
            default: 0,
            description:
              "the most a request waits for the minute's quota before a 503 with Retry-After",
          }),
          cacheTtlMs: Type.Integer({
            minimum: 0,
            maximum: 86_400_000,
            default: 3_600_000,
            description: "reports kept in memory, by SHA-256",
          }),
          cacheMax: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 100_000 }),
        }),
        Type.Null(),
      ],
      {
        default: null,
        description:
          "VirusTotal v3: reports fetched on a miss, when the platform (if any) has no analysis",
      },
    ),
    sync: Section(
      {
        enabled: Type.Boolean({ default: false }),
        intervalMs: Type.Integer({ minimum: 1_000, maximum: 86_400_000, default: 300_000 }),
        lookbackDays: Type.Number({
          minimum: 0,
          maximum: 3_650,
          default: 30,
          description: "how far back the first run starts",
        }),
      },
      {
        description:
          "pull new results from the platform and decide them (for deployments without webhooks)",
      },
    ),
    reviews: Section(
      {
        enabled: Type.Boolean({
          default: true,
          description: "an enforced `review` decision opens a case, or joins the file's open one",
        }),
        approvalsRequired: Type.Integer({
          minimum: 1,
          maximum: 20,
          default: 1,
          description: "approvals that resolve a case with an exception for the file",
        }),
        broaderScopeApprovals: Type.Integer({
          minimum: 1,
          maximum: 20,
          default: 2,
          description:
            "approvals asking for a signer or vendor exception that resolve a case with one",
        }),
        rejectionVetoes: Type.Boolean({
          default: true,
          description:
            "one rejection resolves a case rejected; otherwise it takes as many as approvals",
        }),
        selfApproval: Type.Boolean({
          default: false,
          description: "whether a key that asked about a file may approve it",
        }),
        caseExpiry: Type.String({
          pattern: DURATION,
          default: "7d",
          description: "how long a case waits for an answer before it expires",
        }),
        caseScope: Type.Array(Type.String({ pattern: "^[A-Za-z_][A-Za-z0-9_]*$" }), {
          uniqueItems: true,
          default: [],
          description:
            "request-context fields that separate cases: a file asked about by two groups is two cases",
        }),
        exceptionExpiry: Section({
          default: Type.String({ pattern: DURATION, default: "90d" }),
          max: Type.String({ pattern: DURATION, default: "365d" }),
          allowNoExpiry: Type.Boolean({
            default: false,
            description: "whether an exception may never expire (`expires: null`)",
          }),
        }),
        sweepIntervalMs: Type.Integer({
          minimum: 100,
          maximum: 3_600_000,
          default: 10_000,
          description:
            "how often expired cases and exceptions are closed, and other replicas' votes read",
        }),
      },
      { description: "review cases, votes and exceptions (docs/reviews.md)" },
    ),
    console: Section(
      {
        enabled: Type.Boolean({
          default: true,
          description: "serve the web console at `/`; `false` answers 404 there",
        }),
      },
      {
        description:
          "the web console (docs/console.md): Reviews, Exceptions and Audit, over the HTTP API",
      },
    ),
    playground: Section(
      {
        workers: Type.Integer({
          minimum: 1,
          maximum: 16,
          default: 1,
          description:
            "threads compiling and running candidate rules; a request finding them all at work is answered 503",
        }),
        compileTimeoutMs: Type.Integer({
          minimum: 100,
          maximum: 600_000,
          default: 10_000,
          description: "longest compile and decision of candidate rules before the thread is ended",
        }),
        runTimeoutMs: Type.Integer({
          minimum: 1_000,
          maximum: 3_600_000,
          default: 120_000,
          description: "longest replay of a period before the thread is ended",
        }),
        maxRecords: Type.Integer({
          minimum: 1,
          maximum: 10_000_000,
          default: 100_000,
          description:
            "decisions of a period replayed at most; later ones are left out, and said so",
        }),
        changesLimit: Type.Integer({
          minimum: 1,
          maximum: 100_000,
          default: 1_000,
          description: "changed decisions listed in one answer at most",
        }),
        bodyLimit: Type.Integer({
          minimum: 1_024,
          maximum: 256 * 1024 * 1024,
          default: 4 * 1024 * 1024,
          description: "largest request body of the playground's endpoints, in bytes",
        }),
      },
      {
        description:
          "candidate rules tried in the console's Playground (docs/console.md): compiled and replayed on threads, never made live",
      },
    ),
    notifications: Section(
      {
        targets: Type.Array(
          Section({
            id: Type.String({ pattern: ID }),
            url: Type.String({ pattern: HTTP_URL }),
            secret: SECRET,
            decisions: Type.Array(Type.Enum(["allow", "deny", "review"]), {
              minItems: 1,
              uniqueItems: true,
              default: ["allow", "deny", "review"],
            }),
            sources: Type.Array(Type.Enum([...DECISION_SOURCES]), {
              uniqueItems: true,
              default: [],
            }),
            timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 5_000 }),
          }),
          { default: [] },
        ),
        retry: Section({
          baseDelayMs: Type.Integer({ minimum: 1, maximum: 3_600_000, default: 1_000 }),
          maxDelayMs: Type.Integer({ minimum: 1, maximum: 86_400_000, default: 300_000 }),
        }),
        pollMs: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 5_000 }),
        concurrency: Type.Integer({ minimum: 1, maximum: 256, default: 8 }),
      },
      {
        description:
          "decisions POSTed to other systems (a SIEM, a chat webhook, a ticketing system)",
      },
    ),
    siem: Section(
      {
        consoleUrl: Type.Union([Type.String({ pattern: HTTP_URL }), Type.Null()], {
          default: null,
          description:
            "the console's base URL, for links from events to their entries; null: `auth.oidc.publicUrl` when sign-in is set up, else no links",
        }),
        pollMs: Type.Integer({
          minimum: 10,
          maximum: 3_600_000,
          default: 1_000,
          description: "how often the log is read for new events when no write wakes delivery",
        }),
        readLimit: Type.Integer({
          minimum: 1,
          maximum: 100_000,
          default: 1_000,
          description: "entries read from the log at a time",
        }),
        cursorSaveMs: Type.Integer({
          minimum: 0,
          maximum: 60_000,
          default: 1_000,
          description:
            "while a sink is busy, its cursor is saved at most this often (always when it is caught up or stops); after a crash, what was acknowledged since is sent again, with the same ids",
        }),
        sinks: Type.Array(
          Section({
            name: Type.String({ pattern: ID, description: "names the sink in metrics and logs" }),
            format: Type.Enum([...SIEM_FORMATS], { description: "`ocsf`, `ecs` or `cef`" }),
            kinds: Type.Array(Type.Enum([...SIEM_EVENT_KINDS]), {
              uniqueItems: true,
              default: [],
              description: "the event kinds sent; empty for all",
            }),
            decisions: Type.Array(Type.Enum(["allow", "deny", "review"]), {
              uniqueItems: true,
              default: [],
              description: "decision events with these answers only; empty for all",
            }),
            rules: Type.Array(Type.String({ pattern: "^[A-Za-z0-9_*]{1,128}$" }), {
              uniqueItems: true,
              default: [],
              description:
                "decision events whose deciding rule matches one of these names (`*` matches any run of characters); empty for all",
            }),
            batch: Section({
              maxEvents: Type.Integer({ minimum: 1, maximum: 100_000, default: 500 }),
              maxBytes: Type.Integer({
                minimum: 1_024,
                maximum: 64 * 1024 * 1024,
                default: 1_048_576,
              }),
              lingerMs: Type.Integer({
                minimum: 0,
                maximum: 60_000,
                default: 50,
                description:
                  "once caught up, wait this long after a write for more before reading the log again, so that a busy log goes out in batches",
              }),
            }),
            retry: Section({
              baseDelayMs: Type.Integer({ minimum: 1, maximum: 3_600_000, default: 500 }),
              maxDelayMs: Type.Integer({ minimum: 1, maximum: 86_400_000, default: 60_000 }),
            }),
            deadLetterAfter: Type.String({
              pattern: DURATION,
              default: "7d",
              description:
                "an event its receiver has not acknowledged this long after it was recorded is set aside as a dead letter",
            }),
            transport: Type.Record(Type.String(), Type.Unknown(), {
              description:
                "where and how events go: `type` (`syslog`, `splunk-hec`, `https`, `nats`, `file`) and its keys (docs/siem.md)",
            }),
          }),
          { default: [] },
        ),
      },
      {
        description:
          "decision, review and rule-set events sent to SIEMs as OCSF, ECS or CEF (docs/siem.md)",
      },
    ),
    santa: Section(
      {
        enabled: Type.Boolean({
          default: false,
          description: "serve Santa's sync protocol under `/santa/v1/` (docs/endpoints.md)",
        }),
        groups: Type.Array(
          Section({
            name: Type.String({
              pattern: ID,
              description: "what the rules see as `context.group` for this group's machines",
            }),
            mode: Type.Enum(["monitor", "lockdown"], {
              default: "monitor",
              description:
                "the client mode the group's agents are told to run in: `monitor` allows what no rule covers, `lockdown` blocks it",
            }),
            tokens: Type.Array(Type.String({ pattern: "^[0-9a-f]{64}$" }), {
              default: [],
              uniqueItems: true,
              description:
                "SHA-256 (hex) of the enrollment tokens that register a new machine into this group on its first sync",
            }),
            batchSize: Type.Integer({
              minimum: 1,
              maximum: 1_000,
              default: 50,
              description: "events an agent uploads per request",
            }),
            fullSyncIntervalSeconds: Type.Integer({
              minimum: 60,
              maximum: 86_400,
              default: 600,
              description: "how often the group's agents sync",
            }),
            enableAllEventUpload: Type.Boolean({
              default: false,
              description:
                "agents upload every execution they decide, not only those blocked (or that lockdown would block)",
            }),
            eventDetailUrl: Type.Union([Type.String({ pattern: HTTP_URL }), Type.Null()], {
              default: null,
              description:
                "the page a user's block notification opens (Santa's placeholders, such as `%file_sha%`, allowed)",
            }),
          }),
          { default: [] },
        ),
        machines: Type.Array(
          Section({
            id: Type.String({ minLength: 1, maxLength: 128 }),
            group: Type.String({ pattern: ID }),
            sha256: Type.String({
              pattern: "^[0-9a-f]{64}$",
              description: "SHA-256 (hex) of the machine's own token",
            }),
          }),
          {
            default: [],
            description:
              "machines with tokens of their own: each may sync only as itself, in its group",
          },
        ),
        rulesPerDownload: Type.Integer({
          minimum: 1,
          maximum: 100_000,
          default: 5_000,
          description:
            "rules per RuleDownload answer; an agent asks again with the cursor for more",
        }),
        maxEventsPerUpload: Type.Integer({
          minimum: 1,
          maximum: 10_000,
          default: 1_000,
          description: "events one EventUpload may carry; more is refused whole",
        }),
        bodyLimit: Type.Integer({
          minimum: 1_024,
          maximum: 256 * 1024 * 1024,
          default: 8 * 1024 * 1024,
          description: "largest request body in bytes, compressed or once inflated",
        }),
        feedSigningKey: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
          default: null,
          description:
            "an Ed25519 private key (PEM file) that signs the allow and block lists (`/v1/feeds/`); null: lists are not signed",
        }),
        blockMessage: Type.Union([Type.String({ minLength: 1, maxLength: 500 }), Type.Null()], {
          default: null,
          description:
            "the message a user sees when a denied file is blocked; null: the deciding rule's reason",
        }),
      },
      {
        description:
          "a sync server for Santa agents: their executions decided by the rules, the answers sent back as Santa rules (docs/endpoints.md)",
      },
    ),
  },
  { $id: "https://clearance.dev/schemas/config.json", additionalProperties: false },
);

/** Everything the server can be told, after defaults are applied. Frozen. */
export type ServerConfig = Static<typeof CONFIG_SCHEMA>;

/** `limits`: see REQUEST_LIMITS. */
export type RequestLimits = Static<typeof REQUEST_LIMITS>;

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

/** The defaults: serve `rules/` on loopback with an SQLite log under `data/`. A new object. */
export function defaultConfig(): ServerConfig {
  return checkOptions(CONFIG_SCHEMA, {}, { freeze: false }).value;
}

/**
 * A problem in the words the configuration has always used (docs/configuration.md shows them, and
 * operators' scripts may match them): JSON Schema's, with the key path in front. Unknown keys are
 * in the shared form, with the keys that are known.
 */
function describeIssue(issue: Issue): string {
  const at = keyPath(issue.path);
  const s = issue.schema;
  switch (issue.kind) {
    case "unknown_key":
      return formatIssue(issue, "key");
    case "enum":
      return `\`${at}\` must be one of ${(s.enum ?? []).map((v) => `\`${String(v)}\``).join(", ")}`;
    case "required":
      return `\`${keyPath(issue.path.slice(0, -1)) || "(root)"}\` must have required property '${String(issue.path.at(-1))}'`;
    case "uniqueItems":
      return `\`${keyPath(issue.path.slice(0, -1))}\` must NOT have duplicate items (items ## ${issue.duplicateOf} and ${String(issue.path.at(-1))} are identical)`;
    case "type": {
      const type = typeof s.type === "string" ? s.type : "value";
      return `\`${at || "(root)"}\` must be ${issue.nullable ? `${type},null` : type}`;
    }
    case "anyOf":
      return `\`${at}\` must be ${(s.anyOf ?? []).map((b) => b.type).join(",")}`;
    case "minimum":
      return `\`${at}\` must be >= ${s.minimum}`;
    case "maximum":
      return `\`${at}\` must be <= ${s.maximum}`;
    case "minLength":
      return `\`${at}\` must NOT have fewer than ${s.minLength} characters`;
    case "pattern":
      return `\`${at}\` must match pattern "${s.pattern}"`;
    case "minItems":
      return `\`${at}\` must NOT have fewer than ${s.minItems} items`;
    default:
      return formatIssue(issue, "key");
  }
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
  // defaults are filled by the declaration, in sections, objects in lists and nullable sections
  // alike; a list that is set replaces the default list whole
  const { value: config, issues } = checkOptions(CONFIG_SCHEMA, substituted, { freeze: false });
  if (issues.length > 0) throw new ConfigError(issues.map(describeIssue));
  const base = options.baseDir ?? process.cwd();
  const path = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  config.rules.dir = path(config.rules.dir);
  if (config.shadow) config.shadow.rules = path(config.shadow.rules);
  config.audit.sqlite.path = path(config.audit.sqlite.path);
  if (config.santa.feedSigningKey !== null)
    config.santa.feedSigningKey = path(config.santa.feedSigningKey);
  for (const sink of config.siem.sinks) resolveTransportPaths(sink.transport, path);
  if (config.audit.backend === "postgres" && !config.audit.postgres.url)
    throw new ConfigError([
      "`audit.postgres.url` is required when `audit.backend` is `postgres` (for example `postgres://user@host/db`)",
    ]);
  if (config.sync.enabled && !config.platform)
    throw new ConfigError([
      "`sync.enabled` needs `platform` (its `url` and `apiKey`) to pull results from",
    ]);
  const r = config.reviews;
  for (const key of ["caseExpiry", "exceptionExpiry.default", "exceptionExpiry.max"] as const) {
    const text =
      key === "caseExpiry"
        ? r.caseExpiry
        : r.exceptionExpiry[key === "exceptionExpiry.max" ? "max" : "default"];
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0)
      throw new ConfigError([
        `\`reviews.${key}\`: \`${text}\` is not a duration (units from largest to smallest, each once: \`90d\`, \`1h30m\`)`,
      ]);
  }
  if (r.broaderScopeApprovals < r.approvalsRequired)
    throw new ConfigError([
      `\`reviews.broaderScopeApprovals\` (${r.broaderScopeApprovals}) is fewer than \`reviews.approvalsRequired\` (${r.approvalsRequired}): a signer or vendor exception would be easier to get than one file's`,
    ]);
  if (parseDuration(r.exceptionExpiry.default)! > parseDuration(r.exceptionExpiry.max)!)
    throw new ConfigError([
      `\`reviews.exceptionExpiry.default\` (${r.exceptionExpiry.default}) is longer than \`reviews.exceptionExpiry.max\` (${r.exceptionExpiry.max})`,
    ]);
  const targetIds = new Set<string>();
  for (const [i, t] of config.notifications.targets.entries()) {
    if (targetIds.has(t.id))
      throw new ConfigError([`\`notifications.targets[${i}].id\`: \`${t.id}\` is used twice`]);
    targetIds.add(t.id);
  }
  checkSanta(config);
  checkSiem(config);
  const ids = new Set<string>();
  for (const [i, key] of config.auth.keys.entries()) {
    if (ids.has(key.id))
      throw new ConfigError([`\`auth.keys[${i}].id\`: \`${key.id}\` is used twice`]);
    ids.add(key.id);
  }
  checkSignIn(config);
  return deepFreeze(config);
}

/**
 * Paths in a SIEM transport, relative to the configuration file like every path in it: a file
 * sink's `dir`, and `ca`, `cert` and `key` (at the top or under `tls`) when they name PEM files.
 */
function resolveTransportPaths(
  transport: Record<string, unknown>,
  path: (p: string) => string,
): void {
  const pem = (holder: Record<string, unknown>) => {
    for (const key of ["ca", "cert", "key"])
      if (
        typeof holder[key] === "string" &&
        !(holder[key] as string).trimStart().startsWith("-----BEGIN")
      )
        holder[key] = path(holder[key] as string);
  };
  if (transport.type === "file" && typeof transport.dir === "string")
    transport.dir = path(transport.dir);
  pem(transport);
  if (transport.tls !== null && typeof transport.tls === "object" && !Array.isArray(transport.tls))
    pem(transport.tls as Record<string, unknown>);
}

/** `santa`: group names unique, machines in groups that exist, no token given twice. */
function checkSanta(config: ServerConfig): void {
  const s = config.santa;
  const groups = new Set<string>();
  const tokens = new Map<string, string>();
  const taken = (sha: string, where: string) => {
    const first = tokens.get(sha);
    if (first !== undefined)
      throw new ConfigError([
        `\`${where}\`: the same token is also \`${first}\`: each token names one group or machine`,
      ]);
    tokens.set(sha, where);
  };
  for (const [i, g] of s.groups.entries()) {
    if (groups.has(g.name))
      throw new ConfigError([`\`santa.groups[${i}].name\`: \`${g.name}\` is used twice`]);
    groups.add(g.name);
    for (const [j, sha] of g.tokens.entries()) taken(sha, `santa.groups[${i}].tokens[${j}]`);
  }
  const machines = new Set<string>();
  for (const [i, m] of s.machines.entries()) {
    if (!groups.has(m.group))
      throw new ConfigError([
        `\`santa.machines[${i}].group\`: no group \`${m.group}\` in \`santa.groups\`${groups.size > 0 ? ` (groups: ${[...groups].map((g) => `\`${g}\``).join(", ")})` : ""}`,
      ]);
    if (machines.has(m.id))
      throw new ConfigError([`\`santa.machines[${i}].id\`: \`${m.id}\` is used twice`]);
    machines.add(m.id);
    taken(m.sha256, `santa.machines[${i}].sha256`);
  }
  if (s.enabled && s.groups.length === 0)
    throw new ConfigError([
      "`santa.enabled` needs at least one group in `santa.groups` (its `name` and enrollment `tokens`)",
    ]);
}

/** `siem`: sink names unique, durations that parse, transports their own checks accept. */
function checkSiem(config: ServerConfig): void {
  const names = new Set<string>();
  for (const [i, sink] of config.siem.sinks.entries()) {
    if (names.has(sink.name))
      throw new ConfigError([`\`siem.sinks[${i}].name\`: \`${sink.name}\` is used twice`]);
    names.add(sink.name);
    if (!(parseDuration(sink.deadLetterAfter)! > 0))
      throw new ConfigError([
        `\`siem.sinks[${i}].deadLetterAfter\`: \`${sink.deadLetterAfter}\` is not a duration (units from largest to smallest, each once: \`7d\`, \`1h30m\`)`,
      ]);
    try {
      parseTransportOptions(sink.transport, `siem.sinks[${i}].transport`);
    } catch (error) {
      throw new ConfigError([(error as Error).message]);
    }
  }
}

/** A URL's host is loopback: plain http to it never leaves the machine. */
function loopbackUrl(url: string): boolean {
  try {
    return isLoopback(new URL(url).hostname);
  } catch {
    return false;
  }
}

/** `auth.oidc` and `auth.sessions`: what their declaration cannot say. */
function checkSignIn(config: ServerConfig): void {
  const s = config.auth.sessions;
  for (const key of ["ttl", "idleTimeout"] as const)
    if (!(parseDuration(s[key])! > 0))
      throw new ConfigError([
        `\`auth.sessions.${key}\`: \`${s[key]}\` is not a duration (units from largest to smallest, each once: \`8h\`, \`1h30m\`)`,
      ]);
  const oidc = config.auth.oidc;
  if (oidc === null) return;
  for (const key of ["issuer", "publicUrl"] as const) {
    let url: URL;
    try {
      url = new URL(oidc[key]);
    } catch {
      throw new ConfigError([`\`auth.oidc.${key}\`: \`${oidc[key]}\` is not a URL`]);
    }
    if (url.protocol !== "https:" && !loopbackUrl(oidc[key]))
      throw new ConfigError([
        `\`auth.oidc.${key}\`: \`${oidc[key]}\` is not https; plain http is allowed only to a loopback address`,
      ]);
    if (key === "publicUrl" && (url.search !== "" || url.hash !== ""))
      throw new ConfigError([
        `\`auth.oidc.publicUrl\`: \`${oidc[key]}\` has a query or fragment; give the console's base URL`,
      ]);
  }
  const entries = Object.entries(oidc.roles as Record<string, unknown>);
  if (entries.length === 0)
    throw new ConfigError([
      "`auth.oidc.roles` is empty: map at least one value of the roles claim to Clearance scopes, e.g. `clearance-reviewers: [review, audit:read]`",
    ]);
  const known = SCOPES as readonly string[];
  for (const [role, scopes] of entries) {
    const at = `auth.oidc.roles.${role}`;
    if (!Array.isArray(scopes) || scopes.length === 0)
      throw new ConfigError([`\`${at}\` must be a non-empty list of scopes`]);
    for (const [i, scope] of scopes.entries())
      if (typeof scope !== "string" || !known.includes(scope))
        throw new ConfigError([
          `\`${at}[${i}]\`: \`${String(scope)}\` is not a scope; the scopes are ${known.map((k) => `\`${k}\``).join(", ")}`,
        ]);
  }
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
