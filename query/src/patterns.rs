//! `sluice patterns` and `sluice compare`: messages grouped into templates.
//!
//! In the spirit of Drain (He et al., ICWS 2017): a message is split on
//! whitespace and tokens that look variable (numbers, ids, addresses,
//! durations: see `mask`) are masked as `<*>`. Messages with the same number of tokens
//! and the same first token form a group; inside a group a message joins
//! the most similar template (the share of positions where both have the
//! same token) when at least half of the positions agree, and the
//! positions that differ become `<*>`. Otherwise it starts a template of
//! its own. Groups hold a bounded number of templates, so the work per
//! message is bounded too.

use std::collections::HashMap;

use crate::error::QueryError;
use crate::fetch::fetch_columns;
use crate::store::Store;
use crate::time::TimeRange;

/// The token that stands for a variable part.
pub const WILDCARD: &str = "<*>";

/// Templates that agree on at least this share of positions merge.
const SIMILARITY: f64 = 0.5;

/// At most this many templates per (length, first token) group; past it a
/// message joins its most similar template whatever the similarity.
const MAX_TEMPLATES_PER_GROUP: usize = 200;

/// A template and the messages it stands for. `counts[i]` counts the
/// messages of side `i` (one side for `patterns`; window and baseline for
/// `compare`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Pattern {
    pub template: String,
    pub counts: Vec<u64>,
    pub first: i64,
    pub last: i64,
}

impl Pattern {
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

struct Template {
    tokens: Vec<String>,
    counts: Vec<u64>,
    first: i64,
    last: i64,
}

/// Groups messages into templates as they come.
pub struct PatternMiner {
    sides: usize,
    groups: HashMap<(usize, String), Vec<Template>>,
}

impl PatternMiner {
    pub fn new(sides: usize) -> PatternMiner {
        PatternMiner { sides: sides.max(1), groups: HashMap::new() }
    }

    /// Adds a message seen at `timestamp` (ns) on `side`.
    pub fn add(&mut self, message: &str, timestamp: i64, side: usize) {
        let tokens: Vec<String> = message.split_whitespace().map(mask).collect();
        let key = (tokens.len(), tokens.first().cloned().unwrap_or_default());
        let templates = self.groups.entry(key).or_default();
        let best = templates
            .iter()
            .enumerate()
            .map(|(i, template)| (similarity(&template.tokens, &tokens), i))
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        let joins = match best {
            Some((score, i)) if score >= SIMILARITY || templates.len() >= MAX_TEMPLATES_PER_GROUP => Some(i),
            _ => None,
        };
        let template = match joins {
            Some(i) => {
                let template = &mut templates[i];
                for (kept, token) in template.tokens.iter_mut().zip(&tokens) {
                    if kept != token {
                        *kept = WILDCARD.to_owned();
                    }
                }
                template
            }
            None => {
                templates.push(Template { tokens, counts: vec![0; self.sides], first: timestamp, last: timestamp });
                templates.last_mut().expect("just pushed")
            }
        };
        template.counts[side.min(self.sides - 1)] += 1;
        template.first = template.first.min(timestamp);
        template.last = template.last.max(timestamp);
    }

    /// Every template, most frequent first (ties by template).
    pub fn patterns(self) -> Vec<Pattern> {
        let mut patterns: Vec<Pattern> = self
            .groups
            .into_values()
            .flatten()
            .map(|t| Pattern {
                template: if t.tokens.is_empty() { "(empty message)".to_owned() } else { t.tokens.join(" ") },
                counts: t.counts,
                first: t.first,
                last: t.last,
            })
            .collect();
        patterns.sort_by(|a, b| b.count().cmp(&a.count()).then_with(|| a.template.cmp(&b.template)));
        patterns
    }
}

/// Variable parts: a token that starts with a digit (numbers, addresses,
/// durations like `30ms`) or holds two digits or more (ids like
/// `blk_-1608999687919862906`, `user42`). `ssh2` or `v1` stay words.
fn mask(token: &str) -> String {
    let bare = token.trim_start_matches(|c: char| c.is_ascii_punctuation());
    let digits = bare.bytes().filter(u8::is_ascii_digit).count();
    if bare.bytes().next().is_some_and(|b| b.is_ascii_digit()) || digits >= 2 {
        WILDCARD.to_owned()
    } else {
        token.to_owned()
    }
}

/// The share of positions where a template and a message agree (a
/// wildcard agrees with anything).
fn similarity(template: &[String], tokens: &[String]) -> f64 {
    if template.is_empty() {
        return 1.0;
    }
    let same = template.iter().zip(tokens).filter(|(a, b)| *a == WILDCARD || a == b).count();
    same as f64 / template.len() as f64
}

/// The templates of the messages `patterns` or `compare` looked at.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Mined {
    pub patterns: Vec<Pattern>,
    /// Matches in all, per side.
    pub totals: Vec<u64>,
    /// Messages grouped per side: the newest `sample` matches when there
    /// are more.
    pub sampled: Vec<u64>,
}

