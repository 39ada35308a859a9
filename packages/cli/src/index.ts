// The public surface of @clearance/cli: run the command line in-process (tests, embedding).
export { buildProgram, main } from "./main.js";
export { CliError, type Output } from "./output.js";
