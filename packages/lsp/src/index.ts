// The public surface of @clearance/lsp, listed by name.
export {
  type LanguageServerOptions,
  resolveOptions,
  ruleDirectoryOf,
  startLanguageServer,
} from "./server.js";
export { type FileState, Workspace, type WorkspaceOptions } from "./workspace.js";
