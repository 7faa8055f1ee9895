//! Captures: one fetched page, exactly as the market served it.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::{CrawlId, MarketName};

/// Response headers whose values are secrets (session cookies, credentials) and are never kept.
const SECRET_HEADERS: &[&str] = &[
    "set-cookie",
    "cookie",
    "authorization",
    "proxy-authorization",
];

/// What stands in a secret header's value once redacted.
pub const REDACTED: &str = "[redacted]";

/// One HTTP header, name as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub name: String,
    pub value: String,
}

impl Header {
    pub fn new(name: &str, value: &str) -> Header {
        Header {
            name: name.to_string(),
            value: value.to_string(),
        }
    }

    pub fn is_secret(&self) -> bool {
        SECRET_HEADERS
            .iter()
            .any(|secret| self.name.eq_ignore_ascii_case(secret))
    }
}

/// Why a body is shorter than what the server meant to send (the WARC-Truncated reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Truncation {
    /// The body cap (after decompression) was reached.
    Length,
    /// The total deadline passed.
    Time,
    /// The connection closed early.
    Disconnect,
    Unspecified,
}

impl Truncation {
    pub const ALL: [Truncation; 4] = [
        Truncation::Length,
        Truncation::Time,
        Truncation::Disconnect,
        Truncation::Unspecified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Truncation::Length => "length",
            Truncation::Time => "time",
            Truncation::Disconnect => "disconnect",
            Truncation::Unspecified => "unspecified",
        }
    }

    pub fn parse(text: &str) -> Option<Truncation> {
        Truncation::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// The BLAKE3 hash of a body, as 64 lower-case hex digits: the key of stored raw bodies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContentHash(pub String);

impl ContentHash {
    pub fn of(bytes: &[u8]) -> ContentHash {
        ContentHash(blake3::hash(bytes).to_hex().to_string())
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What makes a capture the same capture: market, crawl, URL, fetch time, status and body.
/// Storing a capture whose key is already stored adds nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CaptureKey(pub String);

/// One fetched page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    pub market: MarketName,
    pub crawl: CrawlId,
    /// The URL requested.
    pub url: String,
    /// Where a redirect within the market's hosts ended, when it did.
    pub final_url: Option<String>,
    pub fetched_at: DateTime<Utc>,
    pub status: u16,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
    pub truncated: Option<Truncation>,
    /// Time from sending the request to the end of the body, when measured.
    pub elapsed_ms: Option<u64>,
}

impl Capture {
    pub fn body_hash(&self) -> ContentHash {
        ContentHash::of(&self.body)
    }

    pub fn key(&self) -> CaptureKey {
        self.key_with_body_hash(&self.body_hash())
    }

    /// The key of this capture with a body of hash `body_hash` (the capture's own body is not
    /// read): what an import looks up before it has parsed a page.
    pub fn key_with_body_hash(&self, body_hash: &ContentHash) -> CaptureKey {
        let mut hasher = blake3::Hasher::new();
        for part in [
            self.market.as_str(),
            &self.crawl.0.to_string(),
            &self.url,
            &self.fetched_at.to_rfc3339_opts(SecondsFormat::Nanos, true),
            &self.status.to_string(),
            &body_hash.0,
        ] {
            hasher.update(part.as_bytes());
            hasher.update(&[0]);
        }
        CaptureKey(hasher.finalize().to_hex().to_string())
    }

    /// The headers with every secret value replaced by `[redacted]`: what may be stored,
    /// exported or logged.
    pub fn redacted_headers(&self) -> Vec<Header> {
        self.headers
            .iter()
            .map(|h| {
                if h.is_secret() {
                    Header::new(&h.name, REDACTED)
                } else {
                    h.clone()
                }
            })
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn capture() -> Capture {
        Capture {
            market: MarketName::new("dream").unwrap(),
            crawl: CrawlId(1),
            url: "http://dream.onion/listing/1".to_string(),
            final_url: None,
            fetched_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            status: 200,
            headers: vec![
                Header::new("Content-Type", "text/html"),
                Header::new("Set-Cookie", "session=s3cr3t"),
            ],
            body: b"<html></html>".to_vec(),
            truncated: None,
            elapsed_ms: Some(120),
        }
    }

    #[test]
    fn secret_headers_are_redacted() {
        let headers = capture().redacted_headers();
        assert_eq!(headers[0].value, "text/html");
        assert_eq!(headers[1].value, REDACTED);
        assert!(!format!("{headers:?}").contains("s3cr3t"));
    }

    #[test]
    fn the_key_changes_with_what_makes_a_capture_distinct() {
        let a = capture();
        let mut b = capture();
        assert_eq!(a.key(), b.key());
        b.elapsed_ms = Some(999);
        assert_eq!(a.key(), b.key(), "timings do not make a capture distinct");
        b.body.push(b' ');
        assert_ne!(a.key(), b.key());
        let mut c = capture();
        c.crawl = CrawlId(2);
        assert_ne!(a.key(), c.key());
    }
}
