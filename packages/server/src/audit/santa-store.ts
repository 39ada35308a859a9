// What the Santa sync server keeps beside the log (docs/endpoints.md): the machines, the files the
// fleet reported with the decision that stands for each group, and each group's Santa rules with
// a sequence number, so that an agent downloads only what changed since its last sync.
//
// All of it is derived state: the decisions it comes from are entries of the chain. Writes do not
// wait for the disk (SQLite: `synchronous = NORMAL` for them), like a job's cursor: a power loss
// may lose the last ones, and a group whose rule sequence then went backwards is sent whole (a
// clean sync) to the machines that had acknowledged more.

export interface MachineFacts {
  serial: string;
  hostname: string;
  osVersion: string;
  osBuild: string;
  model: string;
  santaVersion: string;
  primaryUser: string;
  clientMode: string | null;
  /** the rules the agent holds, by its own count at preflight */
  ruleCount: number;
}

export interface MachineRow extends MachineFacts {
  id: string;
  group: string;
  registeredAt: string;
  lastPreflightAt: string | null;
  /** the last postflight: a sync that completed */
  lastSyncAt: string | null;
  /** the sync in progress (since its preflight): its type and the rule sequence it goes up to */
  syncType: string | null;
  syncTarget: number;
  /** the rule sequence the machine confirmed at its last postflight */
  rulesAcked: number;
  rulesReceived: number;
  rulesProcessed: number;
  eventsReceived: number;
}

export interface SantaRuleRow {
  group: string;
  ruleType: string;
  identifier: string;
  /** `ALLOWLIST`, `BLOCKLIST`, or `REMOVE` for a rule taken away (kept for incremental syncs) */
  policy: string;
  customMsg: string;
  /** the decision the rule comes from */
  decisionId: string | null;
  seq: number;
  updatedAt: string;
}

export interface RuleChange {
  group: string;
  ruleType: string;
  identifier: string;
  policy: string;
  customMsg: string;
  decisionId: string | null;
}

/** One file reported by one machine, with the decision made for it. */
export interface FileSeen {
  group: string;
  machineId: string;
  sha256: string;
  decisionId: string;
  decision: string;
  executions: number;
}

export interface SantaFileRow {
  group: string;
  sha256: string;
  /** the decision that stands for the file in this group */
  decisionId: string;
  decision: string;
  firstSeen: string;
  lastSeen: string;
  executions: number;
  /** how many machines of the group reported it */
  machines: number;
}

export interface SantaStore {
  machine(id: string): Promise<MachineRow | undefined>;
  /** Registers a machine in `group` unless it is registered: the row as stored (the first wins). */
  register(id: string, group: string, now: string): Promise<MachineRow>;
  /** Moves a machine to another group: it gets that group's rules whole at its next sync. */
  move(id: string, group: string): Promise<MachineRow>;
  /** A preflight: the machine's facts, and the sync it starts (its type and target sequence). */
  preflight(
    id: string,
    facts: MachineFacts,
    sync: { type: string; target: number },
    now: string,
  ): Promise<void>;
  /** Events received from a machine, counted. */
  countEvents(id: string, events: number): Promise<void>;
  /**
   * A postflight: the machine holds its group's rules up to `acked` (never moves back), and how
   * many rules it took. Ends the sync in progress.
   */
  postflight(
    id: string,
    sync: { acked: number; received: number; processed: number },
    now: string,
  ): Promise<void>;
  /** Machines by id, a page at a time, of one group or all. */
  machines(query: { group?: string; after?: string; limit: number }): Promise<MachineRow[]>;
  /** How many machines each group has in each client mode (the mode they last reported). */
  machineCounts(): Promise<{ group: string; mode: string | null; machines: number }[]>;
  /**
   * Per group: the rule changes its machines have not confirmed (their acknowledged sequence
   * behind the group's, summed) and the machines that never completed a sync.
   */
  lag(): Promise<{ group: string; rulesBehind: number; neverSynced: number }[]>;
  /** Records files as reported, each with the decision that now stands for it in its group. */
  noteFiles(seen: readonly FileSeen[], now: string): Promise<void>;
  /** Files as reported, by group then SHA-256, a page at a time (after `after`). */
  files(query: {
    after?: { group: string; sha256: string };
    limit: number;
  }): Promise<SantaFileRow[]>;
  /** The policies of a group's rules of one type on these identifiers (absent: no rule). */
  policies(
    group: string,
    ruleType: string,
    identifiers: readonly string[],
  ): Promise<Map<string, string>>;
  /** The groups that reported a file, with the decision standing in each. */
  filesOf(sha256: string): Promise<SantaFileRow[]>;
  /**
   * Sets rules. A change that leaves a rule as it is takes no new sequence number; every other
   * takes the group's next one, in the order given. Returns the number of rules that changed.
   */
  applyRules(changes: readonly RuleChange[], now: string): Promise<number>;
  /** The group's highest rule sequence number (0 without rules). */
  ruleHead(group: string): Promise<number>;
  /**
   * The group's rules with a sequence number in (`after`, `upTo`], in sequence order, at most
   * `limit`; `live` leaves out removed rules (a clean sync sends only what stands).
   */
  rulesAfter(
    group: string,
    after: number,
    upTo: number,
    limit: number,
    live: boolean,
  ): Promise<SantaRuleRow[]>;
  /** The identifiers of a group's standing rules of one type and policy, sorted. */
  identifiers(group: string, ruleType: string, policy: string): Promise<string[]>;
  /** Rules standing in a group, by type and policy. */
  ruleCounts(group: string): Promise<{ ruleType: string; policy: string; rules: number }[]>;
}

