//! LogQL, the query language of Grafana Loki, for `sluice serve`'s Loki
//! API: the subset in [`error::SUPPORTED`], parsed ([`parse`]) and then
//! planned onto the index ([`plan`]) and evaluated ([`eval`]).

pub mod ast;
mod collect;
pub mod error;
pub mod eval;
mod parse;
pub mod plan;
pub mod word_part;

pub use ast::Expr;
pub use error::LogqlError;
pub use parse::{bytes, duration_nanos, parse, parse_selector};

#[cfg(test)]
mod tests;
