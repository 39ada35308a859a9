import { parentPort } from "node:worker_threads";
import { checkSources, type DirectoryRequest } from "./workspace.js";

// The whole-directory check on its own thread: on 10,000 rules it takes most of a second, and
// the server's thread must stay free for the next keystroke meanwhile.
parentPort?.on("message", (message: { id: number; request: DirectoryRequest }) => {
  try {
    parentPort!.postMessage({ id: message.id, diagnostics: checkSources(message.request) });
  } catch (error) {
    parentPort!.postMessage({ id: message.id, error: (error as Error).message });
  }
});
