//! Input sources: standard input and files, plain or compressed (`.gz`,
//! `.zst`), opened at a resume offset.
//!
//! A file is identified by device and inode, so a log rotated into the same
//! path is a new file. Offsets count bytes of the decompressed stream: a
//! plain file resumes with a seek, a compressed one by decompressing and
//! skipping.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::IngestError;

/// Where lines come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    /// `-` is standard input, as everywhere.
    pub fn from_arg(arg: &Path) -> Input {
        if arg == Path::new("-") { Input::Stdin } else { Input::File(arg.to_owned()) }
    }

    /// The name used in messages and dead letters.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_owned(),
            Input::File(path) => path.display().to_string(),
        }
    }
}

/// How a file was compressed, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn of(path: &Path) -> Compression {
        match path.extension().and_then(|e| e.to_str()) {
            Some("gz") => Compression::Gzip,
            Some("zst") => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

/// What identifies a file across runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileIdentity {
    /// The absolute path, the key of its checkpoint in the manifest.
    pub key: String,
    pub device: u64,
    pub inode: u64,
    /// On-disk size (compressed size for compressed files).
    pub size: u64,
    pub compression: Compression,
}

/// A buffered input that can tell when its writer has gone quiet.
pub trait InputRead: BufRead {
    /// True when nothing is buffered and a read would block: a pipe whose
    /// writer (`app | sluice-ingest`) has nothing more to say for now.
    /// Files never are: their reads do not wait for a writer.
    fn is_idle(&mut self) -> bool {
        false
    }
}

impl<R: Read> InputRead for BufReader<R> {}

/// Standard input: a file, a pipe or a terminal. The pipeline asks it
/// whether it has gone quiet, to commit what it holds instead of waiting
/// for a full batch while the writer is silent.
struct StdinReader {
    inner: BufReader<io::Stdin>,
}

impl Read for StdinReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl BufRead for StdinReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount)
    }
}

impl InputRead for StdinReader {
    fn is_idle(&mut self) -> bool {
        if !self.inner.buffer().is_empty() {
            return false;
        }
        // poll(2) with a zero timeout: no event means a read would block. A
        // regular file is always readable; a closed pipe reports a hang-up.
        let stdin = io::stdin();
        let fd = stdin.as_fd();
        let mut fds = [rustix::event::PollFd::new(&fd, rustix::event::PollFlags::IN)];
        let now = rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 };
        matches!(rustix::event::poll(&mut fds, Some(&now)), Ok(0))
    }
}

/// An opened input, positioned at its resume offset.
pub struct OpenedSource {
    pub reader: Box<dyn InputRead>,
    /// For files: what identifies the file across runs.
    pub file: Option<FileIdentity>,
}

/// Opens `input`; for a file, `resume_at` picks the offset to start from
/// given the file's identity (return 0 to read from the start).
pub fn open(input: &Input, resume_at: impl FnOnce(&FileIdentity) -> u64) -> Result<OpenedSource, IngestError> {
    let path = match input {
        Input::Stdin => {
            let reader = Box::new(StdinReader { inner: BufReader::with_capacity(256 * 1024, io::stdin()) });
            return Ok(OpenedSource { reader, file: None });
        }
        Input::File(path) => path,
    };
    let open_error = |source| IngestError::OpenInput { path: path.clone(), source };
    let mut file = File::open(path).map_err(open_error)?;
    let metadata = file.metadata().map_err(open_error)?;
    if metadata.is_dir() {
        return Err(open_error(io::Error::new(io::ErrorKind::IsADirectory, "is a directory")));
    }
    let identity = FileIdentity {
        key: std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()).display().to_string(),
        device: metadata.dev(),
        inode: metadata.ino(),
        size: metadata.len(),
        compression: Compression::of(path),
    };
    let offset = resume_at(&identity);
    let read_error = |source| IngestError::ReadInput { path: path.clone(), source };
    let reader: Box<dyn InputRead> = match identity.compression {
        Compression::None => {
            file.seek(SeekFrom::Start(offset)).map_err(read_error)?;
            Box::new(BufReader::with_capacity(256 * 1024, file))
        }
        Compression::Gzip => {
            let decoder = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(256 * 1024, file));
            skip(Box::new(BufReader::with_capacity(256 * 1024, decoder)), offset).map_err(read_error)?
        }
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(file).map_err(read_error)?;
            skip(Box::new(BufReader::with_capacity(256 * 1024, decoder)), offset).map_err(read_error)?
        }
    };
    Ok(OpenedSource { reader, file: Some(identity) })
}

/// Reads and discards `bytes` from a stream that cannot seek.
fn skip(mut reader: Box<dyn InputRead>, bytes: u64) -> io::Result<Box<dyn InputRead>> {
    let skipped = io::copy(&mut (&mut reader).take(bytes), &mut io::sink())?;
    if skipped < bytes {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("the checkpoint is at byte {bytes} but the decompressed input ends at {skipped}"),
        ));
    }
    Ok(reader)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn read_all(input: &Input, offset: u64) -> String {
        let mut reader = open(input, |_| offset).unwrap().reader;
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn plain_gzip_and_zstd_files_read_alike_and_resume_at_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        let text = "{\"msg\":\"one\"}\n{\"msg\":\"two\"}\n";
        let plain = dir.path().join("app.ndjson");
        std::fs::write(&plain, text).unwrap();
        let gz = dir.path().join("app.ndjson.gz");
        let mut encoder = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::default());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap();
        let zst = dir.path().join("app.ndjson.zst");
        std::fs::write(&zst, zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
        for path in [&plain, &gz, &zst] {
            let input = Input::File(path.clone());
            assert_eq!(read_all(&input, 0), text, "{}", path.display());
            assert_eq!(read_all(&input, 14), "{\"msg\":\"two\"}\n", "{}", path.display());
        }
        assert_eq!(Compression::of(&gz), Compression::Gzip);
        assert_eq!(Compression::of(&zst), Compression::Zstd);
        let error = open(&Input::File(gz), |_| 1000).err().unwrap();
        assert!(
            error.to_string().contains("the checkpoint is at byte 1000 but the decompressed input ends at 28"),
            "{error}"
        );
    }
}
