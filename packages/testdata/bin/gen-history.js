#!/usr/bin/env node
// pnpm links a workspace package's bins at install, before `prepare` builds dist/: a bin that
// points into dist/ does not exist yet and pnpm warns. This file does, and loads the build.
await import("../dist/gen-history.js");
