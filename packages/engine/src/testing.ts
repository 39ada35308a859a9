// Test support, exported as @clearance/engine/testing: the reference interpreter and codegen internals.
export { type CompiledProgram, compileProgram, type ListValues } from "./codegen.js";
export { and3, Interpreter, or3, type Truth } from "./interpret.js";
export { Budget, EMPTY_CONTEXT, prepareContext } from "./runtime.js";
