//! Framing: bytes in, newline-delimited lines out, with a length limit.
//!
//! A line longer than the limit is reported as [`Frame::TooLong`] with its
//! length and first bytes; the rest of it is read and counted but never
//! buffered, so one runaway line cannot take the process's memory. CRLF
//! endings are accepted (the `\r` is dropped). A last line without a newline
//! is still a line.

use std::io::{self, BufRead};

/// The default longest line: 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// One framed line.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'b> {
    /// A line within the limit, without its line ending.
    Line { number: u64, bytes: &'b [u8] },
    /// A line over the limit: its full length (without the ending) and its
    /// first `max_line_bytes` bytes.
    TooLong { number: u64, length: u64, prefix: &'b [u8] },
}

/// Splits a reader into lines. Line numbers start at 1.
pub struct LineReader<R> {
    reader: R,
    max_line_bytes: usize,
    line: Vec<u8>,
    line_number: u64,
    bytes_read: u64,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(reader: R, max_line_bytes: usize) -> LineReader<R> {
        LineReader { reader, max_line_bytes, line: Vec::new(), line_number: 0, bytes_read: 0 }
    }

    /// Bytes consumed so far, line endings included.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Lines returned so far.
    pub fn lines_read(&self) -> u64 {
        self.line_number
    }

    /// The underlying reader.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    /// The next line, or `None` at the end of the input.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame<'_>>> {
        self.line.clear();
        let mut length: u64 = 0;
        let mut last_byte = None;
        let mut saw_any = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            if available.is_empty() {
                if !saw_any {
                    return Ok(None);
                }
                break;
            }
            saw_any = true;
            let (chunk, consumed, done) = match memchr::memchr(b'\n', available) {
                Some(end) => (&available[..end], end + 1, true),
                None => (available, available.len(), false),
            };
            let room = self.max_line_bytes.saturating_sub(self.line.len());
            self.line.extend_from_slice(&chunk[..chunk.len().min(room)]);
            length += chunk.len() as u64;
            if let Some(&byte) = chunk.last() {
                last_byte = Some(byte);
            }
            self.reader.consume(consumed);
            self.bytes_read += consumed as u64;
            if done {
                break;
            }
        }
        self.line_number += 1;
        let number = self.line_number;
        // The `\r` of a CRLF ending is not part of the line.
        if last_byte == Some(b'\r') {
            length -= 1;
            self.line.truncate(usize::try_from(length).unwrap_or(usize::MAX).min(self.line.len()));
        }
        if length > self.max_line_bytes as u64 {
            Ok(Some(Frame::TooLong { number, length, prefix: &self.line }))
        } else {
            Ok(Some(Frame::Line { number, bytes: &self.line }))
        }
    }
}

/// A line with nothing but ASCII white space.
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames `input` with a small reader buffer so lines span many reads.
    fn check(input: &[u8], max: usize, expected: &[&str]) {
        let reader = io::BufReader::with_capacity(3, input);
        let mut lines = LineReader::new(reader, max);
        let mut got = Vec::new();
        while let Some(frame) = lines.next_frame().unwrap() {
            got.push(match frame {
                Frame::Line { number, bytes } => format!("{number}:{}", String::from_utf8_lossy(bytes)),
                Frame::TooLong { number, length, prefix } => {
                    format!("{number}:too long {length} {}", String::from_utf8_lossy(prefix))
                }
            });
        }
        assert_eq!(got, expected);
        assert_eq!(lines.bytes_read(), input.len() as u64);
    }

    #[test]
    fn lines_crlf_and_missing_final_newline() {
        check(b"a\nbb\r\n\nccc", 10, &["1:a", "2:bb", "3:", "4:ccc"]);
        check(b"", 10, &[]);
        check(b"\n", 10, &["1:"]);
        check(b"x\r", 10, &["1:x"]);
    }

    #[test]
    fn over_long_lines_are_counted_not_buffered() {
        check(b"ok\n0123456789abc\nfine\n", 5, &["1:ok", "2:too long 13 01234", "3:fine"]);
        // Exactly at the limit is fine, one past is not; CR does not count.
        check(b"12345\n123456\n12345\r\n", 5, &["1:12345", "2:too long 6 12345", "3:12345"]);
    }

    #[test]
    fn blank_lines() {
        assert!(is_blank(b""));
        assert!(is_blank(b" \t "));
        assert!(!is_blank(b" {} "));
    }
}
