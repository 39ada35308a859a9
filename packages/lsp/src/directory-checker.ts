import { Worker } from "node:worker_threads";
import type { Diagnostic } from "@clearance/dsl";
import { checkSources, type DirectoryRequest } from "./workspace.js";

/**
 * Runs whole-directory checks on one worker thread, one at a time, so that the server answers
 * keystrokes while a check of a big directory runs. Where no worker can start (the sources run
 * without a build, as under a test runner), the check runs on the caller's thread.
 */
export class DirectoryChecker {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly waiting = new Map<
    number,
    { resolve: (d: Diagnostic[]) => void; reject: (e: Error) => void }
  >();

  constructor() {
    const script = new URL("./directory-worker.js", import.meta.url);
    try {
      if (script.pathname.includes("/dist/")) {
        this.worker = new Worker(script);
        this.worker.unref();
        this.worker.on(
          "message",
          (m: { id: number; diagnostics?: Diagnostic[]; error?: string }) => {
            const w = this.waiting.get(m.id);
            this.waiting.delete(m.id);
            if (m.diagnostics) w?.resolve(m.diagnostics);
            else w?.reject(new Error(m.error ?? "the directory check failed"));
          },
        );
        this.worker.on("error", (error) => {
          for (const w of this.waiting.values()) w.reject(error);
          this.waiting.clear();
          this.worker = undefined;
        });
      }
    } catch {
      this.worker = undefined;
    }
  }

  check(request: DirectoryRequest): Promise<Diagnostic[]> {
    if (!this.worker) return Promise.resolve(checkSources(request));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker!.postMessage({ id, request });
    });
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
    this.worker = undefined;
  }
}
