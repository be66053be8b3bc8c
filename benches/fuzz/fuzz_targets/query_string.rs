//! The query string, with its rewrites (unknown fields to attribute paths,
//! negations hoisted), searched and counted over a small data directory:
//! an answer, or an error the user can act on (never an index failure,
//! which the CLI reports as a bug, and never a panic). Counting and
//! searching agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_fuzz::{sample_store, text};
use sluice_query::QueryError;
use sluice_query::time::TimeRange;

fn user_facing(query: &str, error: &QueryError) {
    assert!(
        !matches!(error, QueryError::Index { .. }),
        "{query:?} fails as an index failure, not a user error: {error}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some(query) = text(data) else { return };
    let store = sample_store();
    let counted = store.count(query, TimeRange::ALL);
    let searched = store.search(query, TimeRange::ALL, 5, false);
    match (counted, searched) {
        (Ok(count), Ok((hits, total))) => {
            assert_eq!(count, total, "count and search agree on {query:?}");
            assert_eq!(hits.len() as u64, total.min(5));
        }
        (Err(a), Err(b)) => {
            user_facing(query, &a);
            user_facing(query, &b);
            assert_eq!(std::mem::discriminant(&a), std::mem::discriminant(&b), "{a} / {b}");
        }
        (a, b) => panic!("count and search disagree on {query:?}: {:?} / {:?}", a.map(|_| ()), b.map(|_| ())),
    }
    let _ = store.empty_result_hint(query);
});
