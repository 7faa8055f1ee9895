//! The fetcher: one page per call, through a transport, politely, within limits; every answer
//! becomes a `Capture`. Redirects are followed only within the market's own hosts and scheme.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use dnmscope_model::{Capture, CrawlId, MarketName};
use tokio::time::Instant;

use crate::clock::Clock;
use crate::cookies::CookieJar;
use crate::error::{ErrorKind, FetchError};
use crate::http::{self, Exchange, ExchangeLimits, RawResponse};
use crate::politeness::{parse_retry_after, Gate, PageSignal, Politeness};
use crate::pool::{Conn, ConnectionStats, Pool, PoolKey};
use crate::transport::{IsolationKey, SharedTransport};

/// Limits of every fetch.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub connect_timeout: Duration,
    pub first_byte_timeout: Duration,
    /// From connecting to the end of the body, per attempt.
    pub total_timeout: Duration,
    /// Body bytes kept, after decompression.
    pub max_body_bytes: usize,
    pub max_redirects: u32,
    /// Attempts per fetch (transient failures, 429/503).
    pub max_attempts: u32,
    /// Backoff after the first transient failure; doubles each time.
    pub backoff: Duration,
    /// Idle keep-alive connections kept per market (and account); 0 opens a new connection
    /// (a new Tor stream) for every request.
    pub max_idle_connections: usize,
    /// An idle connection older than this is closed rather than reused.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connect_timeout: Duration::from_secs(60),
            first_byte_timeout: Duration::from_secs(60),
            total_timeout: Duration::from_secs(180),
            max_body_bytes: 8 << 20,
            max_redirects: 5,
            max_attempts: 3,
            backoff: Duration::from_secs(5),
            max_idle_connections: 8,
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// One market as the fetcher knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketSpec {
    pub name: MarketName,
    /// Its onion host names: the main one first, then mirrors.
    pub hosts: Vec<String>,
    pub politeness: Politeness,
}

/// Why a redirect was not followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectRefusal {
    /// To a host that is not one of the market's.
    OtherHost,
    /// To one of the market's hosts on another port (another service, not the market).
    OtherPort,
    /// To an IP address or `localhost`.
    LocalAddress,
    /// To a scheme other than the page's own (`file:`, `https:`, …).
    Scheme,
    /// More redirects than `max_redirects`.
    TooMany,
    /// A `Location` that does not parse.
    Unparsable,
}

/// A refused redirect: the capture holds the 3xx answer with its `Location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedRedirect {
    pub location: String,
    pub reason: RedirectRefusal,
}

/// What a fetch returns.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub capture: Capture,
    /// The URLs redirected through, in order (not counting the first).
    pub redirects: Vec<String>,
    pub refused_redirect: Option<RefusedRedirect>,
    /// Attempts made for the final URL.
    pub attempts: u32,
}

struct Market {
    spec: MarketSpec,
    gate: Gate,
    jar: Mutex<CookieJar>,
}

