import type {
  CstNode,
  ICstVisitor,
  IParserErrorMessageProvider,
  IToken,
  ParserMethod,
  TokenType,
} from "chevrotain";
import { CstParser, EOF, tokenLabel } from "./chevrotain.js";
import type { RulesCstVisitor } from "./cst-types.js";
import * as t from "./tokens.js";

function describe(token: IToken): string {
  if (token.tokenType === EOF) return "the end of the file";
  const image = token.image.length > 24 ? `${token.image.slice(0, 24)}...` : token.image;
  return `\`${image}\``;
}

function labels(types: TokenType[]): string {
  const names = [...new Set(types.map((type) => tokenLabel(type)))];
  if (names.length <= 1) return names[0] ?? "something else";
  return `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
}

/** Messages in the project's style: lower case, no trailing period, source text in backticks. */
const errorMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual }) =>
    `expected ${tokenLabel(expected)}, found ${describe(actual)}`,
  buildNotAllInputParsedMessage: ({ firstRedundant }) =>
    `expected a declaration or a rule, found ${describe(firstRedundant)}`,
  buildNoViableAltMessage: ({ expectedPathsPerAlt, actual, ruleName }) => {
    const first = expectedPathsPerAlt.flat().map((path) => path[0]!);
    // after `overrides`, only its action can follow: say so rather than list every modifier
    const description =
      ruleName === "ruleModifier" && !first.includes(t.Priority)
        ? undefined
        : ruleDescription[ruleName];
    return `expected ${description ?? labels(first)}, found ${describe(actual[0]!)}`;
  },
  buildEarlyExitMessage: ({ expectedIterationPaths, actual, ruleName }) => {
    const first = expectedIterationPaths.map((path) => path[0]!);
    return `expected ${ruleDescription[ruleName] ?? labels(first)}, found ${describe(actual[0]!)}`;
  },
};

const ruleDescription: Record<string, string> = {
  file: "a declaration (`ruleset`, `strategy`, `default`, `on-error`, `list`, `hashlist`, `context`, `inputs`) or a `rule`",
  primary: "an expression (a field, a literal, a list or a function call)",
  unary: "an expression (a field, a literal, a list or a function call)",
  notExpr: "an expression (a field, a literal, a list or a function call)",
  ruleClause: "`when`, `unless`, or an outcome (`allow`, `deny`, `review`)",
  ruleModifier: "`priority`, `monitor`, `expires`, `overrides`, `forbid-approval` or `{`",
};

/** Thrown out of a parse that found `errorLimit` errors; the errors so far are in `errors`. */
export class TooManyErrors extends Error {
  override name = "TooManyErrors";
}

/** Errors recovered from inside one repetition before it gives up (see the constructor). */
const MAX_NESTED_RECOVERIES = 50;

/**
 * The grammar only: it builds a concrete syntax tree, and `build-ast.ts` turns that into the AST.
 * Each method carries its rule in EBNF.
 */
export class RulesParser extends CstParser {
  /** errors one parse records before it gives up with TooManyErrors (parse.ts sets it) */
  errorLimit = Number.POSITIVE_INFINITY;

  constructor() {
    super(t.allTokens, {
      recoveryEnabled: true,
      maxLookahead: 3,
      nodeLocationTracking: "onlyOffset",
      errorMessageProvider: errorMessages,
    });
    this.performSelfAnalysis();
    // Chevrotain recovers from an error inside a repetition (the clauses of a rule, the items of a
    // file) by calling the repetition again from inside itself: one level of stack per error, so a
    // rule of thousands of errors overflowed it. Past MAX_NESTED_RECOVERIES the repetition simply
    // ends, and the error is recovered from in the enclosing rule.
    const self = this as unknown as {
      attemptInRepetitionRecovery: (...args: unknown[]) => void;
      SAVE_ERROR: (error: unknown) => unknown;
      _errors: unknown[];
    };
    // Each error the parser recovers from costs it about a millisecond: a parse stops once it has
    // found `errorLimit` of them, rather than spend minutes on a file of garbage.
    const saveError = self.SAVE_ERROR;
    const parser = this;
    self.SAVE_ERROR = function (this: typeof self, error: unknown) {
      const saved = saveError.call(this, error);
      if (this._errors.length >= parser.errorLimit) throw new TooManyErrors();
      return saved;
    };
    const attempt = self.attemptInRepetitionRecovery;
    let depth = 0;
    self.attemptInRepetitionRecovery = function (this: unknown, ...args: unknown[]) {
      if (depth >= MAX_NESTED_RECOVERIES) return;
      depth++;
      try {
        attempt.apply(this, args);
      } finally {
        depth--;
      }
    };
  }

  // file ::= (rulesetDecl | strategyDecl | defaultDecl | onErrorDecl | listDecl | hashlistDecl | contextDecl
  //           | inputsDecl | ruleDecl)*
  public file = this.RULE("file", () => {
    this.MANY(() =>
      this.OR([
        { ALT: () => this.SUBRULE(this.rulesetDecl) },
        { ALT: () => this.SUBRULE(this.strategyDecl) },
        { ALT: () => this.SUBRULE(this.defaultDecl) },
        { ALT: () => this.SUBRULE(this.onErrorDecl) },
        { ALT: () => this.SUBRULE(this.listDecl) },
        { ALT: () => this.SUBRULE(this.hashlistDecl) },
        { ALT: () => this.SUBRULE(this.contextDecl) },
        { ALT: () => this.SUBRULE(this.inputsDecl) },
        { ALT: () => this.SUBRULE(this.ruleDecl) },
      ]),
    );
  });

  // rulesetDecl ::= 'ruleset' String
  public rulesetDecl = this.RULE("rulesetDecl", () => {
    this.CONSUME(t.Ruleset);
    this.CONSUME(t.StringLiteral);
  });

  // strategyDecl ::= 'strategy' ('deny-overrides' | 'first-match')
  public strategyDecl = this.RULE("strategyDecl", () => {
    this.CONSUME(t.Strategy);
    this.OR([
      { ALT: () => this.CONSUME(t.DenyOverrides) },
      { ALT: () => this.CONSUME(t.FirstMatch) },
    ]);
  });

  // defaultDecl ::= 'default' ('allow' | 'deny' | 'review') String
  public defaultDecl = this.RULE("defaultDecl", () => {
    this.CONSUME(t.Default);
    this.CONSUME(t.Action);
    this.CONSUME(t.StringLiteral);
  });

  // onErrorDecl ::= 'on-error' ('review' | 'deny' | 'ignore')
  public onErrorDecl = this.RULE("onErrorDecl", () => {
    this.CONSUME(t.OnError);
    this.OR([
      { ALT: () => this.CONSUME(t.Review) },
      { ALT: () => this.CONSUME(t.Deny) },
      { ALT: () => this.CONSUME(t.Ignore) },
    ]);
  });

  // listDecl ::= 'list' Identifier ('=' listLiteral | 'from' String)
  public listDecl = this.RULE("listDecl", () => {
    this.CONSUME(t.List);
    this.CONSUME(t.Identifier);
    this.OR([
      {
        ALT: () => {
          this.CONSUME(t.Assign);
          this.SUBRULE(this.listLiteral);
        },
      },
      {
        ALT: () => {
          this.CONSUME(t.From);
          this.CONSUME(t.StringLiteral);
        },
      },
    ]);
  });

  // hashlistDecl ::= 'hashlist' Identifier 'from' String
  public hashlistDecl = this.RULE("hashlistDecl", () => {
    this.CONSUME(t.Hashlist);
    this.CONSUME(t.Identifier);
    this.CONSUME(t.From);
    this.CONSUME(t.StringLiteral);
  });

  // contextDecl ::= 'context' '{' (contextField (',' contextField)* ','?)? '}'
  public contextDecl = this.RULE("contextDecl", () => {
    this.CONSUME(t.Context);
    this.CONSUME(t.LBrace);
    this.MANY(() => {
      this.SUBRULE(this.contextField);
      this.OPTION(() => this.CONSUME(t.Comma));
    });
    this.CONSUME(t.RBrace);
  });

  // inputsDecl ::= 'inputs' Identifier (',' Identifier)*
  public inputsDecl = this.RULE("inputsDecl", () => {
    this.CONSUME(t.Inputs);
    this.AT_LEAST_ONE_SEP({ SEP: t.Comma, DEF: () => this.CONSUME(t.Identifier) });
  });

  // contextField ::= Identifier ':' typeRef
  public contextField = this.RULE("contextField", () => {
    this.CONSUME(t.Identifier);
    this.CONSUME(t.Colon);
    this.SUBRULE(this.typeRef);
  });

  // typeRef ::= Name ('<' typeRef '>')?
  public typeRef = this.RULE("typeRef", () => {
    this.CONSUME(t.Name);
    this.OPTION(() => {
      this.CONSUME(t.Lt);
      this.SUBRULE(this.typeRef);
      this.CONSUME(t.Gt);
    });
  });

  // ruleDecl ::= 'rule' Identifier ruleModifier* '{' ruleClause* '}'
  public ruleDecl = this.RULE("ruleDecl", () => {
    this.CONSUME(t.Rule);
    this.CONSUME(t.Identifier);
    this.MANY(() => this.SUBRULE(this.ruleModifier));
    this.CONSUME(t.LBrace);
    this.MANY2(() => this.SUBRULE(this.ruleClause));
    this.CONSUME(t.RBrace);
  });

  // ruleModifier ::= 'priority' '-'? Number | 'monitor' | 'expires' Timestamp
  //                | 'overrides' ('review' | 'deny') | 'forbid-approval'
  public ruleModifier = this.RULE("ruleModifier", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(t.Priority);
          this.OPTION(() => this.CONSUME(t.Minus));
          this.CONSUME(t.NumberLiteral);
        },
      },
      { ALT: () => this.CONSUME(t.Monitor) },
      {
        ALT: () => {
          this.CONSUME(t.Expires);
          this.CONSUME(t.Timestamp);
        },
      },
      {
        ALT: () => {
          this.CONSUME(t.Overrides);
          this.OR2([{ ALT: () => this.CONSUME(t.Review) }, { ALT: () => this.CONSUME(t.Deny) }]);
        },
      },
      { ALT: () => this.CONSUME(t.ForbidApproval) },
    ]);
  });

  // ruleClause ::= 'when' expression | 'unless' expression | ('allow' | 'deny' | 'review') String
  public ruleClause = this.RULE("ruleClause", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(t.When);
          this.SUBRULE(this.expression);
        },
      },
      {
        ALT: () => {
          this.CONSUME(t.Unless);
          this.SUBRULE2(this.expression);
        },
      },
      {
        ALT: () => {
          this.CONSUME(t.Action);
          this.CONSUME(t.StringLiteral);
        },
      },
    ]);
  });

  // expression ::= notExpr (('and' | 'or') notExpr)*
  // One flat chain keeps the parser shallow; the AST builder applies precedence (`and` before `or`).
  public expression = this.RULE("expression", () => {
    this.SUBRULE(this.notExpr);
    this.MANY(() => {
      this.CONSUME(t.LogicalOperator);
      this.SUBRULE2(this.notExpr);
    });
  });

  // notExpr ::= 'not' notExpr | quantifier | comparison
  public notExpr = this.RULE("notExpr", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(t.Not);
          this.SUBRULE(this.notExpr);
        },
      },
      { ALT: () => this.SUBRULE(this.quantifier) },
      { ALT: () => this.SUBRULE(this.comparison) },
    ]);
  });

  // quantifier ::= ('any' | 'all') Identifier 'in' arith ':' expression
  public quantifier = this.RULE("quantifier", () => {
    this.OR([{ ALT: () => this.CONSUME(t.Any) }, { ALT: () => this.CONSUME(t.All) }]);
    this.CONSUME(t.Identifier);
    this.CONSUME(t.In);
    this.SUBRULE(this.arith);
    this.CONSUME(t.Colon);
    this.SUBRULE(this.expression);
  });

  // comparison ::= arith ( ComparisonOperator arith | 'not'? 'in' arith
  //                      | ('contains' | 'startsWith' | 'endsWith') arith | 'matches' Regex )?
  public comparison = this.RULE("comparison", () => {
    this.SUBRULE(this.arith);
    this.OPTION(() => {
      this.OR([
        {
          ALT: () => {
            this.CONSUME(t.ComparisonOperator);
            this.SUBRULE2(this.arith);
          },
        },
        {
          ALT: () => {
            this.OPTION2(() => this.CONSUME(t.Not));
            this.CONSUME(t.In);
            this.SUBRULE3(this.arith);
          },
        },
        {
          ALT: () => {
            this.OR2([
              { ALT: () => this.CONSUME(t.Contains) },
              { ALT: () => this.CONSUME(t.StartsWith) },
              { ALT: () => this.CONSUME(t.EndsWith) },
            ]);
            this.SUBRULE4(this.arith);
          },
        },
        {
          ALT: () => {
            this.CONSUME(t.Matches);
            this.CONSUME(t.RegexLiteral);
          },
        },
      ]);
    });
  });

  // arith ::= unary (('+' | '-' | '*' | '/' | '%') unary)*
  // Flat like `expression`: the AST builder gives `* / %` precedence over `+ -`.
  public arith = this.RULE("arith", () => {
    this.SUBRULE(this.unary);
    this.MANY(() => {
      this.CONSUME(t.ArithmeticOperator);
      this.SUBRULE2(this.unary);
    });
  });

  // unary ::= '-' unary | primary ('.' Name)*
  public unary = this.RULE("unary", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(t.Minus);
          this.SUBRULE(this.unary);
        },
      },
      {
        ALT: () => {
          this.SUBRULE(this.primary);
          this.MANY(() => {
            this.CONSUME(t.Dot);
            this.CONSUME(t.Name);
          });
        },
      },
    ]);
  });

  // primary ::= String | Number | Duration | Timestamp | 'true' | 'false' | listLiteral
  //           | '(' expression ')' | countExpr | Identifier ('(' (expression (',' expression)*)? ')')?
  //           | 'context' | 'exception' | 'case'
  public primary = this.RULE("primary", () => {
    this.OR([
      { ALT: () => this.CONSUME(t.StringLiteral) },
      { ALT: () => this.CONSUME(t.NumberLiteral) },
      { ALT: () => this.CONSUME(t.Duration) },
      { ALT: () => this.CONSUME(t.Timestamp) },
      { ALT: () => this.CONSUME(t.True) },
      { ALT: () => this.CONSUME(t.False) },
      { ALT: () => this.SUBRULE(this.listLiteral) },
      {
        ALT: () => {
          this.CONSUME(t.LParen);
          this.SUBRULE(this.expression);
          this.CONSUME(t.RParen);
        },
      },
      { ALT: () => this.SUBRULE(this.countExpr) },
      {
        ALT: () => {
          this.CONSUME(t.Identifier);
          this.OPTION(() => {
            this.CONSUME2(t.LParen);
            this.OPTION2(() => {
              this.SUBRULE2(this.expression);
              this.MANY(() => {
                this.CONSUME(t.Comma);
                this.SUBRULE3(this.expression);
              });
            });
            this.CONSUME2(t.RParen);
          });
        },
      },
      { ALT: () => this.CONSUME(t.Context) },
      { ALT: () => this.CONSUME(t.Exception) },
      { ALT: () => this.CONSUME(t.Case) },
    ]);
  });

  // countExpr ::= 'count' '(' Identifier 'in' arith 'where' expression ')'
  public countExpr = this.RULE("countExpr", () => {
    this.CONSUME(t.Count);
    this.CONSUME(t.LParen);
    this.CONSUME(t.Identifier);
    this.CONSUME(t.In);
    this.SUBRULE(this.arith);
    this.CONSUME(t.Where);
    this.SUBRULE(this.expression);
    this.CONSUME(t.RParen);
  });

  // listLiteral ::= '[' (expression (',' expression)* ','?)? ']'
  public listLiteral = this.RULE("listLiteral", () => {
    this.CONSUME(t.LBracket);
    this.MANY(() => {
      this.SUBRULE(this.expression);
      this.OPTION(() => this.CONSUME(t.Comma));
    });
    this.CONSUME(t.RBracket);
  });
}

/** One parser instance for the process (Chevrotain's advice); `parse` resets its input. */
export const parser = new RulesParser();

/** The rules of the grammar above, by the names of their methods. */
type GrammarRule = {
  [K in keyof RulesParser]: RulesParser[K] extends ParserMethod<[], CstNode> ? K : never;
}[keyof RulesParser];
/** The rules cst-types.ts was generated for. */
type GeneratedRule = Exclude<
  keyof RulesCstVisitor<unknown, unknown>,
  keyof ICstVisitor<unknown, unknown>
>;
/**
 * Fails to compile when a rule is added, renamed or removed here but cst-types.ts was not
 * regenerated (packages/dsl/test/cst-types.test.ts says how).
 */
export const cstTypesMatchGrammar: [GrammarRule] extends [GeneratedRule]
  ? [GeneratedRule] extends [GrammarRule]
    ? true
    : "cst-types.ts has a rule the grammar lost: regenerate it"
  : "cst-types.ts lacks a rule of the grammar: regenerate it" = true;
