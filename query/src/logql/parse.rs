//! LogQL text → [`Expr`]: a lexer and a recursive-descent parser for the
//! subset Sluice answers.
//!
//! Hand-written because no well-kept crate does it: `logql-parser` is
//! AGPL-3.0 (Sluice is Apache-2.0) and `logql` has not changed since 2022.
//! Anything LogQL has and Sluice does not is refused with
//! [`LogqlError::Unsupported`], naming the construct, rather than with a
//! syntax error that would suggest the query was mistyped.

use super::ast::*;
use super::error::LogqlError;

/// The deepest a query may nest (parentheses, aggregations): a bound on the
/// parser's recursion, whatever the text holds.
const MAX_DEPTH: usize = 64;

/// Parses a LogQL query.
pub fn parse(text: &str) -> Result<Expr, LogqlError> {
    let tokens = lex(text)?;
    let mut parser = Parser { tokens, at: 0, depth: 0 };
    let expr = parser.expr()?;
    match parser.peek() {
        Token::End => Ok(expr),
        _ => Err(parser.unexpected("the end of the query")),
    }
}

/// Parses a bare stream selector (`match[]` of `/series`, `query` of
/// `/index/stats`): `{a="b"}` with no pipeline.
pub fn parse_selector(text: &str) -> Result<Vec<Matcher>, LogqlError> {
    match parse(text)? {
        Expr::Log(LogQuery { selector, pipeline }) if pipeline.is_empty() => Ok(selector),
        _ => Err(LogqlError::Syntax {
            line: 1,
            column: 1,
            message: "expected a stream selector like {service_name=\"api\"}".to_owned(),
        }),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    /// `=`
    Eq,
    /// `==`
    EqEq,
    /// `!=`
    Ne,
    /// `=~`
    Re,
    /// `!~`
    NotRe,
    /// `|=`
    PipeEq,
    /// `|~`
    PipeRe,
    /// `|>` (a pattern line filter)
    PipeGt,
    /// `!>`
    NotGt,
    Pipe,
    Gt,
    Ge,
    Lt,
    Le,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Caret,
    Ident(String),
    Str(String),
    /// A number, possibly with a unit (`5m`, `1.5s`, `20MB`): the text.
    Number(String),
    End,
}

struct Spanned {
    token: Token,
    line: usize,
    column: usize,
}

fn lex(text: &str) -> Result<Vec<Spanned>, LogqlError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line, mut line_start) = (0usize, 1usize, 0usize);
    while i < chars.len() {
        let c = chars[i];
        let column = i - line_start + 1;
        let at = |token| Spanned { token, line, column };
        if c == '\n' {
            line += 1;
            line_start = i + 1;
            i += 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '#' {
            // A comment, to the end of the line.
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let next = chars.get(i + 1).copied();
        let two = |token| (token, 2);
        let (token, width) = match (c, next) {
            ('{', _) => (Token::LBrace, 1),
            ('}', _) => (Token::RBrace, 1),
            ('(', _) => (Token::LParen, 1),
            (')', _) => (Token::RParen, 1),
            ('[', _) => (Token::LBracket, 1),
            (']', _) => (Token::RBracket, 1),
            (',', _) => (Token::Comma, 1),
            ('=', Some('=')) => two(Token::EqEq),
            ('=', Some('~')) => two(Token::Re),
            ('=', _) => (Token::Eq, 1),
            ('!', Some('=')) => two(Token::Ne),
            ('!', Some('~')) => two(Token::NotRe),
            ('!', Some('>')) => two(Token::NotGt),
            ('|', Some('=')) => two(Token::PipeEq),
            ('|', Some('~')) => two(Token::PipeRe),
            ('|', Some('>')) => two(Token::PipeGt),
            ('|', _) => (Token::Pipe, 1),
            ('>', Some('=')) => two(Token::Ge),
            ('>', _) => (Token::Gt, 1),
            ('<', Some('=')) => two(Token::Le),
            ('<', _) => (Token::Lt, 1),
            ('+', _) => (Token::Plus, 1),
            ('-', _) => (Token::Minus, 1),
            ('*', _) => (Token::Star, 1),
            ('/', _) => (Token::Slash, 1),
            ('%', _) => (Token::Percent, 1),
            ('^', _) => (Token::Caret, 1),
            ('"', _) | ('`', _) => {
                let (value, end) = string(&chars, i).ok_or_else(|| LogqlError::Syntax {
                    line,
                    column,
                    message: "a string is never closed".to_owned(),
                })?;
                tokens.push(at(Token::Str(value)));
                i = end;
                continue;
            }
            (c, _) if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == 'µ') {
                    i += 1;
                }
                tokens.push(at(Token::Number(chars[start..i].iter().collect())));
                continue;
            }
            (c, _) if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.') {
                    i += 1;
                }
                tokens.push(at(Token::Ident(chars[start..i].iter().collect())));
                continue;
            }
            (c, _) => {
                return Err(LogqlError::Syntax { line, column, message: format!("unexpected character `{c}`") });
            }
        };
        tokens.push(at(token));
        i += width;
    }
    let column = chars.len() - line_start + 1;
    tokens.push(Spanned { token: Token::End, line, column });
    Ok(tokens)
}

