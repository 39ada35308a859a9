// The event loop's side of the SQLite reader threads: a small pool, each thread with a read-only
// connection, serving one request at a time from one queue. Requests are bounded chunks (a page of
// a search, a piece of an export, a stretch of a verification), so a long read takes turns with the
// others instead of holding a thread, and never holds the event loop.
import { Worker } from "node:worker_threads";
import type { EntryKind } from "./kinds.js";
import type { ReaderInit, ReadOp, ReadReply, ReadRequest } from "./sqlite-reader.js";

interface Waiting {
  op: ReadOp;
  args: unknown[];
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  /** the request the thread is serving, by id */
  current: { id: number; waiting: Waiting } | undefined;
  exited: Promise<void>;
}

/** A failed read as the thread reported it: SQLite's message and code. */
export class ReadFailure extends Error {
  override name = "ReadFailure";
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export class ReaderPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Waiting[] = [];
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly kinds: readonly EntryKind[],
    private readonly size: number,
    private readonly url: URL,
  ) {}

  /** Runs `op` on a reader thread; rejects with ReadFailure when SQLite failed it. */
  call(op: ReadOp, args: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(new ReadFailure("the audit store is closed", undefined));
    return new Promise((resolve, reject) => {
      this.queue.push({ op, args, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const idle = this.slots.find((s) => s.ready && s.current === undefined);
      if (!idle) {
        // another thread while the ones there are busy, up to the pool's size
        if (this.slots.length < this.size && this.slots.every((s) => s.ready)) this.start();
        return;
      }
      const waiting = this.queue.shift()!;
      const id = ++this.nextId;
      idle.current = { id, waiting };
      idle.worker.postMessage({ id, op: waiting.op, args: waiting.args } satisfies ReadRequest);
    }
  }

  private start(): void {
    const worker = new Worker(this.url, {
      workerData: { path: this.path, kinds: this.kinds } satisfies ReaderInit,
      execArgv: [],
    });
    const slot: Slot = {
      worker,
      ready: false,
      current: undefined,
      exited: new Promise((resolve) => worker.once("exit", () => resolve())),
    };
    this.slots.push(slot);
    worker.on("message", (m: ReadReply | "ready") => {
      if (m === "ready") {
        slot.ready = true;
        this.dispatch();
        return;
      }
      const current = slot.current;
      if (!current || current.id !== m.id) return;
      slot.current = undefined;
      if (m.ok) current.waiting.resolve(m.value);
      else current.waiting.reject(new ReadFailure(m.message, m.code));
      this.dispatch();
    });
    const stopped = (error: Error) => {
      const at = this.slots.indexOf(slot);
      if (at < 0) return;
      this.slots.splice(at, 1);
      const failure = new ReadFailure(
        `the audit reader thread stopped: ${error.message}`,
        (error as Error & { code?: string }).code,
      );
      slot.current?.waiting.reject(failure);
      slot.current = undefined;
      // a thread that could not open the database fails what waits for it rather than retrying
      // forever; the next read starts a new one
      if (!slot.ready) for (const w of this.queue.splice(0)) w.reject(failure);
      else this.dispatch();
    };
    worker.on("error", stopped);
    worker.on("exit", (code) => {
      if (!this.closed || code !== 0) stopped(new Error(`exit code ${code}`));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.queue.splice(0))
      w.reject(new ReadFailure("the audit store is closed", undefined));
    for (const slot of this.slots) {
      if (slot.ready) slot.worker.postMessage("close");
      else void slot.worker.terminate();
    }
    await Promise.all(this.slots.map((s) => s.exited));
    for (const slot of this.slots.splice(0))
      slot.current?.waiting.reject(new ReadFailure("the audit store is closed", undefined));
  }
}
