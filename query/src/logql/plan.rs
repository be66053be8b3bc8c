//! A log query onto the index: the tantivy query that finds its candidate
//! records, and whether each candidate must still be read and checked.
//!
//! Stream selectors over the canonical fields (`service_name`, `host`,
//! `level`) are exact on the index: their terms are the values, whole.
//! Line filters narrow through the message's words (a record that contains
//! `"connection refused"` has a word ending in `connection` and one
//! starting with `refused`), and are then checked on the line itself, as
//! are matchers and filters on attributes, which the index tokenizes.

use tantivy::Term;
use tantivy::query::{AllQuery, BooleanQuery, ExistsQuery, Occur, Query, RegexQuery, TermQuery};
use tantivy::schema::IndexRecordOption;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use super::ast::{LineOp, LogQuery, MatchOp, Matcher, Stage};
use super::word_part::{Anchor, WordPartQuery};
use crate::error::QueryError;
use crate::store::Split;
use crate::time::TimeRange;

/// A record field that a label names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// One of the canonical fields with a fast column of whole values.
    Canonical(&'static str),
    /// `trace_id`, `span_id`: indexed whole, without a column.
    Id(&'static str),
    /// An attribute (or a declared field), by its label name.
    Attribute(String),
}

/// The record field behind a label name. `service_name` is what Loki's
/// clients (and Grafana's Drilldown) call the service; `detected_level`
/// is Loki's name for a level it found in the line.
pub fn column(label: &str) -> Column {
    match label {
        "service_name" | "service" => Column::Canonical("service"),
        "host" => Column::Canonical("host"),
        "level" | "detected_level" => Column::Canonical("level"),
        "trace_id" => Column::Id("trace_id"),
        "span_id" => Column::Id("span_id"),
        other => Column::Attribute(other.to_owned()),
    }
}

/// The plan of a log query on one split.
pub struct Plan {
    pub query: Box<dyn Query>,
    /// Candidates must be read and checked against the pipeline: the
    /// index answers part of the query only.
    pub check: bool,
    /// The parts of words line filters look for (to read the dictionaries
    /// they scan side by side first: [`super::word_part::warm`]).
    pub word_parts: Vec<WordPartQuery>,
}

/// The index side of `query` on `split`, within `range`.
pub fn plan(split: &Split, query: &LogQuery, range: TimeRange) -> Result<Plan, QueryError> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut check = false;
    let mut word_parts = Vec::new();
    for matcher in &query.selector {
        match column(&matcher.label) {
            Column::Canonical(field) | Column::Id(field) => match matcher_clauses(split, field, matcher) {
                Ok(found) => clauses.extend(found),
                // A regular expression tantivy's automata do not take (an
                // anchor, a word boundary): checked on each record instead.
                Err(QueryError::Index { source: tantivy::TantivyError::InvalidArgument(_), .. }) => check = true,
                Err(error) => return Err(error),
            },
            Column::Attribute(_) => check = true,
        }
    }
    for stage in &query.pipeline {
        match stage {
            Stage::Line { op: LineOp::Contains, values } => {
                check = true;
                let alternatives: Vec<Option<Box<dyn Query>>> = values
                    .iter()
                    .map(|value| contains_query(split, value, &mut word_parts))
                    .collect::<Result<_, _>>()?;
                // An alternative the index cannot narrow matches anything.
                if alternatives.iter().all(Option::is_some) {
                    let should: Vec<(Occur, Box<dyn Query>)> =
                        alternatives.into_iter().flatten().map(|q| (Occur::Should, q)).collect();
                    clauses.push((Occur::Must, Box::new(BooleanQuery::new(should))));
                }
            }
            Stage::Line { op: LineOp::Matches, values } => {
                check = true;
                let literals: Vec<Option<Vec<String>>> = values.iter().map(|v| regex_literals(v)).collect();
                if literals.iter().all(Option::is_some) {
                    let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                    let mut narrowed = true;
                    for literal in literals.into_iter().flatten().flatten() {
                        match contains_query(split, &literal, &mut word_parts)? {
                            Some(q) => should.push((Occur::Should, q)),
                            None => narrowed = false,
                        }
                    }
                    if narrowed {
                        clauses.push((Occur::Must, Box::new(BooleanQuery::new(should))));
                    }
                }
            }
            Stage::Line { .. } | Stage::Filter(_) => check = true,
            Stage::Parser(_) | Stage::LineFormat(_) | Stage::Keep(_) | Stage::Drop(_) | Stage::Unwrap(_) => {}
        }
    }
    let query: Box<dyn Query> = if clauses.iter().any(|(occur, _)| *occur != Occur::MustNot) {
        Box::new(BooleanQuery::new(clauses))
    } else {
        clauses.insert(0, (Occur::Must, Box::new(AllQuery)));
        Box::new(BooleanQuery::new(clauses))
    };
    Ok(Plan { query: split.within(query, range)?, check, word_parts })
}

