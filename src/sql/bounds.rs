//! Bounds on the shape of a statement, checked before and right after parsing so that no later
//! walk over the syntax tree (resolve, authorize, rewrite, rendering, the engine's planner, the
//! tree's own `Clone` and `Drop`) can run out of stack or time.
//!
//! Owns two measurements:
//! * [`check_tokens`], a single linear pass over the tokens, before the parser runs. It bounds
//!   what makes the parser itself misbehave and what builds deep trees from flat text: bracket
//!   nesting (`(`, `[`, `{`, `CASE … END`, `BEGIN … END`) and an upper bound of the tree depth
//!   that long operator chains create (`1+1+…+1`, `a OR b OR …`, `x::INT::INT…`, `UNION`
//!   chains: sqlparser builds each into a left-deep tree one level per operator), the number of
//!   tokens and the length of identifiers. It never recurses, so it is safe on any input.
//!   Chains are counted per precedence class, the way the parser nests them: in
//!   `a < 1 OR b < 1 OR …` every `OR` adds a level but each `<` only a level inside its own
//!   operand, so an operator of a looser class closes the chains of the tighter ones.
//! * [`check_tree`], a count of the parsed tree's nodes and its real expression depth. It uses
//!   sqlparser's visitor, whose every call is stack-protected (`recursive`), on a tree whose
//!   depth the token pass has already bounded.
//!
//! Both report [`SqlError`]s that name the limit, so a person knows what to simplify.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{Expr, Query, Statement, TableFactor, Visit, Visitor};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan};

use super::{ParseLimits, SqlError};

/// Which bound a statement went past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Brackets, `CASE … END` and `BEGIN … END` nested inside each other.
    Nesting,
    /// Levels of the syntax tree, counting one per operator of a chain.
    Depth,
    /// Tokens of the statement text.
    Tokens,
    /// Nodes (expressions, queries, table references) of the syntax tree.
    Nodes,
    /// Bytes of one identifier.
    Identifier,
    /// Attempts of the parser (see [`super::with_parse_budget`]).
    ParseAttempts,
}

impl Bound {
    /// What the bound counts, for error messages.
    pub fn what(self) -> &'static str {
        match self {
            Bound::Nesting => "nesting levels (brackets and CASE … END)",
            Bound::Depth => "levels of expression depth (each operator of a chain adds one)",
            Bound::Tokens => "tokens",
            Bound::Nodes => "syntax tree nodes",
            Bound::Identifier => "bytes in one identifier",
            Bound::ParseAttempts => "parser attempts",
        }
    }
}

/// What the token pass found (see [`measure_tokens`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenShape {
    /// Significant tokens (whitespace and comments left out).
    pub tokens: usize,
    /// Deepest bracket nesting.
    pub nesting: usize,
    /// Upper bound of the tree depth.
    pub depth: usize,
    /// Longest identifier, in bytes.
    pub longest_identifier: usize,
    /// Where the deepest point is (1-based line and column), for the error message.
    pub deepest_at: (u64, u64),
}

/// Precedence classes of operators, loosest first (after sqlparser's `Dialect::prec_value`).
const CLASSES: usize = 10;

/// One open bracket (or the statement itself, at the bottom of the stack).
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// What closes it.
    close: Close,
    /// Per precedence class, the operators of the chain being built at this level: each is a
    /// level of a left-deep tree.
    chains: [usize; CLASSES],
    /// Set operations at this level (`UNION` chains nest across the separators inside them).
    set_ops: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    Statement,
    Paren,
    Bracket,
    Brace,
    End,
}

impl Frame {
    fn new(close: Close) -> Self {
        Self {
            close,
            chains: [0; CLASSES],
            set_ops: 0,
        }
    }

    fn depth(&self) -> usize {
        1 + self.chains.iter().sum::<usize>() + self.set_ops
    }

    /// An operator of `class`: one more level of its chain; the chains of tighter classes are
    /// complete operands now.
    fn operator(&mut self, class: usize) {
        self.chains[class] += 1;
        for tighter in &mut self.chains[class + 1..] {
            *tighter = 0;
        }
    }

    fn separator(&mut self) {
        self.chains = [0; CLASSES];
    }
}

