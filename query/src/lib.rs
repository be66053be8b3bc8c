//! Search, aggregations, SQL over the Parquet archive, and output formats
//! for the `sluice` CLI.
//!
//! Empty until the ingest pipeline issue adds the first queries. DataFusion
//! will live here and only here: it is most of the build time.
