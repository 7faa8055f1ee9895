//! The crawler's boundary to the network: something that turns a URL into a capture.
//!
//! `dnmscope-fetch` is the real source (Tor, SOCKS or loopback, with politeness); tests use a
//! plain loopback client. The crawler never opens a connection itself.

use std::future::Future;

use dnmscope_model::{Capture, CrawlId, MarketName};

/// Why a fetch failed, as the crawler needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Worth trying again soon (a timeout, a reset connection).
    Transient,
    /// The market asked us to slow down (429, Retry-After).
    RateLimited,
    /// The market does not answer (refused, 502/503, onion not found).
    SiteDown,
    /// Tor itself is not working: no market can be reached.
    TorUnhealthy,
    /// Never worth retrying (a refused redirect, an invalid URL, a URL off the market).
    Fatal,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Transient => "transient",
            FailureKind::RateLimited => "rate_limited",
            FailureKind::SiteDown => "site_down",
            FailureKind::TorUnhealthy => "tor_unhealthy",
            FailureKind::Fatal => "fatal",
        }
    }
}

/// A failed fetch.
#[derive(Debug, Clone, thiserror::Error)]
#[error("fetching {url}: {message}")]
pub struct SourceError {
    pub kind: FailureKind,
    pub url: String,
    pub message: String,
    /// What the market answered, when it answered (a 429 or 503 that retries did not get past:
    /// an exit scam's last page is often one). The crawl stores it, unattached to the page's
    /// entry (which is retried or given up).
    pub answer: Option<Box<Capture>>,
}

/// What the crawler learnt about a market from a page, for the source's politeness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// A queue page: the market is busy; slow down.
    Queue,
    /// A ban page: too fast; slow down a lot.
    Banned,
    /// A login or captcha page: the session is gone; a human must log in and import the
    /// session (the source should pick up a newly imported one).
    NeedsSession,
    /// An ordinary page.
    Normal,
}

/// Fetches pages for the crawler.
pub trait Source: Sync {
    /// Fetches `url` of `market` for crawl run `crawl`, politely.
    fn fetch(
        &self,
        crawl: CrawlId,
        market: &MarketName,
        url: &str,
    ) -> impl Future<Output = Result<Capture, SourceError>> + Send;

    /// Tells the source what a page said about the market's mood.
    fn report(&self, _market: &MarketName, _signal: Signal) {}

    /// The time to date what the run observes without a page (a market that stopped
    /// answering, one that needs a human): this machine's clock. A source that dates pages by
    /// the server's clock (the simulator's simulated days) gives the last date it saw.
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}
