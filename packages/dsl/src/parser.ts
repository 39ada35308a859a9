import {
  CstParser,
  EOF,
  type IParserErrorMessageProvider,
  type IToken,
  type TokenType,
  tokenLabel,
} from "chevrotain";
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
    return `expected ${ruleDescription[ruleName] ?? labels(first)}, found ${describe(actual[0]!)}`;
  },
  buildEarlyExitMessage: ({ expectedIterationPaths, actual, ruleName }) => {
    const first = expectedIterationPaths.map((path) => path[0]!);
    return `expected ${ruleDescription[ruleName] ?? labels(first)}, found ${describe(actual[0]!)}`;
  },
};

const ruleDescription: Record<string, string> = {
  item: "a declaration (`ruleset`, `strategy`, `default`, `on-error`, `list`, `hashlist`, `context`) or a `rule`",
  primary: "an expression (a field, a literal, a list or a function call)",
  unary: "an expression (a field, a literal, a list or a function call)",
  notExpr: "an expression (a field, a literal, a list or a function call)",
  outcome: "`allow`, `deny` or `review`",
  ruleClause: "`when`, `unless`, or an outcome (`allow`, `deny`, `review`)",
  ruleModifier: "`priority`, `monitor`, `expires` or `{`",
  literal: "a literal",
};

/**
 * The grammar only: it builds a concrete syntax tree, and `build-ast.ts` turns that into the AST.
 * Each method carries its rule in EBNF.
 */
export class RulesParser extends CstParser {
  constructor() {
    super(t.allTokens, {
      recoveryEnabled: true,
      maxLookahead: 3,
      nodeLocationTracking: "onlyOffset",
      errorMessageProvider: errorMessages,
    });
    this.performSelfAnalysis();
  }

  // file ::= item*
  public file = this.RULE("file", () => {
    this.MANY(() => this.SUBRULE(this.item));
  });

  // item ::= rulesetDecl | strategyDecl | defaultDecl | onErrorDecl | listDecl | hashlistDecl | contextDecl | ruleDecl
  public item = this.RULE("item", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.rulesetDecl) },
      { ALT: () => this.SUBRULE(this.strategyDecl) },
      { ALT: () => this.SUBRULE(this.defaultDecl) },
      { ALT: () => this.SUBRULE(this.onErrorDecl) },
      { ALT: () => this.SUBRULE(this.listDecl) },
      { ALT: () => this.SUBRULE(this.hashlistDecl) },
      { ALT: () => this.SUBRULE(this.contextDecl) },
      { ALT: () => this.SUBRULE(this.ruleDecl) },
    ]);
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

  // defaultDecl ::= 'default' outcome String
  public defaultDecl = this.RULE("defaultDecl", () => {
    this.CONSUME(t.Default);
    this.SUBRULE(this.outcome);
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
    ]);
  });

  // ruleClause ::= 'when' expression | 'unless' expression | outcome String
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
          this.SUBRULE(this.outcome);
          this.CONSUME(t.StringLiteral);
        },
      },
    ]);
  });

  // outcome ::= 'allow' | 'deny' | 'review'
  public outcome = this.RULE("outcome", () => {
    this.OR([
      { ALT: () => this.CONSUME(t.Allow) },
      { ALT: () => this.CONSUME(t.Deny) },
      { ALT: () => this.CONSUME(t.Review) },
    ]);
  });

  // expression ::= andExpr ('or' andExpr)*
  public expression = this.RULE("expression", () => {
    this.SUBRULE(this.andExpr);
    this.MANY(() => {
      this.CONSUME(t.Or);
      this.SUBRULE2(this.andExpr);
    });
  });

  // andExpr ::= notExpr ('and' notExpr)*
  public andExpr = this.RULE("andExpr", () => {
    this.SUBRULE(this.notExpr);
    this.MANY(() => {
      this.CONSUME(t.And);
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

  // quantifier ::= ('any' | 'all') Identifier 'in' additive ':' expression
  public quantifier = this.RULE("quantifier", () => {
    this.OR([{ ALT: () => this.CONSUME(t.Any) }, { ALT: () => this.CONSUME(t.All) }]);
    this.CONSUME(t.Identifier);
    this.CONSUME(t.In);
    this.SUBRULE(this.additive);
    this.CONSUME(t.Colon);
    this.SUBRULE(this.expression);
  });

  // comparison ::= additive ( ComparisonOperator additive | 'not'? 'in' additive
  //                         | ('contains' | 'startsWith' | 'endsWith') additive | 'matches' Regex )?
  public comparison = this.RULE("comparison", () => {
    this.SUBRULE(this.additive);
    this.OPTION(() => {
      this.OR([
        {
          ALT: () => {
            this.CONSUME(t.ComparisonOperator);
            this.SUBRULE2(this.additive);
          },
        },
        {
          ALT: () => {
            this.OPTION2(() => this.CONSUME(t.Not));
            this.CONSUME(t.In);
            this.SUBRULE3(this.additive);
          },
        },
        {
          ALT: () => {
            this.OR2([
              { ALT: () => this.CONSUME(t.Contains) },
              { ALT: () => this.CONSUME(t.StartsWith) },
              { ALT: () => this.CONSUME(t.EndsWith) },
            ]);
            this.SUBRULE4(this.additive);
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

  // additive ::= multiplicative (('+' | '-') multiplicative)*
  public additive = this.RULE("additive", () => {
    this.SUBRULE(this.multiplicative);
    this.MANY(() => {
      this.CONSUME(t.AdditiveOperator);
      this.SUBRULE2(this.multiplicative);
    });
  });

  // multiplicative ::= unary (('*' | '/' | '%') unary)*
  public multiplicative = this.RULE("multiplicative", () => {
    this.SUBRULE(this.unary);
    this.MANY(() => {
      this.CONSUME(t.MultiplicativeOperator);
      this.SUBRULE2(this.unary);
    });
  });

  // unary ::= '-' unary | postfix
  public unary = this.RULE("unary", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(t.Minus);
          this.SUBRULE(this.unary);
        },
      },
      { ALT: () => this.SUBRULE(this.postfix) },
    ]);
  });

  // postfix ::= primary ('.' Name)*
  public postfix = this.RULE("postfix", () => {
    this.SUBRULE(this.primary);
    this.MANY(() => {
      this.CONSUME(t.Dot);
      this.CONSUME(t.Name);
    });
  });

  // primary ::= literal | listLiteral | '(' expression ')' | countExpr | Identifier ('(' args? ')')? | 'context'
  public primary = this.RULE("primary", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.literal) },
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
    ]);
  });

  // countExpr ::= 'count' '(' Identifier 'in' additive 'where' expression ')'
  public countExpr = this.RULE("countExpr", () => {
    this.CONSUME(t.Count);
    this.CONSUME(t.LParen);
    this.CONSUME(t.Identifier);
    this.CONSUME(t.In);
    this.SUBRULE(this.additive);
    this.CONSUME(t.Where);
    this.SUBRULE(this.expression);
    this.CONSUME(t.RParen);
  });

  // literal ::= String | Number | Duration | Timestamp | 'true' | 'false'
  public literal = this.RULE("literal", () => {
    this.OR([
      { ALT: () => this.CONSUME(t.StringLiteral) },
      { ALT: () => this.CONSUME(t.NumberLiteral) },
      { ALT: () => this.CONSUME(t.Duration) },
      { ALT: () => this.CONSUME(t.Timestamp) },
      { ALT: () => this.CONSUME(t.True) },
      { ALT: () => this.CONSUME(t.False) },
    ]);
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