/// Measures `tokens` in one pass without recursion (see the module doc).
///
/// ```
/// use datafusion::sql::sqlparser::tokenizer::Tokenizer;
/// use sqlgate::sql::{FlinkDialect, bounds::measure_tokens};
/// let sql = format!("SELECT {}1", "1+".repeat(99));
/// let tokens = Tokenizer::new(&FlinkDialect, &sql).tokenize_with_location().unwrap();
/// let shape = measure_tokens(&tokens);
/// assert!(shape.depth > 99 && shape.nesting == 0);
/// ```
pub fn measure_tokens(tokens: &[TokenWithSpan]) -> TokenShape {
    let mut shape = TokenShape::default();
    let mut stack = vec![Frame::new(Close::Statement)];
    // The running sum of the depths of every frame but the top, kept so each token costs O(1).
    let mut below = 0usize;
    for t in tokens {
        let token = &t.token;
        if matches!(token, Token::Whitespace(_) | Token::EOF) {
            continue;
        }
        shape.tokens += 1;
        let opener = opens(token);
        if let Some(close) = opener {
            // `f(x)`, `a[1][2]`: the bracket is a level of the enclosing chain too.
            let top = stack
                .last_mut()
                .expect("the statement frame is never popped");
            top.operator(POSTFIX);
            below += top.depth();
            stack.push(Frame::new(close));
        } else if let Some(close) = closes(token) {
            if stack.len() > 1 && stack.last().is_some_and(|f| f.close == close) {
                stack.pop();
                below -= stack.last().map_or(0, Frame::depth);
            }
        } else {
            let top = stack
                .last_mut()
                .expect("the statement frame is never popped");
            match class(token) {
                Class::Separator => top.separator(),
                Class::SetOperation => {
                    top.separator();
                    top.set_ops += 1;
                }
                Class::Operator(c) => top.operator(c),
                Class::Operand => {}
            }
        }
        if let Token::Word(w) = token {
            shape.longest_identifier = shape.longest_identifier.max(w.value.len());
        }
        let depth = below + stack.last().map_or(0, Frame::depth);
        let nesting = stack.len() - 1;
        if depth > shape.depth {
            shape.depth = depth;
            shape.deepest_at = (t.span.start.line, t.span.start.column);
        }
        shape.nesting = shape.nesting.max(nesting);
    }
    shape
}

/// Refuses, from the tokens alone, a statement past any bound of `limits`.
pub(super) fn check_tokens(tokens: &[TokenWithSpan], limits: &ParseLimits) -> Result<(), SqlError> {
    let shape = measure_tokens(tokens);
    let (line, column) = shape.deepest_at;
    let at = |bound, found, limit| {
        let located = matches!(bound, Bound::Nesting | Bound::Depth) && line > 0;
        Err(SqlError::TooComplex {
            bound,
            found,
            limit,
            line: located.then_some(line),
            column: located.then_some(column),
        })
    };
    if shape.tokens > limits.max_tokens {
        return at(Bound::Tokens, shape.tokens, limits.max_tokens);
    }
    if shape.longest_identifier > limits.max_identifier_bytes {
        return at(
            Bound::Identifier,
            shape.longest_identifier,
            limits.max_identifier_bytes,
        );
    }
    if shape.nesting > limits.recursion_limit {
        return at(Bound::Nesting, shape.nesting, limits.recursion_limit);
    }
    if shape.depth > limits.max_depth {
        return at(Bound::Depth, shape.depth, limits.max_depth);
    }
    Ok(())
}

/// Refuses a parsed statement with more nodes or a deeper expression tree than `limits` allow.
pub(super) fn check_tree(statement: &Statement, limits: &ParseLimits) -> Result<(), SqlError> {
    let mut count = TreeCount {
        limits,
        nodes: 0,
        depth: 0,
    };
    match statement.visit(&mut count) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(e) => Err(e),
    }
}

/// Counts nodes and tracks the current depth of nested expressions and queries.
struct TreeCount<'a> {
    limits: &'a ParseLimits,
    nodes: usize,
    depth: usize,
}

impl TreeCount<'_> {
    fn enter(&mut self) -> ControlFlow<SqlError> {
        self.nodes += 1;
        self.depth += 1;
        if self.nodes > self.limits.max_nodes {
            return ControlFlow::Break(SqlError::TooComplex {
                bound: Bound::Nodes,
                found: self.nodes,
                limit: self.limits.max_nodes,
                line: None,
                column: None,
            });
        }
        if self.depth > self.limits.max_depth {
            return ControlFlow::Break(SqlError::TooComplex {
                bound: Bound::Depth,
                found: self.depth,
                limit: self.limits.max_depth,
                line: None,
                column: None,
            });
        }
        ControlFlow::Continue(())
    }

    fn exit(&mut self) -> ControlFlow<SqlError> {
        self.depth = self.depth.saturating_sub(1);
        ControlFlow::Continue(())
    }
}

