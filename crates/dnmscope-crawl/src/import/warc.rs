//! Reading WARC files (ISO 28500, WARC/1.0 and WARC/1.1), plain or gzipped, one record at a
//! time, from files nobody vouches for.
//!
//! [`WarcReader`] streams records out of any [`Read`]: it never holds more than one record, a
//! block is kept up to [`MAX_RECORD_BYTES`] (the rest is read and dropped, the record marked
//! truncated), header lines and sections are capped, and a record it cannot read is an `Err` item
//! after which it scans forward to the next line starting with `WARC/1.`, so one bad record does
//! not lose the rest of the file. An I/O error, a corrupt gzip member or a file that ends inside a
//! record ends the iteration.
//!
//! [`http_response`] reads the HTTP/1.x response in a `response` (or `revisit`) record's block:
//! de-chunked, decompressed into a capped buffer, headers that cannot be read skipped.
//! [`is_html`] says whether such a response is a page.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use dnmscope_model::{Header, Truncation};
use flate2::read::{DeflateDecoder, GzDecoder, MultiGzDecoder, ZlibDecoder};

/// Caps: a record block larger than this is read up to the cap, the rest skipped, marked
/// truncated.
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// The longest WARC header line read; a longer one makes the record an error.
pub const MAX_HEADER_LINE_BYTES: usize = 64 << 10;

/// The most WARC header lines in one record; more make the record an error.
pub const MAX_HEADERS: usize = 1024;

/// The largest WARC header section (all its lines) in one record; a larger one makes the record
/// an error.
pub const MAX_HEADER_BYTES: usize = 1 << 20;

/// At most this many content and transfer codings are decoded in an HTTP body (a hostile server
/// could name thousands); a body with more is kept as the last decoded layer.
const MAX_CODINGS: usize = 4;

/// How much of a would-be version line is kept (the rest of a longer line is skipped).
const VERSION_LINE_KEEP: usize = 64;

/// How much of an offending line an error quotes.
const PREVIEW_BYTES: usize = 64;

const READ_BUFFER_BYTES: usize = 64 << 10;
const DECODE_BUFFER_BYTES: usize = 16 << 10;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// What went wrong, and where: the file (when the reader was opened from one) and the byte
/// offset in the (decompressed) stream.
#[derive(Debug, thiserror::Error)]
pub enum WarcError {
    #[error("opening WARC file {}", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("reading the WARC stream{} at byte {offset}", in_file(.path))]
    Io {
        path: Option<PathBuf>,
        offset: u64,
        #[source]
        source: io::Error,
    },

    #[error("corrupt gzip data in WARC file{} after byte {offset} of the decompressed stream", in_file(.path))]
    Gzip {
        path: Option<PathBuf>,
        offset: u64,
        #[source]
        source: io::Error,
    },

    #[error("no WARC version line at byte {offset}{}: found {found:?}", in_file(.path))]
    NotWarc {
        path: Option<PathBuf>,
        offset: u64,
        found: String,
    },

    #[error("unsupported WARC version {version:?} in the record at byte {offset}{}", in_file(.path))]
    UnsupportedVersion {
        path: Option<PathBuf>,
        offset: u64,
        version: String,
    },

    #[error("a WARC header line longer than {max} bytes in the record at byte {offset}{}", in_file(.path))]
    HeaderLineTooLong {
        path: Option<PathBuf>,
        offset: u64,
        max: usize,
    },

    #[error("more than {max} WARC header lines in the record at byte {offset}{}", in_file(.path))]
    TooManyHeaders {
        path: Option<PathBuf>,
        offset: u64,
        max: usize,
    },

    #[error("WARC headers larger than {max} bytes in the record at byte {offset}{}", in_file(.path))]
    HeadersTooLarge {
        path: Option<PathBuf>,
        offset: u64,
        max: usize,
    },

    #[error("the file ends inside the WARC headers of the record at byte {offset}{}", in_file(.path))]
    TruncatedHeaders { path: Option<PathBuf>, offset: u64 },

    #[error("no Content-Length in the WARC record at byte {offset}{}", in_file(.path))]
    MissingContentLength { path: Option<PathBuf>, offset: u64 },

    #[error("unreadable Content-Length {value:?} in the WARC record at byte {offset}{}", in_file(.path))]
    BadContentLength {
        path: Option<PathBuf>,
        offset: u64,
        value: String,
    },

    #[error("the block of {} is not an HTTP response: it starts with {found:?}", record_at(.record_offset))]
    NotHttpResponse {
        /// The record's offset, when the block came from [`WarcRecord::http_response`].
        record_offset: Option<u64>,
        found: String,
    },
}

fn in_file(path: &Option<PathBuf>) -> String {
    match path {
        Some(path) => format!(" in {}", path.display()),
        None => String::new(),
    }
}

fn record_at(offset: &Option<u64>) -> String {
    match offset {
        Some(offset) => format!("the WARC record at byte {offset}"),
        None => "a WARC record".to_string(),
    }
}

/// One WARC record: its headers (the usual ones parsed) and its content block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarcRecord {
    /// Position in the (decompressed) stream where the record (its version line) began.
    pub offset: u64,
    /// `WARC/1.0` or `WARC/1.1`.
    pub version: String,
    /// `WARC-Type`, lower-cased: `warcinfo`, `response`, `request`, `revisit`, `resource`,
    /// `metadata`, ... (empty when the record has none).
    pub record_type: String,
    pub record_id: Option<String>,
    /// `WARC-Target-URI`, without the `<>` some WARC 1.0 writers put around it.
    pub target_uri: Option<String>,
    /// `WARC-Date` (RFC 3339, second or sub-second precision); `None` when absent or unreadable.
    pub date: Option<DateTime<Utc>>,
    pub content_type: Option<String>,
    pub payload_digest: Option<String>,
    /// `WARC-Refers-To`.
    pub refers_to: Option<String>,
    /// `WARC-Refers-To-Target-URI`, without surrounding `<>`.
    pub refers_to_target_uri: Option<String>,
    /// `WARC-Refers-To-Date`.
    pub refers_to_date: Option<DateTime<Utc>>,
    /// `WARC-Profile` (revisits).
    pub profile: Option<String>,
    /// Every WARC header as read (folded lines joined with a space), in order.
    pub headers: Vec<(String, String)>,
    /// The record's content block, at most the reader's cap ([`MAX_RECORD_BYTES`] by default).
    pub block: Vec<u8>,
    /// The block is shorter than its Content-Length: longer than the cap, or the file ended
    /// inside it.
    pub truncated: bool,
}

impl WarcRecord {
    /// The first WARC header of that name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }

    /// Why the block is not the whole content: the record's `WARC-Truncated` (an unknown reason
    /// is `Unspecified`), else `Length` when this reader cut the block (its cap, or the end of
    /// the file).
    pub fn truncation(&self) -> Option<Truncation> {
        match self.header("WARC-Truncated") {
            Some(reason) => Some(
                Truncation::parse(&reason.trim().to_ascii_lowercase())
                    .unwrap_or(Truncation::Unspecified),
            ),
            None if self.truncated => Some(Truncation::Length),
            None => None,
        }
    }

    /// [`http_response`] of the block; a response read whole from a truncated record takes the
    /// record's [`truncation`](WarcRecord::truncation).
    pub fn http_response(&self, max_body: usize) -> Result<HttpResponse, WarcError> {
        let mut response = http_response(&self.block, max_body).map_err(|error| match error {
            WarcError::NotHttpResponse { found, .. } => WarcError::NotHttpResponse {
                record_offset: Some(self.offset),
                found,
            },
            other => other,
        })?;
        if response.truncated.is_none() {
            response.truncated = self.truncation();
        }
        Ok(response)
    }
}

/// Reads WARC records one by one from a stream (see the module documentation).
pub struct WarcReader<R> {
    input: Input<R>,
    path: Option<PathBuf>,
    gzip: bool,
    max_record_bytes: usize,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The next record starts here (after any blank lines).
    Ready,
    /// The last record was bad: skip to the next line starting with `WARC/1.`.
    Resync,
    /// End of the input, an I/O error, or a file that ended inside a record.
    Done,
}

/// A record that could not be read, and what the reader does next.
struct Failure {
    error: WarcError,
    then: State,
}

