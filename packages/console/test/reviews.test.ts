// The Reviews and Exceptions pages' rules, under Node: scope options, the vote form's checks
// against the policy, expiries, outcomes and refusals in words, the facts read from an input, and
// the exceptions' tabs.
import { describe, expect, it } from "vitest";
import {
  ApiError,
  type CaseView,
  type DecisionBrief,
  type ReviewPolicy,
  type VoteAnswer,
} from "../src/api.js";
import {
  checkRevoke,
  exceptionsUrl,
  expiringSoon,
  readExceptionFilter,
  scopeText,
  tabRows,
} from "../src/exceptions/logic.js";
import {
  approvalForbidden,
  casesUrl,
  checkVote,
  decidedSince,
  expiryBounds,
  fileFacts,
  landingPage,
  readQueueFilter,
  refusal,
  relative,
  rememberVoter,
  scopeOptions,
  span,
  type VoteForm,
  voteOutcome,
  votingAs,
} from "../src/reviews/logic.js";

const DAY = 86_400_000;
const NOW = Date.parse("2026-12-04T12:00:00.000Z");
const SHA = "a".repeat(64);

const POLICY: ReviewPolicy = {
  approvalsRequired: 2,
  broaderScopeApprovals: 2,
  rejectionVetoes: true,
  selfApproval: false,
  caseExpiry: "7d",
  exceptionExpiry: {
    default: "90d",
    defaultMs: 90 * DAY,
    max: "365d",
    maxMs: 365 * DAY,
    allowNoExpiry: false,
  },
};

const CASE = {
  sha256: SHA,
  signer: null as string | null,
  vendor: null as { name: string; product: string } | null,
  approvalForbiddenBy: [] as string[],
  status: "open" as CaseView["status"],
};

const FORM: VoteForm = {
  vote: "approve",
  justification: "checked in a sandbox",
  voter: "ana",
  kind: "file",
  expires: "2027-01-01T00:00",
  never: false,
};

describe("scopeOptions", () => {
  const signer = "42D24701C12BD905C579477FCEE907F8051479F9";
  const vendor = { name: "Dell Inc", product: "Dell Cinema Screensaver" };
  it.each([
    { name: "a file with neither", kase: {}, vote: "approve", kinds: ["file"] },
    { name: "a valid signer", kase: { signer }, vote: "approve", kinds: ["file", "signer"] },
    { name: "a vendor", kase: { vendor }, vote: "approve", kinds: ["file", "vendor"] },
    {
      name: "both",
      kase: { signer, vendor },
      vote: "approve",
      kinds: ["file", "signer", "vendor"],
    },
    { name: "a rejection of both", kase: { signer, vendor }, vote: "reject", kinds: ["file"] },
  ] as const)("offers $kinds for $name", ({ kase, vote, kinds }) => {
    expect(scopeOptions({ ...CASE, ...kase }, vote).map((o) => o.kind)).toEqual(kinds);
  });
  it("says what each covers as text", () => {
    expect(scopeOptions({ ...CASE, vendor }, "approve").map((o) => o.covers)).toEqual([
      SHA,
      "Dell Inc / Dell Cinema Screensaver",
    ]);
  });
});

describe("expiryBounds", () => {
  it.each([
    { policy: POLICY, defaultAt: NOW + 90 * DAY, maxAt: NOW + 365 * DAY, allowNever: false },
    {
      policy: {
        ...POLICY,
        exceptionExpiry: {
          ...POLICY.exceptionExpiry,
          defaultMs: DAY,
          maxMs: 2 * DAY,
          allowNoExpiry: true,
        },
      },
      defaultAt: NOW + DAY,
      maxAt: NOW + 2 * DAY,
      allowNever: true,
    },
  ])(
    "bounds from now: default $defaultAt, max $maxAt",
    ({ policy, defaultAt, maxAt, allowNever }) => {
      expect(expiryBounds(policy, NOW)).toEqual({ defaultAt, maxAt, allowNever });
    },
  );
});

