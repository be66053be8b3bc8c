//! The canonical log record, schema files, and the normalizer that maps the
//! JSON of real loggers onto the record.
//!
//! Data flow, per line:
//!
//! ```text
//! bytes ──simd-json tape──▶ producer detection ──▶ walk with the producer's Plan ──▶ Record
//!                                  (producer.rs)        (plan.rs, normalize.rs)
//! ```
//!
//! Main types:
//! * [`Record`]: the canonical record (`timestamp`, `level`, `message`, …,
//!   `attributes`), borrowing its strings from the input line.
//! * [`Schema`]: a validated schema file merged onto the built-in default;
//!   [`CompiledSchema`] is the same turned into per-producer lookup tables.
//! * [`Normalizer`]: turns one line into a [`Record`] or a [`Rejection`].
//!   One per thread; they share an `Arc<CompiledSchema>`.
//!
//! This crate does no I/O beyond reading schema files and has no async: it
//! is the leaf every other Sluice crate builds on.

mod coerce;
pub mod duration;
pub mod error;
pub mod level;
mod normalize;
mod plan;
pub mod producer;
pub mod record;
pub mod schema;
pub mod timestamp;

pub use duration::parse_duration;
pub use error::ErrorKind;
pub use level::{Level, SeverityNumber};
pub use normalize::{
    DeprecatedUsage, LineBuffer, Normalizer, NormalizerConfig, RejectReason, Rejection, invalid_utf8_detail,
};
pub use plan::{CompiledSchema, DeprecatedName};
pub use producer::Producer;
pub use record::{Note, NoteCode, Record, TypedValue, Value};
pub use schema::{FieldType, Mode, Schema, SchemaError};
pub use timestamp::Timestamp;
