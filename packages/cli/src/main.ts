import { Command, CommanderError, Option } from "commander";
import {
  collect,
  exitCode,
  nonNegativeInt,
  parseDurationArg,
  parseFailOn,
  percent,
  port,
  positiveInt,
} from "./args.js";
import type { Env } from "./commands/serve.js";
import { CliError, type Output } from "./output.js";
import { DEFAULT_SERVER } from "./server-api.js";
import { VERSION } from "./version.js";

// Each command's module is imported when the command runs: building the tree, `--help` and
// `--version` load none of the engine, the server or the client (bench/cli measures this).
const commands = {
  audit: () => import("./commands/audit.js"),
  check: () => import("./commands/check.js"),
  dryRun: () => import("./commands/dry-run.js"),
  eval: () => import("./commands/eval.js"),
  fmt: () => import("./commands/fmt.js"),
  gate: () => import("./commands/gate.js"),
  keys: () => import("./commands/keys.js"),
  lsp: () => import("./commands/lsp.js"),
  pull: () => import("./commands/pull.js"),
  reviews: () => import("./commands/reviews.js"),
  serve: () => import("./commands/serve.js"),
  siem: () => import("./commands/siem.js"),
  sim: () => import("./commands/sim.js"),
  test: () => import("./commands/test.js"),
  tour: () => import("./commands/tour.js"),
};

/**
 * A required option, checked after the unknown ones: commander checks required options first, so
 * `eval --inptu x` said that `--input` was missing instead of naming the misspelt option.
 */
function required(flags: string, description: string): Option {
  const option = new Option(flags, description);
  REQUIRED.add(option);
  return option;
}
const REQUIRED = new WeakSet<Option>();

function checkRequired(_program: Command, command: Command): void {
  for (const option of command.options)
    if (REQUIRED.has(option) && command.getOptionValue(option.attributeName()) === undefined)
      command.error(`error: required option '${option.flags}' not specified`, {
        code: "commander.missingMandatoryOptionValue",
      });
}

