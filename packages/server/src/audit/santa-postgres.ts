// The Santa sync server's tables in the PostgreSQL log (santa-store.ts). Rule sequence numbers are
// handed out under a per-group transaction lock: numbers taken by transactions that commit out of
// order would let a machine acknowledge a number past a rule it never received.
import type pg from "pg";
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

type Query = <R extends pg.QueryResultRow>(
  sql: string,
  params?: unknown[],
) => Promise<pg.QueryResult<R>>;
type Transaction = <T>(what: string, work: (client: pg.PoolClient) => Promise<T>) => Promise<T>;

export function postgresSantaStore(query: Query, transaction: Transaction): SantaStore {
  return {
    machine: async (id) =>
      (await query<MachineRow>(`SELECT ${MACHINE_COLUMNS} FROM santa_machines WHERE id = $1`, [id]))
        .rows[0],
    register: async (id, group, now) => {
      await query(
        "INSERT INTO santa_machines (id, grp, registered_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        [id, group, now],
      );
      return (
        await query<MachineRow>(`SELECT ${MACHINE_COLUMNS} FROM santa_machines WHERE id = $1`, [id])
      ).rows[0]!;
    },
    move: async (id, group) => {
      await query(MOVE_MACHINE, [group, id]);
      return (
        await query<MachineRow>(`SELECT ${MACHINE_COLUMNS} FROM santa_machines WHERE id = $1`, [id])
      ).rows[0]!;
    },
    lag: async () =>
      (await query<{ group: string; rulesBehind: number; neverSynced: number }>(LAG_QUERY)).rows,
    preflight: async (id, f, sync, now) => {
      await query(
        `UPDATE santa_machines SET serial = $1, hostname = $2, os_version = $3, os_build = $4,
           model = $5, santa_version = $6, primary_user = $7, client_mode = $8, rule_count = $9,
           last_preflight_at = $10, sync_type = $11, sync_target = $12 WHERE id = $13`,
        [
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
        ],
      );
    },
    countEvents: async (id, events) => {
      await query(
        "UPDATE santa_machines SET events_received = events_received + $1 WHERE id = $2",
        [events, id],
      );
    },
    postflight: async (id, sync, now) => {
      await query(
        `UPDATE santa_machines SET last_sync_at = $1, rules_acked = GREATEST(rules_acked, $2),
           rules_received = $3, rules_processed = $4, sync_type = NULL WHERE id = $5`,
        [now, sync.acked, sync.received, sync.processed, id],
      );
    },
    machines: async ({ group, after, limit }) =>
      (group === undefined
        ? await query<MachineRow>(
            `SELECT ${MACHINE_COLUMNS} FROM santa_machines WHERE id > $1 ORDER BY id LIMIT $2`,
            [after ?? "", limit],
          )
        : await query<MachineRow>(
            `SELECT ${MACHINE_COLUMNS} FROM santa_machines WHERE grp = $1 AND id > $2 ORDER BY id LIMIT $3`,
            [group, after ?? "", limit],
          )
      ).rows,
    machineCounts: async () =>
      (
        await query<{ group: string; mode: string | null; machines: number }>(
          'SELECT grp AS "group", client_mode AS mode, CAST(COUNT(*) AS INTEGER) AS machines FROM santa_machines GROUP BY grp, client_mode',
        )
      ).rows,
    noteFiles: async (seen, now) => {
      if (seen.length === 0) return;
      await transaction("recording files Santa reported", async (client) => {
        for (const s of seen) {
          await client.query(
            `INSERT INTO santa_files (grp, sha256, decision_id, decision, first_seen, last_seen, executions)
             VALUES ($1, $2, $3, $4, $5, $5, $6)
             ON CONFLICT (grp, sha256) DO UPDATE SET decision_id = excluded.decision_id,
               decision = excluded.decision, last_seen = excluded.last_seen,
               executions = santa_files.executions + excluded.executions`,
            [s.group, s.sha256, s.decisionId, s.decision, now, s.executions],
          );
          await client.query(
            "INSERT INTO santa_file_machines (grp, sha256, machine_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            [s.group, s.sha256, s.machineId],
          );
        }
      });
    },
    files: async ({ after, limit }) =>
      (
        await query<SantaFileRow>(
          `SELECT ${FILE_COLUMNS} FROM santa_files f WHERE f.grp > $1 OR (f.grp = $1 AND f.sha256 > $2) ORDER BY f.grp, f.sha256 LIMIT $3`,
          [after?.group ?? "", after?.sha256 ?? "", limit],
        )
      ).rows,
    policies: async (group, ruleType, identifiers) => {
      const { rows } = await query<{ identifier: string; policy: string }>(
        "SELECT identifier, policy FROM santa_rules WHERE grp = $1 AND rule_type = $2 AND identifier = ANY($3)",
        [group, ruleType, [...identifiers]],
      );
      return new Map(rows.map((r) => [r.identifier, r.policy]));
    },
    filesOf: async (sha256) =>
      (
        await query<SantaFileRow>(
          `SELECT ${FILE_COLUMNS} FROM santa_files f WHERE f.sha256 = $1 ORDER BY f.grp`,
          [sha256],
        )
      ).rows,
    applyRules: async (changes, now) => {
      if (changes.length === 0) return 0;
      return transaction("writing Santa rules", async (client) => {
        // one lock per group, taken in a fixed order so that two writers never wait on each other
        const groups = [...new Set(changes.map((c) => c.group))].sort();
        for (const group of groups)
          await client.query(
            "SELECT pg_advisory_xact_lock(hashtext('clearance-santa-rules'), hashtext($1))",
            [group],
          );
        const heads = new Map<string, number>();
        let changed = 0;
        for (const c of changes) {
          const was = (
            await client.query<{ policy: string; customMsg: string }>(
              'SELECT policy, custom_msg AS "customMsg" FROM santa_rules WHERE grp = $1 AND rule_type = $2 AND identifier = $3',
              [c.group, c.ruleType, c.identifier],
            )
          ).rows[0];
          if (was === undefined ? c.policy === "REMOVE" : sameRule(was, c)) continue;
          let head = heads.get(c.group);
          if (head === undefined)
            head = Number(
              (
                await client.query<{ seq: string }>(
                  "SELECT COALESCE(MAX(seq), 0) AS seq FROM santa_rules WHERE grp = $1",
                  [c.group],
                )
              ).rows[0]!.seq,
            );
          head++;
          heads.set(c.group, head);
          await client.query(
            `INSERT INTO santa_rules (grp, rule_type, identifier, policy, custom_msg, decision_id, seq, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (grp, rule_type, identifier) DO UPDATE SET policy = excluded.policy,
               custom_msg = excluded.custom_msg, decision_id = excluded.decision_id,
               seq = excluded.seq, updated_at = excluded.updated_at`,
            [c.group, c.ruleType, c.identifier, c.policy, c.customMsg, c.decisionId, head, now],
          );
          changed++;
        }
        return changed;
      });
    },
    ruleHead: async (group) =>
      Number(
        (
          await query<{ seq: string }>(
            "SELECT COALESCE(MAX(seq), 0) AS seq FROM santa_rules WHERE grp = $1",
            [group],
          )
        ).rows[0]!.seq,
      ),
    rulesAfter: async (group, after, upTo, limit, live) =>
      (
        await query<SantaRuleRow>(
          `SELECT ${RULE_COLUMNS} FROM santa_rules WHERE grp = $1 AND seq > $2 AND seq <= $3${live ? " AND policy <> 'REMOVE'" : ""} ORDER BY santa_rules.seq LIMIT $4`,
          [group, after, upTo, limit],
        )
      ).rows,
    identifiers: async (group, ruleType, policy) =>
      (
        await query<{ identifier: string }>(
          "SELECT identifier FROM santa_rules WHERE grp = $1 AND rule_type = $2 AND policy = $3 ORDER BY identifier",
          [group, ruleType, policy],
        )
      ).rows.map((r) => r.identifier),
    ruleCounts: async (group) =>
      (
        await query<{ ruleType: string; policy: string; rules: number }>(
          `SELECT rule_type AS "ruleType", policy, CAST(COUNT(*) AS INTEGER) AS rules FROM santa_rules
           WHERE grp = $1 AND policy <> 'REMOVE' GROUP BY rule_type, policy ORDER BY rule_type, policy`,
          [group],
        )
      ).rows,
  };
}
