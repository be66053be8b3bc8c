//! Request bodies → the [`Chunk`] a worker normalizes.
//!
//! Every protocol ends up as lines of JSON, numbered from 1 in the request:
//! NDJSON as it came (framed like standard input, with the same line limit),
//! the other protocols one line per log entry they carry.

use std::sync::Arc;

use sluice_schemas::{Producer, Timestamp};

use crate::framing::{Frame, LineReader, is_blank};
use crate::pipeline::{Chunk, ChunkLine};

/// Builds a request's chunk line by line.
pub(crate) struct ChunkBuilder {
    chunk: Chunk,
    max_line_bytes: usize,
}

impl ChunkBuilder {
    pub fn new(source: &str, service: Option<&str>, producer: Option<Producer>, max_line_bytes: usize) -> ChunkBuilder {
        let mut chunk = Chunk::new(&Arc::from(source));
        chunk.data = Vec::new();
        chunk.lines = Vec::new();
        chunk.service = service.map(Arc::from);
        chunk.producer = producer;
        ChunkBuilder { chunk, max_line_bytes }
    }

    /// Adds the next line (without its ending); returns its number.
    pub fn push(&mut self, line: &[u8]) -> u64 {
        self.push_numbered(self.chunk.lines_read + 1, line)
    }

    /// Adds a line that the protocol numbers itself (a bulk item's position).
    pub fn push_numbered(&mut self, number: u64, line: &[u8]) -> u64 {
        self.chunk.lines_read += 1;
        self.chunk.bytes += line.len() as u64 + 1;
        if is_blank(line) {
            self.chunk.blank += 1;
            return number;
        }
        let start = self.chunk.data.len();
        let too_long = (line.len() > self.max_line_bytes).then_some(line.len() as u64);
        self.chunk.data.extend_from_slice(&line[..line.len().min(self.max_line_bytes)]);
        self.chunk.lines.push(ChunkLine { number, start, end: self.chunk.data.len(), too_long });
        number
    }

    /// Makes room for about `bytes` of lines, so a big body is copied once
    /// instead of regrown.
    pub fn reserve(&mut self, bytes: usize) {
        self.chunk.data.reserve(bytes);
    }

    /// Adds every line of an NDJSON body.
    pub fn push_ndjson(&mut self, body: &[u8]) {
        self.reserve(body.len());
        let bytes_before = self.chunk.bytes;
        let mut reader = LineReader::new(body, self.max_line_bytes);
        // Reading from memory cannot fail.
        while let Ok(Some(frame)) = reader.next_frame() {
            match frame {
                Frame::Line { bytes, .. } => {
                    self.push(bytes);
                }
                Frame::TooLong { length, prefix, .. } => {
                    self.chunk.lines_read += 1;
                    let start = self.chunk.data.len();
                    self.chunk.data.extend_from_slice(prefix);
                    let number = self.chunk.lines_read;
                    self.chunk.lines.push(ChunkLine {
                        number,
                        start,
                        end: self.chunk.data.len(),
                        too_long: Some(length),
                    });
                }
            }
        }
        self.chunk.bytes = bytes_before + reader.bytes_read();
    }

    pub fn finish(mut self) -> Chunk {
        self.chunk.observed = Timestamp::now();
        self.chunk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(chunk: &Chunk) -> Vec<(u64, String, Option<u64>)> {
        chunk
            .lines
            .iter()
            .map(|l| (l.number, String::from_utf8_lossy(&chunk.data[l.start..l.end]).into_owned(), l.too_long))
            .collect()
    }

    #[test]
    fn an_ndjson_body_is_framed_like_standard_input() {
        let mut builder = ChunkBuilder::new("test", None, None, 8);
        builder.push_ndjson(b"{\"a\":1}\r\n\n  \n{\"much\":\"too long\"}\nlast");
        let chunk = builder.finish();
        assert_eq!(
            texts(&chunk),
            [(1, "{\"a\":1}".to_owned(), None), (4, "{\"much\":".to_owned(), Some(19)), (5, "last".to_owned(), None)]
        );
        assert_eq!((chunk.lines_read, chunk.blank), (5, 2));
        assert_eq!(chunk.bytes, 37);
    }
}
