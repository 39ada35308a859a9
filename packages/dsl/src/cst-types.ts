// Generated from the grammar in parser.ts by packages/dsl/test/cst-types.test.ts: do not edit.
// After changing the grammar, regenerate it:
//   UPDATE_GOLDEN=1 pnpm exec vitest run packages/dsl/test/cst-types.test.ts
//
// Chevrotain's `generateCstDts`, with every child optional: error recovery may leave out any of
// them, even one the grammar requires.
import type { CstNode, ICstVisitor, IToken } from "chevrotain";

export interface FileCstNode extends CstNode {
  name: "file";
  children: FileCstChildren;
}

export type FileCstChildren = {
  rulesetDecl?: RulesetDeclCstNode[];
  strategyDecl?: StrategyDeclCstNode[];
  defaultDecl?: DefaultDeclCstNode[];
  onErrorDecl?: OnErrorDeclCstNode[];
  listDecl?: ListDeclCstNode[];
  hashlistDecl?: HashlistDeclCstNode[];
  contextDecl?: ContextDeclCstNode[];
  inputsDecl?: InputsDeclCstNode[];
  ruleDecl?: RuleDeclCstNode[];
};

export interface RulesetDeclCstNode extends CstNode {
  name: "rulesetDecl";
  children: RulesetDeclCstChildren;
}

export type RulesetDeclCstChildren = {
  Ruleset?: IToken[];
  StringLiteral?: IToken[];
};

export interface StrategyDeclCstNode extends CstNode {
  name: "strategyDecl";
  children: StrategyDeclCstChildren;
}

export type StrategyDeclCstChildren = {
  Strategy?: IToken[];
  DenyOverrides?: IToken[];
  FirstMatch?: IToken[];
};

export interface DefaultDeclCstNode extends CstNode {
  name: "defaultDecl";
  children: DefaultDeclCstChildren;
}

export type DefaultDeclCstChildren = {
  Default?: IToken[];
  Action?: IToken[];
  StringLiteral?: IToken[];
};

export interface OnErrorDeclCstNode extends CstNode {
  name: "onErrorDecl";
  children: OnErrorDeclCstChildren;
}

export type OnErrorDeclCstChildren = {
  OnError?: IToken[];
  Review?: IToken[];
  Deny?: IToken[];
  Ignore?: IToken[];
};

export interface ListDeclCstNode extends CstNode {
  name: "listDecl";
  children: ListDeclCstChildren;
}

export type ListDeclCstChildren = {
  List?: IToken[];
  Identifier?: IToken[];
  Assign?: IToken[];
  listLiteral?: ListLiteralCstNode[];
  From?: IToken[];
  StringLiteral?: IToken[];
};

export interface HashlistDeclCstNode extends CstNode {
  name: "hashlistDecl";
  children: HashlistDeclCstChildren;
}

export type HashlistDeclCstChildren = {
  Hashlist?: IToken[];
  Identifier?: IToken[];
  From?: IToken[];
  StringLiteral?: IToken[];
};

export interface ContextDeclCstNode extends CstNode {
  name: "contextDecl";
  children: ContextDeclCstChildren;
}

export type ContextDeclCstChildren = {
  Context?: IToken[];
  LBrace?: IToken[];
  contextField?: ContextFieldCstNode[];
  Comma?: IToken[];
  RBrace?: IToken[];
};

export interface InputsDeclCstNode extends CstNode {
  name: "inputsDecl";
  children: InputsDeclCstChildren;
}

export type InputsDeclCstChildren = {
  Inputs?: IToken[];
  Identifier?: IToken[];
  Comma?: IToken[];
};

export interface ContextFieldCstNode extends CstNode {
  name: "contextField";
  children: ContextFieldCstChildren;
}

export type ContextFieldCstChildren = {
  Identifier?: IToken[];
  Colon?: IToken[];
  typeRef?: TypeRefCstNode[];
};

export interface TypeRefCstNode extends CstNode {
  name: "typeRef";
  children: TypeRefCstChildren;
}

export type TypeRefCstChildren = {
  Name?: IToken[];
  Lt?: IToken[];
  typeRef?: TypeRefCstNode[];
  Gt?: IToken[];
};

export interface RuleDeclCstNode extends CstNode {
  name: "ruleDecl";
  children: RuleDeclCstChildren;
}

export type RuleDeclCstChildren = {
  Rule?: IToken[];
  Identifier?: IToken[];
  ruleModifier?: RuleModifierCstNode[];
  LBrace?: IToken[];
  ruleClause?: RuleClauseCstNode[];
  RBrace?: IToken[];
};

export interface RuleModifierCstNode extends CstNode {
  name: "ruleModifier";
  children: RuleModifierCstChildren;
}

export type RuleModifierCstChildren = {
  Priority?: IToken[];
  Minus?: IToken[];
  NumberLiteral?: IToken[];
  Monitor?: IToken[];
  Expires?: IToken[];
  Timestamp?: IToken[];
  Overrides?: IToken[];
  Review?: IToken[];
  Deny?: IToken[];
  ForbidApproval?: IToken[];
};

export interface RuleClauseCstNode extends CstNode {
  name: "ruleClause";
  children: RuleClauseCstChildren;
}

export type RuleClauseCstChildren = {
  When?: IToken[];
  expression?: ExpressionCstNode[];
  Unless?: IToken[];
  Action?: IToken[];
  StringLiteral?: IToken[];
};

