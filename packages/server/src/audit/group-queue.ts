// The group commit of a writer thread (SQLite's or the journal's): appends that arrive while a
// group is written queue as messages, and are written together in the next group, at most
// `maxBatch` entries to one (a single request larger than that is written whole).
import type { AppendRequest } from "./sqlite-append.js";

export class GroupQueue {
  private readonly queue: AppendRequest[] = [];
  private scheduled = false;

  constructor(
    private readonly maxBatch: number,
    /** writes one group and answers each of its requests */
    private readonly write: (group: AppendRequest[]) => void,
  ) {}

  push(request: AppendRequest): void {
    this.queue.push(request);
    // messages that arrived during a group are all delivered before this runs
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  /** Writes everything queued, group by group (also before a probe, a checkpoint or closing). */
  drain(): void {
    this.scheduled = false;
    const queue = this.queue;
    while (queue.length > 0) {
      let n = 0;
      let entries = 0;
      while (n < queue.length && (n === 0 || entries + queue[n]!.items.length <= this.maxBatch))
        entries += queue[n++]!.items.length;
      this.write(queue.splice(0, n));
    }
  }
}
