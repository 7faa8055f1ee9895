//! Fetch errors: each variant says what was being done, and `kind()` tells the crawler what to
//! do about it (retry later, slow down, mark the market down, or check Tor).

use std::time::Duration;

use dnmscope_model::Capture;

/// What an error means for the crawler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Worth retrying soon: a timeout, a reset connection, a stream Tor could not open this time.
    Transient,
    /// The market asked us to slow down (429, 503 with Retry-After) and retries ran out.
    RateLimited,
    /// The market itself is unreachable: connection refused, onion service not found, 5xx.
    SiteDown,
    /// Tor (embedded or external) cannot carry traffic: the crawl should stop, not the market.
    TorUnhealthy,
    /// Retrying cannot help: a bad URL, a host outside the market, a refused configuration.
    Fatal,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("invalid URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },

    #[error("host {host:?} in {url} is not one of market {market}'s hosts")]
    ForeignHost {
        market: String,
        host: String,
        url: String,
    },

    #[error("unknown market {market:?}: it is not in the configuration")]
    UnknownMarket { market: String },

    #[error("refused configuration: {reason}")]
    Config { reason: String },

    #[error("connecting to {host}:{port} for market {market} through {transport}")]
    Connect {
        transport: &'static str,
        market: String,
        host: String,
        port: u16,
        kind: ErrorKind,
        #[source]
        source: std::io::Error,
    },

    #[error("connecting to {host}:{port} for market {market}: no connection within {after:?}")]
    ConnectTimeout {
        market: String,
        host: String,
        port: u16,
        after: Duration,
    },

    #[error("SOCKS5 proxy {proxy} refused to connect to {host}:{port}: {reply}")]
    Socks {
        proxy: String,
        host: String,
        port: u16,
        reply: String,
        kind: ErrorKind,
    },

    #[error("Tor cannot bootstrap: {reason}")]
    Bootstrap { reason: String },

    #[error("Tor could not open a stream to {host}:{port} for market {market}: {detail}")]
    Tor {
        market: String,
        host: String,
        port: u16,
        detail: String,
        kind: ErrorKind,
    },

    #[error("HTTP exchange with {url}")]
    Http {
        url: String,
        #[source]
        source: hyper::Error,
    },

    #[error("no response headers from {url} within {after:?}")]
    FirstByteTimeout { url: String, after: Duration },

    #[error("giving up on {url} after {attempts} attempts: the last answer was HTTP {status}")]
    GaveUp {
        url: String,
        attempts: u32,
        status: u16,
        kind: ErrorKind,
        /// What the last attempt fetched: kept, never lost.
        capture: Box<Capture>,
    },

    #[error("reading the cookie file {path}: line {line}: {reason}")]
    CookieFile {
        path: String,
        line: usize,
        reason: String,
    },

    #[error("{action}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
}

impl FetchError {
    /// What the market answered, when the error carries it (a 429 or 503 after the retries ran
    /// out): kept so the crawl can store it.
    pub fn into_answer(self) -> Option<Box<Capture>> {
        match self {
            FetchError::GaveUp { capture, .. } => Some(capture),
            _ => None,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            FetchError::BadUrl { .. }
            | FetchError::ForeignHost { .. }
            | FetchError::UnknownMarket { .. }
            | FetchError::Config { .. }
            | FetchError::CookieFile { .. }
            | FetchError::Io { .. } => ErrorKind::Fatal,
            FetchError::Connect { kind, .. }
            | FetchError::Socks { kind, .. }
            | FetchError::Tor { kind, .. }
            | FetchError::GaveUp { kind, .. } => *kind,
            FetchError::Bootstrap { .. } => ErrorKind::TorUnhealthy,
            FetchError::ConnectTimeout { .. }
            | FetchError::Http { .. }
            | FetchError::FirstByteTimeout { .. } => ErrorKind::Transient,
        }
    }
}
