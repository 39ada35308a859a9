// The two sides against each other: what the agent writes, the server reads back as it was, and
// what the server writes, the agent reads back as it was (fast-check, through JSON text as on the
// wire). Then the writers' exact form, which is protobuf's: JSON names, field-number order, zero
// values left out. And no reader throws, whatever JSON it is given.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AGENT_DECISIONS,
  type AgentEvent,
  CLIENT_MODES,
  type EventUploadRequest,
  eventUploadRequestJson,
  eventUploadResponseJson,
  POLICIES,
  type PostflightRequest,
  type PreflightRequest,
  type PreflightResponse,
  postflightRequestJson,
  preflightRequestJson,
  preflightResponseJson,
  type RuleDownloadResponse,
  type RuleType,
  readEventUploadRequest,
  readEventUploadResponse,
  readPostflightRequest,
  readPreflightRequest,
  readPreflightResponse,
  readRuleDownloadRequest,
  readRuleDownloadResponse,
  ruleDownloadRequestJson,
  ruleDownloadResponseJson,
  type SantaRule,
  SIGNING_STATUSES,
  SYNC_TYPES,
} from "../src/index.js";

/** Through JSON text, as a message crosses the wire. */
const wire = (message: Record<string, unknown>): unknown => JSON.parse(JSON.stringify(message));

const uint32 = fc.nat({ max: 2 ** 32 - 1 });
const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
// JSON has no -0: it reads back as 0, which is the same value to protobuf
const double = fc
  .double({ noNaN: true, noDefaultInfinity: true })
  .map((n) => (Object.is(n, -0) ? 0 : n));
const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: length, maxLength: length });
const sha256 = hex(64);
const teamId = fc.string({
  unit: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
  minLength: 10,
  maxLength: 10,
});
const nonEmpty = fc.string({ minLength: 1 });

const preflightRequest: fc.Arbitrary<PreflightRequest> = fc.record({
  serialNumber: fc.string(),
  hostname: fc.string(),
  osVersion: fc.string(),
  osBuild: fc.string(),
  modelIdentifier: fc.string(),
  santaVersion: fc.string(),
  primaryUser: fc.string(),
  primaryUserGroups: fc.array(fc.string(), { maxLength: 4 }),
  pushNotificationToken: fc.string(),
  clientMode: fc.option(fc.constantFrom(...CLIENT_MODES), { nil: null }),
  requestCleanSync: fc.boolean(),
  binaryRuleCount: uint32,
  certificateRuleCount: uint32,
  compilerRuleCount: uint32,
  transitiveRuleCount: uint32,
  teamidRuleCount: uint32,
  signingidRuleCount: uint32,
  cdhashRuleCount: uint32,
  machineId: fc.string(),
  pushNotificationSync: fc.boolean(),
  sipStatus: uint32,
  rulesHash: fc.string(),
});

const event: fc.Arbitrary<AgentEvent> = fc.record({
  fileSha256: sha256,
  filePath: fc.string(),
  fileName: fc.string(),
  executingUser: fc.string(),
  executionTime: double,
  loggedInUsers: fc.array(fc.string(), { maxLength: 3 }),
  currentSessions: fc.array(fc.string(), { maxLength: 3 }),
  decision: fc.constantFrom(...AGENT_DECISIONS),
  fileBundleId: fc.string(),
  fileBundlePath: fc.string(),
  fileBundleExecutableRelPath: fc.string(),
  fileBundleName: fc.string(),
  fileBundleVersion: fc.string(),
  fileBundleVersionString: fc.string(),
  fileBundleHash: fc.string(),
  fileBundleHashMillis: uint32,
  fileBundleBinaryCount: uint32,
  pid: int32,
  ppid: int32,
  parentName: fc.string(),
  teamId: fc.string(),
  signingId: fc.string(),
  cdhash: fc.string(),
  signingChain: fc.array(
    fc.record({
      sha256: fc.string(),
      cn: fc.string(),
      org: fc.string(),
      ou: fc.string(),
      validFrom: uint32,
      validUntil: uint32,
    }),
    { maxLength: 3 },
  ),
  csFlags: uint32,
  signingStatus: fc.constantFrom(...SIGNING_STATUSES),
  secureSigningTime: uint32,
  signingTime: uint32,
  staticRule: fc.boolean(),
});

const eventUploadRequest: fc.Arbitrary<EventUploadRequest> = fc.record({
  events: fc.array(event, { maxLength: 3 }),
  machineId: fc.string(),
});

const postflightRequest: fc.Arbitrary<PostflightRequest> = fc.record({
  rulesReceived: uint32,
  rulesProcessed: uint32,
  machineId: fc.string(),
  syncType: fc.option(fc.constantFrom(...SYNC_TYPES), { nil: null }),
  rulesHash: fc.string(),
});

