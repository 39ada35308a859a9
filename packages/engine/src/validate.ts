// The canonical result's schema, for the rule compiler (compile.ts reads the field types from
// it). The result model and its validation live in @clearance/result; nothing else is here.
export { RESULT_SCHEMA } from "@clearance/result";
