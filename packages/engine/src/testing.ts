// Test support, exported as @clearance/engine/testing: the reference interpreter and codegen internals.
export { type CompiledProgram, compileProgram, type ListValues } from "./codegen.js";
export {
  environMarker,
  HOSTILE_CASES,
  type HostileCase,
  INSIDE_CASES,
  link,
  makeRuleDir,
  mkfifo,
  OUTSIDE_SECRET,
  passwdLine,
  type RuleDir,
  usesHashlist,
  usesList,
  write,
} from "./hostile-fixtures.js";
export { and3, Interpreter, or3, type Truth } from "./interpret.js";
export { type Fence, fences } from "./markdown.js";
export { Budget, EMPTY_CONTEXT, PreparedBuiltin, prepareContext } from "./runtime.js";