impl Visitor for TreeCount<'_> {
    type Break = SqlError;

    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<SqlError> {
        self.enter()
    }
    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<SqlError> {
        self.exit()
    }
    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<SqlError> {
        self.enter()
    }
    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<SqlError> {
        self.exit()
    }
    fn pre_visit_table_factor(&mut self, _: &TableFactor) -> ControlFlow<SqlError> {
        self.enter()
    }
    fn post_visit_table_factor(&mut self, _: &TableFactor) -> ControlFlow<SqlError> {
        self.exit()
    }
}

fn opens(token: &Token) -> Option<Close> {
    match token {
        Token::LParen => Some(Close::Paren),
        Token::LBracket => Some(Close::Bracket),
        Token::LBrace => Some(Close::Brace),
        Token::Word(w) if w.quote_style.is_none() => match w.keyword {
            Keyword::CASE | Keyword::BEGIN => Some(Close::End),
            _ => None,
        },
        _ => None,
    }
}

fn closes(token: &Token) -> Option<Close> {
    match token {
        Token::RParen => Some(Close::Paren),
        Token::RBracket => Some(Close::Bracket),
        Token::RBrace => Some(Close::Brace),
        Token::Word(w) if w.quote_style.is_none() && w.keyword == Keyword::END => Some(Close::End),
        _ => None,
    }
}

/// How a token that neither opens nor closes a bracket bears on the depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Starts a sibling subtree at the same level (`,`, clause keywords, `WHEN`/`THEN`, `AS`).
    Separator,
    /// `UNION`, `INTERSECT`, `EXCEPT`, `MINUS`.
    SetOperation,
    /// May add a level of the chain of its precedence class (0 = loosest): any symbol, and the
    /// keyword operators. Counting a token that does not add one (a `.` of a compound name)
    /// only makes the bound more conservative.
    Operator(usize),
    /// Literals and names.
    Operand,
}

const OR: usize = 0;
const AND: usize = 1;
const NOT: usize = 2;
const COMPARE: usize = 3;
const BITWISE: usize = 4;
const ADD: usize = 5;
const MULTIPLY: usize = 6;
const OTHER: usize = 7;
const JOIN: usize = 8;
const POSTFIX: usize = 9;

fn class(token: &Token) -> Class {
    match token {
        Token::Comma | Token::SemiColon => Class::Separator,
        Token::Word(w) if w.quote_style.is_none() => keyword_class(w.keyword),
        Token::Word(_) | Token::Placeholder(_) => Class::Operand,
        t if super::literals::is_literal(t) => Class::Operand,
        Token::Eq
        | Token::DoubleEq
        | Token::Neq
        | Token::Lt
        | Token::Gt
        | Token::LtEq
        | Token::GtEq
        | Token::Spaceship => Class::Operator(COMPARE),
        Token::Pipe | Token::Caret | Token::Ampersand | Token::ShiftLeft | Token::ShiftRight => {
            Class::Operator(BITWISE)
        }
        Token::Plus | Token::Minus => Class::Operator(ADD),
        Token::Mul | Token::Div | Token::Mod | Token::DuckIntDiv | Token::StringConcat => {
            Class::Operator(MULTIPLY)
        }
        Token::DoubleColon | Token::Period | Token::Colon => Class::Operator(POSTFIX),
        _ => Class::Operator(OTHER),
    }
}

fn keyword_class(keyword: Keyword) -> Class {
    use Keyword as K;
    match keyword {
        K::SELECT
        | K::FROM
        | K::WHERE
        | K::GROUP
        | K::HAVING
        | K::QUALIFY
        | K::ORDER
        | K::LIMIT
        | K::OFFSET
        | K::FETCH
        | K::WINDOW
        | K::WITH
        | K::VALUES
        | K::WHEN
        | K::THEN
        | K::ELSE
        | K::SET
        | K::DEFINE
        | K::MEASURES
        | K::PATTERN
        | K::INSERT
        | K::INTO
        | K::CREATE
        | K::TABLE
        | K::VIEW
        | K::AS => Class::Separator,
        K::UNION | K::INTERSECT | K::EXCEPT | K::MINUS => Class::SetOperation,
        K::OR | K::XOR => Class::Operator(OR),
        K::AND => Class::Operator(AND),
        K::NOT => Class::Operator(NOT),
        K::IS
        | K::IN
        | K::LIKE
        | K::ILIKE
        | K::RLIKE
        | K::REGEXP
        | K::SIMILAR
        | K::BETWEEN
        | K::ESCAPE
        | K::OVERLAPS
        | K::MEMBER => Class::Operator(COMPARE),
        K::DIV => Class::Operator(MULTIPLY),
        K::COLLATE | K::AT | K::OVER | K::FILTER | K::WITHIN => Class::Operator(POSTFIX),
        K::JOIN | K::ON | K::USING => Class::Operator(JOIN),
        _ => Class::Operand,
    }
}

#[cfg(test)]
mod tests;
