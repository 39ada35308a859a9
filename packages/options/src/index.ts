// The public surface of @clearance/options, listed by name. TypeBox's builder and its `Static` are
// re-exported so every package declares its options with the one TypeBox this package resolves.
export { type Static, type TProperties, type TSchema, Type } from "typebox";
export {
  type Checked,
  checkOptions,
  defaultsOf,
  expectation,
  expected,
  formatIssue,
  type Issue,
  type IssueKind,
  keyPath,
  messages,
  type OptionsInput,
  type PathSegment,
  type ResolveSettings,
  resolveOptions,
  type SchemaNode,
  showValue,
  Unlimited,
} from "./resolve.js";