export interface ExpressionCstNode extends CstNode {
  name: "expression";
  children: ExpressionCstChildren;
}

export type ExpressionCstChildren = {
  notExpr?: NotExprCstNode[];
  LogicalOperator?: IToken[];
};

export interface NotExprCstNode extends CstNode {
  name: "notExpr";
  children: NotExprCstChildren;
}

export type NotExprCstChildren = {
  Not?: IToken[];
  notExpr?: NotExprCstNode[];
  quantifier?: QuantifierCstNode[];
  comparison?: ComparisonCstNode[];
};

export interface QuantifierCstNode extends CstNode {
  name: "quantifier";
  children: QuantifierCstChildren;
}

export type QuantifierCstChildren = {
  Any?: IToken[];
  All?: IToken[];
  Identifier?: IToken[];
  In?: IToken[];
  arith?: ArithCstNode[];
  Colon?: IToken[];
  expression?: ExpressionCstNode[];
};

export interface ComparisonCstNode extends CstNode {
  name: "comparison";
  children: ComparisonCstChildren;
}

export type ComparisonCstChildren = {
  arith?: ArithCstNode[];
  ComparisonOperator?: IToken[];
  Not?: IToken[];
  In?: IToken[];
  Contains?: IToken[];
  StartsWith?: IToken[];
  EndsWith?: IToken[];
  Matches?: IToken[];
  RegexLiteral?: IToken[];
};

export interface ArithCstNode extends CstNode {
  name: "arith";
  children: ArithCstChildren;
}

export type ArithCstChildren = {
  unary?: UnaryCstNode[];
  ArithmeticOperator?: IToken[];
};

export interface UnaryCstNode extends CstNode {
  name: "unary";
  children: UnaryCstChildren;
}

export type UnaryCstChildren = {
  Minus?: IToken[];
  unary?: UnaryCstNode[];
  primary?: PrimaryCstNode[];
  Dot?: IToken[];
  Name?: IToken[];
};

export interface PrimaryCstNode extends CstNode {
  name: "primary";
  children: PrimaryCstChildren;
}

export type PrimaryCstChildren = {
  StringLiteral?: IToken[];
  NumberLiteral?: IToken[];
  Duration?: IToken[];
  Timestamp?: IToken[];
  True?: IToken[];
  False?: IToken[];
  listLiteral?: ListLiteralCstNode[];
  LParen?: IToken[];
  expression?: ExpressionCstNode[];
  RParen?: IToken[];
  countExpr?: CountExprCstNode[];
  Identifier?: IToken[];
  Comma?: IToken[];
  Context?: IToken[];
  Exception?: IToken[];
  Case?: IToken[];
};

export interface CountExprCstNode extends CstNode {
  name: "countExpr";
  children: CountExprCstChildren;
}

export type CountExprCstChildren = {
  Count?: IToken[];
  LParen?: IToken[];
  Identifier?: IToken[];
  In?: IToken[];
  arith?: ArithCstNode[];
  Where?: IToken[];
  expression?: ExpressionCstNode[];
  RParen?: IToken[];
};

export interface ListLiteralCstNode extends CstNode {
  name: "listLiteral";
  children: ListLiteralCstChildren;
}

export type ListLiteralCstChildren = {
  LBracket?: IToken[];
  expression?: ExpressionCstNode[];
  Comma?: IToken[];
  RBracket?: IToken[];
};

export interface RulesCstVisitor<IN, OUT> extends ICstVisitor<IN, OUT> {
  file(children: FileCstChildren, param?: IN): OUT;
  rulesetDecl(children: RulesetDeclCstChildren, param?: IN): OUT;
  strategyDecl(children: StrategyDeclCstChildren, param?: IN): OUT;
  defaultDecl(children: DefaultDeclCstChildren, param?: IN): OUT;
  onErrorDecl(children: OnErrorDeclCstChildren, param?: IN): OUT;
  listDecl(children: ListDeclCstChildren, param?: IN): OUT;
  hashlistDecl(children: HashlistDeclCstChildren, param?: IN): OUT;
  contextDecl(children: ContextDeclCstChildren, param?: IN): OUT;
  inputsDecl(children: InputsDeclCstChildren, param?: IN): OUT;
  contextField(children: ContextFieldCstChildren, param?: IN): OUT;
  typeRef(children: TypeRefCstChildren, param?: IN): OUT;
  ruleDecl(children: RuleDeclCstChildren, param?: IN): OUT;
  ruleModifier(children: RuleModifierCstChildren, param?: IN): OUT;
  ruleClause(children: RuleClauseCstChildren, param?: IN): OUT;
  expression(children: ExpressionCstChildren, param?: IN): OUT;
  notExpr(children: NotExprCstChildren, param?: IN): OUT;
  quantifier(children: QuantifierCstChildren, param?: IN): OUT;
  comparison(children: ComparisonCstChildren, param?: IN): OUT;
  arith(children: ArithCstChildren, param?: IN): OUT;
  unary(children: UnaryCstChildren, param?: IN): OUT;
  primary(children: PrimaryCstChildren, param?: IN): OUT;
  countExpr(children: CountExprCstChildren, param?: IN): OUT;
  listLiteral(children: ListLiteralCstChildren, param?: IN): OUT;
}