/** Builds the command tree. Each action stores its exit code; nothing here touches `process`. */
export function buildProgram(
  output: Output,
  setExit: (code: number) => void,
  env: Env = {},
): Command {
  const program = new Command("clearance")
    .description(
      "Clearance: approval rules for file-analysis results (allow, deny or review, with the rule and the reason)",
    )
    .version(VERSION)
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (s) => output.out(s.trimEnd()),
      writeErr: (s) => output.err(s.trimEnd()),
    })
    .exitOverride()
    .hook("preAction", checkRequired);

  program
    .command("check")
    .description("parse and type-check a rule directory; exit 1 on errors")
    .argument("[dir]", "rule directory", "rules")
    .addOption(
      new Option("--format <format>", "output format").choices(["text", "json"]).default("text"),
    )
    .option("--now <timestamp>", "evaluate expiry warnings at this time")
    .option(
      "--emit-js",
      "print the JavaScript the rules compile to on standard output (the summary goes to standard error)",
    )
    .option("--deny-warnings", "exit 1 when there are warnings too (for CI)")
    .addHelpText(
      "after",
      "\nExamples:\n  clearance check rules/\n  clearance check rules/ --format json\n  clearance check rules/ --deny-warnings\n  clearance check rules/ --emit-js > rules.js",
    )
    .action(async (dir: string, opts) =>
      setExit((await commands.check()).checkCommand(output, dir, opts)),
    );

  program
    .command("fmt")
    .description("rewrite rule files in the canonical layout (comments kept)")
    .argument("[paths...]", "files or directories", [])
    .option("--check", "list files that would change and exit 1, without writing", false)
    .addHelpText("after", "\nExamples:\n  clearance fmt\n  clearance fmt --check rules/")
    .action(async (paths: string[], opts) =>
      setExit((await commands.fmt()).fmtCommand(output, paths, opts)),
    );

  program
    .command("eval")
    .description("decide one analysis result and say why")
    .addOption(
      required(
        "-i, --input <file>",
        "analysis result (canonical JSON or a VirusTotal file object), or a list of them",
      ),
    )
    .option("-r, --rules <dir>", "rule directory", "rules")
    .option("-c, --context <file>", "request context as JSON")
    .option("--now <timestamp>", "evaluation time (RFC 3339)")
    .option("--explain", "show every rule's outcome and every condition's value", false)
    .addOption(
      new Option("--format <format>", "input format (detected when omitted)").choices([
        "canonical",
        "virustotal",
      ]),
    )
    .option("--json", "machine-readable output", false)
    .option(
      "--show-input",
      "print the canonical record the input became (and the adapter's warnings) before the decision",
      false,
    )
    .option(
      "--max-input-bytes <n>",
      "largest input file read, in bytes (default 1048576)",
      positiveInt,
    )
    .addHelpText(
      "after",
      "\nExamples:\n  clearance eval --input examples/results/malware.json --explain\n  clearance eval -i report.json --format virustotal --json\n  clearance eval -i search.json     # a VirusTotal search answer: each file decided",
    )
    .action(async (opts) => setExit((await commands.eval()).evalCommand(output, opts)));

  program
    .command("test")
    .description("run the YAML tests beside the rules and report rule and condition coverage")
    .argument("[dir]", "rule directory (tests are its *.test.yaml files)", "rules")
    .option(
      "--coverage",
      "also report condition coverage: each condition never true or never false in the tests",
      false,
    )
    .option("--min-coverage <percent>", "fail when fewer rules are matched by a test", percent)
    .option(
      "--min-condition-coverage <percent>",
      "fail when fewer condition outcomes (true and false of each) are seen (implies --coverage)",
      percent,
    )
    .option("--json", "machine-readable report", false)
    .addHelpText(
      "after",
      "\nExamples:\n  clearance test\n  clearance test rules/ --min-coverage 100\n  clearance test rules/ --coverage --min-condition-coverage 90",
    )
    .action(async (dir: string, opts) =>
      setExit((await commands.test()).testCommand(output, dir, opts)),
    );

  program
    .command("dry-run")
    .description(
      "decide historical records with the rules (and a baseline) and report what would change",
    )
    .option("-r, --rules <dir>", "candidate rule directory", "rules")
    .option(
      "-f, --from <source...>",
      "NDJSON (.gz), JSON array, directory, - for stdin, audit:<sqlite file> or a postgres:// URL (an audit log), platform (its results), virustotal:<file of MD5s, SHA-1s or SHA-256s> (reports from VirusTotal: $CLEARANCE_VT_KEY); several allowed",
      [],
    )
    .option(
      "-b, --baseline <ref-or-dir>",
      "baseline rules: a git ref of the rules' repository or a directory",
    )
    .option("-c, --context <file>", "request context as JSON, for every record")
    .option("--now <timestamp>", "evaluation time for every record (RFC 3339; default: now)")
    .option("-w, --workers <n>", "threads deciding in parallel (this one included)", positiveInt, 1)
    .option(
      "--report <file>",
      "write a report: .md (pull-request summary), .json (full), .html (charts); repeatable",
      collect,
      [],
    )
    .option("--decisions <file>", "one line per record: .ndjson or .csv")
    .option(
      "--fail-on <transitions>",
      "exit 3 when any of these happen, e.g. allow->deny,review->allow",
      parseFailOn,
    )
    .option("--strict", "stop at the first malformed or invalid record", false)
    .option("--limit <n>", "read at most this many records", positiveInt)
    .option(
      "--max-input-bytes <n>",
      "largest record read, in bytes (default 1048576); a larger one is counted malformed",
      positiveInt,
    )
    .option(
      "--since <time>",
      "audit-log and platform sources: from this time (RFC 3339, or 30d, 12h ago; platform default 30d)",
    )
    .option("--until <time>", "audit-log and platform sources: before this time")
    .addOption(
      new Option("--format <format>", "input format (detected per record when omitted)").choices([
        "canonical",
        "virustotal",
      ]),
    )
    .option("--no-progress", "no progress line")
    .option(
      "--santa",
      "with an audit-log source: the Santa rules the candidate would add or remove, and the machines that reported those files",
      false,
    )
    .option(
      "--no-exceptions",
      "replay without the exceptions kept with the rules (exceptions.json); by default they apply",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  clearance dry-run --from examples/history/ --baseline main --report impact.md\n  clearance dry-run -r examples/rules-tightened -b rules --from examples/history/history.ndjson --report out.html --fail-on 'allow->deny'\n  clearance dry-run -r examples/rules-tightened --from audit:data/audit.db --since 30d\n  CLEARANCE_VT_KEY=... clearance dry-run --from virustotal:hashes.txt\n\nVirusTotal: the key from $CLEARANCE_VT_KEY (or $VT_API_KEY), the URL from $CLEARANCE_VT_URL (default https://www.virustotal.com), quotas from $CLEARANCE_VT_QUOTA (`public`: 4 a minute, 500 a day, the default; or `<per minute>/<per day>` for a premium key). Hashes VirusTotal never saw, still queued or left when the day's quota ran out are listed on standard error, never decided.\n\nExit codes: 0 ok, 3 a --fail-on transition happened, 1 error.",
    )
    .action(async (opts) =>
      setExit(await (await commands.dryRun()).dryRunCommand(output, opts, env)),
    );

  program
    .command("tour")
    .description(
      "check the rules, run their tests and decide every example (what `pnpm tour` runs)",
    )
    .option("-r, --rules <dir>", "rule directory", "rules")
    .option("-e, --examples <dir>", "directory of example results", "examples")
    .option("-c, --context <file>", "request context as JSON")
    .option("--now <timestamp>", "evaluation time (RFC 3339)")
    .action(async (opts) => setExit((await commands.tour()).tourCommand(output, opts)));

  program
    .command("serve")
    .description("serve decisions over HTTP with an audit log (the README's main job)")
    .option("-c, --config <file>", "configuration (YAML); default: clearance.yaml when present")
    .option("--host <host>", "listen address (overrides server.host)")
    .option("--port <port>", "listen port (overrides server.port)", port)
    .option("-r, --rules <dir>", "rule directory (overrides rules.dir)")
    .option(
      "--platform <url>",
      "fetch unknown files' results from this platform (overrides platform.url; key: platform.apiKey or $CLEARANCE_PLATFORM_KEY)",
    )
    .option(
      "--new-log",
      "when the audit log is damaged or emptied, move it aside and start a new one (audit.startNewLog)",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  clearance serve\n  clearance serve --config clearance.yaml\n  clearance serve --config examples/configs/with-sim.yaml --port 8082 --platform http://127.0.0.1:9091\n\nSIGHUP reloads the rules; SIGTERM finishes in-flight requests and stops.",
    )
    .action(async (opts) =>
      setExit(await (await commands.serve()).serveCommand(output, opts, env)),
    );

  program
    .command("lsp")
    .description("the language server for editors, over standard input and output")
    .option(
      "-r, --rules <dir>",
      "rule directory (default: found from each file opened: the directories of .rules files above it)",
    )
    .option(
      "--docs-url <url>",
      "URL of docs/diagnostics.md that diagnostics' codes link to (default: the page in this checkout)",
    )
    .option("--stdio", "talk over standard input and output (the only transport; editors pass it)")
    .addHelpText(
      "after",
      "\nExamples:\n  clearance lsp\n  clearance lsp --rules rules\n\nSee docs/editors.md.",
    )
    .action(async (opts) => setExit(await (await commands.lsp()).lspCommand(opts)));

  const keys = program.command("keys").description("API keys for the server");
  keys
    .command("create")
    .description("print a new API key once, and the config line with its hash")
    .addOption(required("--id <id>", "key id (recorded as the requester of each decision)"))
    .option(
      "--scopes <scopes>",
      "comma-separated: decide, audit:read, review, exceptions, admin",
      collect,
      [] as string[],
    )
    .addHelpText(
      "after",
      "\nExamples:\n  clearance keys create --id ci --scopes decide\n  clearance keys create --id soc --scopes decide,audit:read",
    )
    .action(async (opts) =>
      setExit(
        (await commands.keys()).keysCreateCommand(output, {
          id: opts.id,
          scopes: opts.scopes.length ? opts.scopes : ["decide"],
        }),
      ),
    );

  const siem = program
    .command("siem")
    .description("events for SIEMs: check a configured sink (docs/siem.md)");
  siem
    .command("test")
    .description(
      "send one sample event of each kind to a configured sink and say what happened; exit 1 if any failed",
    )
    .addOption(required("--sink <name>", "the sink's `name` in `siem.sinks`"))
    .option("-c, --config <file>", "server configuration; default: clearance.yaml when present")
    .option("--timeout-ms <n>", "how long each event may take", positiveInt, 10_000)
    .option("--json", "machine-readable output", false)
    .addHelpText(
      "after",
      "\nExamples:\n  clearance siem test --sink splunk\n  clearance siem test --sink archive -c /etc/clearance/clearance.yaml --json",
    )
    .action(async (opts) =>
      setExit(await (await commands.siem()).siemTestCommand(output, opts, env)),
    );
  siem
    .command("dead-letters")
    .description(
      "how many events each SIEM sink set aside, or with --sink those events, oldest first, and why",
    )
    .option("--sink <name>", "list this sink's dead letters")
    .option("-c, --config <file>", "server configuration; default: clearance.yaml when present")
    .option("--db <file>", "an SQLite audit database (instead of the configured log)")
    .option("-n, --limit <n>", "at most this many", positiveInt, 100)
    .option("--json", "machine-readable output", false)
    .action(async (opts) =>
      setExit(await (await commands.siem()).siemDeadLettersCommand(output, opts, env)),
    );

  const audit = program
    .command("audit")
    .description("read and check the audit log (the server's configuration says where it is)");
  const withStore = (c: Command) =>
    c
      .option("-c, --config <file>", "server configuration; default: clearance.yaml when present")
      .option("--db <file>", "an SQLite audit database (instead of the configured log)");
  const withFilters = (c: Command) =>
    c
      .option("--sha256 <hash>", "one file")
      .addOption(new Option("--decision <d>", "one outcome").choices(["allow", "deny", "review"]))
      .option("--rule <name>", "decided by this rule")
      .addOption(
        new Option("--source <s>", "how the decision was asked for").choices([
          "api",
          "batch",
          "webhook",
          "gate",
          "sync",
        ]),
      )
      .option("--requester <key-id>", "asked with this API key")
      .option("--file-name <text>", "the file name contains this text (ASCII letters in any case)")
      .option("--since <time>", "from this time (RFC 3339, or 30d, 12h, 15m ago)")
      .option("--until <time>", "before this time");
  withStore(
    audit
      .command("verify")
      .description(
        "recompute every chain's hashes and check the file; exit 3 at the first broken link or damage",
      )
      .option("--json", "machine-readable report", false),
  ).action(async (opts) =>
    setExit(await (await commands.audit()).auditVerifyCommand(output, opts, env)),
  );
  withFilters(
    withStore(
      audit
        .command("export")
        .description("entries with their input snapshots as NDJSON, oldest first")
        .option("-o, --out <file>", "write to a file instead of standard output")
        .option("--no-inputs", "leave the input snapshots out")
        .option(
          "--kind <kind>",
          "entries of this kind: decision (the default), review_case, review_vote, exception, or all of them",
        ),
    ),
  ).action(async (opts) =>
    setExit(await (await commands.audit()).auditExportCommand(output, opts, env)),
  );
  withFilters(
    withStore(
      audit
        .command("query")
        .description("matching entries, newest first")
        .option("-n, --limit <n>", "at most this many", positiveInt, 50)
        .option("--json", "machine-readable output", false),
    ),
  ).action(async (opts) =>
    setExit(await (await commands.audit()).auditQueryCommand(output, opts, env)),
  );
  withFilters(
    withStore(
      audit
        .command("tail")
        .description("the last entries; --follow prints new ones as they are recorded")
        .option("-n, --lines <n>", "how many", positiveInt, 20)
        .option("-f, --follow", "keep printing new entries", false),
    ),
  ).action(async (opts) =>
    setExit(await (await commands.audit()).auditTailCommand(output, opts, env)),
  );

  program
    .command("gate")
    .description(
      "CI gate: upload files the platform does not know, wait for the analyses, decide each file",
    )
    .argument("<files...>", "files to check")
    .option("-r, --rules <dir>", "decide locally with these rules (default rules/)")
    .option("-s, --server <url>", "decide through a Clearance server (recorded with source gate)")
    .option("--platform <url>", "the platform (default: $CLEARANCE_PLATFORM_URL)")
    .option("-c, --context <file>", "request context as JSON")
    .option(
      "--timeout <duration>",
      "deadline for the whole run (uploads, analyses, decisions, slow answers included)",
      (v) => parseDurationArg(v, "--timeout"),
      300_000,
    )
    .option("--review-exit <code>", "exit code when a file needs review", exitCode, 3)
    .option(
      "--wait-review <duration>",
      "with --server: wait up to this long per file for its review case to be resolved, and report the file's new decision",
      (v) => parseDurationArg(v, "--wait-review"),
    )
    .option("--json", "machine-readable output", false)
    .addHelpText(
      "after",
      "\nThe platform key comes from $CLEARANCE_PLATFORM_KEY, the server key (if it needs one) from\n$CLEARANCE_SERVER_KEY. On GitHub Actions each file also gets an annotation.\n\nExamples:\n  clearance gate dist/app.exe --rules rules\n  clearance gate build/*.msi --server https://clearance.internal --timeout 10m\n  clearance gate dist/tool.exe --server https://clearance.internal --wait-review 30m --timeout 40m\n\nExit codes: 0 every file allowed, 2 a file denied, 3 (or --review-exit) a file needs review,\n1 anything failed (never 0 then).",
    )
    .action(async (files: string[], opts) =>
      setExit(
        await (await commands.gate()).gateCommand(
          output,
          files,
          {
            timeoutMs: opts.timeout,
            reviewExit: opts.reviewExit,
            json: opts.json,
            ...(opts.rules ? { rules: opts.rules } : {}),
            ...(opts.server ? { server: opts.server } : {}),
            ...(opts.platform ? { platform: opts.platform } : {}),
            ...(opts.context ? { context: opts.context } : {}),
            ...(opts.waitReview === undefined ? {} : { waitReviewMs: opts.waitReview }),
          },
          env,
        ),
      ),
    );

  const withServer = (c: Command) =>
    c.option(
      "-s, --server <url>",
      `the Clearance server (default: $CLEARANCE_SERVER_URL, else ${DEFAULT_SERVER}; key: $CLEARANCE_SERVER_KEY)`,
    );
  const SERVER_HELP =
    "\nThe server is --server, else $CLEARANCE_SERVER_URL, else clearance serve's default address; its key\n(if it needs one) comes from $CLEARANCE_SERVER_KEY. Without keys (loopback), name yourself with --as.";

  const reviews = program
    .command("reviews")
    .description("review cases: list them, show one, approve or reject it (through a server)");
  withServer(
    reviews
      .command("list")
      .description("review cases, oldest first: open ones by default")
      .addOption(
        new Option("--status <status>", "which cases")
          .choices(["open", "resolved", "withdrawn", "expired", "all"])
          .default("open"),
      )
      .option("--sha256 <hash>", "one file's cases")
      .option("--rule <name>", "opened by this rule's decision")
      .option("--older-than <duration>", "open at least this long (1h, 2d)")
      .option("-n, --limit <n>", "at most this many", positiveInt, 100)
      .option("--json", "machine-readable output", false)
      .addHelpText(
        "after",
        "\nExamples:\n  clearance reviews list\n  clearance reviews list --older-than 2d --server https://clearance.internal",
      ),
  ).action(async (opts) =>
    setExit(await (await commands.reviews()).reviewsListCommand(output, opts, env)),
  );
  withServer(
    reviews
      .command("show")
      .description("one case: its decision, reason, votes, requests and what it waits for")
      .argument("<id>", "the case id")
      .option("--json", "machine-readable output", false),
  ).action(async (id: string, opts) =>
    setExit(await (await commands.reviews()).reviewsShowCommand(output, id, opts, env)),
  );
  withServer(
    reviews
      .command("approve")
      .description(
        "vote to approve a case; enough approvals make an exception and decide the file again",
      )
      .argument("<id>", "the case id")
      .addOption(required("--justification <text>", "why (recorded in the audit log)"))
      .addOption(
        new Option("--kind <kind>", "what the exception covers (default file)").choices([
          "file",
          "signer",
          "vendor",
        ]),
      )
      .option(
        "--expires <when>",
        "when the exception ends: RFC 3339, a duration from now (30d), or never",
      )
      .option("--as <name>", "who votes, on a server without API keys")
      .option("--json", "machine-readable output", false)
      .addHelpText(
        "after",
        `${SERVER_HELP}\n\nExamples:\n  clearance reviews approve <id> --justification "the PDF tool finance asked for" --expires 30d\n  clearance reviews approve <id> --justification "signed by our build key" --kind signer`,
      ),
  ).action(async (id: string, opts) =>
    setExit(await (await commands.reviews()).reviewsVoteCommand(output, "approve", id, opts, env)),
  );
  withServer(
    reviews
      .command("reject")
      .description("vote to reject a case; a rejection blocks the file")
      .argument("<id>", "the case id")
      .addOption(required("--justification <text>", "why (recorded in the audit log)"))
      .option("--as <name>", "who votes, on a server without API keys")
      .option("--json", "machine-readable output", false)
      .addHelpText(
        "after",
        `${SERVER_HELP}\n\nExamples:\n  clearance reviews reject <id> --justification "unknown uploader, no ticket"`,
      ),
  ).action(async (id: string, opts) =>
    setExit(await (await commands.reviews()).reviewsVoteCommand(output, "reject", id, opts, env)),
  );

  const exceptions = program
    .command("exceptions")
    .description("exceptions: list, add, revoke and export them (through a server)");
  withServer(
    exceptions
      .command("list")
      .description("exceptions, newest first: those in force by default")
      .addOption(
        new Option("--state <state>", "which exceptions")
          .choices(["active", "revoked", "expired", "all"])
          .default("active"),
      )
      .option("--sha256 <hash>", "one file's exceptions")
      .addOption(
        new Option("--kind <kind>", "what they cover").choices(["file", "signer", "vendor"]),
      )
      .option("--case <id>", "the exception a review case yielded")
      .option("--json", "machine-readable output", false),
  ).action(async (opts) =>
    setExit(await (await commands.reviews()).exceptionsListCommand(output, opts, env)),
  );
  withServer(
    exceptions
      .command("add")
      .description("create an exception directly (needs the `exceptions` scope)")
      .addOption(
        required("--status <status>", "approved or rejected").choices(["approved", "rejected"]),
      )
      .option("--sha256 <hash>", "scope: one file")
      .option("--signer <thumbprint>", "scope: files signed with this certificate")
      .option("--vendor <name>", "scope: this vendor's product (with --product)")
      .option("--product <name>", "the product, with --vendor")
      .option(
        "--context <field=value>",
        "only for requests whose context has this value; repeatable",
        collect,
        [] as string[],
      )
      .option(
        "--expires <when>",
        "when it ends: RFC 3339, a duration from now (30d), or never (default: reviews.exceptionExpiry.default)",
      )
      .addOption(required("--justification <text>", "why (recorded in the audit log)"))
      .option("--as <name>", "who creates it, on a server without API keys")
      .option("--json", "machine-readable output", false)
      .addHelpText(
        "after",
        `${SERVER_HELP}\n\nExamples:\n  clearance exceptions add --status approved --sha256 <hash> --expires 30d --justification "vendor hotfix, ticket 4711"\n  clearance exceptions add --status rejected --vendor "Acme" --product "Toolbar" --justification "adware"`,
      ),
  ).action(async (opts) =>
    setExit(await (await commands.reviews()).exceptionsAddCommand(output, opts, env)),
  );
  withServer(
    exceptions
      .command("revoke")
      .description("end an exception before it expires; its file is decided again")
      .argument("<id>", "the exception id")
      .addOption(required("--justification <text>", "why (recorded in the audit log)"))
      .option("--as <name>", "who revokes it, on a server without API keys")
      .option("--json", "machine-readable output", false),
  ).action(async (id: string, opts) =>
    setExit(await (await commands.reviews()).exceptionsRevokeCommand(output, id, opts, env)),
  );
  withServer(
    exceptions
      .command("export")
      .description(
        "the exceptions in force as JSON records that ExceptionSet loads, sorted by id (for git)",
      )
      .option("-o, --out <file>", "write to a file instead of standard output")
      .addHelpText("after", "\nExamples:\n  clearance exceptions export --out exceptions.json"),
  ).action(async (opts) =>
    setExit(await (await commands.reviews()).exceptionsExportCommand(output, opts, env)),
  );

  program
    .command("pull")
    .description(
      "append the platform's results to an NDJSON file, continuing where the last pull stopped",
    )
    .addOption(required("-o, --out <file>", "the NDJSON file (feeds clearance dry-run --from)"))
    .option("--since <time>", "where a first pull starts (RFC 3339, or 30d, 12h ago; default 30d)")
    .option("--state <file>", "where the pull remembers its place (default <out>.state.json)")
    .option("--platform <url>", "the platform (default: $CLEARANCE_PLATFORM_URL)")
    .option("--force", "start over, overwriting --out", false)
    .addOption(
      new Option("--source <source>", "where the results come from")
        .choices(["platform", "virustotal"])
        .default("platform"),
    )
    .option(
      "--hashes <file>",
      "--source virustotal: the MD5s, SHA-1s or SHA-256s to look up, one a line",
    )
    .addHelpText(
      "after",
      "\nThe platform key comes from $CLEARANCE_PLATFORM_KEY (scope files.read). VirusTotal's from $CLEARANCE_VT_KEY (or $VT_API_KEY), its URL from $CLEARANCE_VT_URL (default https://www.virustotal.com), its quotas from $CLEARANCE_VT_QUOTA (`public`, the default: 4 a minute, 500 a day; or `<per minute>/<per day>`).\n\nExamples:\n  clearance pull --since 30d --out history.ndjson\n  clearance pull --source virustotal --hashes hashes.txt --out vt.ndjson\n  clearance dry-run --from history.ndjson --baseline main",
    )
    .action(async (opts) => setExit(await (await commands.pull()).pullCommand(output, opts, env)));

  program
    .command("sim")
    .description("run the platform simulator (uploads, analyses, results, webhooks, faults)")
    .option("--host <host>", "listen address", "127.0.0.1")
    .option("--port <port>", "listen port", port, 9090)
    .option("--seed-files <n>", "completed analyses present from the start", nonNegativeInt, 0)
    .option("--delay <ms>", "how long an analysis takes", nonNegativeInt, 2000)
    .option("--seed <n>", "seed of the generated results", nonNegativeInt, 42)
    .option(
      "--webhook <url>",
      "deliver analysis webhooks here (signed with $CLEARANCE_WEBHOOK_SECRET)",
    )
    .option(
      "--virustotal",
      "also serve VirusTotal v3 `GET /api/v3/files/{md5|sha1|sha256}` (public key sim_vt_key: 4 a minute, 500 a day)",
      false,
    )
    .addHelpText(
      "after",
      "\nExamples:\n  clearance sim --seed-files 500\n  clearance sim --seed-files 20 --virustotal\n  CLEARANCE_WEBHOOK_SECRET=... clearance sim --webhook http://127.0.0.1:8080/v1/webhooks/platform",
    )
    .action(async (opts) =>
      setExit(
        await (await commands.sim()).simCommand(
          output,
          {
            host: opts.host,
            port: opts.port,
            seedFiles: opts.seedFiles,
            delayMs: opts.delay,
            seed: opts.seed,
            virustotal: opts.virustotal === true,
            ...(opts.webhook ? { webhook: opts.webhook } : {}),
          },
          env,
        ),
      ),
    );

  return program;
}

/** Runs the CLI; returns the exit code. */
/** `env` is the process environment, read only for `${NAME}` substitution in configuration files. */
export async function main(argv: string[], output: Output, env: Env = {}): Promise<number> {
  let code = 0;
  const program = buildProgram(
    output,
    (c) => {
      code = c;
    },
    env,
  );
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 1;
    if (error instanceof CliError) {
      output.err(`error: ${error.message}`);
      if (error.hint) output.err(`hint: ${error.hint}`);
      return error.exitCode;
    }
    throw error;
  }
}