/// Term automata compiled from selector patterns, kept by pattern:
/// compiling one takes milliseconds (`.+a.+b`, tens), and a query plans
/// each day split, several times.
static AUTOMATA: LazyLock<Mutex<HashMap<String, Arc<tantivy_fst::Regex>>>> = LazyLock::new(Mutex::default);

/// At most this many automata are kept.
const MAX_AUTOMATA: usize = 256;

fn automaton(pattern: &str) -> Result<Arc<tantivy_fst::Regex>, String> {
    let lock = || AUTOMATA.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(found) = lock().get(pattern) {
        return Ok(found.clone());
    }
    let compiled = Arc::new(tantivy_fst::Regex::new(pattern).map_err(|e| format!("RegexQueryError: {e}"))?);
    let mut kept = lock();
    if kept.len() >= MAX_AUTOMATA {
        kept.clear();
    }
    kept.insert(pattern.to_owned(), compiled.clone());
    Ok(compiled)
}

/// One clause of a boolean query.
type Clause = (Occur, Box<dyn Query>);

/// A selector matcher on a field indexed whole. A record without the
/// field has the value "" (as a stream without the label has in Loki).
fn matcher_clauses(split: &Split, field: &str, matcher: &Matcher) -> Result<Vec<Clause>, QueryError> {
    let handle = split.field(field)?;
    let exists = || -> Box<dyn Query> { Box::new(ExistsQuery::new(field.to_owned(), false)) };
    let term = |value: &str| -> Box<dyn Query> {
        Box::new(TermQuery::new(Term::from_field_text(handle, value), IndexRecordOption::Basic))
    };
    let regex = |pattern: &str| -> Result<Box<dyn Query>, QueryError> {
        let automaton = automaton(pattern).map_err(|e| (split.tantivy())(tantivy::TantivyError::InvalidArgument(e)))?;
        Ok(Box::new(RegexQuery::from_regex(automaton, handle)))
    };
    // Ids are not fast: "has one" is "has any term".
    let has_value =
        |_: ()| -> Result<Box<dyn Query>, QueryError> { if split.is_fast(field) { Ok(exists()) } else { regex(".+") } };
    let value = matcher.value.as_str();
    Ok(match matcher.op {
        MatchOp::Eq if value.is_empty() => vec![(Occur::MustNot, has_value(())?)],
        MatchOp::Eq => vec![(Occur::Must, term(value))],
        MatchOp::Ne if value.is_empty() => vec![(Occur::Must, has_value(())?)],
        MatchOp::Ne => vec![(Occur::MustNot, term(value))],
        MatchOp::Re | MatchOp::NotRe => {
            let matches_empty = regex::Regex::new(&format!("^(?:{value})$")).is_ok_and(|r| r.is_match(""));
            let positive = matcher.op == MatchOp::Re;
            match (positive, matches_empty) {
                // `.*`: everything, with or without the field.
                (true, true) if value == ".*" => Vec::new(),
                (true, true) => {
                    let either = BooleanQuery::new(vec![
                        (Occur::Should, regex(value)?),
                        (
                            Occur::Should,
                            Box::new(BooleanQuery::new(vec![
                                (Occur::Must, Box::new(AllQuery) as Box<dyn Query>),
                                (Occur::MustNot, has_value(())?),
                            ])),
                        ),
                    ]);
                    vec![(Occur::Must, Box::new(either))]
                }
                (true, false) if value == ".+" => vec![(Occur::Must, has_value(())?)],
                (true, false) => vec![(Occur::Must, regex(value)?)],
                (false, true) => vec![(Occur::MustNot, regex(value)?), (Occur::Must, has_value(())?)],
                (false, false) => vec![(Occur::MustNot, regex(value)?)],
            }
        }
    })
}

