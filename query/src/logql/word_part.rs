//! The records whose message has a word of which a line filter's word is a
//! part: how `|= "…"` (Loki's substring match) is narrowed on an index of
//! whole words.
//!
//! A word that must end one of the line's words (`connection` in
//! `|= "connection refused"`) or lie inside one (`|= "Exception"` matches
//! `NullPointerException`) can only be found by reading the whole term
//! dictionary of each segment. That read is the cost of such a filter, so
//! the terms it finds are kept per segment ([`TERMS`]): segments never
//! change, a repeated query (a dashboard's refresh, Explore's next page)
//! reads only postings, as Elasticsearch's per-segment query cache does.
//! [`warm`] reads the segments' dictionaries side by side before a search
//! walks them in order.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use tantivy::postings::TermInfo;
use tantivy::query::{BitSetDocSet, ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{BitSet, DocId, Score, SegmentReader, TantivyError};

/// Where the word must lie in a term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Anchor {
    /// The term starts with it (a range of the sorted dictionary).
    Start,
    /// The term ends with it.
    End,
    /// Anywhere in the term.
    Inside,
}

/// Documents whose `field` has a term containing `word` where `anchor`
/// says. `word` is lowercase, as the index's terms are.
#[derive(Clone, Debug)]
pub struct WordPartQuery {
    field: Field,
    word: Vec<u8>,
    anchor: Anchor,
}

impl WordPartQuery {
    pub fn new(field: Field, word: &str, anchor: Anchor) -> WordPartQuery {
        WordPartQuery { field, word: word.as_bytes().to_vec(), anchor }
    }

    /// The segment's terms that match (kept for the next query).
    pub fn terms(&self, reader: &SegmentReader) -> tantivy::Result<Arc<Vec<TermInfo>>> {
        let key = (reader.segment_id(), self.field, self.anchor, self.word.clone());
        if let Some(found) = lock().map.get(&key) {
            return Ok(found.clone());
        }
        let dictionary = reader.inverted_index(self.field)?.terms().clone();
        let mut infos = Vec::new();
        match self.anchor {
            Anchor::Start => {
                let mut range = dictionary.range().ge(&self.word);
                if let Some(end) = prefix_end(&self.word) {
                    range = range.lt(end);
                }
                let mut stream = range.into_stream()?;
                while stream.advance() {
                    infos.push(stream.value().clone());
                }
            }
            Anchor::End | Anchor::Inside => {
                let finder = memchr::memmem::Finder::new(&self.word);
                let mut stream = dictionary.stream()?;
                while stream.advance() {
                    let term = stream.key();
                    let found = match self.anchor {
                        Anchor::End => term.ends_with(&self.word),
                        _ => finder.find(term).is_some(),
                    };
                    if found {
                        infos.push(stream.value().clone());
                    }
                }
            }
        }
        let infos = Arc::new(infos);
        let mut cache = lock();
        if cache.terms + infos.len() > MAX_CACHED_TERMS {
            // Segments merged away leave entries behind: start again.
            cache.map.clear();
            cache.terms = 0;
        }
        if infos.len() <= MAX_CACHED_TERMS {
            cache.terms += infos.len();
            cache.map.insert(key, infos.clone());
        }
        Ok(infos)
    }
}

/// Term infos kept at most, over every segment and word (a term info is
/// 40 bytes: 40 MB).
const MAX_CACHED_TERMS: usize = 1_000_000;

type Key = (tantivy::index::SegmentId, Field, Anchor, Vec<u8>);

#[derive(Default)]
struct Cache {
    map: HashMap<Key, Arc<Vec<TermInfo>>>,
    terms: usize,
}

/// Each segment's terms for each word read: segments are immutable, so an
/// entry never goes stale (merged-away segments' entries are dropped when
/// the cache is full).
static TERMS: LazyLock<Mutex<Cache>> = LazyLock::new(Mutex::default);

fn lock() -> std::sync::MutexGuard<'static, Cache> {
    TERMS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The first byte string after every string that starts with `prefix`.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Reads the dictionaries each query needs in its segment, side by side
/// (a search then walks the segments one by one, from the cache).
pub fn warm(work: &[(SegmentReader, WordPartQuery)]) -> tantivy::Result<()> {
    let work: Vec<&(SegmentReader, WordPartQuery)> = work.iter().filter(|(_, q)| q.anchor != Anchor::Start).collect();
    if work.len() < 2 {
        return Ok(());
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(work.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> tantivy::Result<()> {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((reader, query)) = work.get(i) else { return Ok(()) };
                        query.terms(reader)?;
                    }
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

impl Query for WordPartQuery {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(WordPartWeight(self.clone())))
    }
}

struct WordPartWeight(WordPartQuery);

impl Weight for WordPartWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut docs = BitSet::with_max_value(reader.max_doc());
        let inverted_index = reader.inverted_index(self.0.field)?;
        for info in self.0.terms(reader)?.iter() {
            let mut postings = inverted_index.read_block_postings_from_terminfo(info, IndexRecordOption::Basic)?;
            loop {
                let block = postings.docs();
                if block.is_empty() {
                    break;
                }
                for &doc in block {
                    docs.insert(doc);
                }
                postings.advance();
            }
        }
        Ok(Box::new(ConstScorer::new(BitSetDocSet::from(docs), boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) == doc {
            Ok(Explanation::new("WordPartQuery", 1.0))
        } else {
            Err(TantivyError::InvalidArgument("the document does not match".to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[b'a', 0xFF]), Some(b"b".to_vec()));
        assert_eq!(prefix_end(&[0xFF]), None);
    }
}