impl Store {
    /// Templates of the newest `sample` matching messages of each range
    /// (side `i` is `ranges[i]`). Only the archive's `timestamp` and
    /// `message` columns are read.
    pub fn patterns(&self, text: &str, ranges: &[TimeRange], sample: usize) -> Result<Mined, QueryError> {
        let mut miner = PatternMiner::new(ranges.len());
        let (mut totals, mut sampled) = (Vec::new(), Vec::new());
        for (side, range) in ranges.iter().enumerate() {
            let (hits, total) = self.search(text, *range, sample, false)?;
            let records = fetch_columns(self, &hits, Some(&["timestamp", "message"]))?;
            for record in &records {
                miner.add(record.message.as_deref().unwrap_or(""), record.timestamp, side);
            }
            totals.push(total);
            sampled.push(records.len() as u64);
        }
        Ok(Mined { patterns: miner.patterns(), totals, sampled })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mine(messages: &[&str]) -> Vec<(String, u64)> {
        let mut miner = PatternMiner::new(1);
        for (i, message) in messages.iter().enumerate() {
            miner.add(message, i as i64, 0);
        }
        miner.patterns().into_iter().map(|p| (p.template.clone(), p.count())).collect()
    }

    #[test]
    fn variable_parts_are_masked_and_similar_messages_merge() {
        let patterns = mine(&[
            "Accepted password for root from 10.0.0.1 port 22 ssh2",
            "Accepted password for alice from 10.0.0.7 port 51022 ssh2",
            "Accepted publickey for bob from 10.0.0.9 port 40022 ssh2",
            "Connection closed by 10.0.0.1 [preauth]",
            "Connection closed by 192.168.1.1 [preauth]",
            "disk full",
            "",
        ]);
        assert_eq!(
            patterns,
            [
                ("Accepted <*> for <*> from <*> port <*> ssh2".to_owned(), 3),
                ("Connection closed by <*> [preauth]".to_owned(), 2),
                ("(empty message)".to_owned(), 1),
                ("disk full".to_owned(), 1),
            ]
        );
    }

    #[test]
    fn masks() {
        for variable in ["10.0.0.1", "30ms", "[1234]", "blk_-1608999687919862906", "user42", "4bf92f35"] {
            assert_eq!(mask(variable), WILDCARD, "{variable}");
        }
        for word in ["ssh2", "v1", "port", "[preauth]", "e2e"] {
            assert_eq!(mask(word), word);
        }
    }

    #[test]
    fn dissimilar_messages_of_one_length_stay_apart() {
        let patterns = mine(&["user login ok", "user logout failed badly", "user cache miss", "user login ok"]);
        assert_eq!(
            patterns,
            [
                ("user login ok".to_owned(), 2),
                ("user cache miss".to_owned(), 1),
                ("user logout failed badly".to_owned(), 1)
            ]
        );
    }

    #[test]
    fn sides_are_counted_apart() {
        let mut miner = PatternMiner::new(2);
        miner.add("timeout after 30s", 5, 0);
        miner.add("timeout after 31s", 9, 1);
        miner.add("timeout after 32s", 7, 1);
        let patterns = miner.patterns();
        assert_eq!(patterns.len(), 1);
        assert_eq!(patterns[0].counts, [1, 2]);
        assert_eq!((patterns[0].first, patterns[0].last), (5, 9));
    }
}