impl<R> fmt::Debug for WarcReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WarcReader")
            .field("path", &self.path)
            .field("gzip", &self.gzip)
            .field("offset", &self.input.pos)
            .field("max_record_bytes", &self.max_record_bytes)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// Counts the bytes read from a file (how far a progress bar is through a WARC file).
struct Counting<'a, R> {
    inner: R,
    read: &'a AtomicU64,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<'a> WarcReader<Box<dyn Read + Send + 'a>> {
    /// Opens a `.warc` or `.warc.gz` file. Gzip is recognised by its magic bytes, not the name;
    /// a gzipped file may hold one member per record or one for the whole file.
    pub fn open(path: &Path) -> Result<Self, WarcError> {
        Self::open_counting(path, None)
    }

    /// [`WarcReader::open`], adding the bytes read from the file to `read` as it goes.
    pub fn open_counting(path: &Path, read: Option<&'a AtomicU64>) -> Result<Self, WarcError> {
        let open_error = |source: io::Error| WarcError::Open {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(open_error)?;
        let mut file: Box<dyn Read + Send + 'a> = match read {
            Some(read) => Box::new(Counting { inner: file, read }),
            None => Box::new(file),
        };
        let mut magic = [0u8; 2];
        let mut got = 0;
        while got < magic.len() {
            match file.read(&mut magic[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(open_error(e)),
            }
        }
        let gzip = got == magic.len() && magic == GZIP_MAGIC;
        let stream = io::Cursor::new(magic[..got].to_vec()).chain(file);
        let reader: Box<dyn Read + Send + 'a> = if gzip {
            Box::new(MultiGzDecoder::new(stream))
        } else {
            Box::new(stream)
        };
        tracing::debug!(path = %path.display(), gzip, "opened WARC file");
        let mut warc = WarcReader::new(reader);
        warc.path = Some(path.to_path_buf());
        warc.gzip = gzip;
        Ok(warc)
    }
}

impl<R: Read> WarcReader<R> {
    /// A reader over an uncompressed WARC stream (wrap a gzipped one in a
    /// [`MultiGzDecoder`] first, or use [`WarcReader::open`]).
    pub fn new(reader: R) -> Self {
        WarcReader {
            input: Input {
                inner: BufReader::with_capacity(READ_BUFFER_BYTES, reader),
                pos: 0,
            },
            path: None,
            gzip: false,
            max_record_bytes: MAX_RECORD_BYTES,
            state: State::Ready,
        }
    }

    /// Keeps at most `max` bytes of each block instead of [`MAX_RECORD_BYTES`].
    pub fn with_max_record_bytes(mut self, max: usize) -> Self {
        self.max_record_bytes = max;
        self
    }

    /// How many bytes of the (decompressed) stream have been read.
    pub fn offset(&self) -> u64 {
        self.input.pos
    }

    /// The file, when opened with [`WarcReader::open`].
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn io_failure(&self, source: io::Error) -> Failure {
        let path = self.path.clone();
        let offset = self.input.pos;
        let corrupt = matches!(
            source.kind(),
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof
        );
        let error = if self.gzip && corrupt {
            WarcError::Gzip {
                path,
                offset,
                source,
            }
        } else {
            WarcError::Io {
                path,
                offset,
                source,
            }
        };
        Failure {
            error,
            then: State::Done,
        }
    }

    fn resync(&self, error: WarcError) -> Failure {
        tracing::debug!(%error, "skipping to the next WARC record");
        Failure {
            error,
            then: State::Resync,
        }
    }

    /// Reads the next record. `Ok(None)` at the end of the input; when `resync`, lines are
    /// skipped until one starts with `WARC/1.`.
    fn read_record(&mut self, resync: bool) -> Result<Option<WarcRecord>, Failure> {
        let mut skipped = 0u64;
        let version_line = loop {
            let line = self
                .input
                .read_line(VERSION_LINE_KEEP)
                .map_err(|e| self.io_failure(e))?;
            let Some(line) = line else {
                if skipped > 0 {
                    tracing::debug!(skipped, "no further WARC record after a bad one");
                }
                return Ok(None);
            };
            if resync {
                if line.bytes.starts_with(b"WARC/1.") {
                    tracing::debug!(skipped, offset = line.start, "found the next WARC record");
                    break line;
                }
                skipped += line.len;
                continue;
            }
            if line.bytes.iter().all(u8::is_ascii_whitespace) && !line.long {
                continue;
            }
            break line;
        };
        let offset = version_line.start;
        let text = String::from_utf8_lossy(&version_line.bytes);
        let version = text.trim();
        if version_line.long || !version.starts_with("WARC/") {
            return Err(self.resync(WarcError::NotWarc {
                path: self.path.clone(),
                offset,
                found: preview(&version_line.bytes),
            }));
        }
        if !is_supported_version(version) {
            return Err(self.resync(WarcError::UnsupportedVersion {
                path: self.path.clone(),
                offset,
                version: version.to_string(),
            }));
        }
        let version = version.to_string();

        let headers = self.read_headers(offset)?;
        let Some(length) = header_value(&headers, "Content-Length") else {
            return Err(self.resync(WarcError::MissingContentLength {
                path: self.path.clone(),
                offset,
            }));
        };
        let Some(length) = parse_content_length(length) else {
            return Err(self.resync(WarcError::BadContentLength {
                path: self.path.clone(),
                offset,
                value: preview(length.as_bytes()),
            }));
        };

        let (block, read) = self
            .input
            .read_block(length, self.max_record_bytes)
            .map_err(|e| self.io_failure(e))?;
        let cut = read < length;
        if cut {
            tracing::warn!(
                offset,
                length,
                read,
                path = ?self.path,
                "the WARC file ends inside a record: keeping what there is"
            );
            self.state = State::Done;
        } else if block.len() as u64 != length {
            tracing::debug!(
                offset,
                length,
                kept = block.len(),
                "WARC block longer than the cap: the rest skipped"
            );
        }
        let truncated = block.len() as u64 != length;

        let get = |name: &str| {
            header_value(&headers, name)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let date = |name: &str| get(name).and_then(|v| parse_date(&v));
        let record = WarcRecord {
            offset,
            version,
            record_type: get("WARC-Type")
                .map(|t| t.to_ascii_lowercase())
                .unwrap_or_default(),
            record_id: get("WARC-Record-ID"),
            target_uri: get("WARC-Target-URI").map(|u| strip_angle_brackets(&u)),
            date: date("WARC-Date"),
            content_type: get("Content-Type"),
            payload_digest: get("WARC-Payload-Digest"),
            refers_to: get("WARC-Refers-To"),
            refers_to_target_uri: get("WARC-Refers-To-Target-URI")
                .map(|u| strip_angle_brackets(&u)),
            refers_to_date: date("WARC-Refers-To-Date"),
            profile: get("WARC-Profile"),
            headers,
            block,
            truncated,
        };
        Ok(Some(record))
    }

    /// The header lines after the version line, through the empty line that ends them.
    fn read_headers(&mut self, offset: u64) -> Result<Vec<(String, String)>, Failure> {
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut lines = 0usize;
        let mut section = 0u64;
        loop {
            let line = self
                .input
                .read_line(MAX_HEADER_LINE_BYTES)
                .map_err(|e| self.io_failure(e))?;
            let Some(line) = line else {
                return Err(Failure {
                    error: WarcError::TruncatedHeaders {
                        path: self.path.clone(),
                        offset,
                    },
                    then: State::Done,
                });
            };
            if line.long {
                return Err(self.resync(WarcError::HeaderLineTooLong {
                    path: self.path.clone(),
                    offset,
                    max: MAX_HEADER_LINE_BYTES,
                }));
            }
            section += line.len;
            if section > MAX_HEADER_BYTES as u64 {
                return Err(self.resync(WarcError::HeadersTooLarge {
                    path: self.path.clone(),
                    offset,
                    max: MAX_HEADER_BYTES,
                }));
            }
            if line.bytes.is_empty() {
                if !line.newline {
                    // The last line of the file, without its line ending: the headers never end.
                    return Err(Failure {
                        error: WarcError::TruncatedHeaders {
                            path: self.path.clone(),
                            offset,
                        },
                        then: State::Done,
                    });
                }
                return Ok(headers);
            }
            lines += 1;
            if lines > MAX_HEADERS {
                return Err(self.resync(WarcError::TooManyHeaders {
                    path: self.path.clone(),
                    offset,
                    max: MAX_HEADERS,
                }));
            }
            let text = String::from_utf8_lossy(&line.bytes);
            if text.starts_with([' ', '\t']) {
                // A folded line continues the previous value.
                match headers.last_mut() {
                    Some((_, value)) => {
                        let more = text.trim();
                        if !more.is_empty() {
                            if !value.is_empty() {
                                value.push(' ');
                            }
                            value.push_str(more);
                        }
                    }
                    None => tracing::debug!(offset, "WARC continuation line before any header"),
                }
                continue;
            }
            match text.split_once(':') {
                Some((name, value)) if !name.trim().is_empty() => {
                    headers.push((name.trim().to_string(), value.trim().to_string()));
                }
                _ => tracing::debug!(
                    offset,
                    line = %preview(&line.bytes),
                    "skipping a WARC header line that is not `name: value`"
                ),
            }
        }
    }
}

impl<R: Read> Iterator for WarcReader<R> {
    type Item = Result<WarcRecord, WarcError>;