const preflightResponse: fc.Arbitrary<PreflightResponse> = fc.record(
  {
    clientMode: fc.constantFrom(...CLIENT_MODES),
    syncType: fc.constantFrom(...SYNC_TYPES),
    batchSize: uint32,
    fullSyncIntervalSeconds: uint32,
    enableBundles: fc.boolean(),
    enableTransitiveRules: fc.boolean(),
    enableAllEventUpload: fc.boolean(),
    disableUnknownEventUpload: fc.boolean(),
    allowedPathRegex: fc.string(),
    blockedPathRegex: fc.string(),
    eventDetailUrl: fc.string(),
    eventDetailText: fc.string(),
  },
  { requiredKeys: ["clientMode", "syncType", "batchSize", "fullSyncIntervalSeconds"] },
);

/** Identifiers in the form Santa stores them: what this server sends agents. */
const identifierOf: Record<RuleType, fc.Arbitrary<string>> = {
  BINARY: sha256,
  CERTIFICATE: sha256,
  CDHASH: hex(40),
  TEAMID: teamId,
  SIGNINGID: fc
    .tuple(fc.oneof(teamId, fc.constant("platform")), nonEmpty)
    .map(([team, id]) => `${team}:${id}`),
};

const rule: fc.Arbitrary<SantaRule> = fc
  .constantFrom<RuleType>("BINARY", "CERTIFICATE", "CDHASH", "TEAMID", "SIGNINGID")
  .chain((ruleType) =>
    fc.record(
      {
        identifier: identifierOf[ruleType],
        policy: fc.constantFrom(...POLICIES),
        ruleType: fc.constant(ruleType),
        // an empty message is no message, on the wire and in Santa
        customMsg: nonEmpty,
        customUrl: nonEmpty,
      },
      { requiredKeys: ["identifier", "policy", "ruleType"] },
    ),
  );

const ruleDownloadResponse: fc.Arbitrary<RuleDownloadResponse> = fc.record({
  rules: fc.array(rule, { maxLength: 5 }),
  cursor: fc.string(),
});

describe("what the agent writes, the server reads back", () => {
  it("preflight", () => {
    fc.assert(
      fc.property(preflightRequest, (request) => {
        expect(readPreflightRequest(wire(preflightRequestJson(request)))).toEqual({
          ok: true,
          value: request,
        });
      }),
    );
  });

  it("event upload", () => {
    fc.assert(
      fc.property(eventUploadRequest, (request) => {
        expect(readEventUploadRequest(wire(eventUploadRequestJson(request)))).toEqual({
          ok: true,
          value: request,
        });
      }),
    );
  });

  it("rule download", () => {
    fc.assert(
      fc.property(fc.record({ cursor: fc.string(), machineId: fc.string() }), (request) => {
        expect(readRuleDownloadRequest(wire(ruleDownloadRequestJson(request)))).toEqual({
          ok: true,
          value: request,
        });
      }),
    );
  });

  it("postflight", () => {
    fc.assert(
      fc.property(postflightRequest, (request) => {
        expect(readPostflightRequest(wire(postflightRequestJson(request)))).toEqual({
          ok: true,
          value: request,
        });
      }),
    );
  });
});

describe("what the server writes, the agent reads back", () => {
  it("preflight", () => {
    fc.assert(
      fc.property(preflightResponse, (answer) => {
        expect(readPreflightResponse(wire(preflightResponseJson(answer)))).toEqual({
          ok: true,
          value: answer,
        });
      }),
    );
  });

  it("rule download, dropping nothing", () => {
    fc.assert(
      fc.property(ruleDownloadResponse, (answer) => {
        expect(readRuleDownloadResponse(wire(ruleDownloadResponseJson(answer)))).toEqual({
          ok: true,
          value: { ...answer, dropped: [] },
        });
      }),
    );
  });

  it("event upload", () => {
    fc.assert(
      fc.property(fc.array(sha256, { maxLength: 4 }), (hashes) => {
        const answer = { eventUploadBundleBinaries: hashes };
        expect(readEventUploadResponse(wire(eventUploadResponseJson(answer)))).toEqual({
          ok: true,
          value: answer,
        });
      }),
    );
  });
});