describe("checkVote", () => {
  it.each([
    {
      name: "an empty justification",
      form: { justification: "  " },
      field: "justification",
      message: "a justification is required: say why",
    },
    {
      name: "no voter",
      form: { voter: " " },
      field: "voter",
      message: "say who votes: without API keys every vote names its voter",
    },
    {
      name: "an expiry past the maximum",
      form: { expires: "2027-12-05T12:01" },
      field: "expires",
      message:
        "2027-12-05 12:01 UTC is later than the policy allows: at most 365d from now (2027-12-04 12:00 UTC)",
    },
    {
      name: "an expiry in the past",
      form: { expires: "2026-12-04T11:59" },
      field: "expires",
      message: "2026-12-04 11:59 UTC is in the past",
    },
    {
      name: "an expiry that is not a time",
      form: { expires: "next week" },
      field: "expires",
      message: "`next week` is not a time: write `2027-03-04T12:00` (UTC)",
    },
    {
      name: "no expiry at all",
      form: { expires: "" },
      field: "expires",
      message: "give an expiry, at most 365d from now",
    },
    {
      name: "never, where not allowed",
      form: { never: true },
      field: "expires",
      message: "exceptions that never expire are not allowed on this server",
    },
    {
      name: "a signer without a valid signature",
      form: { kind: "signer" },
      field: "kind",
      message: "a `signer` exception needs a valid signature",
    },
    {
      name: "a rejection asking for a vendor",
      form: { vote: "reject", kind: "vendor" },
      field: "kind",
      message: "a rejection covers this file only",
    },
    {
      name: "approving what a rule forbids",
      form: {},
      kase: { approvalForbiddenBy: ["any_malicious_detection"] },
      field: "vote",
      message:
        "approving is forbidden by rule any_malicious_detection: this file can only be rejected",
    },
    {
      name: "a closed case",
      form: {},
      kase: { status: "resolved" },
      field: "vote",
      message: "the case is resolved: it takes no more votes",
    },
  ] as const)("refuses $name", ({ form, field, message, ...rest }) => {
    const kase = { ...CASE, ...("kase" in rest ? rest.kase : {}) };
    const checked = checkVote({ ...FORM, ...form }, kase, POLICY, NOW);
    expect(checked.body).toBeUndefined();
    expect(checked.problems).toEqual([{ field, message }]);
  });

  it.each([
    {
      name: "an approval until a date",
      form: {},
      policy: POLICY,
      body: {
        vote: "approve",
        justification: "checked in a sandbox",
        voter: "ana",
        exception: { kind: "file", expires: "2027-01-01T00:00:00.000Z" },
      },
    },
    {
      name: "an approval at the maximum, trimmed",
      form: { expires: "2027-12-04T12:00", voter: " ana ", justification: " why " },
      policy: POLICY,
      body: {
        vote: "approve",
        justification: "why",
        voter: "ana",
        exception: { kind: "file", expires: "2027-12-04T12:00:00.000Z" },
      },
    },
    {
      name: "a rejection of a forbidden file",
      form: { vote: "reject" },
      kase: { approvalForbiddenBy: ["any_malicious_detection"] },
      policy: POLICY,
      body: {
        vote: "reject",
        justification: "checked in a sandbox",
        voter: "ana",
        exception: { kind: "file", expires: "2027-01-01T00:00:00.000Z" },
      },
    },
    {
      name: "a vendor approval that never expires, where allowed",
      form: { kind: "vendor", never: true },
      kase: { vendor: { name: "V", product: "P" } },
      policy: { ...POLICY, exceptionExpiry: { ...POLICY.exceptionExpiry, allowNoExpiry: true } },
      body: {
        vote: "approve",
        justification: "checked in a sandbox",
        voter: "ana",
        exception: { kind: "vendor", expires: null },
      },
    },
  ] as const)("sends $name", ({ form, policy, body, ...rest }) => {
    const kase = { ...CASE, ...("kase" in rest ? rest.kase : {}) };
    expect(checkVote({ ...FORM, ...form }, kase, policy, NOW)).toEqual({ problems: [], body });
  });
});