    fn next(&mut self) -> Option<Self::Item> {
        let resync = match self.state {
            State::Done => return None,
            State::Ready => false,
            State::Resync => true,
        };
        self.state = State::Ready;
        match self.read_record(resync) {
            // `read_record` ends the iteration itself when the file ended inside the record.
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => {
                self.state = State::Done;
                None
            }
            Err(failure) => {
                self.state = failure.then;
                Some(Err(failure.error))
            }
        }
    }
}

/// A buffered stream that counts what it consumed.
struct Input<R> {
    inner: BufReader<R>,
    pos: u64,
}

/// One line, as [`Input::read_line`] read it.
struct Line {
    /// Where the line began in the stream.
    start: u64,
    /// Its first bytes, without the line ending (`\n` or `\r\n`).
    bytes: Vec<u8>,
    /// All the bytes it took in the stream, line ending included.
    len: u64,
    /// Longer than the bytes kept (the rest was read and dropped).
    long: bool,
    /// It ended with `\n` (not with the end of the input).
    newline: bool,
}

impl<R: Read> Input<R> {
    fn fill(&mut self) -> io::Result<&[u8]> {
        loop {
            match self.inner.fill_buf() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
                Ok(_) => break,
            }
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.pos += n as u64;
    }

    /// Reads one line (through its `\n`, or to the end of the input), keeping at most `keep`
    /// bytes of it; the rest of a longer line is read and dropped, never held. `None` at the
    /// end of the input.
    fn read_line(&mut self, keep: usize) -> io::Result<Option<Line>> {
        let start = self.pos;
        let mut bytes = Vec::new();
        let mut len = 0u64;
        let mut long = false;
        let mut newline = false;
        // One byte more than `keep`, so a `\r` before the `\n` does not make a line too long.
        let room = keep.saturating_add(1);
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                if len == 0 {
                    return Ok(None);
                }
                break;
            }
            let (used, ends) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            let content = &buf[..used - usize::from(ends)];
            let take = content.len().min(room.saturating_sub(bytes.len()));
            bytes.extend_from_slice(&content[..take]);
            long |= take < content.len();
            self.consume(used);
            len += used as u64;
            if ends {
                newline = true;
                break;
            }
        }
        if !long && bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        if bytes.len() > keep {
            long = true;
            bytes.truncate(keep);
        }
        Ok(Some(Line {
            start,
            bytes,
            len,
            long,
            newline,
        }))
    }

    /// Reads `len` bytes (fewer at the end of the input), keeping the first `cap`: the rest is
    /// streamed past, and nothing is allocated for bytes the input does not have. Returns the
    /// bytes kept and how many were read.
    fn read_block(&mut self, len: u64, cap: usize) -> io::Result<(Vec<u8>, u64)> {
        let mut block = Vec::new();
        let mut remaining = len;
        while remaining > 0 {
            let buf = self.fill()?;
            if buf.is_empty() {
                break;
            }
            let n = buf
                .len()
                .min(usize::try_from(remaining).unwrap_or(usize::MAX));
            push_capped(&mut block, &buf[..n], cap);
            self.consume(n);
            remaining -= n as u64;
        }
        Ok((block, len - remaining))
    }
}

/// Appends what fits of `data` under `cap` bytes, growing the vector by doubling but never past
/// `cap`. Says whether something did not fit.
fn push_capped(out: &mut Vec<u8>, data: &[u8], cap: usize) -> bool {
    let take = data.len().min(cap.saturating_sub(out.len()));
    if take > 0 {
        let needed = out.len() + take;
        if needed > out.capacity() {
            let target = needed
                .max(out.capacity().saturating_mul(2))
                .max(8 << 10)
                .min(cap);
            out.reserve_exact(target - out.len());
        }
        out.extend_from_slice(&data[..take]);
    }
    take < data.len()
}

fn is_supported_version(version: &str) -> bool {
    version.strip_prefix("WARC/1.").is_some_and(|minor| {
        !minor.is_empty() && minor.len() <= 3 && minor.bytes().all(|b| b.is_ascii_digit())
    })
}

fn parse_content_length(value: &str) -> Option<u64> {
    let value = value.trim();
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

fn parse_date(value: &str) -> Option<DateTime<Utc>> {
    match DateTime::parse_from_rfc3339(value.trim()) {
        Ok(date) => Some(date.with_timezone(&Utc)),
        Err(error) => {
            tracing::debug!(value, %error, "unreadable WARC date");
            None
        }
    }
}

fn strip_angle_brackets(value: &str) -> String {
    value
        .strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .unwrap_or(value)
        .trim()
        .to_string()
}

fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The first bytes of an offending line, for an error message.
fn preview(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(PREVIEW_BYTES)]).into_owned()
}

/// An HTTP response read from a record block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// The headers as sent (names as written), lines that could not be read skipped.
    pub headers: Vec<Header>,
    /// The body, de-chunked and decoded, at most `max_body` bytes.
    pub body: Vec<u8>,
    /// `Length` when the body was cut at `max_body`, `Disconnect` when the chunked or compressed
    /// stream ends early or is broken.
    pub truncated: Option<Truncation>,
}

impl HttpResponse {
    /// The first header of that name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
}

/// Reads an HTTP/1.x response (status line, headers, body) from a response record's block:
/// `Transfer-Encoding: chunked` de-chunked (a broken or cut chunk stream gives what was read and
/// `Truncation::Disconnect`), `Content-Encoding: gzip`, `x-gzip`, `deflate` (zlib or raw) decoded,
/// `identity`/absent kept; the decoded body capped at `max_body` bytes (`Truncation::Length`;
/// a gzip bomb does not allocate past the cap). A body that claims gzip but is not gzip is kept
/// as is and that is not an error. Header lines folded or malformed are skipped, not fatal.
/// For revisit records, the block holds only the status line and headers (no body): the body is
/// empty. An error only when the block does not start with an HTTP status line.
pub fn http_response(block: &[u8], max_body: usize) -> Result<HttpResponse, WarcError> {
    let not_http = |found: &[u8]| WarcError::NotHttpResponse {
        record_offset: None,
        found: preview(found),
    };
    let mut rest = block;
    let status = loop {
        let Some((line, after)) = split_line(rest) else {
            return Err(not_http(b""));
        };
        rest = after;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        break parse_status_line(line).ok_or_else(|| not_http(line))?;
    };
    let mut headers = Vec::new();
    let mut skipped = 0usize;
    let raw_body = loop {
        let Some((line, after)) = split_line(rest) else {
            // The block ends with the headers (a revisit): no body.
            break &rest[..0];
        };
        rest = after;
        if line.is_empty() {
            break rest;
        }
        match parse_http_header(line) {
            Some(header) if headers.len() < MAX_HEADERS => headers.push(header),
            _ => skipped += 1,
        }
    };
    if skipped > 0 {
        tracing::debug!(
            skipped,
            "HTTP header lines skipped (folded, malformed or too many)"
        );
    }
    let (body, truncated) = decode_body(&headers, raw_body, max_body);
    Ok(HttpResponse {
        status,
        headers,
        body,
        truncated,
    })
}

