//! The real fetcher (`dnmscope-fetch`) as the crawler's page source, picking up sessions a human
//! imports while a crawl runs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use dnmscope_fetch::{CookieJar, ErrorKind, Fetcher, PageSignal, RedirectRefusal};
use dnmscope_model::{Capture, CrawlId, MarketName};

use crate::source::{FailureKind, Signal, Source, SourceError};

/// Where imported sessions live: `dir/{market}.{account}.cookies.txt`.
#[derive(Debug, Clone)]
pub struct Sessions {
    pub dir: PathBuf,
    pub account: String,
}

impl Sessions {
    pub fn path(&self, market: &str) -> PathBuf {
        self.dir
            .join(format!("{market}.{}.cookies.txt", self.account))
    }
}

/// [`Fetcher`] as a crawl [`Source`].
#[derive(Debug)]
pub struct FetchSource {
    fetcher: Fetcher,
    sessions: Option<Sessions>,
    /// The modification time of each market's session file when it was last loaded.
    loaded: Mutex<HashMap<String, SystemTime>>,
    /// Date captures by the server's `Date` header (the simulator's simulated day), not by
    /// this machine's clock.
    server_dates: bool,
    /// The latest server date seen (with `server_dates`).
    last_server_date: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
}

impl FetchSource {
    pub fn new(fetcher: Fetcher, sessions: Option<Sessions>) -> FetchSource {
        FetchSource {
            fetcher,
            sessions,
            loaded: Mutex::new(HashMap::new()),
            server_dates: false,
            last_server_date: Mutex::new(None),
        }
    }

    /// The fetcher (its connection figures, say).
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// Dates each capture by the server's `Date` header instead of this machine's clock. Only
    /// for the simulator, whose `Date` is the simulated day, so that snapshots of simulated days
    /// land on their days; a real market's clock is never trusted.
    pub fn with_server_dates(mut self) -> FetchSource {
        self.server_dates = true;
        self
    }

    /// Loads the market's imported session when the file is new or changed since it was last
    /// loaded (a human ran `dnmscope session import` while the crawl waited). A stat per
    /// request; the cookies themselves are never logged.
    fn refresh_session(&self, market: &str) -> Result<(), SourceError> {
        let Some(sessions) = &self.sessions else {
            return Ok(());
        };
        let path = sessions.path(market);
        let Ok(modified) = std::fs::metadata(&path).and_then(|m| m.modified()) else {
            return Ok(());
        };
        let mut loaded = self.loaded.lock().expect("session lock");
        if loaded.get(market) == Some(&modified) {
            return Ok(());
        }
        let jar = CookieJar::load(&path).map_err(|error| SourceError {
            kind: FailureKind::Fatal,
            url: path.display().to_string(),
            message: format!("loading the imported session: {error}"),
            answer: None,
        })?;
        let cookies = jar.len();
        self.fetcher
            .set_cookies(market, jar)
            .map_err(|error| SourceError {
                kind: FailureKind::Fatal,
                url: path.display().to_string(),
                message: format!("using the imported session: {error}"),
                answer: None,
            })?;
        loaded.insert(market.to_owned(), modified);
        tracing::info!(market, cookies, "using the imported session");
        Ok(())
    }
}

impl FetchSource {
    /// With `server_dates`, dates the capture by its `Date` header and remembers the latest.
    fn date_by_server(&self, capture: &mut Capture) {
        if !self.server_dates {
            return;
        }
        if let Some(date) = capture
            .header("date")
            .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
        {
            capture.fetched_at = date.with_timezone(&chrono::Utc);
            let mut last = self.last_server_date.lock().expect("date lock");
            *last = Some(last.map_or(capture.fetched_at, |l| l.max(capture.fetched_at)));
        }
    }
}

fn why_refused(reason: &RedirectRefusal) -> &'static str {
    match reason {
        RedirectRefusal::OtherHost => "not one of the market's hosts",
        RedirectRefusal::OtherPort => "another port of the market's host",
        RedirectRefusal::LocalAddress => "an IP address or localhost",
        RedirectRefusal::Scheme => "another scheme",
        RedirectRefusal::TooMany => "too many redirects",
        RedirectRefusal::Unparsable => "a Location that does not parse",
    }
}

impl Source for FetchSource {
    async fn fetch(
        &self,
        crawl: CrawlId,
        market: &MarketName,
        url: &str,
    ) -> Result<Capture, SourceError> {
        self.refresh_session(market.as_str())?;
        match self.fetcher.fetch(market.as_str(), url).await {
            Ok(fetched) => {
                let mut capture = fetched.capture;
                capture.crawl = crawl;
                if let Some(refused) = fetched.refused_redirect {
                    // Never followed, and not the market failing either: the page is given up
                    // at once, its 3xx answer kept.
                    return Err(SourceError {
                        kind: FailureKind::Fatal,
                        url: url.to_owned(),
                        message: format!(
                            "a redirect to {:?} refused: {}",
                            refused.location,
                            why_refused(&refused.reason)
                        ),
                        answer: Some(Box::new(capture)),
                    });
                }
                self.date_by_server(&mut capture);
                Ok(capture)
            }
            Err(error) => Err(SourceError {
                kind: match error.kind() {
                    ErrorKind::Transient => FailureKind::Transient,
                    ErrorKind::RateLimited => FailureKind::RateLimited,
                    ErrorKind::SiteDown => FailureKind::SiteDown,
                    ErrorKind::TorUnhealthy => FailureKind::TorUnhealthy,
                    ErrorKind::Fatal => FailureKind::Fatal,
                },
                url: url.to_owned(),
                message: error.to_string(),
                answer: error.into_answer().map(|mut answer| {
                    answer.crawl = crawl;
                    self.date_by_server(&mut answer);
                    answer
                }),
            }),
        }
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        if self.server_dates {
            if let Some(date) = *self.last_server_date.lock().expect("date lock") {
                return date;
            }
        }
        chrono::Utc::now()
    }

    fn report(&self, market: &MarketName, signal: Signal) {
        let signal = match signal {
            Signal::Queue => PageSignal::Queue {
                wait: Duration::from_secs(5),
            },
            Signal::Banned => PageSignal::Ban,
            Signal::NeedsSession | Signal::Normal => return,
        };
        if let Err(error) = self.fetcher.report(market.as_str(), signal) {
            tracing::debug!(%error, "reporting a page signal");
        }
    }
}