describe("words", () => {
  it.each([
    [45_000, "45 s"],
    [12 * 60_000, "12 min"],
    [3 * 3_600_000 + 5 * 60_000, "3 h 5 min"],
    [3 * 3_600_000, "3 h"],
    [6 * DAY + 23 * 3_600_000 + 59 * 60_000, "6 d 23 h"],
  ])("span(%i) is %s", (ms, text) => {
    expect(span(ms)).toBe(text);
  });
  it("says when, relative to now", () => {
    expect(relative(new Date(NOW + 2 * DAY).toISOString(), NOW)).toBe("in 2 d");
    expect(relative(new Date(NOW - 90_000).toISOString(), NOW)).toBe("1 min ago");
  });

  it("says why approving is disabled, or nothing", () => {
    expect(approvalForbidden({ approvalForbiddenBy: [] })).toBeUndefined();
    expect(approvalForbidden({ approvalForbiddenBy: ["a", "b"] })).toBe(
      "Approving is forbidden: the decision matched rules a, b (forbid-approval). This file can be rejected, or left to expire.",
    );
  });

  const kase = (c: Partial<CaseView>): CaseView => ({
    id: "c1",
    sha256: SHA,
    fileName: "x.exe",
    status: "open",
    opened: "",
    expires: "",
    closed: null,
    decisionId: "d1",
    rule: null,
    reason: "no rule matched",
    requester: null,
    context: {},
    approvalForbiddenBy: [],
    signer: null,
    vendor: null,
    outcome: null,
    exception: null,
    votes: [],
    waitingFor: null,
    ...c,
  });
  const answer = (a: Partial<VoteAnswer>): VoteAnswer => ({
    vote: {
      id: "v",
      time: "",
      caseId: "c1",
      voter: "ben",
      vote: "approve",
      justification: "j",
      exception: null,
    },
    replayed: false,
    case: kase({}),
    exception: null,
    decision: null,
    ...a,
  });
  it.each([
    {
      name: "a vote that leaves the case waiting",
      answer: answer({ case: kase({ waitingFor: "1 more approval" }) }),
      lines: ["Your approval is recorded.", "The case is still open, waiting for 1 more approval."],
    },
    {
      name: "the vote that resolves it",
      answer: answer({
        case: kase({ status: "resolved", outcome: "approved" }),
        exception: {
          id: "e1",
          status: "approved",
          kind: "file",
          scope: { sha256: SHA },
          context: null,
          created: "",
          expires: "2027-03-04T16:36:00.000Z",
          approvers: ["ana", "ben"],
          justification: "",
          case: "c1",
          createdBy: null,
          state: "active",
          ended: null,
        },
        decision: {
          decisionId: "d2",
          decision: "allow",
          rule: "approved_by_people",
          reason: "approved by ana, ben",
        },
      }),
      lines: [
        "Your approval is recorded.",
        "The case is resolved: approved, with file exception e1 by ana, ben, until 2027-03-04 16:36 UTC.",
        "The file was decided again: allow (rule approved_by_people: approved by ana, ben).",
      ],
    },
    {
      name: "a vote sent again",
      answer: answer({ replayed: true, case: kase({ waitingFor: "1 more approval" }) }),
      lines: [
        "This vote was already recorded: nothing was recorded twice.",
        "The case is still open, waiting for 1 more approval.",
      ],
    },
  ])("tells the outcome of $name", ({ answer, lines }) => {
    expect(voteOutcome(answer)).toEqual(lines);
  });

  it.each([
    [
      new ApiError(403, "self_approval", "`ci` asked"),
      /^You cannot approve this file: you asked about it yourself/,
    ],
    [
      new ApiError(409, "approval_forbidden", "matched rule `x`"),
      /^This file can never be approved: matched rule `x`\.$/,
    ],
    [
      new ApiError(409, "already_voted", "`ana` voted"),
      /^You have already voted on this case, and a vote cannot be changed: `ana` voted\.$/,
    ],
    [
      new ApiError(409, "case_closed", "resolved"),
      /^The case is closed and takes no more votes: resolved\.$/,
    ],
    [
      new ApiError(400, "invalid_review", "the expiry is bad", [
        { pointer: "/exception/expires", message: "in the past" },
      ]),
      /^The server refused it: the expiry is bad \(\/exception\/expires: in the past\)\.$/,
    ],
    [new ApiError(403, "forbidden", "needs review"), /Voting needs the review scope/],
    [new ApiError(0, undefined, "offline"), /^The server cannot be reached: offline\.$/],
  ])("says a refusal in words: %s", (error, text) => {
    expect(refusal(error)).toMatch(text);
  });
});

