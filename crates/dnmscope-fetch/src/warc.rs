//! WARC 1.1 (ISO 28500) export of captures: a `warcinfo` record, then one `response` record
//! per capture with the HTTP status line, the redacted headers and the body as stored.
//!
//! Bodies are stored decoded, so `Content-Encoding`, `Transfer-Encoding` and `Content-Length`
//! are replaced by the stored body's length (the original encoding is kept as
//! `X-Dnmscope-Original-Content-Encoding`). A truncated capture says `WARC-Truncated`.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use dnmscope_model::Capture;
use sha1::{Digest, Sha1};

use crate::error::FetchError;

/// Writes a WARC file record by record.
#[derive(Debug)]
pub struct WarcWriter<W: Write> {
    out: W,
    records: u64,
}

impl<W: Write> WarcWriter<W> {
    pub fn new(out: W) -> WarcWriter<W> {
        WarcWriter { out, records: 0 }
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    /// The `warcinfo` record that opens a file.
    pub fn write_info(&mut self, filename: &str, date: DateTime<Utc>) -> Result<(), FetchError> {
        self.write_info_with(filename, date, &[])
    }

    /// The `warcinfo` record with more `name: value` fields (line breaks in values become
    /// spaces).
    pub fn write_info_with(
        &mut self,
        filename: &str,
        date: DateTime<Utc>,
        fields: &[(&str, &str)],
    ) -> Result<(), FetchError> {
        let mut body = format!(
            "software: dnmscope {}\r\nformat: WARC File Format 1.1\r\nconformsTo: http://iso-commons.net/iso28500\r\n",
            env!("CARGO_PKG_VERSION")
        );
        for (name, value) in fields {
            body.push_str(&format!("{name}: {}\r\n", value.replace(['\r', '\n'], " ")));
        }
        let id = record_id(&[
            b"warcinfo",
            filename.as_bytes(),
            date.to_rfc3339().as_bytes(),
        ]);
        let headers = vec![
            ("WARC-Type", "warcinfo".to_string()),
            ("WARC-Record-ID", id),
            ("WARC-Date", warc_date(date)),
            ("WARC-Filename", filename.to_string()),
            ("Content-Type", "application/warc-fields".to_string()),
        ];
        self.record(headers, body.as_bytes())
    }

    /// One capture as a `response` record.
    pub fn write_capture(&mut self, capture: &Capture) -> Result<(), FetchError> {
        let mut block = format!("HTTP/1.1 {} {}\r\n", capture.status, reason(capture.status));
        for header in capture.redacted_headers() {
            let name = header.name.to_ascii_lowercase();
            if name == "content-length" || name == "transfer-encoding" {
                continue;
            }
            let name = if name == "content-encoding" {
                "X-Dnmscope-Original-Content-Encoding".to_string()
            } else {
                header.name.clone()
            };
            let value = header.value.replace(['\r', '\n'], " ");
            block.push_str(&format!("{name}: {value}\r\n"));
        }
        block.push_str(&format!("Content-Length: {}\r\n\r\n", capture.body.len()));
        let mut bytes = block.into_bytes();
        bytes.extend_from_slice(&capture.body);
        let target = capture.final_url.as_deref().unwrap_or(&capture.url);
        let mut headers = vec![
            ("WARC-Type", "response".to_string()),
            ("WARC-Record-ID", record_id(&[capture.key().0.as_bytes()])),
            ("WARC-Date", warc_date(capture.fetched_at)),
            ("WARC-Target-URI", target.to_string()),
            (
                "Content-Type",
                "application/http;msgtype=response".to_string(),
            ),
            ("WARC-Payload-Digest", sha1_digest(&capture.body)),
        ];
        if let Some(truncated) = capture.truncated {
            headers.push(("WARC-Truncated", truncated.as_str().to_string()));
        }
        self.record(headers, &bytes)
    }

    fn record(&mut self, mut headers: Vec<(&str, String)>, block: &[u8]) -> Result<(), FetchError> {
        headers.push(("WARC-Block-Digest", sha1_digest(block)));
        headers.push(("Content-Length", block.len().to_string()));
        let mut head = String::from("WARC/1.1\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let io = |source| FetchError::Io {
            action: "writing a WARC record".to_string(),
            source,
        };
        self.out.write_all(head.as_bytes()).map_err(io)?;
        self.out.write_all(block).map_err(io)?;
        self.out.write_all(b"\r\n\r\n").map_err(io)?;
        self.records += 1;
        Ok(())
    }

    pub fn finish(mut self) -> Result<W, FetchError> {
        self.out.flush().map_err(|source| FetchError::Io {
            action: "flushing the WARC file".to_string(),
            source,
        })?;
        Ok(self.out)
    }
}

fn warc_date(date: DateTime<Utc>) -> String {
    date.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A stable `urn:uuid:` from the parts (same capture, same record id).
fn record_id(parts: &[&[u8]]) -> String {
    let mut hasher = blake3::Hasher::new();
    for part in parts {
        hasher.update(part);
        hasher.update(&[0]);
    }
    let mut b = [0u8; 16];
    b.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "<urn:uuid:{}-{}-{}-{}-{}>",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn sha1_digest(bytes: &[u8]) -> String {
    format!("sha1:{}", base32(&Sha1::digest(bytes)))
}

/// RFC 4648 base32, upper case, no padding (20 bytes make 32 characters).
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc_4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b""), "");
        // The well-known digest of the empty payload.
        assert_eq!(sha1_digest(b""), "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ");
    }
}
