/**
 * Fault injection, reproducible: while a rate is set, every eligible request draws four values
 * from one seeded stream, restarted whenever the settings change, so a given seed and request
 * sequence fail the same way.
 */
import { mulberry32 } from "@clearance/testdata";
import type { Faults } from "./options.js";
import { mixSeed } from "./results.js";

/** What happens to one request. */
export interface FaultDraw {
  drop: boolean;
  /** an error answered instead of processing the request */
  error: "internal_error" | "unavailable" | null;
  truncate: boolean;
}

const NONE: FaultDraw = Object.freeze({ drop: false, error: null, truncate: false });

export class FaultInjector {
  #faults: Faults;
  #rnd: () => number;

  constructor(
    readonly initial: Readonly<Faults>,
    readonly seed: number,
  ) {
    this.#faults = { ...initial };
    this.#rnd = mulberry32(mixSeed("faults", seed));
  }

  /** The settings in force, with what is left of a rate-limit storm. */
  get(): Readonly<Faults> {
    return { ...this.#faults };
  }

  /** Replaces the settings and restarts the stream (from `seed`, default the simulator's). */
  set(faults: Readonly<Faults>, seed: number = this.seed): void {
    this.#faults = { ...faults };
    this.#rnd = mulberry32(mixSeed("faults", seed));
  }

  reset(): void {
    this.set(this.initial);
  }

  /** Whether faults apply to a path (never to the admin API). */
  applies(path: string): boolean {
    if (path === "/_sim" || path.startsWith("/_sim/")) return false;
    return this.#faults.only === null || path.startsWith(this.#faults.only);
  }

  get latencyMs(): number {
    return this.#faults.latencyMs;
  }

  /** Uses up one request of a rate-limit storm; true when this request is refused. */
  takeStorm(): boolean {
    if (this.#faults.rateLimitStorm <= 0) return false;
    this.#faults.rateLimitStorm--;
    return true;
  }

  draw(): FaultDraw {
    const f = this.#faults;
    if (f.dropRate === 0 && f.errorRate === 0 && f.truncateRate === 0) return NONE;
    const [d, e, kind, t] = [this.#rnd(), this.#rnd(), this.#rnd(), this.#rnd()];
    if (d < f.dropRate) return { ...NONE, drop: true };
    if (e < f.errorRate) return { ...NONE, error: kind < 0.5 ? "internal_error" : "unavailable" };
    return { ...NONE, truncate: t < f.truncateRate };
  }
}
