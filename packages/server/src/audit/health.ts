// Whether the audit log can record now, as its writes, probes and reads have found it. Readiness
// answers from here, and each change is told once (the server logs it and counts it): an outage
// when it starts, with its duration when it ends; damage when it is found.
import { AuditDamagedError, AuditUnavailableError } from "./backend.js";

export type AuditHealthState =
  | { status: "available" }
  /** writes fail now (the store is down, locked, full); a write or probe that succeeds ends it */
  | { status: "unavailable"; since: number; reason: string }
  /** the store is damaged: nothing but an operator ends it */
  | { status: "damaged"; since: number; reason: string };

export type AuditHealthChange =
  | { to: "unavailable"; reason: string }
  | { to: "available"; downSeconds: number; reason: string }
  | { to: "damaged"; reason: string };

export class AuditHealth {
  private current: AuditHealthState = { status: "available" };
  private readonly listeners = new Set<(change: AuditHealthChange) => void>();

  get state(): AuditHealthState {
    return this.current;
  }

  /** Calls `listener` on every change; returns its remover. */
  onChange(listener: (change: AuditHealthChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: AuditHealthChange): void {
    for (const l of this.listeners) l(change);
  }

  /** A write or a probe succeeded. */
  succeeded(now = Date.now()): void {
    const was = this.current;
    if (was.status !== "unavailable") return;
    this.current = { status: "available" };
    this.emit({ to: "available", downSeconds: (now - was.since) / 1000, reason: was.reason });
  }

  /**
   * Something failed. `startedAt` is when the failed operation began: a write that hung until its
   * deadline was failing from then on. A failure of one entry alone (`scope: "entry"`) says
   * nothing about the store, and errors that are not the store's are bugs: neither counts.
   */
  failed(error: unknown, startedAt = Date.now()): void {
    if (!(error instanceof AuditUnavailableError) || error.scope === "entry") return;
    const was = this.current;
    if (was.status === "damaged") return;
    if (error instanceof AuditDamagedError) {
      this.current = { status: "damaged", since: Date.now(), reason: error.message };
      this.emit({ to: "damaged", reason: error.message });
      return;
    }
    if (was.status === "unavailable") {
      this.current = { ...was, reason: error.message };
      return;
    }
    this.current = { status: "unavailable", since: startedAt, reason: error.message };
    this.emit({ to: "unavailable", reason: error.message });
  }
}