/** Whether a stored rule already says what a change says. */
export function sameRule(
  was: { policy: string; customMsg: string },
  change: { policy: string; customMsg: string },
): boolean {
  return (
    was.policy === change.policy &&
    (change.policy === "REMOVE" || was.customMsg === change.customMsg)
  );
}

/** The tables (migration 11), the same SQL for both backends. */
export const SANTA_TABLES = (collate: string) => `
CREATE TABLE santa_machines (
  id TEXT${collate} PRIMARY KEY,
  grp TEXT${collate} NOT NULL,
  serial TEXT NOT NULL DEFAULT '',
  hostname TEXT NOT NULL DEFAULT '',
  os_version TEXT NOT NULL DEFAULT '',
  os_build TEXT NOT NULL DEFAULT '',
  model TEXT NOT NULL DEFAULT '',
  santa_version TEXT NOT NULL DEFAULT '',
  primary_user TEXT NOT NULL DEFAULT '',
  client_mode TEXT,
  rule_count BIGINT NOT NULL DEFAULT 0,
  registered_at TEXT NOT NULL,
  last_preflight_at TEXT,
  last_sync_at TEXT,
  sync_type TEXT,
  sync_target BIGINT NOT NULL DEFAULT 0,
  rules_acked BIGINT NOT NULL DEFAULT 0,
  rules_received BIGINT NOT NULL DEFAULT 0,
  rules_processed BIGINT NOT NULL DEFAULT 0,
  events_received BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX santa_machines_group ON santa_machines (grp, id);
CREATE TABLE santa_files (
  grp TEXT${collate} NOT NULL,
  sha256 TEXT${collate} NOT NULL,
  decision_id TEXT NOT NULL,
  decision TEXT NOT NULL,
  first_seen TEXT NOT NULL,
  last_seen TEXT NOT NULL,
  executions BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (grp, sha256)
);
CREATE INDEX santa_files_sha256 ON santa_files (sha256);
CREATE TABLE santa_file_machines (
  grp TEXT${collate} NOT NULL,
  sha256 TEXT${collate} NOT NULL,
  machine_id TEXT${collate} NOT NULL,
  PRIMARY KEY (grp, sha256, machine_id)
);
CREATE TABLE santa_rules (
  grp TEXT${collate} NOT NULL,
  rule_type TEXT${collate} NOT NULL,
  identifier TEXT${collate} NOT NULL,
  policy TEXT NOT NULL,
  custom_msg TEXT NOT NULL DEFAULT '',
  decision_id TEXT,
  seq BIGINT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (grp, rule_type, identifier)
);
CREATE UNIQUE INDEX santa_rules_seq ON santa_rules (grp, seq);`;

export const MACHINE_COLUMNS = `id, grp AS "group", serial, hostname, os_version AS "osVersion",
  os_build AS "osBuild", model, santa_version AS "santaVersion", primary_user AS "primaryUser",
  client_mode AS "clientMode", CAST(rule_count AS INTEGER) AS "ruleCount",
  registered_at AS "registeredAt", last_preflight_at AS "lastPreflightAt",
  last_sync_at AS "lastSyncAt", sync_type AS "syncType",
  CAST(sync_target AS INTEGER) AS "syncTarget", CAST(rules_acked AS INTEGER) AS "rulesAcked",
  CAST(rules_received AS INTEGER) AS "rulesReceived",
  CAST(rules_processed AS INTEGER) AS "rulesProcessed",
  CAST(events_received AS INTEGER) AS "eventsReceived"`;

export const LAG_QUERY = `SELECT m.grp AS "group",
  CAST(SUM(CASE WHEN h.seq > m.rules_acked THEN h.seq - m.rules_acked ELSE 0 END) AS INTEGER) AS "rulesBehind",
  CAST(SUM(CASE WHEN m.last_sync_at IS NULL THEN 1 ELSE 0 END) AS INTEGER) AS "neverSynced"
  FROM santa_machines m LEFT JOIN (SELECT grp, MAX(seq) AS seq FROM santa_rules GROUP BY grp) h
  ON h.grp = m.grp GROUP BY m.grp`;

export const MOVE_MACHINE =
  "UPDATE santa_machines SET grp = $1, rules_acked = 0, sync_type = NULL, sync_target = 0 WHERE id = $2";

// The columns are cast for the drivers (PostgreSQL's BIGINT comes back as text): a query that orders
// by `seq` must name `santa_rules.seq`, or it sorts by the cast result column instead of reading
// the (grp, seq) index in order, every page a sort of every rule left.
export const RULE_COLUMNS = `grp AS "group", rule_type AS "ruleType", identifier, policy,
  custom_msg AS "customMsg", decision_id AS "decisionId", CAST(seq AS INTEGER) AS seq,
  updated_at AS "updatedAt"`;

export const FILE_COLUMNS = `f.grp AS "group", f.sha256, f.decision_id AS "decisionId", f.decision,
  f.first_seen AS "firstSeen", f.last_seen AS "lastSeen", CAST(f.executions AS INTEGER) AS executions,
  CAST((SELECT COUNT(*) FROM santa_file_machines m WHERE m.grp = f.grp AND m.sha256 = f.sha256) AS INTEGER) AS machines`;