describe("the queue", () => {
  it.each([
    { values: {}, filter: {}, problems: [] },
    {
      values: { rule: " expired_signature ", olderThan: "1d12h" },
      filter: { rule: "expired_signature", olderThan: "1d12h" },
      problems: [],
    },
    {
      values: { olderThan: "2 days" },
      filter: {},
      problems: [
        { field: "olderThan", message: "`2 days` is not a duration: write `2h`, `3d` or `1d12h`" },
      ],
    },
  ])("reads $values", ({ values, filter, problems }) => {
    expect(readQueueFilter(values)).toEqual({ filter, problems });
  });
  it("asks for a page with the previous page's cursor", () => {
    expect(casesUrl({ rule: "r", olderThan: "2h" }, 50, "c")).toBe(
      "/v1/reviews?rule=r&olderThan=2h&limit=50&cursor=c",
    );
    expect(casesUrl({}, 50)).toBe("/v1/reviews?limit=50");
  });
  it.each([
    [0, "audit"],
    [1, "reviews"],
  ] as const)("lands, with %i open cases, on %s", (n, page) => {
    expect(landingPage(n)).toBe(page);
  });
  it("remembers who votes, and survives a storage that refuses", () => {
    const store = new Map<string, string>();
    const storage = {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, v),
    };
    expect(votingAs(storage).name).toBe("");
    rememberVoter(storage, " ana ");
    expect(votingAs(storage)).toEqual({ name: "ana", editable: true });
    const refusing = {
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("denied");
      },
    };
    expect(() => rememberVoter(refusing, "ana")).not.toThrow();
    expect(votingAs(refusing).name).toBe("");
  });
  it("signed in, votes as the session's identity, not as a name typed or remembered", () => {
    const storage = { getItem: () => "ana" };
    expect(votingAs(storage, "user:alice@example.com")).toEqual({
      name: "user:alice@example.com",
      editable: false,
    });
  });
});

describe("fileFacts", () => {
  it("reads the canonical result's facts, the flagging engines' labels malicious first", () => {
    const facts = fileFacts({
      result: {
        sha256: SHA,
        fileName: "<script>alert(1)</script>.exe",
        signature: { status: "valid", signer: "Dell Inc", thumbprint: "0C06" },
        vendor: { name: "Dell Inc", product: "Screensaver" },
        detections: { malicious: 1, suspicious: 1, undetected: 1 },
        engines: [
          { engine: "A", category: "suspicious", result: "Generic.PUA" },
          { engine: "B", category: "undetected", result: null },
          { engine: "C", category: "malicious", result: "Trojan.X" },
        ],
        trustScore: 91,
        firstSeen: "2026-06-10T08:19:27Z",
      },
    });
    expect(facts).toEqual({
      fileName: "<script>alert(1)</script>.exe",
      sha256: SHA,
      signatureStatus: "valid",
      signer: "Dell Inc",
      thumbprint: "0C06",
      vendor: "Dell Inc",
      product: "Screensaver",
      detections: { malicious: 1, total: 3 },
      flaggedBy: ["C: Trojan.X", "A: Generic.PUA (suspicious)"],
      trustScore: 91,
      firstSeen: "2026-06-10T08:19:27Z",
    });
  });
  it.each([
    { name: "no input", input: null },
    {
      name: "a result of the wrong shape",
      input: { result: { signature: "valid", engines: "many", trustScore: "high" } },
    },
  ])("says nothing it cannot read: $name", ({ input }) => {
    expect(fileFacts(input)).toEqual({ flaggedBy: [] });
  });
  it("counts the engines from the detections without a list", () => {
    expect(
      fileFacts({ result: { detections: { malicious: 2, undetected: 60, harmless: 3 } } })
        .detections,
    ).toEqual({ malicious: 2, total: 65 });
  });
});

