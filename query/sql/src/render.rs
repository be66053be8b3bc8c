//! Rendering a SQL result: an aligned table for people, CSV, a JSON array
//! or NDJSON for scripts.

use std::io::{self, Write};

use crate::engine::SqlResult;

/// `sql --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlFormat {
    Table,
    Csv,
    Json,
    Ndjson,
}

/// Writes a SQL result: an aligned table (with its column names even when
/// no row matched), CSV with a header, a JSON array, or one JSON object
/// per row. Timestamps are RFC 3339 in UTC.
///
/// An error keeps the kind of the I/O error behind it, so that a closed pipe
/// (`sluice sql … | head`) stays recognisable even when it came through
/// arrow's writers, which report I/O errors as text.
pub fn write_sql_result(out: &mut dyn Write, result: &SqlResult, format: SqlFormat) -> io::Result<()> {
    let mut out = KeepErrorKind { inner: out, kind: None };
    let written = write_formatted(&mut out, result, format);
    written.map_err(|error| match out.kind {
        Some(kind) if kind != error.kind() => io::Error::new(kind, error.to_string()),
        _ => error,
    })
}

/// A writer that remembers the kind of the first error its inner writer
/// returned.
struct KeepErrorKind<'a> {
    inner: &'a mut dyn Write,
    kind: Option<io::ErrorKind>,
}

impl Write for KeepErrorKind<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).inspect_err(|error| {
            self.kind.get_or_insert(error.kind());
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().inspect_err(|error| {
            self.kind.get_or_insert(error.kind());
        })
    }
}

fn write_formatted(out: &mut dyn Write, result: &SqlResult, format: SqlFormat) -> io::Result<()> {
    use datafusion::arrow::{csv, json};
    let invalid = |e: datafusion::arrow::error::ArrowError| io::Error::other(e.to_string());
    match format {
        SqlFormat::Table => {
            let table = datafusion::arrow::util::pretty::pretty_format_batches(&result.batches).map_err(invalid)?;
            if result.num_rows() == 0 {
                let names: Vec<&str> = result.schema.fields().iter().map(|f| f.name().as_str()).collect();
                writeln!(out, "{}", names.join("  "))?;
                return writeln!(out, "(0 rows)");
            }
            writeln!(out, "{table}")?;
            writeln!(out, "({} row{})", result.num_rows(), if result.num_rows() == 1 { "" } else { "s" })
        }
        SqlFormat::Csv => {
            let mut writer = csv::WriterBuilder::new().with_header(true).build(&mut *out);
            if result.batches.is_empty() {
                let names: Vec<&str> = result.schema.fields().iter().map(|f| f.name().as_str()).collect();
                drop(writer);
                return writeln!(out, "{}", names.join(","));
            }
            for batch in &result.batches {
                writer.write(batch).map_err(invalid)?;
            }
            Ok(())
        }
        SqlFormat::Json => {
            let mut writer = json::ArrayWriter::new(&mut *out);
            for batch in &result.batches {
                writer.write(batch).map_err(invalid)?;
            }
            writer.finish().map_err(invalid)?;
            drop(writer);
            if result.num_rows() == 0 {
                out.write_all(b"[]")?;
            }
            writeln!(out)
        }
        SqlFormat::Ndjson => {
            let mut writer = json::LineDelimitedWriter::new(&mut *out);
            for batch in &result.batches {
                writer.write(batch).map_err(invalid)?;
            }
            writer.finish().map_err(invalid)
        }
    }
}