/// A quoted string from `start` (at its quote): its value and the index
/// after its closing quote. Double quotes take Go's escapes; backticks none.
fn string(chars: &[char], start: usize) -> Option<(String, usize)> {
    let quote = chars[start];
    let mut value = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == quote {
            return Some((value, i + 1));
        }
        if c == '\\' && quote == '"' {
            let escaped = *chars.get(i + 1)?;
            match escaped {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                'r' => value.push('\r'),
                '"' | '\\' => value.push(escaped),
                // Kept as written: `\.` and `\d` in a regular expression.
                other => {
                    value.push('\\');
                    value.push(other);
                }
            }
            i += 2;
            continue;
        }
        value.push(c);
        i += 1;
    }
    None
}

struct Parser {
    tokens: Vec<Spanned>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.at].token
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        &self.tokens[(self.at + ahead).min(self.tokens.len() - 1)].token
    }

    fn bump(&mut self) -> Token {
        let token = self.tokens[self.at].token.clone();
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
        token
    }

    fn eat(&mut self, token: &Token) -> bool {
        if self.peek() == token {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: Token, what: &str) -> Result<(), LogqlError> {
        if self.eat(&token) { Ok(()) } else { Err(self.unexpected(what)) }
    }

    fn error(&self, message: String) -> LogqlError {
        self.error_at(self.at, message)
    }

    fn error_at(&self, at: usize, message: String) -> LogqlError {
        let spanned = &self.tokens[at];
        LogqlError::Syntax { line: spanned.line, column: spanned.column, message }
    }

    fn unexpected(&self, expected: &str) -> LogqlError {
        let found = match self.peek() {
            Token::End => "the end of the query".to_owned(),
            Token::Ident(name) => format!("`{name}`"),
            Token::Str(value) => format!("the string {value:?}"),
            Token::Number(text) => format!("`{text}`"),
            other => format!("`{}`", symbol(other)),
        };
        self.error(format!("expected {expected}, found {found}"))
    }

    fn unsupported(&self, construct: impl Into<String>) -> LogqlError {
        LogqlError::Unsupported { construct: construct.into() }
    }

    fn deeper(&mut self) -> Result<(), LogqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("the query nests more than {MAX_DEPTH} deep")));
        }
        Ok(())
    }

    /// A whole expression: terms joined by arithmetic, by precedence.
    fn expr(&mut self) -> Result<Expr, LogqlError> {
        self.deeper()?;
        let first = self.term()?;
        if matches!(first, Expr::Metric(_)) {
            self.refuse_comparison()?;
        }
        let expr = if self.binary_op().is_some() {
            let left = self.metric(first)?;
            Expr::Metric(self.binary(left, 0)?)
        } else {
            first
        };
        self.depth -= 1;
        Ok(expr)
    }

    fn metric(&self, expr: Expr) -> Result<MetricExpr, LogqlError> {
        match expr {
            Expr::Metric(metric) => Ok(metric),
            Expr::Log(_) => Err(self.error("arithmetic needs numbers, not log lines: wrap the log query in a function such as count_over_time({…}[5m])".to_owned())),
        }
    }

    fn binary_op(&self) -> Option<(BinaryOp, u8)> {
        Some(match self.peek() {
            Token::Plus => (BinaryOp::Add, 1),
            Token::Minus => (BinaryOp::Sub, 1),
            Token::Star => (BinaryOp::Mul, 2),
            Token::Slash => (BinaryOp::Div, 2),
            Token::Percent => (BinaryOp::Mod, 2),
            Token::Caret => (BinaryOp::Pow, 3),
            _ => return None,
        })
    }

    /// Precedence climbing over `+ - * / % ^` (`^` binds right).
    fn binary(&mut self, mut left: MetricExpr, min: u8) -> Result<MetricExpr, LogqlError> {
        self.refuse_comparison()?;
        while let Some((op, precedence)) = self.binary_op() {
            if precedence < min {
                break;
            }
            self.bump();
            if let Token::Ident(word) = self.peek()
                && matches!(word.as_str(), "bool" | "on" | "ignoring" | "group_left" | "group_right")
            {
                return Err(self.unsupported(format!("`{word}` (vector matching)")));
            }
            let term = self.term()?;
            let mut right = self.metric(term)?;
            while let Some((_, next)) = self.binary_op() {
                let binds_tighter = next > precedence || (next == precedence && op == BinaryOp::Pow);
                if !binds_tighter {
                    break;
                }
                right = self.binary(right, if next > precedence { precedence + 1 } else { precedence })?;
            }
            left = MetricExpr::Binary { op, left: Box::new(left), right: Box::new(right) };
            self.refuse_comparison()?;
        }
        Ok(left)
    }

    fn refuse_comparison(&self) -> Result<(), LogqlError> {
        match self.peek() {
            Token::EqEq | Token::Ne | Token::Gt | Token::Ge | Token::Lt | Token::Le => {
                Err(self.unsupported(format!("the comparison `{}` between vectors", symbol(self.peek()))))
            }
            Token::Ident(word) if matches!(word.as_str(), "and" | "or" | "unless") => {
                Err(self.unsupported(format!("the set operator `{word}`")))
            }
            _ => Ok(()),
        }
    }

    fn term(&mut self) -> Result<Expr, LogqlError> {
        match self.peek().clone() {
            Token::LBrace => Ok(Expr::Log(self.log_query()?)),
            Token::LParen => {
                self.bump();
                let inner = self.expr()?;
                self.expect(Token::RParen, "`)`")?;
                if self.peek() == &Token::LBracket {
                    return Err(self.unsupported(
                        "a range after parentheses, `(…)[5m]`: put the range after the pipeline, `{…} |= \"x\" [5m]`",
                    ));
                }
                Ok(inner)
            }
            Token::Number(text) => {
                self.bump();
                Ok(Expr::Metric(MetricExpr::Number(self.number(&text)?)))
            }
            Token::Minus => {
                self.bump();
                match self.bump() {
                    Token::Number(text) => Ok(Expr::Metric(MetricExpr::Number(-self.number(&text)?))),
                    _ => Err(self.unexpected("a number after `-`")),
                }
            }
            Token::Ident(name) => self.function(&name),
            _ => Err(self.unexpected("a stream selector `{…}`, a function or a number")),
        }
    }

    fn number(&self, text: &str) -> Result<f64, LogqlError> {
        text.parse::<f64>().map_err(|_| self.error(format!("`{text}` is not a number")))
    }

    fn function(&mut self, name: &str) -> Result<Expr, LogqlError> {
        if name == "vector" {
            self.bump();
            self.expect(Token::LParen, "`(` after vector")?;
            let value = match self.bump() {
                Token::Number(text) => self.number(&text)?,
                _ => return Err(self.unexpected("a number in vector(…)")),
            };
            self.expect(Token::RParen, "`)`")?;
            return Ok(Expr::Metric(MetricExpr::Vector1(value)));
        }
        if let Some((_, function)) = RangeFunction::ALL.iter().find(|(n, _)| *n == name) {
            self.bump();
            return Ok(Expr::Metric(MetricExpr::Range(self.range_aggregation(*function)?)));
        }
        if let Some((_, op)) = VectorOp::ALL.iter().find(|(n, _)| *n == name) {
            self.bump();
            return Ok(Expr::Metric(MetricExpr::Vector(self.vector_aggregation(*op)?)));
        }
        const UNSUPPORTED_FUNCTIONS: [&str; 14] = [
            "absent_over_time",
            "first_over_time",
            "last_over_time",
            "stddev_over_time",
            "stdvar_over_time",
            "rate_counter",
            "label_replace",
            "sort",
            "sort_desc",
            "stddev",
            "stdvar",
            "approx_topk",
            "sum_over_time_by",
            "time",
        ];
        if UNSUPPORTED_FUNCTIONS.contains(&name) {
            return Err(self.unsupported(format!("the function `{name}`")));
        }
        Err(self.unexpected("a stream selector `{…}`, a function or a number"))
    }

    fn grouping(&mut self) -> Result<Option<Grouping>, LogqlError> {
        let without = match self.peek() {
            Token::Ident(word) if word == "by" => false,
            Token::Ident(word) if word == "without" => true,
            _ => return Ok(None),
        };
        self.bump();
        self.expect(Token::LParen, "`(` after by or without")?;
        let labels = self.label_list(Token::RParen)?;
        self.expect(Token::RParen, "`)` after the labels")?;
        Ok(Some(Grouping { without, labels }))
    }

    /// `a, b, c` up to (not including) `end`; possibly empty.
    fn label_list(&mut self, end: Token) -> Result<Vec<String>, LogqlError> {
        let mut labels = Vec::new();
        while self.peek() != &end {
            match self.bump() {
                Token::Ident(name) => labels.push(name),
                _ => {
                    self.at -= 1;
                    return Err(self.unexpected("a label name"));
                }
            }
            if !self.eat(&Token::Comma) {
                break;
            }
        }
        Ok(labels)
    }

    fn vector_aggregation(&mut self, op: VectorOp) -> Result<VectorAggregation, LogqlError> {
        let mut grouping = self.grouping()?;
        self.expect(Token::LParen, "`(`")?;
        let parameter = if matches!(op, VectorOp::Topk | VectorOp::Bottomk) {
            let k = match self.bump() {
                Token::Number(text) => self.number(&text)?,
                _ => return Err(self.unexpected("k, a number, as topk's or bottomk's first argument")),
            };
            if k < 1.0 || k.fract() != 0.0 {
                return Err(self.error(format!("k must be a whole number of at least 1, not {k}")));
            }
            self.expect(Token::Comma, "`,` after k")?;
            Some(k)
        } else {
            None
        };
        let inner = self.expr()?;
        let inner = self.metric(inner)?;
        self.expect(Token::RParen, "`)`")?;
        if grouping.is_none() {
            grouping = self.grouping()?;
        }
        Ok(VectorAggregation { op, parameter, grouping, inner: Box::new(inner) })
    }

    fn range_aggregation(&mut self, function: RangeFunction) -> Result<RangeAggregation, LogqlError> {
        self.expect(Token::LParen, "`(`")?;
        let parameter = if function == RangeFunction::QuantileOverTime {
            let phi = match self.bump() {
                Token::Number(text) => self.number(&text)?,
                _ => return Err(self.unexpected("φ, a number between 0 and 1, as quantile_over_time's first argument")),
            };
            self.expect(Token::Comma, "`,` after φ")?;
            Some(phi)
        } else {
            None
        };
        if self.peek() == &Token::LParen {
            return Err(
                self.unsupported("a parenthesized log query inside a range function: write `{…} |= \"x\" [5m]`")
            );
        }
        let mut query = self.log_query()?;
        let unwrap = self.take_unwrap(&mut query)?;
        self.expect(Token::LBracket, "`[` and a range such as [5m]")?;
        let range = match self.bump() {
            Token::Number(text) => duration_nanos(&text)
                .filter(|&nanos| nanos > 0)
                .ok_or_else(|| self.error(format!("`{text}` is not a duration (such as 30s, 5m, 1h)")))?,
            _ => {
                self.at -= 1;
                return Err(self.unexpected("a duration such as 5m"));
            }
        };
        self.expect(Token::RBracket, "`]`")?;
        if let Token::Ident(word) = self.peek()
            && word == "offset"
        {
            return Err(self.unsupported("`offset`"));
        }
        self.expect(Token::RParen, "`)`")?;
        let grouping = self.grouping()?;
        if function.unwraps() != unwrap.is_some() {
            let name = RangeFunction::ALL.iter().find(|(_, f)| *f == function).map_or("", |(n, _)| n);
            return Err(self.error(if unwrap.is_some() {
                format!("{name} counts lines: it takes no `| unwrap`")
            } else {
                format!("{name} needs the values to read: add `| unwrap LABEL` before the range")
            }));
        }
        if grouping.is_some() && !function.unwraps() {
            return Err(self.error(
                "only functions over unwrapped values take by/without after them: wrap the function in sum by (…) (…)"
                    .to_owned(),
            ));
        }
        Ok(RangeAggregation { function, parameter, query, unwrap, range, grouping })
    }

    /// The query's `| unwrap`, taken out of its pipeline (stages after it,
    /// such as `| __error__=""`, stay).
    fn take_unwrap(&self, query: &mut LogQuery) -> Result<Option<Unwrap>, LogqlError> {
        let unwraps: Vec<usize> =
            query.pipeline.iter().enumerate().filter(|(_, s)| matches!(s, Stage::Unwrap(_))).map(|(i, _)| i).collect();
        match unwraps.as_slice() {
            [] => Ok(None),
            [position] => match query.pipeline.remove(*position) {
                Stage::Unwrap(unwrap) => Ok(Some(unwrap)),
                _ => Ok(None),
            },
            _ => Err(self.error("a query takes one `| unwrap`".to_owned())),
        }
    }

    fn log_query(&mut self) -> Result<LogQuery, LogqlError> {
        let selector = self.selector()?;
        let mut pipeline = Vec::new();
        loop {
            match self.peek() {
                Token::PipeEq | Token::Ne | Token::PipeRe | Token::NotRe => pipeline.push(self.line_filter()?),
                Token::PipeGt | Token::NotGt => return Err(self.unsupported("pattern line filters (`|>`, `!>`)")),
                Token::Pipe => {
                    self.bump();
                    pipeline.push(self.stage()?);
                }
                _ => break,
            }
        }
        Ok(LogQuery { selector, pipeline })
    }

    fn selector(&mut self) -> Result<Vec<Matcher>, LogqlError> {
        self.expect(Token::LBrace, "a stream selector `{`")?;
        let mut matchers = Vec::new();
        while self.peek() != &Token::RBrace {
            matchers.push(self.matcher()?);
            if !self.eat(&Token::Comma) {
                break;
            }
        }
        self.expect(Token::RBrace, "`}` or `,` in the stream selector")?;
        if matchers.is_empty() {
            return Err(
                self.error("a stream selector needs at least one matcher, such as {service_name=~\".+\"}".to_owned())
            );
        }
        Ok(matchers)
    }

    fn matcher(&mut self) -> Result<Matcher, LogqlError> {
        let label = match self.bump() {
            Token::Ident(name) => name,
            _ => {
                self.at -= 1;
                return Err(self.unexpected("a label name"));
            }
        };
        let op = match self.bump() {
            Token::Eq => MatchOp::Eq,
            Token::Ne => MatchOp::Ne,
            Token::Re => MatchOp::Re,
            Token::NotRe => MatchOp::NotRe,
            _ => {
                self.at -= 1;
                return Err(self.unexpected("=, !=, =~ or !~"));
            }
        };
        let at = self.at;
        let value = match self.bump() {
            Token::Str(value) => value,
            _ => {
                self.at -= 1;
                return Err(self.unexpected("a quoted value"));
            }
        };
        if matches!(op, MatchOp::Re | MatchOp::NotRe) {
            check_regex(&value).map_err(|message| self.error_at(at, message))?;
        }
        Ok(Matcher { label, op, value })
    }

    fn line_filter(&mut self) -> Result<Stage, LogqlError> {
        let op = match self.bump() {
            Token::PipeEq => LineOp::Contains,
            Token::Ne => LineOp::NotContains,
            Token::PipeRe => LineOp::Matches,
            _ => LineOp::NotMatches,
        };
        let mut values = Vec::new();
        loop {
            match self.bump() {
                Token::Str(value) => values.push(value),
                Token::Ident(name) if name == "ip" => return Err(self.unsupported("the ip() line filter")),
                _ => {
                    self.at -= 1;
                    return Err(self.unexpected("a quoted string after the line filter"));
                }
            }
            if matches!(self.peek(), Token::Ident(word) if word == "or") {
                self.bump();
                continue;
            }
            break;
        }
        if matches!(op, LineOp::NotContains | LineOp::NotMatches) && values.len() > 1 {
            return Err(self.unsupported("`or` after a negative line filter"));
        }
        if matches!(op, LineOp::Matches | LineOp::NotMatches) {
            for value in &values {
                check_regex(value).map_err(|message| self.error(message))?;
            }
        }
        Ok(Stage::Line { op, values })
    }

    /// What follows a `|`.
    fn stage(&mut self) -> Result<Stage, LogqlError> {
        let word = match self.peek() {
            Token::Ident(word) => word.clone(),
            Token::LParen => return Ok(Stage::Filter(self.label_filter()?)),
            _ => return Err(self.unexpected("a stage (json, logfmt, a label filter, line_format, keep, drop, unwrap)")),
        };
        let is_stage_keyword = !matches!(
            self.peek_at(1),
            Token::Eq
                | Token::EqEq
                | Token::Ne
                | Token::Re
                | Token::NotRe
                | Token::Gt
                | Token::Ge
                | Token::Lt
                | Token::Le
        );
        if !is_stage_keyword {
            return Ok(Stage::Filter(self.label_filter()?));
        }
        self.bump();
        match word.as_str() {
            "json" | "logfmt" => {
                let kind = if word == "json" { ParserKind::Json } else { ParserKind::Logfmt };
                if matches!(self.peek(), Token::Ident(_))
                    && !matches!(self.peek(), Token::Ident(w) if w == "or" || w == "and")
                    || matches!(self.peek(), Token::Number(_))
                {
                    return Err(self.unsupported(format!("`| {word}` with parameters or flags")));
                }
                Ok(Stage::Parser(kind))
            }
            "line_format" => match self.bump() {
                Token::Str(template) => Ok(Stage::LineFormat(template_parts(&template).map_err(|m| self.error(m))?)),
                _ => {
                    self.at -= 1;
                    Err(self.unexpected("a quoted template after line_format"))
                }
            },
            "keep" | "drop" => {
                let mut labels = Vec::new();
                loop {
                    match self.bump() {
                        Token::Ident(name) => {
                            if matches!(self.peek(), Token::Eq | Token::Ne | Token::Re | Token::NotRe) {
                                return Err(self.unsupported(format!("`| {word}` with a matcher")));
                            }
                            labels.push(name);
                        }
                        _ => {
                            self.at -= 1;
                            return Err(self.unexpected("a label name"));
                        }
                    }
                    if !self.eat(&Token::Comma) {
                        break;
                    }
                }
                Ok(if word == "keep" { Stage::Keep(labels) } else { Stage::Drop(labels) })
            }
            "unwrap" => {
                let (conversion, label) = match (self.bump(), self.peek().clone()) {
                    (Token::Ident(conversion), Token::LParen)
                        if matches!(conversion.as_str(), "duration" | "duration_seconds" | "bytes") =>
                    {
                        self.bump();
                        let label = match self.bump() {
                            Token::Ident(label) => label,
                            _ => {
                                self.at -= 1;
                                return Err(self.unexpected("a label name"));
                            }
                        };
                        self.expect(Token::RParen, "`)`")?;
                        (conversion, label)
                    }
                    (Token::Ident(label), _) => (String::new(), label),
                    _ => {
                        self.at -= 1;
                        return Err(self.unexpected("a label name after unwrap"));
                    }
                };
                let conversion = match conversion.as_str() {
                    "duration" | "duration_seconds" => Conversion::Duration,
                    "bytes" => Conversion::Bytes,
                    _ => Conversion::Number,
                };
                Ok(Stage::Unwrap(Unwrap { label, conversion }))
            }
            "regexp" | "pattern" | "unpack" | "label_format" | "decolorize" | "distinct" => {
                Err(self.unsupported(format!("`| {word}`")))
            }
            _ => {
                self.at -= 1;
                Err(self.unexpected("a stage (json, logfmt, a label filter, line_format, keep, drop, unwrap)"))
            }
        }
    }

    fn label_filter(&mut self) -> Result<LabelFilter, LogqlError> {
        self.deeper()?;
        let mut left = self.label_filter_and()?;
        while matches!(self.peek(), Token::Ident(word) if word == "or") {
            self.bump();
            let right = self.label_filter_and()?;
            left = LabelFilter::Or(Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn label_filter_and(&mut self) -> Result<LabelFilter, LogqlError> {
        let mut left = self.label_filter_atom()?;
        loop {
            let joined = match self.peek() {
                Token::Ident(word) if word == "and" => true,
                Token::Comma => true,
                // `| a > 1 b = "x"`: juxtaposed filters are ANDed.
                Token::Ident(word) if word != "or" && word != "by" && word != "without" && word != "offset" => false,
                Token::LParen => false,
                _ => break,
            };
            if joined {
                self.bump();
            }
            let right = self.label_filter_atom()?;
            left = LabelFilter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn label_filter_atom(&mut self) -> Result<LabelFilter, LogqlError> {
        if self.eat(&Token::LParen) {
            let inner = self.label_filter()?;
            self.expect(Token::RParen, "`)`")?;
            return Ok(inner);
        }
        let label = match self.bump() {
            Token::Ident(name) => name,
            _ => {
                self.at -= 1;
                return Err(self.unexpected("a label name"));
            }
        };
        let op = self.bump();
        let value = self.bump();
        let compare = |op| -> Result<LabelFilter, LogqlError> {
            match &value {
                Token::Number(text) => {
                    let value = number_duration_or_bytes(text)
                        .ok_or_else(|| self.error(format!("`{text}` is not a number, a duration or a byte size")))?;
                    Ok(LabelFilter::Compare { label: label.clone(), op, value })
                }
                Token::Minus => Err(self.unsupported("a negative number in a label filter")),
                _ => Err(self.error(format!("a comparison of `{label}` needs a number, a duration or a byte size"))),
            }
        };
        match (&op, &value) {
            (Token::Eq | Token::Ne | Token::Re | Token::NotRe, Token::Str(text)) => {
                let op = match op {
                    Token::Eq => MatchOp::Eq,
                    Token::Ne => MatchOp::Ne,
                    Token::Re => MatchOp::Re,
                    _ => MatchOp::NotRe,
                };
                if matches!(op, MatchOp::Re | MatchOp::NotRe) {
                    check_regex(text).map_err(|message| self.error(message))?;
                }
                Ok(LabelFilter::Match(Matcher { label, op, value: text.clone() }))
            }
            (Token::EqEq, Token::Str(text)) => {
                Ok(LabelFilter::Match(Matcher { label, op: MatchOp::Eq, value: text.clone() }))
            }
            (Token::Eq | Token::EqEq, _) => compare(CompareOp::Eq),
            (Token::Ne, _) => compare(CompareOp::Ne),
            (Token::Gt, _) => compare(CompareOp::Gt),
            (Token::Ge, _) => compare(CompareOp::Ge),
            (Token::Lt, _) => compare(CompareOp::Lt),
            (Token::Le, _) => compare(CompareOp::Le),
            _ => {
                self.at -= 1;
                Err(self.unexpected("a label filter such as status >= 500 or level=\"error\""))
            }
        }
    }
}

fn symbol(token: &Token) -> &'static str {
    match token {
        Token::LBrace => "{",
        Token::RBrace => "}",
        Token::LParen => "(",
        Token::RParen => ")",
        Token::LBracket => "[",
        Token::RBracket => "]",
        Token::Comma => ",",
        Token::Eq => "=",
        Token::EqEq => "==",
        Token::Ne => "!=",
        Token::Re => "=~",
        Token::NotRe => "!~",
        Token::PipeEq => "|=",
        Token::PipeRe => "|~",
        Token::PipeGt => "|>",
        Token::NotGt => "!>",
        Token::Pipe => "|",
        Token::Gt => ">",
        Token::Ge => ">=",
        Token::Lt => "<",
        Token::Le => "<=",
        Token::Plus => "+",
        Token::Minus => "-",
        Token::Star => "*",
        Token::Slash => "/",
        Token::Percent => "%",
        Token::Caret => "^",
        Token::Ident(_) | Token::Str(_) | Token::Number(_) | Token::End => "",
    }
}

fn check_regex(pattern: &str) -> Result<(), String> {
    regex::Regex::new(pattern).map(|_| ()).map_err(|error| format!("invalid regular expression {pattern:?}: {error}"))
}

/// `{{.label}}` references and text between them.
fn template_parts(template: &str) -> Result<Vec<TemplatePart>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(TemplatePart::Text(rest[..open].to_owned()));
        }
        let close = rest[open..].find("}}").ok_or("a `{{` in line_format's template is never closed")? + open;
        let action = rest[open + 2..close].trim();
        match action.strip_prefix('.') {
            Some(label) if !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                parts.push(TemplatePart::Label(label.to_owned()));
            }
            _ => {
                return Err(format!(
                    "line_format supports only label references such as {{{{.message}}}}, not {{{{{action}}}}}"
                ));
            }
        }
        rest = &rest[close + 2..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Text(rest.to_owned()));
    }
    Ok(parts)
}

/// A Prometheus duration (`90s`, `5m`, `1h30m`, `2d`, `1w`, `500ms`) in
/// nanoseconds.
pub fn duration_nanos(text: &str) -> Option<i64> {
    let mut total: i128 = 0;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail.find(|c: char| c.is_ascii_digit()).unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let number: f64 = number.parse().ok()?;
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86_400e9,
            "w" => 7.0 * 86_400e9,
            "y" => 365.0 * 86_400e9,
            _ => return None,
        };
        total += (number * scale) as i128;
        rest = tail;
    }
    i64::try_from(total).ok()
}

/// A label filter's right-hand side: a number, a duration (as seconds) or
/// a byte size (as bytes).
fn number_duration_or_bytes(text: &str) -> Option<f64> {
    if let Ok(number) = text.parse::<f64>() {
        return Some(number);
    }
    if let Some(nanos) = duration_nanos(text) {
        return Some(nanos as f64 / 1e9);
    }
    bytes(text)
}

/// `20MB`, `1.5KiB`, `3b`: bytes.
pub fn bytes(text: &str) -> Option<f64> {
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale: f64 = match unit.to_ascii_lowercase().as_str() {
        "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(number * scale)
}