describe("no reader throws", () => {
  it.each([
    ["readPreflightRequest", readPreflightRequest],
    ["readEventUploadRequest", readEventUploadRequest],
    ["readRuleDownloadRequest", readRuleDownloadRequest],
    ["readPostflightRequest", readPostflightRequest],
    ["readPreflightResponse", readPreflightResponse],
    ["readRuleDownloadResponse", readRuleDownloadResponse],
    ["readEventUploadResponse", readEventUploadResponse],
  ])("%s, on any JSON: it reads it or says where it is wrong", (_, reader) => {
    fc.assert(
      fc.property(fc.jsonValue(), (json) => {
        const read = reader(json);
        if (!read.ok) {
          expect(read.problems.length).toBeGreaterThan(0);
          for (const { pointer, message } of read.problems) {
            expect(pointer === "" || pointer.startsWith("/")).toBe(true);
            expect(message).toMatch(/^[a-z].*[^.]$/);
          }
        }
      }),
    );
  });
});

describe("the agent's requests, in protobuf's form", () => {
  it("writes a preflight under JSON names in field-number order, without zero values", () => {
    const request: PreflightRequest = {
      serialNumber: "SERIAL1",
      hostname: "mac-1.example.com",
      osVersion: "15.1",
      osBuild: "24B83",
      modelIdentifier: "Mac15,7",
      santaVersion: "2026.1.1",
      primaryUser: "alice",
      primaryUserGroups: ["eng"],
      pushNotificationToken: "",
      clientMode: "MONITOR",
      requestCleanSync: false,
      binaryRuleCount: 2,
      certificateRuleCount: 0,
      compilerRuleCount: 0,
      transitiveRuleCount: 0,
      teamidRuleCount: 0,
      signingidRuleCount: 0,
      cdhashRuleCount: 0,
      machineId: "M-1",
      pushNotificationSync: false,
      sipStatus: 111,
      rulesHash: "h",
    };
    expect(JSON.stringify(preflightRequestJson(request))).toBe(
      '{"serial_num":"SERIAL1","hostname":"mac-1.example.com","os_version":"15.1","os_build":"24B83",' +
        '"model_identifier":"Mac15,7","santa_version":"2026.1.1","primary_user":"alice",' +
        '"client_mode":"MONITOR","binary_rule_count":2,"machine_id":"M-1","sipStatus":111,' +
        '"primary_user_groups":["eng"],"rulesHash":"h"}',
    );
  });

  it("leaves out a preflight's null client mode, as the zero UNKNOWN_CLIENT_MODE", () => {
    const json = preflightRequestJson({
      ...(readPreflightRequest({}) as { value: PreflightRequest }).value,
      machineId: "M-1",
    });
    expect(json).toEqual({ machine_id: "M-1" });
  });

  it("writes an event's fields under their JSON names, its enums as names", () => {
    const [written] = eventUploadRequestJson({
      events: [
        {
          ...(
            readEventUploadRequest({ events: [{ file_sha256: "a".repeat(64) }] }) as {
              value: EventUploadRequest;
            }
          ).value.events[0]!,
          filePath: "/opt/tools/bin",
          fileName: "deploy-helper",
          executionTime: 1767225600.5,
          decision: "BLOCK_BINARY",
          signingChain: [
            { sha256: "b".repeat(64), cn: "Leaf", org: "", ou: "", validFrom: 1, validUntil: 0 },
          ],
          csFlags: 1,
          signingStatus: "SIGNING_STATUS_ADHOC",
        },
      ],
      machineId: "",
    }).events as Record<string, unknown>[];
    expect(written).toEqual({
      file_sha256: "a".repeat(64),
      file_path: "/opt/tools/bin",
      file_name: "deploy-helper",
      execution_time: 1767225600.5,
      decision: "BLOCK_BINARY",
      signing_chain: [{ sha256: "b".repeat(64), cn: "Leaf", valid_from: 1 }],
      csFlags: 1,
      signingStatus: "SIGNING_STATUS_ADHOC",
    });
    expect(Object.keys(written!)).toEqual([
      "file_sha256",
      "file_path",
      "file_name",
      "execution_time",
      "decision",
      "signing_chain",
      "csFlags",
      "signingStatus",
    ]);
  });

  it("leaves out the first page's empty cursor, as Santa's first request has none", () => {
    expect(ruleDownloadRequestJson({ cursor: "", machineId: "M-1" })).toEqual({
      machine_id: "M-1",
    });
    expect(ruleDownloadRequestJson({ cursor: "c", machineId: "M-1" })).toEqual({
      cursor: "c",
      machine_id: "M-1",
    });
  });

  it("writes a postflight's sync type, which NORMAL makes non-zero", () => {
    expect(
      postflightRequestJson({
        rulesReceived: 3,
        rulesProcessed: 0,
        machineId: "M-1",
        syncType: "NORMAL",
        rulesHash: "",
      }),
    ).toEqual({ rules_received: 3, machine_id: "M-1", syncType: "NORMAL" });
  });
});