/// The next line (without `\n` or `\r\n`) and what follows; `None` when nothing is left.
fn split_line(input: &[u8]) -> Option<(&[u8], &[u8])> {
    if input.is_empty() {
        return None;
    }
    let (line, rest) = match input.iter().position(|&b| b == b'\n') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, &input[input.len()..]),
    };
    Some((line.strip_suffix(b"\r").unwrap_or(line), rest))
}

/// `HTTP/1.1 200 OK` gives 200 (any `HTTP/` version, the reason optional).
fn parse_status_line(line: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(line).ok()?;
    let mut parts = text.split_ascii_whitespace();
    let version = parts.next()?;
    if !version
        .get(..5)
        .is_some_and(|v| v.eq_ignore_ascii_case("HTTP/"))
    {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    code.parse().ok()
}

/// `Name: value`, or `None` for a folded line, a line without a colon or a name that is not an
/// HTTP token.
fn parse_http_header(line: &[u8]) -> Option<Header> {
    if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        return None;
    }
    let colon = line.iter().position(|&b| b == b':')?;
    let name = &line[..colon];
    if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
        return None;
    }
    Some(Header {
        name: String::from_utf8_lossy(name).into_owned(),
        value: String::from_utf8_lossy(&line[colon + 1..])
            .trim()
            .to_string(),
    })
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The codings named by every header of that name, in order, lower-cased, `identity` left out.
fn codings(headers: &[Header], name: &str) -> Vec<String> {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .flat_map(|h| h.value.split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect()
}

fn decode_body(headers: &[Header], raw: &[u8], max_body: usize) -> (Vec<u8>, Option<Truncation>) {
    if raw.is_empty() {
        return (Vec::new(), None);
    }
    let mut transfer = codings(headers, "Transfer-Encoding");
    let mut content = codings(headers, "Content-Encoding");
    let mut cut = false;
    let mut over = false;
    let mut data: Cow<'_, [u8]> = Cow::Borrowed(raw);
    if transfer.last().is_some_and(|c| c == "chunked") {
        transfer.pop();
        let (dechunked, complete) = dechunk(raw);
        if !complete {
            tracing::debug!("broken or cut chunked body: keeping what was read");
        }
        cut |= !complete;
        data = Cow::Owned(dechunked);
    }
    // Transfer codings other than `chunked` were applied after the content codings.
    content.extend(transfer.into_iter().filter(|c| c != "chunked"));
    if content.len() > MAX_CODINGS {
        tracing::debug!(
            codings = content.len(),
            "too many codings: the body kept encoded"
        );
    } else {
        for coding in content.iter().rev() {
            match decode(coding, &data, max_body) {
                Some(decoded) => {
                    cut |= decoded.cut;
                    over |= decoded.over;
                    data = Cow::Owned(decoded.bytes);
                }
                None => {
                    tracing::debug!(coding, "body not decoded: kept as is");
                    break;
                }
            }
        }
    }
    over |= data.len() > max_body;
    let body = match data {
        Cow::Owned(mut bytes) => {
            bytes.truncate(max_body);
            bytes
        }
        Cow::Borrowed(bytes) => bytes[..bytes.len().min(max_body)].to_vec(),
    };
    let truncated = if over {
        Some(Truncation::Length)
    } else if cut {
        Some(Truncation::Disconnect)
    } else {
        None
    };
    (body, truncated)
}

/// A chunked body's data, and whether the stream ended with its last (zero) chunk. Chunk
/// extensions and trailers are ignored; a chunk that is cut or a size line that cannot be read
/// ends the data there.
fn dechunk(mut input: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(newline) = input.iter().position(|&b| b == b'\n') else {
            return (out, false);
        };
        let line = &input[..newline];
        input = &input[newline + 1..];
        let size = line.split(|&b| b == b';').next().unwrap_or(line);
        let size = size.trim_ascii();
        if size.is_empty() || size.len() > 15 || !size.iter().all(u8::is_ascii_hexdigit) {
            return (out, false);
        }
        let Some(size) = std::str::from_utf8(size)
            .ok()
            .and_then(|s| usize::from_str_radix(s, 16).ok())
        else {
            return (out, false);
        };
        if size == 0 {
            return (out, true);
        }
        if size > input.len() {
            out.extend_from_slice(input);
            return (out, false);
        }
        out.extend_from_slice(&input[..size]);
        input = &input[size..];
        input = if let Some(after) = input.strip_prefix(b"\r\n") {
            after
        } else if let Some(after) = input.strip_prefix(b"\n") {
            after
        } else {
            return (out, false);
        };
    }
}

struct Decoded {
    bytes: Vec<u8>,
    /// The compressed stream was broken or ended early.
    cut: bool,
    /// More than the cap came out.
    over: bool,
}

/// Decodes one content coding into at most `cap` bytes; `None` when the coding is unknown or
/// the data is not in it (kept as is).
fn decode(coding: &str, data: &[u8], cap: usize) -> Option<Decoded> {
    let (bytes, error, over) = match coding {
        "gzip" | "x-gzip" => {
            if !data.starts_with(&GZIP_MAGIC) {
                return None;
            }
            read_capped(GzDecoder::new(data), cap)
        }
        "deflate" => {
            // zlib as the RFC says, or raw deflate as some servers send; raw data can look like
            // a zlib header by chance, so a zlib stream that gives nothing is tried raw.
            let zlib = is_zlib(data).then(|| read_capped(ZlibDecoder::new(data), cap));
            match zlib {
                Some((bytes, error, over)) if !(error && bytes.is_empty()) => (bytes, error, over),
                _ => read_capped(DeflateDecoder::new(data), cap),
            }
        }
        _ => return None,
    };
    if error && bytes.is_empty() {
        return None;
    }
    Some(Decoded {
        bytes,
        cut: error,
        over,
    })
}