describe("exceptions", () => {
  const e = (expires: string | null, state: "active" | "revoked" | "expired" = "active") => ({
    state,
    expires,
  });
  it.each([
    { name: "active, in 6 days", x: e(new Date(NOW + 6 * DAY).toISOString()), soon: true },
    { name: "active, in exactly 7 days", x: e(new Date(NOW + 7 * DAY).toISOString()), soon: true },
    { name: "active, in 8 days", x: e(new Date(NOW + 8 * DAY).toISOString()), soon: false },
    { name: "active, never", x: e(null), soon: false },
    { name: "revoked, in 1 day", x: e(new Date(NOW + DAY).toISOString(), "revoked"), soon: false },
  ])("$name is expiring soon: $soon", ({ x, soon }) => {
    expect(expiringSoon(x, NOW)).toBe(soon);
  });
  it("reads the active ones for the expiring-soon tab, and keeps the soon", () => {
    expect(exceptionsUrl({ tab: "soon", kind: "file", sha256: SHA })).toBe(
      `/v1/exceptions?state=active&kind=file&sha256=${SHA}`,
    );
    expect(exceptionsUrl({ tab: "revoked" })).toBe("/v1/exceptions?state=revoked");
    const list = [e(new Date(NOW + DAY).toISOString()), e(null)] as never[];
    expect(tabRows(list, "soon", NOW)).toEqual([list[0]]);
    expect(tabRows(list, "active", NOW)).toEqual(list);
  });
  it.each([
    { query: "", filter: { tab: "active" }, problems: [] },
    {
      query: `tab=soon&kind=vendor&sha256=${SHA.toUpperCase()}`,
      filter: { tab: "soon", kind: "vendor", sha256: SHA },
      problems: [],
    },
    {
      query: "tab=nonsense&kind=folder&sha256=abc",
      filter: { tab: "active" },
      problems: [
        { field: "kind", message: "`folder` is not a kind" },
        { field: "sha256", message: "a SHA-256 is 64 hex digits; this has 3 characters" },
      ],
    },
  ])("reads the address `$query`", ({ query, filter, problems }) => {
    expect(readExceptionFilter(new URLSearchParams(query))).toEqual({ filter, problems });
  });
  it.each([
    [{ kind: "file", scope: { sha256: SHA } }, `file ${SHA}`],
    [{ kind: "signer", scope: { signer: "0C06" } }, "certificate 0C06"],
    [
      { kind: "vendor", scope: { vendor: "Dell Inc", product: "Screensaver" } },
      "Dell Inc / Screensaver",
    ],
  ] as const)("says what %j covers", (x, text) => {
    expect(scopeText(x)).toBe(text);
  });
  it.each([
    { justification: "", by: "ana", problems: ["justification"] },
    { justification: "sold", by: " ", problems: ["by"] },
    { justification: " sold ", by: " ana ", problems: [] },
  ])("checks a revocation ($justification by $by)", ({ justification, by, problems }) => {
    const checked = checkRevoke(justification, by);
    expect(checked.problems.map((p) => p.field)).toEqual(problems);
    if (problems.length === 0) expect(checked.body).toEqual({ justification: "sold", by: "ana" });
  });
});

describe("decidedSince", () => {
  const brief = (time: string, decision: DecisionBrief["decision"]): DecisionBrief => ({
    decisionId: `d-${time}`,
    time,
    decision,
    rule: decision === "allow" ? "approved_by_people" : null,
    reason: "r",
    source: decision === "allow" ? "review" : "api",
    requester: null,
    exception: null,
    case: null,
  });
  const closed = "2026-12-04T12:00:00.000Z";
  const allow = brief("2026-12-04T12:00:00.010Z", "allow");
  const before = brief("2026-12-01T08:00:00.000Z", "deny");
  it.each([
    ["a resolved case and the re-decision it made", "resolved", closed, [allow, before], allow],
    ["an open case: nothing since", "open", null, [before], undefined],
    ["a closed case the file was not decided after", "expired", closed, [before], undefined],
    ["a closed case of a file decided nowhere else", "withdrawn", closed, [], undefined],
  ] as const)("%s", (_, status, at, fileDecisions, expected) => {
    const detail = {
      case: { ...CASE, status, closed: at } as unknown as CaseView,
      fileDecisions: [...fileDecisions],
    };
    expect(decidedSince(detail)).toBe(expected);
  });
});