/// The fetcher. Cheap to share behind an `Arc`; fetches may run concurrently.
pub struct Fetcher {
    transport: SharedTransport,
    clock: Arc<dyn Clock>,
    limits: Limits,
    markets: HashMap<String, Market>,
    account: String,
    crawl: CrawlId,
    pool: Pool,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("transport", &self.transport.name())
            .field("markets", &self.markets.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    pub fn new(
        transport: SharedTransport,
        clock: Arc<dyn Clock>,
        limits: Limits,
        markets: Vec<MarketSpec>,
        crawl: CrawlId,
    ) -> Fetcher {
        let markets = markets
            .into_iter()
            .map(|spec| {
                let gate = Gate::new(&spec.politeness, clock.clone());
                let hosts: Vec<String> =
                    spec.hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
                let spec = MarketSpec { hosts, ..spec };
                (
                    spec.name.as_str().to_string(),
                    Market {
                        spec,
                        gate,
                        jar: Mutex::new(CookieJar::new()),
                    },
                )
            })
            .collect();
        Fetcher {
            transport,
            clock,
            pool: Pool::new(limits.max_idle_connections, limits.idle_timeout),
            limits,
            markets,
            account: "default".to_string(),
            crawl,
        }
    }

    /// The account name that, with the market, keys circuit isolation.
    pub fn with_account(mut self, account: &str) -> Fetcher {
        self.account = account.to_string();
        self
    }

    fn market(&self, market: &str) -> Result<&Market, FetchError> {
        self.markets
            .get(market)
            .ok_or_else(|| FetchError::UnknownMarket {
                market: market.to_string(),
            })
    }

    /// Replace a market's session cookies (e.g. from an imported `cookies.txt`).
    pub fn set_cookies(&self, market: &str, mut jar: CookieJar) -> Result<(), FetchError> {
        let market = self.market(market)?;
        jar.retain_hosts(&market.spec.hosts);
        *market.jar.lock().expect("jar lock") = jar;
        // A new session starts on new streams.
        self.pool.close_market(market.spec.name.as_str());
        Ok(())
    }

    /// A copy of a market's session cookies (to save them).
    pub fn cookies(&self, market: &str) -> Result<CookieJar, FetchError> {
        Ok(self.market(market)?.jar.lock().expect("jar lock").clone())
    }

    /// Tell the fetcher the caller saw a queue or ban page: it slows down.
    pub fn report(&self, market: &str, signal: PageSignal) -> Result<(), FetchError> {
        self.market(market)?.gate.signal(signal);
        // A market that pushes back starts again on new streams.
        self.pool.close_market(market);
        Ok(())
    }

    /// Fetch one page of `market`.
    pub async fn fetch(&self, market_name: &str, url: &str) -> Result<Fetched, FetchError> {
        let market = self.market(market_name)?;
        let mut current = check_url(market, url)?;
        let _slot = market.gate.slot().await;
        let mut redirects = Vec::new();
        loop {
            let (raw, attempts, elapsed) = self.fetch_with_retries(market, &current).await?;
            let location = (300..400)
                .contains(&raw.status)
                .then(|| header(&raw, "location"))
                .flatten();
            let mut capture = self.capture(market, url, &current, raw, elapsed);
            if redirects.is_empty() {
                capture.final_url = None;
            }
            let Some(location) = location else {
                return Ok(Fetched {
                    capture,
                    redirects,
                    refused_redirect: None,
                    attempts,
                });
            };
            match follow(
                market,
                &current,
                &location,
                redirects.len() as u32,
                self.limits.max_redirects,
            ) {
                Ok(next) => {
                    tracing::debug!("following a redirect within {}", market.spec.name.as_str());
                    redirects.push(next.to_string());
                    current = next;
                }
                Err(reason) => {
                    tracing::info!(
                        "not following a redirect from {} ({reason:?})",
                        market.spec.name.as_str()
                    );
                    return Ok(Fetched {
                        capture,
                        redirects,
                        refused_redirect: Some(RefusedRedirect { location, reason }),
                        attempts,
                    });
                }
            }
        }
    }

    fn capture(
        &self,
        market: &Market,
        url: &str,
        current: &url::Url,
        raw: RawResponse,
        elapsed: Duration,
    ) -> Capture {
        Capture {
            market: market.spec.name.clone(),
            crawl: self.crawl,
            url: url.to_string(),
            final_url: Some(current.to_string()),
            fetched_at: Utc::now(),
            status: raw.status,
            headers: raw.headers,
            body: raw.body,
            truncated: raw.truncated,
            elapsed_ms: Some(elapsed.as_millis() as u64),
        }
    }

    /// Bounded retries: transient failures back off, 429/503 honour the market's wishes; no
    /// sleep after the last attempt, which returns the last error.
    async fn fetch_with_retries(
        &self,
        market: &Market,
        url: &url::Url,
    ) -> Result<(RawResponse, u32, Duration), FetchError> {
        let attempts = self.limits.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let hold = market.gate.admit().await;
            let started = Instant::now();
            let result = self.attempt(market, url).await;
            let elapsed = started.elapsed();
            drop(hold);
            match result {
                Ok(raw) if raw.status == 429 || raw.status == 503 => {
                    let retry_after =
                        header(&raw, "retry-after").and_then(|v| parse_retry_after(&v));
                    market.gate.pushed_back(retry_after);
                    if attempt >= attempts {
                        let kind = if raw.status == 429 || retry_after.is_some() {
                            ErrorKind::RateLimited
                        } else {
                            ErrorKind::SiteDown
                        };
                        let status = raw.status;
                        let capture = self.capture(market, url.as_str(), url, raw, elapsed);
                        return Err(FetchError::GaveUp {
                            url: url.to_string(),
                            attempts,
                            status,
                            kind,
                            capture: Box::new(capture),
                        });
                    }
                }
                Ok(raw) => {
                    market.gate.answered();
                    return Ok((raw, attempt, elapsed));
                }
                Err(err) if err.kind() == ErrorKind::Transient && attempt < attempts => {
                    let backoff = self.limits.backoff * 2u32.saturating_pow(attempt - 1).min(64);
                    tracing::debug!("attempt {attempt} failed ({err}); retrying in {backoff:?}");
                    self.clock.sleep_until(self.clock.now() + backoff).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn attempt(&self, market: &Market, url: &url::Url) -> Result<RawResponse, FetchError> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let port = url.port_or_known_default().unwrap_or(80);
        let key = PoolKey {
            isolation: IsolationKey::new(market.spec.name.as_str(), &self.account),
            host: host.clone(),
            port,
        };
        let deadline = Instant::now() + self.limits.total_timeout;
        let host_header = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        let mut extra = Vec::new();
        let now_unix = Utc::now().timestamp();
        if let Some(cookie) =
            market
                .jar
                .lock()
                .expect("jar lock")
                .header_for(&host, url.path(), now_unix)
        {
            extra.push(("Cookie", cookie));
        }
        let limits = ExchangeLimits {
            first_byte: self.limits.first_byte_timeout,
            deadline,
            max_body: self.limits.max_body_bytes,
        };
        let (raw, reusable, conn) = loop {
            let mut conn = match self.pool.take(&key) {
                Some(conn) => conn,
                None => self.open(&key, url, deadline).await?,
            };
            match http::exchange(
                &mut conn,
                url.as_str(),
                &host_header,
                &target,
                &extra,
                limits,
            )
            .await?
            {
                Exchange::Answered { raw, reusable } => break (raw, reusable, conn),
                // Closed by the server while idle: send it again on a new connection (a stale
                // connection is never handed out twice, so this ends).
                Exchange::Stale(err) => {
                    tracing::debug!("a kept-alive connection was closed: {err}");
                    self.pool.stale();
                }
            }
        };
        if reusable {
            self.pool.put(key, conn);
        }
        let mut jar = market.jar.lock().expect("jar lock");
        for header in raw
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("set-cookie"))
        {
            jar.store_set_cookie(&host, &header.value, now_unix);
        }
        Ok(raw)
    }

    /// A new connection for `key`, within the connect timeout.
    async fn open(
        &self,
        key: &PoolKey,
        url: &url::Url,
        deadline: Instant,
    ) -> Result<Conn, FetchError> {
        let connect_by = (Instant::now() + self.limits.connect_timeout).min(deadline);
        let connecting = self.transport.connect(&key.host, key.port, &key.isolation);
        let stream = match tokio::time::timeout_at(connect_by, connecting).await {
            Ok(stream) => stream?,
            Err(_) => {
                return Err(FetchError::ConnectTimeout {
                    market: key.isolation.market.clone(),
                    host: key.host.clone(),
                    port: key.port,
                    after: self.limits.connect_timeout,
                })
            }
        };
        self.pool.opened();
        http::handshake(stream, url.as_str()).await
    }

    /// Connections opened and reused so far.
    pub fn connection_stats(&self) -> ConnectionStats {
        self.pool.stats()
    }

    /// Idle kept-alive connections held now.
    pub fn idle_connections(&self) -> usize {
        self.pool.idle()
    }
}

fn header(raw: &RawResponse, name: &str) -> Option<String> {
    raw.headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.clone())
}

/// A URL the fetcher may ask for: http, one of the market's hosts.
fn check_url(market: &Market, url: &str) -> Result<url::Url, FetchError> {
    let parsed = url::Url::parse(url).map_err(|err| FetchError::BadUrl {
        url: url.to_string(),
        reason: err.to_string(),
    })?;
    if parsed.scheme() != "http" {
        return Err(FetchError::BadUrl {
            url: url.to_string(),
            reason: format!(
                "scheme {:?}: only http:// is fetched (onion services encrypt the connection themselves)",
                parsed.scheme()
            ),
        });
    }
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    if !market.spec.hosts.contains(&host) {
        return Err(FetchError::ForeignHost {
            market: market.spec.name.as_str().to_string(),
            host,
            url: url.to_string(),
        });
    }
    Ok(parsed)
}

/// Where a redirect may go: the same scheme and port and one of the market's own hosts, never an
/// IP address or `localhost`.
fn follow(
    market: &Market,
    from: &url::Url,
    location: &str,
    followed: u32,
    max: u32,
) -> Result<url::Url, RedirectRefusal> {
    let next = from
        .join(location)
        .map_err(|_| RedirectRefusal::Unparsable)?;
    if next.scheme() != from.scheme() {
        return Err(RedirectRefusal::Scheme);
    }
    let host = next.host_str().unwrap_or_default().to_ascii_lowercase();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() || bare == "localhost" || bare.ends_with(".localhost") {
        return Err(RedirectRefusal::LocalAddress);
    }
    if !market.spec.hosts.contains(&host) {
        return Err(RedirectRefusal::OtherHost);
    }
    if next.port_or_known_default() != from.port_or_known_default() {
        return Err(RedirectRefusal::OtherPort);
    }
    if followed >= max {
        return Err(RedirectRefusal::TooMany);
    }
    Ok(next)
}