/// Records whose message has words that a line containing `needle` must
/// have; `None` when the needle has no word the index keeps.
///
/// The index keeps lowercased words of letters and digits, up to 40 bytes
/// (tantivy's default tokenizer). A word inside the needle is whole in the
/// line; its first word may be the end of a longer word, its last the
/// start of one, and a lone word any part of one ([`WordPartQuery`]).
fn contains_query(
    split: &Split,
    needle: &str,
    word_parts: &mut Vec<WordPartQuery>,
) -> Result<Option<Box<dyn Query>>, QueryError> {
    let message = split.field("message")?;
    let lower = needle.to_lowercase();
    let words: Vec<(usize, &str)> = word_spans(&lower);
    if words.is_empty() || words.iter().any(|(_, w)| w.len() > 40) {
        return Ok(None);
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for &(start, word) in &words {
        let open_start = start == 0;
        let open_end = start + word.len() == lower.len();
        let anchor = match (open_start, open_end) {
            (false, false) => {
                let term = Term::from_field_text(message, word);
                clauses.push((Occur::Must, Box::new(TermQuery::new(term, IndexRecordOption::Basic))));
                continue;
            }
            (true, false) => Anchor::End,
            (false, true) => Anchor::Start,
            (true, true) => Anchor::Inside,
        };
        let part = WordPartQuery::new(message, word, anchor);
        word_parts.push(part.clone());
        clauses.push((Occur::Must, Box::new(part)));
    }
    Ok(Some(Box::new(BooleanQuery::new(clauses))))
}

/// The runs of letters and digits in `text`, with their byte offsets.
fn word_spans(text: &str) -> Vec<(usize, &str)> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                words.push((s, &text[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((s, &text[s..]));
    }
    words
}

/// The texts a regular expression matches literally, when it is only
/// those (`timeout`, `error|fail`; optionally case-insensitive: the index's
/// words are lowercase anyway): a line it matches contains one of them.
fn regex_literals(pattern: &str) -> Option<Vec<String>> {
    let body = pattern.strip_prefix("(?i)").unwrap_or(pattern);
    let meta = |c: char| "\\.+*?()[]{}^$".contains(c);
    let alternatives: Vec<String> = body.split('|').map(str::to_owned).collect();
    alternatives.iter().all(|a| !a.is_empty() && !a.chars().any(meta)).then_some(alternatives)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_literals() {
        assert_eq!(word_spans("connection refused: x"), [(0, "connection"), (11, "refused"), (20, "x")]);
        assert!(word_spans(" :: ").is_empty());
        assert_eq!(regex_literals("(?i)timeout"), Some(vec!["timeout".to_owned()]));
        assert_eq!(regex_literals("error|fail"), Some(vec!["error".to_owned(), "fail".to_owned()]));
        assert_eq!(regex_literals("time.out"), None);
        assert_eq!(regex_literals("a|"), None);
        assert_eq!(regex_literals("(a|b)c"), None);
    }

    #[test]
    fn automata_are_compiled_once() {
        // The fuzz regression `logql/regex-selector-compiled-per-split`:
        // 20 day splits, each planned three times, compiled this 60 times.
        let first = automaton(".+\u{5}\u{0}\u{0}\u{4}\u{0}.+\u{5}").unwrap();
        let again = automaton(".+\u{5}\u{0}\u{0}\u{4}\u{0}.+\u{5}").unwrap();
        assert!(Arc::ptr_eq(&first, &again));
    }

    #[test]
    fn labels_name_fields() {
        assert_eq!(column("service_name"), Column::Canonical("service"));
        assert_eq!(column("detected_level"), Column::Canonical("level"));
        assert_eq!(column("http_status"), Column::Attribute("http_status".to_owned()));
    }
}