/// A zlib header: deflate method, window at most 32 KiB, check bits right.
fn is_zlib(data: &[u8]) -> bool {
    match data {
        [cmf, flg, ..] => {
            (cmf & 0x0f) == 8
                && (cmf >> 4) <= 7
                && ((u16::from(*cmf) << 8) | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

/// Reads a decoder into at most `cap` bytes, stopping as soon as more would come: returns the
/// bytes, whether the decoder failed, and whether there was more than `cap`.
fn read_capped(mut reader: impl Read, cap: usize) -> (Vec<u8>, bool, bool) {
    let mut out = Vec::new();
    let mut buf = vec![0u8; DECODE_BUFFER_BYTES];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return (out, false, false),
            Ok(n) => {
                if push_capped(&mut out, &buf[..n], cap) {
                    return (out, false, true);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                tracing::debug!(%error, decoded = out.len(), "compressed body broken or cut");
                return (out, true, false);
            }
        }
    }
}

/// Whether a response is HTML: Content-Type text/html or application/xhtml+xml, or no
/// Content-Type and a body that starts (after whitespace/BOM) with `<!doctype html`, `<html`,
/// `<head` or `<body` (case-insensitive).
pub fn is_html(response: &HttpResponse) -> bool {
    let content_type = response
        .header("Content-Type")
        .map(str::trim)
        .filter(|v| !v.is_empty());
    match content_type {
        Some(value) => {
            let mime = value.split(';').next().unwrap_or(value).trim();
            mime.eq_ignore_ascii_case("text/html")
                || mime.eq_ignore_ascii_case("application/xhtml+xml")
        }
        None => sniff_html(&response.body),
    }
}

fn sniff_html(mut body: &[u8]) -> bool {
    const BOM: &[u8] = b"\xef\xbb\xbf";
    loop {
        let trimmed = body.trim_ascii_start();
        let trimmed = trimmed.strip_prefix(BOM).unwrap_or(trimmed);
        if trimmed.len() == body.len() {
            break;
        }
        body = trimmed;
    }
    [b"<!doctype html".as_slice(), b"<html", b"<head", b"<body"]
        .iter()
        .any(|start| {
            body.get(..start.len())
                .is_some_and(|b| b.eq_ignore_ascii_case(start))
        })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use chrono::TimeZone;
    use dnmscope_fetch::warc::WarcWriter;
    use dnmscope_model::{Capture, CrawlId, MarketName};
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;
    use rand::{Rng, RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// More items than any test input can make: reaching it means the reader did not end.
    const ITEM_LIMIT: usize = 100_000;

    /// A WARC record with CRLF line endings and the Content-Length of its block.
    fn record(version: &str, headers: &[(&str, &str)], block: &[u8]) -> Vec<u8> {
        let mut head = format!("{version}\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", block.len()));
        let mut out = head.into_bytes();
        out.extend_from_slice(block);
        out.extend_from_slice(b"\r\n\r\n");
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// `body` in chunks of the given sizes (the last one takes the rest), the first with an
    /// extension, then the last chunk and a trailer.
    fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = body;
        for (i, &size) in sizes.iter().enumerate() {
            let size = if i + 1 == sizes.len() {
                rest.len()
            } else {
                size.min(rest.len())
            };
            let extension = if i == 0 { ";name=value" } else { "" };
            out.extend_from_slice(format!("{size:X}{extension}\r\n").as_bytes());
            out.extend_from_slice(&rest[..size]);
            out.extend_from_slice(b"\r\n");
            rest = &rest[size..];
        }
        out.extend_from_slice(b"0\r\nX-Trailer: yes\r\n\r\n");
        out
    }

    /// Every item, checking that the reader ends (and stays ended).
    fn read_all<R: Read>(mut reader: WarcReader<R>) -> Vec<Result<WarcRecord, WarcError>> {
        let items: Vec<_> = reader.by_ref().take(ITEM_LIMIT).collect();
        assert!(items.len() < ITEM_LIMIT, "the reader did not end");
        assert!(
            reader.next().is_none(),
            "the reader started again after ending"
        );
        items
    }

    fn read_bytes(bytes: &[u8]) -> Vec<Result<WarcRecord, WarcError>> {
        read_all(WarcReader::new(bytes))
    }

    fn ok(item: &Result<WarcRecord, WarcError>) -> &WarcRecord {
        match item {
            Ok(record) => record,
            Err(error) => panic!("expected a record, got {error}"),
        }
    }

    fn err(item: &Result<WarcRecord, WarcError>) -> &WarcError {
        match item {
            Ok(record) => panic!("expected an error, got a record at {}", record.offset),
            Err(error) => error,
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<Header> {
        pairs.iter().map(|(n, v)| Header::new(n, v)).collect()
    }

    fn capture(
        url: &str,
        fetched_at: DateTime<Utc>,
        status: u16,
        headers: Vec<Header>,
        body: Vec<u8>,
    ) -> Capture {
        Capture {
            market: MarketName::new("dream").unwrap(),
            crawl: CrawlId(7),
            url: url.to_string(),
            final_url: None,
            fetched_at,
            status,
            headers,
            body,
            truncated: None,
            elapsed_ms: Some(10),
        }
    }

    #[test]
    fn captures_written_by_the_warc_writer_read_back_exactly() {
        let page = b"<html><body><h1>Listing 1</h1>\xc3\xa9</body></html>".to_vec();
        let mut first = capture(
            "http://dreamabc.onion/listing/1",
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
                + chrono::Duration::microseconds(123_456),
            200,
            headers(&[
                ("Content-Type", "text/html; charset=utf-8"),
                ("Server", "nginx"),
                ("Set-Cookie", "session=s3cr3t"),
                ("Content-Encoding", "gzip"),
                ("Content-Length", "999"),
            ]),
            page.clone(),
        );
        first.final_url = Some("http://dreamabc.onion/listing/1?page=2".to_string());
        let binary: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let mut second = capture(
            "http://dreamabc.onion/static/blob",
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 5, 0).unwrap(),
            404,
            headers(&[("Content-Type", "application/octet-stream")]),
            binary.clone(),
        );
        second.truncated = Some(Truncation::Length);
        let info_date = Utc.with_ymd_and_hms(2026, 1, 2, 3, 0, 0).unwrap();

        let mut writer = WarcWriter::new(Vec::new());
        writer.write_info("dream.warc", info_date).unwrap();
        writer.write_capture(&first).unwrap();
        writer.write_capture(&second).unwrap();
        let bytes = writer.finish().unwrap();

        // The same file plain and gzipped as one member, opened from disk.
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("dream.warc");
        std::fs::write(&plain, &bytes).unwrap();
        let gzipped = dir.path().join("dream.warc.gz");
        std::fs::write(&gzipped, gzip(&bytes)).unwrap();
        let from_plain = read_all(WarcReader::open(&plain).unwrap());
        let from_gzip = read_all(WarcReader::open(&gzipped).unwrap());
        assert_eq!(from_plain.len(), 3);
        for (a, b) in from_plain.iter().zip(&from_gzip) {
            assert_eq!(ok(a), ok(b));
        }
        assert_eq!(from_gzip.len(), 3);

        let info = ok(&from_plain[0]);
        assert_eq!(info.offset, 0);
        assert_eq!(info.version, "WARC/1.1");
        assert_eq!(info.record_type, "warcinfo");
        assert_eq!(info.date, Some(info_date));
        assert_eq!(info.header("WARC-Filename"), Some("dream.warc"));
        assert!(info.block.starts_with(b"software: dnmscope "));

        let response = ok(&from_plain[1]);
        assert_eq!(response.record_type, "response");
        assert_eq!(
            response.target_uri.as_deref(),
            Some("http://dreamabc.onion/listing/1?page=2")
        );
        assert_eq!(response.date, Some(first.fetched_at));
        assert_eq!(
            response.content_type.as_deref(),
            Some("application/http;msgtype=response")
        );
        assert!(response
            .record_id
            .as_deref()
            .is_some_and(|id| id.starts_with("<urn:uuid:")));
        assert!(response
            .payload_digest
            .as_deref()
            .is_some_and(|d| d.starts_with("sha1:") && d.len() == 37));
        assert!(!response.truncated);
        assert_eq!(response.truncation(), None);
        let http = response.http_response(MAX_RECORD_BYTES).unwrap();
        assert_eq!(http.status, 200);
        assert_eq!(
            http.headers,
            headers(&[
                ("Content-Type", "text/html; charset=utf-8"),
                ("Server", "nginx"),
                ("Set-Cookie", "[redacted]"),
                // The writer stores decoded bodies: the encoding is renamed, not applied.
                ("X-Dnmscope-Original-Content-Encoding", "gzip"),
                ("Content-Length", &page.len().to_string()),
            ])
        );
        assert_eq!(http.body, page);
        assert_eq!(http.truncated, None);
        assert!(is_html(&http));

        let blob = ok(&from_plain[2]);
        assert_eq!(
            blob.target_uri.as_deref(),
            Some("http://dreamabc.onion/static/blob")
        );
        assert_eq!(blob.date, Some(second.fetched_at));
        assert!(!blob.truncated, "the block itself is whole");
        assert_eq!(blob.truncation(), Some(Truncation::Length));
        let http = blob.http_response(MAX_RECORD_BYTES).unwrap();
        assert_eq!(http.status, 404);
        assert_eq!(http.body, binary);
        assert_eq!(http.truncated, Some(Truncation::Length));
        assert!(!is_html(&http));
        assert!(blob.offset > response.offset);
    }

    #[test]
    fn a_hand_built_warc_gz_with_every_kind_of_record_reads_record_by_record() {
        let html = b"<!DOCTYPE html><html><head><title>Vendor</title></head><body>hi</body></html>";
        let compressed = gzip(html);
        let mut response_block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n".to_vec();
        response_block.extend_from_slice(&chunked(&compressed, &[7, 20, 1]));
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR<html>".to_vec();
        let mut png_block = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n".to_vec();
        png_block.extend_from_slice(&png);
        let revisit_block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n";

        let records: Vec<Vec<u8>> = vec![
            record(
                "WARC/1.0",
                &[
                    ("WARC-Type", "warcinfo"),
                    ("WARC-Date", "2024-03-01T12:00:00Z"),
                    ("WARC-Record-ID", "<urn:uuid:00000000-0000-4000-8000-000000000001>"),
                    ("Content-Type", "application/warc-fields"),
                ],
                b"software: hand\r\nformat: WARC File Format 1.0\r\n",
            ),
            record(
                "WARC/1.0",
                &[
                    ("WARC-Type", "request"),
                    ("WARC-Target-URI", "<http://vendorabc.onion/item/1>"),
                    ("WARC-Date", "2024-03-01T12:00:01Z"),
                    ("Content-Type", "application/http;msgtype=request"),
                ],
                b"GET /item/1 HTTP/1.1\r\nHost: vendorabc.onion\r\n\r\n",
            ),
            record(
                "WARC/1.1",
                &[
                    ("WARC-Type", "Response"),
                    ("WARC-Target-URI", "http://vendorabc.onion/item/1"),
                    ("WARC-Date", "2024-03-01T12:00:01.123456Z"),
                    ("WARC-Record-ID", "<urn:uuid:00000000-0000-4000-8000-000000000003>"),
                    ("WARC-Payload-Digest", "sha1:AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHH"),
                    ("Content-Type", "application/http;msgtype=response"),
                ],
                &response_block,
            ),
            record(
                "WARC/1.1",
                &[
                    ("WARC-Type", "revisit"),
                    ("WARC-Target-URI", "http://vendorabc.onion/item/1"),
                    ("WARC-Date", "2024-03-02T08:30:00Z"),
                    (
                        "WARC-Profile",
                        "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
                    ),
                    ("WARC-Refers-To", "<urn:uuid:00000000-0000-4000-8000-000000000003>"),
                    ("WARC-Refers-To-Target-URI", "http://vendorabc.onion/item/1"),
                    ("WARC-Refers-To-Date", "2024-03-01T12:00:01.123456Z"),
                    ("WARC-Payload-Digest", "sha1:AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHH"),
                ],
                revisit_block,
            ),
            record(
                "WARC/1.1",
                &[
                    ("WARC-Type", "response"),
                    ("WARC-Target-URI", "http://vendorabc.onion/logo.png"),
                ],
                &png_block,
            ),
            // A bogus Content-Length; its block has lines that are not WARC records.
            b"WARC/1.1\r\nWARC-Type: response\r\nContent-Length: 12abc\r\n\r\nHTTP/1.1 200 OK\r\n\r\nWARC/2.0 is not a record\r\n\r\n\r\n".to_vec(),
            // LF-only line endings, a folded header, no trailer.
            b"WARC/1.0\nWARC-Type: resource\nWARC-Target-URI: http://vendorabc.onion/a\n  /folded\nContent-Length: 5\n\nhello"
                .to_vec(),
        ];
        let mut offsets = Vec::new();
        let mut at = 0u64;
        let mut file = Vec::new();
        for record in &records {
            offsets.push(at);
            at += record.len() as u64;
            file.extend_from_slice(&gzip(record));
        }
        let dir = tempfile::tempdir().unwrap();
        // No .gz in the name: gzip is recognised by its magic bytes.
        let path = dir.path().join("market.warc");
        std::fs::write(&path, &file).unwrap();
        let reader = WarcReader::open(&path).unwrap();
        assert_eq!(reader.path(), Some(path.as_path()));
        let items = read_all(reader);
        assert_eq!(items.len(), 7, "{items:?}");

        let info = ok(&items[0]);
        assert_eq!(
            (
                info.offset,
                info.version.as_str(),
                info.record_type.as_str()
            ),
            (offsets[0], "WARC/1.0", "warcinfo")
        );
        assert_eq!(
            info.date,
            Some(Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap())
        );
        assert_eq!(
            info.record_id.as_deref(),
            Some("<urn:uuid:00000000-0000-4000-8000-000000000001>")
        );
        assert_eq!(
            info.block,
            b"software: hand\r\nformat: WARC File Format 1.0\r\n"
        );

        let request = ok(&items[1]);
        assert_eq!(request.offset, offsets[1]);
        assert_eq!(request.record_type, "request");
        assert_eq!(
            request.target_uri.as_deref(),
            Some("http://vendorabc.onion/item/1"),
            "the <> of WARC 1.0 are removed"
        );

        let response = ok(&items[2]);
        assert_eq!(response.offset, offsets[2]);
        assert_eq!(response.record_type, "response", "lower-cased");
        let fetched = Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 1).unwrap()
            + chrono::Duration::microseconds(123_456);
        assert_eq!(response.date, Some(fetched));
        assert_eq!(
            response.payload_digest.as_deref(),
            Some("sha1:AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHH")
        );
        let http = response.http_response(1 << 20).unwrap();
        assert_eq!(http.status, 200);
        assert_eq!(http.body, html);
        assert_eq!(http.truncated, None);
        assert_eq!(http.header("content-encoding"), Some("gzip"));
        assert!(is_html(&http));

        let revisit = ok(&items[3]);
        assert_eq!(revisit.offset, offsets[3]);
        assert_eq!(revisit.record_type, "revisit");
        assert_eq!(
            revisit.profile.as_deref(),
            Some("http://netpreserve.org/warc/1.1/revisit/identical-payload-digest")
        );
        assert_eq!(
            revisit.refers_to.as_deref(),
            Some("<urn:uuid:00000000-0000-4000-8000-000000000003>")
        );
        assert_eq!(
            revisit.refers_to_target_uri.as_deref(),
            Some("http://vendorabc.onion/item/1")
        );
        assert_eq!(revisit.refers_to_date, Some(fetched));
        assert_eq!(
            revisit.payload_digest.as_deref(),
            Some("sha1:AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHH")
        );
        assert_eq!(revisit.block, revisit_block);
        let http = revisit.http_response(1 << 20).unwrap();
        assert_eq!(http.status, 200);
        assert!(http.body.is_empty());
        assert_eq!(http.truncated, None);
        assert_eq!(http.headers.len(), 3);

        let image = ok(&items[4]);
        assert_eq!(image.offset, offsets[4]);
        let http = image.http_response(1 << 20).unwrap();
        assert_eq!(http.body, png);
        assert!(!is_html(&http));

        match err(&items[5]) {
            WarcError::BadContentLength {
                path: Some(p),
                offset,
                value,
            } => {
                assert_eq!(p, &path);
                assert_eq!(*offset, offsets[5]);
                assert_eq!(value, "12abc");
            }
            other => panic!("unexpected error {other:?}"),
        }
        let message = err(&items[5]).to_string();
        assert!(message.contains("market.warc"), "{message}");
        assert!(
            message.contains(&format!("byte {}", offsets[5])),
            "{message}"
        );

        let resource = ok(&items[6]);
        assert_eq!(resource.offset, offsets[6]);
        assert_eq!(resource.version, "WARC/1.0");
        assert_eq!(resource.record_type, "resource");
        assert_eq!(
            resource.target_uri.as_deref(),
            Some("http://vendorabc.onion/a /folded")
        );
        assert_eq!(resource.block, b"hello");
        assert!(!resource.truncated);
    }

    #[test]
    fn a_gzip_bomb_is_decoded_only_up_to_the_cap() {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..100 {
            encoder.write_all(&zeros).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        assert!(
            bomb.len() < 1 << 20,
            "100 MB of zeros compress to {}",
            bomb.len()
        );
        let mut block =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n"
                .to_vec();
        block.extend_from_slice(&bomb);
        let file = record("WARC/1.1", &[("WARC-Type", "response")], &block);
        let items = read_bytes(&file);
        assert_eq!(items.len(), 1);
        let http = ok(&items[0]).http_response(1 << 20).unwrap();
        assert_eq!(http.body.len(), 1 << 20);
        assert!(http.body.capacity() <= 1 << 20, "{}", http.body.capacity());
        assert!(http.body.iter().all(|&b| b == 0));
        assert_eq!(http.truncated, Some(Truncation::Length));

        // The same bomb as raw deflate, chunked.
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::fast());
        for _ in 0..20 {
            encoder.write_all(&zeros).unwrap();
        }
        let mut block =
            b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_vec();
        block.extend_from_slice(&chunked(&encoder.finish().unwrap(), &[100, 1000]));
        let http = http_response(&block, 4096).unwrap();
        assert_eq!(http.body, vec![0u8; 4096]);
        assert_eq!(http.truncated, Some(Truncation::Length));
    }

    #[test]
    fn a_file_cut_inside_a_record_gives_what_there_is_then_ends() {
        let first = record("WARC/1.1", &[("WARC-Type", "resource")], b"first block");
        let second = record(
            "WARC/1.1",
            &[("WARC-Type", "resource")],
            b"second block, cut short",
        );
        let mut file = first.clone();
        file.extend_from_slice(&second);

        // Cut inside the second block.
        let cut = first.len() + second.len() - 15;
        let items = read_bytes(&file[..cut]);
        assert_eq!(items.len(), 2);
        assert_eq!(ok(&items[0]).block, b"first block");
        assert!(!ok(&items[0]).truncated);
        let partial = ok(&items[1]);
        assert_eq!(partial.offset, first.len() as u64);
        assert_eq!(partial.block, b"second block");
        assert!(partial.truncated);
        assert_eq!(partial.truncation(), Some(Truncation::Length));

        // Cut inside the second record's headers.
        let items = read_bytes(&file[..first.len() + 20]);
        assert_eq!(items.len(), 2);
        assert_eq!(ok(&items[0]).block, b"first block");
        assert!(matches!(
            err(&items[1]),
            WarcError::TruncatedHeaders { offset, .. } if *offset == first.len() as u64
        ));

        // A .warc.gz cut inside its second member: the first record, then an error or a
        // partial record, then the end.
        let mut gz = gzip(&first);
        let member = gzip(&second);
        gz.extend_from_slice(&member[..member.len() / 2]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.warc.gz");
        std::fs::write(&path, &gz).unwrap();
        let items = read_all(WarcReader::open(&path).unwrap());
        assert_eq!(ok(&items[0]).block, b"first block");
        assert_eq!(items.len(), 2, "{items:?}");
        match &items[1] {
            Ok(record) => assert!(record.truncated),
            Err(WarcError::Gzip { .. } | WarcError::TruncatedHeaders { .. }) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn a_corrupt_gzip_member_is_an_error_that_ends_the_file() {
        let first = record("WARC/1.1", &[("WARC-Type", "resource")], b"first");
        let mut file = gzip(&first);
        // A gzip header, then a deflate block of the reserved type.
        file.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        file.extend_from_slice(&gzip(&record("WARC/1.1", &[], b"never read")));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("corrupt.warc.gz");
        std::fs::write(&path, &file).unwrap();
        let items = read_all(WarcReader::open(&path).unwrap());
        assert_eq!(items.len(), 2, "{items:?}");
        assert_eq!(ok(&items[0]).block, b"first");
        match err(&items[1]) {
            WarcError::Gzip {
                path: p, offset, ..
            } => {
                assert_eq!(p.as_deref(), Some(path.as_path()));
                assert_eq!(*offset, first.len() as u64);
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert!(err(&items[1]).to_string().contains("corrupt.warc.gz"));
    }

    #[test]
    fn a_huge_content_length_on_a_short_file_allocates_nothing_for_it() {
        let file =
            b"WARC/1.1\r\nWARC-Type: resource\r\nContent-Length: 10000000000\r\n\r\nonly this";
        let items = read_bytes(file);
        assert_eq!(items.len(), 1);
        let record = ok(&items[0]);
        assert_eq!(record.block, b"only this");
        assert!(record.truncated);
        assert!(
            record.block.capacity() < 1 << 20,
            "{}",
            record.block.capacity()
        );

        // A length past u64 is not a length.
        let file = b"WARC/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\nx\r\n\r\nWARC/1.1\r\nContent-Length: 1\r\n\r\ny\r\n\r\n";
        let items = read_bytes(file);
        assert_eq!(items.len(), 2);
        assert!(matches!(err(&items[0]), WarcError::BadContentLength { .. }));
        assert_eq!(ok(&items[1]).block, b"y");
    }

    #[test]
    fn a_block_over_the_cap_is_kept_up_to_the_cap_and_the_rest_skipped() {
        let big: Vec<u8> = (0..100u8).collect();
        let first = record("WARC/1.1", &[("WARC-Type", "resource")], &big);
        let second = record(
            "WARC/1.1",
            &[("WARC-Type", "metadata")],
            b"0123456789abcdef",
        );
        let mut file = first.clone();
        file.extend_from_slice(&second);
        let items = read_all(WarcReader::new(file.as_slice()).with_max_record_bytes(16));
        assert_eq!(items.len(), 2);
        let cut = ok(&items[0]);
        assert_eq!(cut.block, &big[..16]);
        assert!(cut.truncated);
        assert!(cut.block.capacity() <= 16);
        let next = ok(&items[1]);
        assert_eq!(next.offset, first.len() as u64);
        assert_eq!(next.record_type, "metadata");
        assert_eq!(next.block, b"0123456789abcdef");
        assert!(!next.truncated, "a block exactly at the cap is whole");
    }

    #[test]
    fn bad_records_are_errors_and_the_reader_finds_the_next_good_one() {
        let good = |name: &str| {
            record(
                "WARC/1.1",
                &[("WARC-Type", "resource"), ("WARC-Target-URI", name)],
                name.as_bytes(),
            )
        };
        let long_line = format!("WARC-Long: {}", "x".repeat(100 << 10));
        let many: Vec<(&str, &str)> = vec![("X-Header", "v"); MAX_HEADERS + 1];
        let wide = "y".repeat(60 << 10);
        let wide_headers: Vec<(&str, &str)> = vec![("X-Wide", wide.as_str()); 20];
        let mut file = Vec::new();
        let mut expect = Vec::new();
        let mut push = |bytes: Vec<u8>, expected: &str| {
            expect.push((file.len() as u64, expected.to_string()));
            file.extend_from_slice(&bytes);
        };
        push(b"\r\n\nnot a warc file\r\n".to_vec(), "NotWarc");
        push(good("a"), "a");
        push(record("WARC/0.17", &[], b"old"), "UnsupportedVersion");
        push(good("b"), "b");
        push(
            record("WARC/1.1", &[("WARC-Type", long_line.as_str())], b"x"),
            "HeaderLineTooLong",
        );
        push(good("c"), "c");
        push(record("WARC/1.1", &many, b"x"), "TooManyHeaders");
        push(good("d"), "d");
        push(record("WARC/1.1", &wide_headers, b"x"), "HeadersTooLarge");
        push(good("e"), "e");
        push(
            b"WARC/1.1\r\nWARC-Type: resource\r\n\r\nno length\r\n\r\n".to_vec(),
            "MissingContentLength",
        );
        push(good("f"), "f");
        let items = read_bytes(&file);
        let got: Vec<(u64, String)> = items
            .iter()
            .map(|item| match item {
                Ok(record) => (
                    record.offset,
                    String::from_utf8(record.block.clone()).unwrap(),
                ),
                Err(error) => {
                    let offset = match error {
                        WarcError::NotWarc { offset, .. }
                        | WarcError::UnsupportedVersion { offset, .. }
                        | WarcError::HeaderLineTooLong { offset, .. }
                        | WarcError::TooManyHeaders { offset, .. }
                        | WarcError::HeadersTooLarge { offset, .. }
                        | WarcError::MissingContentLength { offset, .. } => *offset,
                        other => panic!("unexpected error {other:?}"),
                    };
                    let name = format!("{error:?}");
                    (offset, name[..name.find(' ').unwrap()].to_string())
                }
            })
            .collect();
        // The first error is on the line after the two blank ones.
        expect[0].0 = 3;
        assert_eq!(got, expect);
    }

    struct FailAfter<'a> {
        data: &'a [u8],
    }

    impl Read for FailAfter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.data.is_empty() {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.data.len()).min(7);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn an_io_error_is_an_error_with_its_offset_and_ends_the_reader() {
        let first = record("WARC/1.1", &[("WARC-Type", "resource")], b"one");
        let mut data = first.clone();
        data.extend_from_slice(b"WARC/1.1\r\nWARC-Ty");
        let items = read_all(WarcReader::new(FailAfter { data: &data }));
        assert_eq!(items.len(), 2);
        assert_eq!(ok(&items[0]).block, b"one");
        match err(&items[1]) {
            WarcError::Io {
                path: None,
                offset,
                source,
            } => {
                assert_eq!(*offset, data.len() as u64);
                assert_eq!(source.to_string(), "disk on fire");
            }
            other => panic!("unexpected error {other:?}"),
        }
        let missing = Path::new("/nonexistent/dir/x.warc");
        match WarcReader::open(missing) {
            Err(error @ WarcError::Open { .. }) => {
                assert!(error.to_string().contains("/nonexistent/dir/x.warc"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn random_garbage_never_panics_and_always_ends() {
        let mut rng = ChaCha8Rng::seed_from_u64(28500);
        let mut valid = Vec::new();
        let mut writer_block =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
                .to_vec();
        writer_block.extend_from_slice(&chunked(&gzip(b"<html>x</html>"), &[5, 9]));
        for i in 0..4 {
            valid.extend_from_slice(&record(
                "WARC/1.1",
                &[
                    ("WARC-Type", "response"),
                    ("WARC-Date", "2024-01-01T00:00:00Z"),
                ],
                &writer_block,
            ));
            if i % 2 == 0 {
                valid.extend_from_slice(b"WARC/1.0\nContent-Length: 3\n\nabc");
            }
        }
        for round in 0..300 {
            let bytes = match round % 4 {
                // Pure noise.
                0 => {
                    let mut bytes = vec![0u8; rng.gen_range(0..20_000)];
                    rng.fill_bytes(&mut bytes);
                    bytes
                }
                // Noise with version lines and lengths sprinkled in.
                1 => {
                    let mut bytes = Vec::new();
                    for _ in 0..rng.gen_range(0..200) {
                        let piece: &[u8] = match rng.gen_range(0..6) {
                            0 => b"WARC/1.0\r\n",
                            1 => b"Content-Length: 18446744073709551615\r\n",
                            2 => b"Content-Length: 5\r\n",
                            3 => b"\r\n",
                            4 => b"WARC-Type: response\n",
                            _ => b"\x00\xff:\n",
                        };
                        bytes.extend_from_slice(piece);
                    }
                    bytes
                }
                // A valid file with bytes changed.
                2 => {
                    let mut bytes = valid.clone();
                    for _ in 0..rng.gen_range(1..20) {
                        let at = rng.gen_range(0..bytes.len());
                        bytes[at] = rng.gen();
                    }
                    bytes
                }
                // A valid file cut anywhere.
                _ => valid[..rng.gen_range(0..valid.len())].to_vec(),
            };
            for item in read_bytes(&bytes).into_iter().flatten() {
                let _ = item.http_response(1 << 16);
            }
            let _ = http_response(&bytes, 1 << 16);
            // The same bytes as a gzip stream that is not one.
            let mut fake_gzip = GZIP_MAGIC.to_vec();
            fake_gzip.extend_from_slice(&bytes);
            let _ = read_bytes_gzip(&fake_gzip);
        }
        // Blocks with broken codings.
        for round in 0..300 {
            let mut block = writer_block.clone();
            let at = rng.gen_range(60..block.len());
            if round % 2 == 0 {
                block[at] = rng.gen();
            } else {
                block.truncate(at);
            }
            let response = http_response(&block, 1 << 16).unwrap();
            assert!(response.body.len() <= 1 << 16);
        }
    }

    fn read_bytes_gzip(bytes: &[u8]) -> Vec<Result<WarcRecord, WarcError>> {
        read_all(WarcReader::new(MultiGzDecoder::new(bytes)))
    }

    #[test]
    fn http_bodies_are_dechunked_decoded_and_capped() {
        // Folded and malformed header lines are skipped; LF-only lines are fine.
        let block = b"HTTP/1.0 302 Found\nLocation: /next\n  folded: continuation\nno colon here\nbad name: x\n: empty name\nX-Ok:  spaced  \n\nbody";
        let http = http_response(block, 100).unwrap();
        assert_eq!(http.status, 302);
        assert_eq!(
            http.headers,
            headers(&[("Location", "/next"), ("X-Ok", "spaced")])
        );
        assert_eq!(http.body, b"body");

        // zlib and raw deflate.
        let text = b"plain text, deflated".repeat(10);
        let mut zlib = ZlibEncoder::new(Vec::new(), Compression::default());
        zlib.write_all(&text).unwrap();
        let mut raw = DeflateEncoder::new(Vec::new(), Compression::default());
        raw.write_all(&text).unwrap();
        for encoded in [zlib.finish().unwrap(), raw.finish().unwrap()] {
            let mut block = b"HTTP/1.1 200 OK\r\nContent-Encoding: Deflate\r\n\r\n".to_vec();
            block.extend_from_slice(&encoded);
            let http = http_response(&block, 1000).unwrap();
            assert_eq!(http.body, text);
            assert_eq!(http.truncated, None);
        }

        // A body that claims gzip but is not: kept as is, not an error.
        let block = b"HTTP/1.1 200 OK\r\nContent-Encoding: x-gzip\r\n\r\n<html>plain</html>";
        let http = http_response(block, 1000).unwrap();
        assert_eq!(http.body, b"<html>plain</html>");
        assert_eq!(http.truncated, None);

        // An unknown coding is kept too.
        let block = b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n\r\n\x1b\x00\x00";
        assert_eq!(http_response(block, 1000).unwrap().body, b"\x1b\x00\x00");

        // A chunk stream cut inside a chunk: what was read, Disconnect.
        let block =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\na\r\n worl";
        let http = http_response(block, 1000).unwrap();
        assert_eq!(http.body, b"hello worl");
        assert_eq!(http.truncated, Some(Truncation::Disconnect));
        // ... or a broken size line.
        let block =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nmore";
        let http = http_response(block, 1000).unwrap();
        assert_eq!(http.body, b"hello");
        assert_eq!(http.truncated, Some(Truncation::Disconnect));
        // ... or the last chunk missing.
        let block = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
        let http = http_response(block, 1000).unwrap();
        assert_eq!(http.body, b"hello");
        assert_eq!(http.truncated, Some(Truncation::Disconnect));

        // A gzip stream cut short: what was decoded, Disconnect.
        let long: Vec<u8> = (0..50_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let compressed = gzip(&long);
        let mut block = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n".to_vec();
        block.extend_from_slice(&compressed[..compressed.len() / 2]);
        let http = http_response(&block, 1 << 20).unwrap();
        assert!(!http.body.is_empty() && http.body.len() < long.len());
        assert_eq!(http.body, long[..http.body.len()]);
        assert_eq!(http.truncated, Some(Truncation::Disconnect));

        // A plain body over the cap.
        let block = b"HTTP/1.1 200 OK\r\n\r\n0123456789";
        let http = http_response(block, 4).unwrap();
        assert_eq!(http.body, b"0123");
        assert_eq!(http.truncated, Some(Truncation::Length));

        // Not an HTTP response.
        for block in [
            &b""[..],
            b"\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n",
        ] {
            assert!(matches!(
                http_response(block, 100),
                Err(WarcError::NotHttpResponse { .. })
            ));
        }
    }

    #[test]
    fn html_is_recognised_by_content_type_or_by_its_start() {
        let response = |content_type: Option<&str>, body: &[u8]| HttpResponse {
            status: 200,
            headers: content_type
                .map(|v| vec![Header::new("content-type", v)])
                .unwrap_or_default(),
            body: body.to_vec(),
            truncated: None,
        };
        assert!(is_html(&response(Some("text/html"), b"")));
        assert!(is_html(&response(Some("Text/HTML; charset=utf-8"), b"{}")));
        assert!(is_html(&response(Some("application/xhtml+xml"), b"")));
        assert!(!is_html(&response(Some("image/png"), b"<html>")));
        assert!(!is_html(&response(Some("text/plain"), b"<!doctype html>")));
        assert!(is_html(&response(None, b"<!DOCTYPE html><p>")));
        assert!(is_html(&response(
            None,
            b"\xef\xbb\xbf \r\n\t<HTML lang=en>"
        )));
        assert!(is_html(&response(None, b"\n<head>")));
        assert!(is_html(&response(Some(""), b"<body>")));
        assert!(!is_html(&response(None, b"")));
        assert!(!is_html(&response(None, b"hello <html>")));
        assert!(!is_html(&response(None, b"<!doctype xml>")));
        assert!(!is_html(&response(None, b"\x89PNG\r\n")));
    }
}
