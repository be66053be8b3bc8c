//! LogQL as `sluice serve` takes it from any client: parsed, and when it
//! parses, evaluated over a small data directory (a log query's newest
//! lines, a metric query at eleven steps). An answer, or an error in the
//! client's terms (a syntax error, an unsupported construct, a limit):
//! never an index failure, which the server answers as its own bug with a
//! 500, and never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_fuzz::{sample_store, text};
use sluice_query::QueryError;
use sluice_query::logql::eval::{self, EvalError, Limits, Steps};
use sluice_query::logql::{Expr, parse};
use sluice_query::time::TimeRange;

fn user_facing(query: &str, error: &EvalError) {
    assert!(
        !matches!(error, EvalError::Query(QueryError::Index { .. })),
        "{query:?} fails as an index failure, not a user error: {error}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some(query) = text(data) else { return };
    let Ok(expr) = parse(query) else { return };
    let store = sample_store();
    let limits = Limits { max_records: 10_000, max_series: 1_000, max_points: 100 };
    match expr {
        Expr::Log(log) => {
            if let Err(error) = eval::select_lines(store, &log, TimeRange::ALL, 10, false, &limits) {
                user_facing(query, &error);
            }
            if let Err(error) = eval::lines_after(store, &log, &[0]) {
                user_facing(query, &error);
            }
        }
        Expr::Metric(metric) => {
            // 2020-09-13 to 2027-01-15, eleven steps.
            let steps = Steps {
                start: 1_600_000_000_000_000_000,
                end: 1_800_000_000_000_000_000,
                step: 20_000_000_000_000_000,
            };
            if let Err(error) = eval::evaluate(store, &metric, steps, &limits) {
                user_facing(query, &error);
            }
        }
    }
});
