//! `sluice tail -f`: records as their batches are committed.
//!
//! New records are found by batch number, not by time: a late line with
//! an old timestamp committed now is still new. Each poll reopens the data
//! directory (new day splits appear as data arrives) and asks for the
//! matches of batches after the last one shown, up to the last batch the
//! manifest recorded when the store was opened (the store shows nothing
//! later). A committed batch's archive files are read under their staged
//! names until the commit publishes them, so every record is shown exactly
//! once.

use std::ops::Bound;
use std::path::Path;

use tantivy::Term;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery};

use crate::error::QueryError;
use crate::fetch::{FetchedRecord, fetch};
use crate::store::{Hit, Store};
use crate::time::TimeRange;

/// At most this many new records per poll; the rest come on the next ones.
const MAX_PER_POLL: usize = 1_000_000;

/// Where a follower is: the last batch it has shown.
pub struct Follower {
    data_dir: std::path::PathBuf,
    query: String,
    range: TimeRange,
    shown_batch: u64,
}

impl Follower {
    /// Starts after what is committed now.
    pub fn new(data_dir: &Path, query: &str, range: TimeRange) -> Result<Follower, QueryError> {
        let store = Store::open(data_dir, range)?;
        let shown_batch = store.last_batch();
        Ok(Follower { data_dir: data_dir.to_owned(), query: query.to_owned(), range, shown_batch })
    }

    /// The matching records of batches committed since the last poll,
    /// oldest first. Empty while nothing new is committed (or published).
    pub fn poll(&mut self) -> Result<Vec<FetchedRecord>, QueryError> {
        let store = match Store::open(&self.data_dir, self.range) {
            Ok(store) => store,
            Err(QueryError::EmptyDataDir { .. }) => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let committed = store.last_batch();
        if committed <= self.shown_batch {
            return Ok(Vec::new());
        }
        let (after, upto) = (self.shown_batch, committed);
        let (mut hits, _) = store.search_by(
            &|split| {
                let batch = split.field("batch")?;
                let batches = RangeQuery::new(
                    Bound::Excluded(Term::from_field_u64(batch, after)),
                    Bound::Included(Term::from_field_u64(batch, upto)),
                );
                let query: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
                    (Occur::Must, split.query(&self.query, self.range)?),
                    (Occur::Must, Box::new(batches)),
                ]));
                Ok(query)
            },
            MAX_PER_POLL,
            true,
        )?;
        hits.sort_by_key(|hit: &Hit| (hit.timestamp, hit.batch, hit.row));
        // A committed batch's files are read published or still staged.
        let records = fetch(&store, &hits)?;
        self.shown_batch = upto;
        Ok(records)
    }
}
