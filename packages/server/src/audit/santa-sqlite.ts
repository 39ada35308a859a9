// The Santa sync server's tables in the SQLite log (santa-store.ts), on the connection that serves
// requests: each call is one short statement or transaction, written without waiting for the disk.
import type Database from "better-sqlite3";
import {
  FILE_COLUMNS,
  LAG_QUERY,
  MACHINE_COLUMNS,
  type MachineRow,
  MOVE_MACHINE,
  RULE_COLUMNS,
  type SantaFileRow,
  type SantaRuleRow,
  type SantaStore,
  sameRule,
} from "./santa-store.js";

/**
 * `db` gives the open connection (it changes when the store reopens); `write` runs a write on it
 * without waiting for the disk and maps SQLite's failures; `read` maps them for reads.
 */
export function sqliteSantaStore(
  read: <T>(what: string, work: (db: Database.Database) => T) => T,
  write: <T>(what: string, work: (db: Database.Database) => T) => T,
): SantaStore {
  const machineById = (db: Database.Database, id: string) =>
    db.prepare(`SELECT ${MACHINE_COLUMNS} FROM santa_machines WHERE id = ?`).get(id) as
      | MachineRow
      | undefined;
  return {
    machine: async (id) => read("reading a Santa machine", (db) => machineById(db, id)),
    register: async (id, group, now) =>
      write("registering a Santa machine", (db) => {
        db.prepare(
          "INSERT INTO santa_machines (id, grp, registered_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
        ).run(id, group, now);
        return machineById(db, id)!;
      }),
    move: async (id, group) =>
      write("moving a Santa machine", (db) => {
        db.prepare(MOVE_MACHINE.replace("$1", "?").replace("$2", "?")).run(group, id);
        return machineById(db, id)!;
      }),
    lag: async () =>
      read(
        "reading Santa machines",
        (db) =>
          db.prepare(LAG_QUERY).all() as {
            group: string;
            rulesBehind: number;
            neverSynced: number;
          }[],
      ),
    preflight: async (id, f, sync, now) =>
      write("recording a Santa preflight", (db) => {
        db.prepare(
          `UPDATE santa_machines SET serial = ?, hostname = ?, os_version = ?, os_build = ?, model = ?,
             santa_version = ?, primary_user = ?, client_mode = ?, rule_count = ?,
             last_preflight_at = ?, sync_type = ?, sync_target = ? WHERE id = ?`,
        ).run(
          f.serial,
          f.hostname,
          f.osVersion,
          f.osBuild,
          f.model,
          f.santaVersion,
          f.primaryUser,
          f.clientMode,
          f.ruleCount,
          now,
          sync.type,
          sync.target,
          id,
        );
      }),
    countEvents: async (id, events) =>
      write("counting Santa events", (db) => {
        db.prepare(
          "UPDATE santa_machines SET events_received = events_received + ? WHERE id = ?",
        ).run(events, id);
      }),
    postflight: async (id, sync, now) =>
      write("recording a Santa postflight", (db) => {
        db.prepare(
          `UPDATE santa_machines SET last_sync_at = ?, rules_acked = MAX(rules_acked, ?),
             rules_received = ?, rules_processed = ?, sync_type = NULL WHERE id = ?`,
        ).run(now, sync.acked, sync.received, sync.processed, id);
      }),
    machines: async ({ group, after, limit }) =>
      read("reading Santa machines", (db) =>
        group === undefined
          ? (db
              .prepare(
                `SELECT ${MACHINE_COLUMNS} FROM santa_machines WHERE id > ? ORDER BY id LIMIT ?`,
              )
              .all(after ?? "", limit) as MachineRow[])
          : (db
              .prepare(
                `SELECT ${MACHINE_COLUMNS} FROM santa_machines WHERE grp = ? AND id > ? ORDER BY id LIMIT ?`,
              )
              .all(group, after ?? "", limit) as MachineRow[]),
      ),
    machineCounts: async () =>
      read(
        "counting Santa machines",
        (db) =>
          db
            .prepare(
              'SELECT grp AS "group", client_mode AS mode, COUNT(*) AS machines FROM santa_machines GROUP BY grp, client_mode',
            )
            .all() as { group: string; mode: string | null; machines: number }[],
      ),
    noteFiles: async (seen, now) => {
      if (seen.length === 0) return;
      write("recording files Santa reported", (db) => {
        const file = db.prepare(
          `INSERT INTO santa_files (grp, sha256, decision_id, decision, first_seen, last_seen, executions)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (grp, sha256) DO UPDATE SET decision_id = excluded.decision_id,
             decision = excluded.decision, last_seen = excluded.last_seen,
             executions = santa_files.executions + excluded.executions`,
        );
        const machine = db.prepare(
          "INSERT INTO santa_file_machines (grp, sha256, machine_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        );
        db.transaction(() => {
          for (const s of seen) {
            file.run(s.group, s.sha256, s.decisionId, s.decision, now, now, s.executions);
            machine.run(s.group, s.sha256, s.machineId);
          }
          // IMMEDIATE: the write lock first, so a commit of the index follower in between cannot
          // turn this transaction's read snapshot stale (SQLITE_BUSY_SNAPSHOT, not retried)
        }).immediate();
      });
    },
    files: async ({ after, limit }) =>
      read(
        "reading files Santa reported",
        (db) =>
          db
            .prepare(
              `SELECT ${FILE_COLUMNS} FROM santa_files f WHERE f.grp > ? OR (f.grp = ? AND f.sha256 > ?) ORDER BY f.grp, f.sha256 LIMIT ?`,
            )
            .all(
              after?.group ?? "",
              after?.group ?? "",
              after?.sha256 ?? "",
              limit,
            ) as SantaFileRow[],
      ),
    policies: async (group, ruleType, identifiers) =>
      read("reading Santa rules", (db) => {
        const out = new Map<string, string>();
        const one = db.prepare(
          "SELECT policy FROM santa_rules WHERE grp = ? AND rule_type = ? AND identifier = ?",
        );
        for (const id of identifiers) {
          const row = one.get(group, ruleType, id) as { policy: string } | undefined;
          if (row) out.set(id, row.policy);
        }
        return out;
      }),
    filesOf: async (sha256) =>
      read(
        "reading files Santa reported",
        (db) =>
          db
            .prepare(`SELECT ${FILE_COLUMNS} FROM santa_files f WHERE f.sha256 = ? ORDER BY f.grp`)
            .all(sha256) as SantaFileRow[],
      ),
    applyRules: async (changes, now) => {
      if (changes.length === 0) return 0;
      return write("writing Santa rules", (db) => {
        const current = db.prepare(
          "SELECT policy, custom_msg AS customMsg FROM santa_rules WHERE grp = ? AND rule_type = ? AND identifier = ?",
        );
        const head = db.prepare(
          "SELECT COALESCE(MAX(seq), 0) AS seq FROM santa_rules WHERE grp = ?",
        );
        const upsert = db.prepare(
          `INSERT INTO santa_rules (grp, rule_type, identifier, policy, custom_msg, decision_id, seq, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (grp, rule_type, identifier) DO UPDATE SET policy = excluded.policy,
             custom_msg = excluded.custom_msg, decision_id = excluded.decision_id,
             seq = excluded.seq, updated_at = excluded.updated_at`,
        );
        return db
          .transaction(() => {
            let changed = 0;
            for (const c of changes) {
              const was = current.get(c.group, c.ruleType, c.identifier) as
                | { policy: string; customMsg: string }
                | undefined;
              // removing a rule that was never sent changes nothing an agent holds
              if (was === undefined ? c.policy === "REMOVE" : sameRule(was, c)) continue;
              const seq = (head.get(c.group) as { seq: number }).seq + 1;
              upsert.run(
                c.group,
                c.ruleType,
                c.identifier,
                c.policy,
                c.customMsg,
                c.decisionId,
                seq,
                now,
              );
              changed++;
            }
            return changed;
            // IMMEDIATE: it reads what it then writes (see above)
          })
          .immediate();
      });
    },
    ruleHead: async (group) =>
      read(
        "reading Santa rules",
        (db) =>
          (
            db
              .prepare("SELECT COALESCE(MAX(seq), 0) AS seq FROM santa_rules WHERE grp = ?")
              .get(group) as { seq: number }
          ).seq,
      ),
    rulesAfter: async (group, after, upTo, limit, live) =>
      read(
        "reading Santa rules",
        (db) =>
          db
            .prepare(
              `SELECT ${RULE_COLUMNS} FROM santa_rules WHERE grp = ? AND seq > ? AND seq <= ?${live ? " AND policy <> 'REMOVE'" : ""} ORDER BY santa_rules.seq LIMIT ?`,
            )
            .all(group, after, upTo, limit) as SantaRuleRow[],
      ),
    identifiers: async (group, ruleType, policy) =>
      read("reading Santa rules", (db) =>
        (
          db
            .prepare(
              "SELECT identifier FROM santa_rules WHERE grp = ? AND rule_type = ? AND policy = ? ORDER BY identifier",
            )
            .raw()
            .all(group, ruleType, policy) as [string][]
        ).map((r) => r[0]),
      ),
    ruleCounts: async (group) =>
      read(
        "counting Santa rules",
        (db) =>
          db
            .prepare(
              `SELECT rule_type AS ruleType, policy, COUNT(*) AS rules FROM santa_rules
               WHERE grp = ? AND policy <> 'REMOVE' GROUP BY rule_type, policy ORDER BY rule_type, policy`,
            )
            .all(group) as { ruleType: string; policy: string; rules: number }[],
      ),
  };
}
