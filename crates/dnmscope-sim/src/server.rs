//! The HTTP face of the simulated world: one axum server on loopback serving
//! every market, the `Host` header choosing which.
//!
//! It behaves like a market behind an anti-DDoS front: a queue interstitial
//! (HTTP 200 with a meta refresh) that bans a visitor who comes back early, a
//! login form with a captcha, sessions that expire or get logged out at
//! random, a per-session rate limit answered with a ban page (HTTP 200), a
//! seizure banner after a seizure, and 503s during outages. Optional hostile
//! modes serve bad redirects, huge, compressed-bomb, slow and truncated
//! bodies, malformed HTML, and a layout change on a given day.
//!
//! Every request is logged with its time, path, session and headers; requests
//! for state-changing or honeypot links are marked as violations, so a test
//! can assert that a crawl made none.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, Response, StatusCode, Uri};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::error::SimError;
use crate::skin::{render, Action, Page};
use crate::view::{self, Ctx, Viewer};
use crate::world::{Day, Market, MarketState, World};

/// A source of time for sessions, queues, rate limits and advancing days, so
/// tests can move time by hand.
pub trait Clock: Send + Sync + 'static {
    /// Time since the server started.
    fn now(&self) -> Duration;
}

/// The wall clock.
#[derive(Debug)]
pub struct SystemClock(Instant);

impl SystemClock {
    pub fn new() -> SystemClock {
        SystemClock(Instant::now())
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct ManualClock(Mutex<Duration>);

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        *self.0.lock().expect("clock lock") += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.0.lock().expect("clock lock")
    }
}

/// Which day the server shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DaySchedule {
    /// One day until changed with [`SimServer::set_day`].
    Fixed(Day),
    /// Starting at a day and advancing with the clock.
    Advancing { from: Day, days_per_minute: f64 },
}

/// The anti-DDoS queue in front of every market.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueConfig {
    /// How long a visitor must wait before coming back.
    pub wait: Duration,
    /// Chance that a request of a visitor who passed is sent back to the queue.
    pub requeue_rate: f64,
}

/// The per-session rate limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests allowed within `window`.
    pub requests: u32,
    pub window: Duration,
    /// How long a session stays banned.
    pub ban: Duration,
}

/// Misbehaviour a test can switch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hostile {
    /// `/h/offsite` redirects to a clearnet host, `/h/onion` to another onion, `/h/port` to the
    /// market's own host on another port.
    OffsiteRedirect,
    /// `/h/local` redirects to a loopback address and `/h/file` to a file URL.
    LocalRedirect,
    /// `/h/oversized` sends 32 MiB of HTML.
    Oversized,
    /// `/h/bomb` sends a gzip body that inflates to 64 MiB.
    CompressionBomb,
    /// `/h/slow` trickles one byte every 100 ms.
    SlowBody,
    /// `/h/truncated` announces more bytes than it sends and hangs up.
    TruncatedBody,
    /// Listing and vendor pages are cut short and carry junk markup.
    MalformedHtml,
    /// Eight pages of just under 8 MiB, each built to make an HTML parser slow, deep or hungry:
    /// see [`PARSE_BOMBS`]. Linked from the home page.
    ParseBombs,
    /// The home page carries disguised state-changing links (percent-encoded, verbs in other
    /// spellings, session settings toggles: [`TRAP_LINKS`]) and links hidden by the page's own
    /// style sheet, inline styles, `aria-hidden` and `hidden` (to listings that do not exist).
    /// Following any of them is a violation.
    Traps,
    /// Gates that never open, for a crawl to seed (nothing links them): `/h/queue` is a queue
    /// page that never lets anyone in, `/h/banned` a 403 ban page, `/h/gone` the 503 an exit
    /// scam leaves behind, `/h/cookie` a page setting cookies with absurd lifetimes.
    Gates,
}

impl Hostile {
    pub const ALL: [Hostile; 10] = [
        Hostile::OffsiteRedirect,
        Hostile::LocalRedirect,
        Hostile::Oversized,
        Hostile::CompressionBomb,
        Hostile::SlowBody,
        Hostile::TruncatedBody,
        Hostile::MalformedHtml,
        Hostile::ParseBombs,
        Hostile::Traps,
        Hostile::Gates,
    ];

    fn paths(self) -> &'static [&'static str] {
        match self {
            Hostile::OffsiteRedirect => &["/h/offsite", "/h/onion", "/h/port"],
            Hostile::LocalRedirect => &["/h/local", "/h/file"],
            Hostile::Oversized => &["/h/oversized"],
            Hostile::CompressionBomb => &["/h/bomb"],
            Hostile::SlowBody => &["/h/slow"],
            Hostile::TruncatedBody => &["/h/truncated"],
            Hostile::MalformedHtml | Hostile::Traps => &[],
            Hostile::ParseBombs => &PARSE_BOMBS,
            Hostile::Gates => &["/h/queue", "/h/banned", "/h/gone", "/h/cookie"],
        }
    }

    /// Whether the home page links this mode's paths.
    fn linked(self) -> bool {
        self != Hostile::Gates
    }
}

/// The paths of [`Hostile::ParseBombs`]: stray end tags (`<div></b>` repeated), nothing but
/// `<`, nothing but NUL bytes, a million nested `<div>`s, a comment hiding nested tags before
/// more misnesting, one element with attributes to the end, misnested formatting elements
/// (the adoption agency's worst case), and table cells opened without end.
pub const PARSE_BOMBS: [&str; 8] = [
    "/h/misnest",
    "/h/lt",
    "/h/nul",
    "/h/deep",
    "/h/comment",
    "/h/attrs",
    "/h/formatting",
    "/h/table",
];

/// The size of each parse bomb: just under a fetcher's default 8 MiB cap, so it is parsed whole.
pub const PARSE_BOMB_BYTES: usize = (8 << 20) - 4096;

/// Disguised state-changing links of [`Hostile::Traps`], as written in the page, with the
/// action each stands for. Each is shaped to pass the link rules of the path-style skin (its
/// feedback, search and PGP-key selectors), so only the crawler's own read-only checks keep it
/// from being followed: percent-encoding (once and twice), dot segments, case, and verbs in
/// spellings beside buy/logout.
pub const TRAP_LINKS: [(&str, Action); 22] = [
    ("/feedback/leave/1", Action::Vote),
    ("/vendor/x/feedback/new?rating=5", Action::Vote),
    ("/category/%2e%2e/log%6Fut", Action::Logout),
    ("/category/../purchase/1", Action::Buy),
    ("/category/stimulants/BUY%2F2", Action::Buy),
    ("/category/%62uy/1", Action::Buy),
    ("/category/setview/list", Action::Logout),
    ("/category/stimulants/change-currency/usd", Action::Logout),
    ("/account/logoff/pgp", Action::Logout),
    ("/signout/pgp", Action::Logout),
    ("/Log%2520Out/pgp", Action::Logout),
    ("/escrow/finalize/1/pgp", Action::Buy),
    ("/escrow/release/1/pgp", Action::Buy),
    ("/checkout/pgp", Action::Buy),
    ("/cart/add/1/pgp", Action::Buy),
    ("/order/confirm/1/pgp", Action::Buy),
    ("/wallet/withdraw/pgp", Action::Buy),
    ("/settings/currency/usd/pgp", Action::Logout),
    ("/messages/compose/pgp", Action::Message),
    ("/dispute/open/1/pgp", Action::Vote),
    ("/favorite/add/1/pgp", Action::Vote),
    ("/wishlist/add/1/pgp", Action::Vote),
];

/// Hidden links of [`Hostile::Traps`] lead to listings that do not exist, from this number on
/// (the path-style skin's listing rule follows them if nothing notices they are hidden).
const HIDDEN_LISTING_FROM: u32 = 99_900;

/// How the server behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub day: DaySchedule,
    /// Whether pages need a logged-in session (markets do).
    pub require_login: bool,
    pub session_ttl: Duration,
    /// Chance per request that the market logs the session out.
    pub forced_logout_rate: f64,
    pub queue: Option<QueueConfig>,
    pub rate_limit: Option<RateLimit>,
    pub hostile: BTreeSet<Hostile>,
    /// From this day on, every skin renames its classes.
    pub layout_change_day: Option<Day>,
    /// Extra host names, each answered as the market host it maps to (lower-case): an onion
    /// address of a private Tor network in front of the simulator, for example.
    pub host_aliases: BTreeMap<String, String>,
}

impl Default for ServerConfig {
    /// A market as a crawler meets it: login with captcha, one-hour sessions,
    /// rare forced logouts, a 5-second queue, 30 requests per 5 seconds.
    fn default() -> Self {
        ServerConfig {
            day: DaySchedule::Fixed(0),
            require_login: true,
            session_ttl: Duration::from_secs(3600),
            forced_logout_rate: 0.001,
            queue: Some(QueueConfig {
                wait: Duration::from_secs(5),
                requeue_rate: 0.0,
            }),
            rate_limit: Some(RateLimit {
                requests: 30,
                window: Duration::from_secs(5),
                ban: Duration::from_secs(600),
            }),
            hostile: BTreeSet::new(),
            layout_change_day: None,
            host_aliases: BTreeMap::new(),
        }
    }
}

impl ServerConfig {
    /// No gates at all: every page served to anyone (benchmarks, page tests).
    pub fn open(day: Day) -> ServerConfig {
        ServerConfig {
            day: DaySchedule::Fixed(day),
            require_login: false,
            forced_logout_rate: 0.0,
            queue: None,
            rate_limit: None,
            ..ServerConfig::default()
        }
    }
}

/// What the server did with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum Outcome {
    /// A page of the world; the detail is its SCHEMA.md kind.
    Page(String),
    NotFound,
    Queue,
    Banned,
    LoginForm,
    LoginFailed,
    LoggedIn,
    SessionEnded,
    Seized,
    Unavailable,
    UnknownHost,
    Hostile(Hostile),
    /// A state-changing link was followed.
    StateChanging(Action),
    /// A hidden link was followed.
    Honeypot,
}

impl Outcome {
    pub fn is_violation(&self) -> bool {
        matches!(self, Outcome::StateChanging(_) | Outcome::Honeypot)
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub seq: u64,
    /// Time since the server started, by its clock.
    pub at_ms: u64,
    pub day: Day,
    pub host: String,
    pub market: Option<u32>,
    pub method: String,
    /// Path and query.
    pub target: String,
    /// The session cookie, if any.
    pub session: Option<String>,
    pub headers: Vec<(String, String)>,
    pub status: u16,
    pub outcome: Outcome,
}

struct Session {
    market: u32,
    username: String,
    token: String,
    created: Duration,
}

#[derive(Default)]
struct Gate {
    /// Queue tickets and when they may come back.
    tickets: HashMap<String, Duration>,
    /// Visitors who waited their turn.
    passes: HashMap<String, Duration>,
    /// Recent request times per session or pass.
    recent: HashMap<String, VecDeque<Duration>>,
    /// Banned sessions, tickets and passes, until when.
    bans: HashMap<String, Duration>,
}

struct Inner {
    sessions: HashMap<String, Session>,
    challenges: HashMap<String, u32>,
    gate: Gate,
    rng: ChaCha8Rng,
    log: Vec<RequestRecord>,
}

struct Shared {
    world: Arc<World>,
    config: ServerConfig,
    clock: Arc<dyn Clock>,
    fixed_day: AtomicU32,
    inner: Mutex<Inner>,
}

impl Shared {
    fn day(&self) -> Day {
        let last = self.world.config.days - 1;
        match self.config.day {
            DaySchedule::Fixed(_) => self.fixed_day.load(Ordering::Relaxed).min(last),
            DaySchedule::Advancing {
                from,
                days_per_minute,
            } => {
                let elapsed = self.clock.now().as_secs_f64() / 60.0 * days_per_minute;
                (from + elapsed as Day).min(last)
            }
        }
    }
}

/// A running simulator server.
pub struct SimServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), SimError>>,
}

/// Refuses any address that is not loopback.
pub fn check_loopback(addr: SocketAddr) -> Result<(), SimError> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(SimError::NotLoopback { addr })
    }
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer")
            .field("addr", &self.addr)
            .field("day", &self.day())
            .finish()
    }
}

impl SimServer {
    /// Starts serving on a loopback address (port 0 picks a free port).
    pub async fn start(
        world: Arc<World>,
        config: ServerConfig,
        addr: SocketAddr,
    ) -> Result<SimServer, SimError> {
        SimServer::start_with_clock(world, config, addr, Arc::new(SystemClock::new())).await
    }

    pub async fn start_with_clock(
        world: Arc<World>,
        config: ServerConfig,
        addr: SocketAddr,
        clock: Arc<dyn Clock>,
    ) -> Result<SimServer, SimError> {
        check_loopback(addr)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SimError::Bind { addr, source })?;
        let fixed = match config.day {
            DaySchedule::Fixed(day) => day,
            DaySchedule::Advancing { from, .. } => from,
        };
        let rng = ChaCha8Rng::seed_from_u64(world.config.seed ^ 0x5e55_1015);
        let shared = Arc::new(Shared {
            world,
            config,
            clock,
            fixed_day: AtomicU32::new(fixed),
            inner: Mutex::new(Inner {
                sessions: HashMap::new(),
                challenges: HashMap::new(),
                gate: Gate::default(),
                rng,
                log: Vec::new(),
            }),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .map_err(|source| SimError::Serve { addr, source })
        });
        tracing::info!(%addr, "simulator listening");
        Ok(SimServer {
            addr,
            shared,
            shutdown: Some(tx),
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn world(&self) -> &World {
        &self.shared.world
    }

    /// The day being served.
    pub fn day(&self) -> Day {
        self.shared.day()
    }

    /// Shows another day (fixed schedules only).
    pub fn set_day(&self, day: Day) {
        self.shared.fixed_day.store(day, Ordering::Relaxed);
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.inner.lock().expect("server lock").log.clone()
    }

    /// Requests that followed a state-changing or honeypot link.
    pub fn violations(&self) -> Vec<RequestRecord> {
        self.requests()
            .into_iter()
            .filter(|r| r.outcome.is_violation())
            .collect()
    }

    /// Serves until the task ends (for `dnmscope sim serve`).
    pub async fn wait(self) -> Result<(), SimError> {
        let addr = self.addr;
        let _keep = self.shutdown;
        self.task.await.unwrap_or_else(|join| {
            Err(SimError::Serve {
                addr,
                source: std::io::Error::other(join),
            })
        })
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }
}

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn html(status: StatusCode, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(body))
        .expect("valid response")
}

fn with_cookie(mut response: Response<Body>, name: &str, value: &str) -> Response<Body> {
    let cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Ok(value) = header::HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn token(rng: &mut ChaCha8Rng) -> String {
    let bytes: [u8; 16] = rng.gen();
    hex::encode(bytes)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| {
            h.rsplit_once(':')
                .filter(|(_, port)| port.parse::<u16>().is_ok())
                .map_or(h, |(name, _)| name)
        })
        .unwrap_or("")
        .to_ascii_lowercase();
    let day = shared.day();
    let (mut response, outcome, market) =
        respond(&shared, &host, day, &method, &uri, &headers, &body);
    // The simulated date, as a server on that day would send it: relative dates on pages
    // ("3 days ago") are read against it.
    if let Ok(value) = header::HeaderValue::from_str(&http_date(&shared.world, day)) {
        response.headers_mut().insert(header::DATE, value);
    }
    let mut inner = shared.inner.lock().expect("server lock");
    let seq = inner.log.len() as u64;
    let record = RequestRecord {
        seq,
        at_ms: shared.clock.now().as_millis() as u64,
        day,
        host,
        market,
        method: method.to_string(),
        target: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |pq| pq.to_string()),
        session: cookie(&headers, "sid").map(str::to_owned),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        status: response.status().as_u16(),
        outcome,
    };
    if record.outcome.is_violation() {
        tracing::warn!(target = %record.target, "simulator saw a state-changing or honeypot request");
    }
    inner.log.push(record);
    response
}

fn respond(
    shared: &Shared,
    host: &str,
    day: Day,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> (Response<Body>, Outcome, Option<u32>) {
    let world = &shared.world;
    let host = shared
        .config
        .host_aliases
        .get(host)
        .map_or(host, String::as_str);
    let Some(market) = world.market_by_host(host) else {
        return (
            html(
                StatusCode::NOT_FOUND,
                "<html><body><h1>Unknown host</h1></body></html>".to_owned(),
            ),
            Outcome::UnknownHost,
            None,
        );
    };
    let id = Some(market.id);
    let path = uri.path();
    let query = uri.query().unwrap_or("");
    let sid = cookie(headers, "sid").map(str::to_owned);
    let (ctx, page, honeypot) = match before_gates(
        world,
        &shared.config,
        market,
        day,
        path,
        query,
        sid.as_deref(),
    ) {
        Stage::Answered(answer) => {
            let (response, outcome) = answer.into_response();
            return (response, outcome, id);
        }
        Stage::Hostile(mode) => return (hostile(mode, path, host), Outcome::Hostile(mode), id),
        Stage::Gates {
            ctx,
            page,
            honeypot,
        } => (ctx, page, honeypot),
    };

    let mut guard = shared.inner.lock().expect("server lock");
    let inner = &mut *guard;
    let now = shared.clock.now();

    let ticket = cookie(headers, "dq").map(str::to_owned);
    let pass = cookie(headers, "dpass").map(str::to_owned);

    // Bans first: a banned session, ticket or pass sees only the ban page.
    let gate = &mut inner.gate;
    let ban_minutes = shared
        .config
        .rate_limit
        .map_or(60, |r| r.ban.as_secs().div_ceil(60));
    for key in [&sid, &ticket, &pass].into_iter().flatten() {
        if gate.bans.get(key).is_some_and(|&until| now < until) {
            return (
                html(StatusCode::OK, render::banned(&market.name, ban_minutes)),
                Outcome::Banned,
                id,
            );
        }
    }

    // The anti-DDoS queue.
    let mut new_pass = None;
    if let Some(queue) = shared.config.queue {
        let passed = pass
            .as_ref()
            .is_some_and(|p| gate.passes.get(p).is_some_and(|&until| now < until));
        let requeued = passed && queue.requeue_rate > 0.0 && inner.rng.gen_bool(queue.requeue_rate);
        if requeued {
            if let Some(p) = &pass {
                inner.gate.passes.remove(p);
            }
        }
        let gate = &mut inner.gate;
        if !passed || requeued {
            match ticket
                .as_ref()
                .and_then(|t| gate.tickets.get(t).copied().map(|ready| (t, ready)))
            {
                Some((t, ready)) if now >= ready => {
                    gate.tickets.remove(t);
                    let p = token(&mut inner.rng);
                    inner
                        .gate
                        .passes
                        .insert(p.clone(), now + Duration::from_secs(3600));
                    new_pass = Some(p);
                }
                Some((t, _)) => {
                    // Back before its turn: the ticket is banned.
                    let until = now
                        + shared
                            .config
                            .rate_limit
                            .map_or(Duration::from_secs(3600), |r| r.ban);
                    gate.bans.insert(t.clone(), until);
                    return (
                        html(StatusCode::OK, render::banned(&market.name, ban_minutes)),
                        Outcome::Banned,
                        id,
                    );
                }
                None => {
                    let t = token(&mut inner.rng);
                    inner.gate.tickets.insert(t.clone(), now + queue.wait);
                    let position = inner.rng.gen_range(1..400);
                    let response = html(
                        StatusCode::OK,
                        render::queue(&market.name, queue.wait.as_secs().max(1), position),
                    );
                    return (with_cookie(response, "dq", &t), Outcome::Queue, id);
                }
            }
        }
    }
    let finish = |response: Response<Body>| match &new_pass {
        Some(p) => with_cookie(response, "dpass", p),
        None => response,
    };

    // The per-session rate limit (per queue pass when not logged in).
    if let Some(limit) = shared.config.rate_limit {
        if let Some(key) = sid.clone().or(pass.clone()).or(new_pass.clone()) {
            let recent = inner.gate.recent.entry(key.clone()).or_default();
            while recent
                .front()
                .is_some_and(|&t| now.saturating_sub(t) >= limit.window)
            {
                recent.pop_front();
            }
            recent.push_back(now);
            if recent.len() > limit.requests as usize {
                inner.gate.bans.insert(key, now + limit.ban);
                return (
                    finish(html(
                        StatusCode::OK,
                        render::banned(&market.name, ban_minutes),
                    )),
                    Outcome::Banned,
                    id,
                );
            }
        }
    }

    // Logging in.
    if page == Some(Page::Login) && method == Method::POST {
        let form: HashMap<String, String> = String::from_utf8_lossy(body)
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (crate::skin::decode(k), crate::skin::decode(v)))
            .collect();
        let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
        let challenge_ok = inner.challenges.remove(field("challenge")) == Some(market.id)
            && world
                .captcha_answer(market.id, field("challenge"))
                .eq_ignore_ascii_case(field("captcha").trim());
        let account_ok = world.accounts.iter().any(|a| {
            a.market == market.id
                && a.username == field("username")
                && a.password == field("password")
        });
        if !(challenge_ok && account_ok) {
            let message = if challenge_ok {
                "Wrong username or password."
            } else {
                "Wrong captcha, try again."
            };
            let challenge = new_challenge(inner, market.id);
            let answer = world.captcha_answer(market.id, &challenge);
            let body = render::page(
                &ctx,
                None,
                "Login",
                &render::login(&ctx, &challenge, &answer, Some(message)),
                &honeypot,
            );
            return (finish(html(StatusCode::OK, body)), Outcome::LoginFailed, id);
        }
        let sid = token(&mut inner.rng);
        let csrf = token(&mut inner.rng)[..16].to_owned();
        inner.sessions.insert(
            sid.clone(),
            Session {
                market: market.id,
                username: field("username").to_owned(),
                token: csrf,
                created: now,
            },
        );
        let home = ctx.url(&Page::Home);
        let response = match market.skin {
            crate::skin::SkinKind::List => html(StatusCode::OK, render::redirect(&home)),
            _ => Response::builder()
                .status(StatusCode::FOUND)
                .header(header::LOCATION, home)
                .body(Body::empty())
                .expect("valid response"),
        };
        return (
            finish(with_cookie(response, "sid", &sid)),
            Outcome::LoggedIn,
            id,
        );
    }

    // The session.
    let mut ended = false;
    let viewer = match sid
        .as_ref()
        .and_then(|s| inner.sessions.get(s).map(|session| (s, session)))
    {
        Some((s, session)) if session.market == market.id => {
            let expired = now.saturating_sub(session.created) >= shared.config.session_ttl;
            let kicked = shared.config.forced_logout_rate > 0.0
                && inner.rng.gen_bool(shared.config.forced_logout_rate);
            if expired || kicked {
                let s = s.clone();
                inner.sessions.remove(&s);
                ended = true;
                None
            } else {
                Some(Viewer {
                    username: session.username.clone(),
                    token: session.token.clone(),
                })
            }
        }
        _ => None,
    };
    if page == Some(Page::Login) || (shared.config.require_login && viewer.is_none()) {
        let challenge = new_challenge(inner, market.id);
        let answer = world.captcha_answer(market.id, &challenge);
        let message = ended.then_some("Your session has expired, please log in again.");
        let body = render::page(
            &ctx,
            None,
            "Login",
            &render::login(&ctx, &challenge, &answer, message),
            &honeypot,
        );
        let outcome = if ended {
            Outcome::SessionEnded
        } else {
            Outcome::LoginForm
        };
        return (finish(html(StatusCode::OK, body)), outcome, id);
    }
    drop(guard);

    let answer = after_gates(
        &ctx,
        page.as_ref(),
        viewer.as_ref(),
        &honeypot,
        &shared.config.hostile,
    );
    let (response, outcome) = answer.into_response();
    (finish(response), outcome, id)
}

/// A status, an HTML body and what it was: an answer the server can give without state of its
/// own (no session, queue or rate limit), the same whoever asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub outcome: Outcome,
}

impl Answer {
    fn new(status: StatusCode, body: String, outcome: Outcome) -> Answer {
        Answer {
            status: status.as_u16(),
            body,
            outcome,
        }
    }

    fn into_response(self) -> (Response<Body>, Outcome) {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (html(status, self.body), self.outcome)
    }
}

/// Where a request stands before the gates (bans, queue, rate limit, login, session).
enum Stage<'w> {
    /// Answered already: the market is seized or down, a trap was sprung, or the link changes
    /// state or is the honeypot.
    Answered(Answer),
    /// A hostile path, answered by [`hostile`].
    Hostile(Hostile),
    /// On to the gates, then [`after_gates`].
    Gates {
        ctx: Ctx<'w>,
        page: Option<Page>,
        honeypot: String,
    },
}

/// The first part of an answer, which needs no state of the server: the market's state, traps,
/// hostile paths, and links no visitor may follow (violations are answered whatever state the
/// visitor is in).
fn before_gates<'w>(
    world: &'w World,
    config: &ServerConfig,
    market: &'w Market,
    day: Day,
    path: &str,
    query: &str,
    sid: Option<&str>,
) -> Stage<'w> {
    match world.state(market.id, day) {
        MarketState::Seized => {
            return Stage::Answered(Answer::new(
                StatusCode::OK,
                render::seizure(&market.name),
                Outcome::Seized,
            ))
        }
        MarketState::Down | MarketState::Gone => {
            return Stage::Answered(Answer::new(
                StatusCode::SERVICE_UNAVAILABLE,
                render::unavailable(&market.name),
                Outcome::Unavailable,
            ));
        }
        MarketState::Up => {}
    }
    let layout = match config.layout_change_day {
        Some(change) if day >= change => 2,
        _ => 1,
    };
    let ctx = Ctx {
        world,
        market,
        day,
        layout,
    };

    // Traps are sprung whatever the spelling of their path.
    if config.hostile.contains(&Hostile::Traps) {
        if let Some(outcome) = sprung(path) {
            let body = "<html><body><p>Done.</p></body></html>".to_owned();
            return Stage::Answered(Answer::new(StatusCode::OK, body, outcome));
        }
    }
    // Hostile paths exist only when their mode is on.
    if let Some(mode) = config.hostile.iter().find(|m| m.paths().contains(&path)) {
        return Stage::Hostile(*mode);
    }

    let honeypot = honeypot_key(world, market.id, day, path, query, sid);
    let page = market.skin.route(path, query);
    // Violations are recorded whatever state the visitor is in.
    let violation = match page {
        Some(Page::Action(action)) => Some(Outcome::StateChanging(action)),
        Some(Page::Honeypot) => Some(Outcome::Honeypot),
        _ => None,
    };
    if let Some(outcome) = violation {
        return Stage::Answered(Answer::new(
            StatusCode::FORBIDDEN,
            render::refused(&ctx, None, &honeypot),
            outcome,
        ));
    }
    Stage::Gates {
        ctx,
        page,
        honeypot,
    }
}

/// The last part of an answer, once the gates let the visitor through: the page, or 404.
fn after_gates(
    ctx: &Ctx,
    page: Option<&Page>,
    viewer: Option<&Viewer>,
    honeypot: &str,
    hostile: &BTreeSet<Hostile>,
) -> Answer {
    match page.and_then(|page| render_page(ctx, page, viewer, honeypot, hostile)) {
        Some((kind, body)) => Answer::new(StatusCode::OK, body, Outcome::Page(kind.to_owned())),
        None => Answer::new(
            StatusCode::NOT_FOUND,
            render::not_found(ctx, viewer, honeypot),
            Outcome::NotFound,
        ),
    }
}

/// What a server with [`ServerConfig::open`]`(day)` answers a request for `path` and `query` on
/// `market` that carries no cookie: the same status and body byte for byte (the server adds
/// the headers: `Content-Type: text/html; charset=utf-8` and [`http_date`]). None for the
/// login page, whose captcha challenge the server draws from its own stream.
pub fn open_answer(
    world: &World,
    market: &Market,
    day: Day,
    path: &str,
    query: &str,
) -> Option<Answer> {
    let config = ServerConfig::open(day);
    match before_gates(world, &config, market, day, path, query, None) {
        Stage::Answered(answer) => Some(answer),
        Stage::Hostile(_) => None,
        // The open server's gates let a visitor without cookies through to every page but the
        // login form.
        Stage::Gates {
            page: Some(Page::Login),
            ..
        } => None,
        Stage::Gates {
            ctx,
            page,
            honeypot,
        } => Some(after_gates(
            &ctx,
            page.as_ref(),
            None,
            &honeypot,
            &config.hostile,
        )),
    }
}

/// The key of a page's honeypot link: fixed for a market, day, request target and session, so
/// the same request gets the same bytes whenever it is made, and each page and session its
/// own key.
fn honeypot_key(
    world: &World,
    market: u32,
    day: Day,
    path: &str,
    query: &str,
    sid: Option<&str>,
) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"dnmscope-sim honeypot\0");
    hasher.update(&world.config.seed.to_le_bytes());
    hasher.update(&market.to_le_bytes());
    hasher.update(&day.to_le_bytes());
    for part in [path, query, sid.unwrap_or("")] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().to_hex()[..12].to_owned()
}

/// Noon UTC of a day: the time the server's `Date` header gives.
pub fn noon(world: &World, day: Day) -> chrono::DateTime<chrono::Utc> {
    world
        .date(day)
        .and_time(chrono::NaiveTime::from_hms_opt(12, 0, 0).unwrap_or_default())
        .and_utc()
}

/// The server's `Date` header on a day (noon UTC), e.g. `Tue, 05 Jan 2021 12:00:00 GMT`.
pub fn http_date(world: &World, day: Day) -> String {
    noon(world, day)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

fn new_challenge(inner: &mut Inner, market: u32) -> String {
    let challenge = token(&mut inner.rng)[..10].to_owned();
    inner.challenges.insert(challenge.clone(), market);
    challenge
}

/// The HTML of a page of the world, with its SCHEMA.md kind; None when the
/// page does not exist on that day.
pub fn render_page(
    ctx: &Ctx,
    page: &Page,
    viewer: Option<&Viewer>,
    honeypot: &str,
    hostile: &BTreeSet<Hostile>,
) -> Option<(&'static str, String)> {
    let w = ctx.world;
    let market = ctx.market.id;
    let (kind, title, body) = match page {
        Page::Home => {
            let mut body = render::home(ctx);
            if !hostile.is_empty() {
                body.push_str("<ul class=\"more\">");
                for path in hostile
                    .iter()
                    .filter(|m| m.linked())
                    .flat_map(|m| m.paths())
                {
                    body.push_str(&format!("<li><a href=\"{path}\">{path}</a></li>"));
                }
                body.push_str("</ul>");
                if hostile.contains(&Hostile::Traps) {
                    body.push_str(&traps());
                }
            }
            ("home", "Home".to_owned(), body)
        }
        Page::Login => return None,
        Page::CategoryIndex => (
            "category_index",
            "Categories".to_owned(),
            render::category_index(ctx),
        ),
        Page::Category { .. } | Page::Search { .. } => {
            let v = view::results(ctx, page);
            if v.page > v.pages {
                return None;
            }
            ("search", v.heading.clone(), render::results(ctx, &v))
        }
        Page::Listing { id } => {
            let l = w
                .listing_by_public_id(market, id)
                .filter(|l| w.listing_active(l, ctx.day))?;
            let v = view::listing(ctx, l);
            let mut body = render::listing(ctx, l, &v);
            if hostile.contains(&Hostile::MalformedHtml) {
                body = malform(&body);
            }
            ("listing", l.title.clone(), body)
        }
        Page::Vendor { handle } => {
            let v = w.vendor_by_handle(market, handle)?;
            if !w.vendor_active(v, ctx.day) {
                if ctx.skin() == crate::SkinKind::Table && w.vendor_banned(v, ctx.day) {
                    return Some((
                        "vendor",
                        render::page(
                            ctx,
                            viewer,
                            "User Profile (BANNED)",
                            &render::banned_vendor(ctx, v),
                            honeypot,
                        ),
                    ));
                }
                return None;
            }
            let view = view::vendor(ctx, v);
            let mut body = render::vendor(ctx, v, &view);
            if hostile.contains(&Hostile::MalformedHtml) {
                body = malform(&body);
            }
            ("vendor", v.handle.clone(), body)
        }
        Page::Feedback { handle, page } => {
            let v = w
                .vendor_by_handle(market, handle)
                .filter(|v| w.vendor_active(v, ctx.day))?;
            let view = view::feedback_page(ctx, v, *page);
            if view.page > view.pages {
                return None;
            }
            (
                "feedback",
                format!("Feedback of {}", v.handle),
                render::feedback(ctx, &view),
            )
        }
        Page::Pgp { handle } => {
            let v = w
                .vendor_by_handle(market, handle)
                .filter(|v| w.vendor_active(v, ctx.day))?;
            (
                "pgp_key",
                format!("PGP key of {}", v.handle),
                render::pgp(ctx, v),
            )
        }
        Page::Forum { page } => ("home", "Forum".to_owned(), render::forum(ctx, *page)),
        Page::Thread { id, page } => {
            let t = w
                .threads
                .get(*id as usize)
                .filter(|t| t.market == market && t.day <= ctx.day)?;
            let view = view::thread(ctx, t, *page);
            if view.page > view.pages {
                return None;
            }
            (
                "forum_thread",
                t.title.clone(),
                render::thread(ctx, t, &view),
            )
        }
        Page::Action(_) | Page::Honeypot => return None,
    };
    Some((kind, render::page(ctx, viewer, &title, &body, honeypot)))
}

/// Cuts a page short and sprinkles broken markup into it.
fn malform(body: &str) -> String {
    let mut cut = body.len() * 3 / 4;
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "<div <<p class=\"x\" </td></tr>\u{0}{}<table><tr><td><b><i>&#xZZ;&bogus",
        &body[..cut]
    )
}

const BOMB_INFLATED: usize = 64 << 20;

fn bomb() -> &'static Bytes {
    static BOMB: OnceLock<Bytes> = OnceLock::new();
    BOMB.get_or_init(|| {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..BOMB_INFLATED >> 20 {
            encoder.write_all(&zeros).expect("writing to memory");
        }
        Bytes::from(encoder.finish().expect("writing to memory"))
    })
}

fn hostile(mode: Hostile, path: &str, host: &str) -> Response<Body> {
    let redirect = |to: &str| {
        Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, to)
            .body(Body::empty())
            .expect("valid response")
    };
    match (mode, path) {
        (Hostile::OffsiteRedirect, "/h/offsite") => redirect("http://example.com/collect"),
        (Hostile::OffsiteRedirect, "/h/port") => {
            let bare = host.split(':').next().unwrap_or(host);
            redirect(&format!("http://{bare}:8443/login"))
        }
        (Hostile::OffsiteRedirect, _) => redirect(&format!(
            "http://{}phish.onion/login",
            &host[..host.len().min(20)]
        )),
        (Hostile::LocalRedirect, "/h/local") => redirect("http://127.0.0.1:9/admin"),
        (Hostile::LocalRedirect, _) => redirect("file:///etc/passwd"),
        (Hostile::Oversized, _) => {
            let chunk = Bytes::from_static(b"<p>padding padding padding padding padding padding padding padding padding padding</p>\n");
            let count = (32usize << 20) / chunk.len();
            let stream = futures_util::stream::iter(
                (0..count).map(move |_| Ok::<_, Infallible>(chunk.clone())),
            );
            Response::builder()
                .header(header::CONTENT_TYPE, "text/html")
                .body(Body::from_stream(stream))
                .expect("valid response")
        }
        (Hostile::CompressionBomb, _) => Response::builder()
            .header(header::CONTENT_TYPE, "text/html")
            .header(header::CONTENT_ENCODING, "gzip")
            .body(Body::from(bomb().clone()))
            .expect("valid response"),
        (Hostile::SlowBody, _) => {
            let stream = futures_util::stream::unfold(0u32, |n| async move {
                if n >= 600 {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some((Ok::<_, Infallible>(Bytes::from_static(b"x")), n + 1))
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "text/html")
                .body(Body::from_stream(stream))
                .expect("valid response")
        }
        (Hostile::TruncatedBody, _) => {
            // Send part of the body, give it time to leave, then hang up.
            let stream = futures_util::stream::unfold(0u8, |step| async move {
                match step {
                    0 => Some((Ok(Bytes::from(vec![b'a'; 20_000])), 1)),
                    1 => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Some((
                            Err(std::io::Error::new(
                                std::io::ErrorKind::ConnectionAborted,
                                "simulated hang-up",
                            )),
                            2,
                        ))
                    }
                    _ => None,
                }
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "text/html")
                .header(header::CONTENT_LENGTH, "100000")
                .body(Body::from_stream(stream))
                .expect("valid response")
        }
        (Hostile::ParseBombs, _) => Response::builder()
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Body::from(parse_bomb(path)))
            .expect("valid response"),
        (Hostile::Gates, "/h/queue") => html(StatusCode::OK, render::queue("Gate", 1, 399)),
        (Hostile::Gates, "/h/banned") => html(
            StatusCode::FORBIDDEN,
            "<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body>\
             <h1>403 Forbidden</h1><p>You have been banned from this market.</p></body></html>"
                .to_owned(),
        ),
        (Hostile::Gates, "/h/gone") => html(
            StatusCode::SERVICE_UNAVAILABLE,
            "<!DOCTYPE html><html><head><title>Closed</title></head><body><h1>We are closed</h1>\
             <p>Withdrawals are disabled. Thank you for everything.</p></body></html>"
                .to_owned(),
        ),
        (Hostile::Gates, _) => {
            let mut response = html(
                StatusCode::OK,
                "<!DOCTYPE html><html><head><title>Welcome</title></head><body><p>Welcome back.</p>\
                 </body></html>"
                    .to_owned(),
            );
            for cookie in [
                "forever=1; Max-Age=99999999999999999999999; Path=/",
                "far=1; Expires=Fri, 31 Dec 9999 23:59:59 GMT; Path=/",
                "negative=1; Max-Age=-99999999999999999999; Path=/",
            ] {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, header::HeaderValue::from_static(cookie));
            }
            response
        }
        (Hostile::MalformedHtml | Hostile::Traps, _) => html(StatusCode::NOT_FOUND, String::new()),
    }
}

/// The body of one of [`PARSE_BOMBS`] (built once, shared afterwards).
fn parse_bomb(path: &str) -> Bytes {
    static BOMBS: OnceLock<BTreeMap<&'static str, Bytes>> = OnceLock::new();
    let bombs = BOMBS.get_or_init(|| {
        PARSE_BOMBS
            .iter()
            .map(|&path| (path, Bytes::from(build_parse_bomb(path))))
            .collect()
    });
    bombs.get(path).cloned().unwrap_or_default()
}

fn build_parse_bomb(path: &str) -> Vec<u8> {
    let head = b"<!DOCTYPE html><html><head><title>Listing</title></head><body>".as_slice();
    let mut body = head.to_vec();
    let repeat = |body: &mut Vec<u8>, unit: &[u8]| {
        while body.len() + unit.len() <= PARSE_BOMB_BYTES {
            body.extend_from_slice(unit);
        }
    };
    match path {
        "/h/misnest" => repeat(&mut body, b"<div></b>"),
        "/h/lt" => repeat(&mut body, b"<"),
        "/h/nul" => repeat(&mut body, b"\0"),
        "/h/deep" => repeat(&mut body, b"<div>"),
        "/h/comment" => {
            body.extend_from_slice(b"<!--");
            while body.len() < PARSE_BOMB_BYTES / 4 {
                body.extend_from_slice(b"<div>");
            }
            body.extend_from_slice(b"--><textarea>");
            while body.len() < PARSE_BOMB_BYTES / 2 {
                body.extend_from_slice(b"<div></b>");
            }
            body.extend_from_slice(b"</textarea>");
            repeat(&mut body, b"<div></b>");
        }
        "/h/attrs" => {
            body.extend_from_slice(b"<div");
            let mut i = 0u64;
            loop {
                let attr = format!(" a{i}=x");
                if body.len() + attr.len() + 1 > PARSE_BOMB_BYTES {
                    break;
                }
                body.extend_from_slice(attr.as_bytes());
                i += 1;
            }
            body.push(b'>');
        }
        "/h/formatting" => repeat(&mut body, b"<b><i><a><p></b></i>"),
        _ => repeat(&mut body, b"<table><tr><td><a>"),
    }
    body
}

/// The HTML of [`Hostile::Traps`]: disguised actions, hidden links and a form.
fn traps() -> String {
    let mut html = String::from(
        "<style>.k7{display:none}\n.off { position: absolute; left: -9999px }\n\
         .z{width:0;height:0;overflow:hidden}\n.fade{opacity:0}</style><div class=\"tools\">",
    );
    for (href, action) in TRAP_LINKS {
        html.push_str(&format!("<a href=\"{href}\">{}</a> ", action.name()));
    }
    html.push_str(
        "<form action=\"/category/stimulants\" method=\"get\"><input name=\"q\"><button>Go</button></form>\
         <a class=\"k7\" href=\"/listing/99901\">Top vendors</a>\
         <a class=\"off\" href=\"/listing/99902\">Top vendors</a>\
         <span class=\"fade\"><a href=\"/listing/99903\">Top vendors</a></span>\
         <a style=\"opacity:0\" href=\"/listing/99904\">Top vendors</a>\
         <a aria-hidden=\"true\" href=\"/listing/99905\">Top vendors</a>\
         <a style=\"visibility: collapse\" href=\"/listing/99906\">Top vendors</a>\
         <a hidden href=\"/listing/99907\">Top vendors</a>\
         <span class=\"z\"><a href=\"/listing/99908\">Top vendors</a></span>\
         <div style=\"display:none\"><a href=\"/listing/99909\">Top vendors</a></div>\
         <a style=\"position:absolute;top:-5000px\" href=\"/listing/99910\">Top vendors</a>\
         </div>",
    );
    html
}

/// The trap a request path springs, if any: a hidden link or a disguised action
/// (compared after percent-decoding, case folding and dot segments, as a server would).
fn sprung(path: &str) -> Option<Outcome> {
    let plain = plain_path(path);
    if plain
        .strip_prefix("/listing/")
        .and_then(|id| id.parse::<u32>().ok())
        .is_some_and(|id| id > HIDDEN_LISTING_FROM)
    {
        return Some(Outcome::Honeypot);
    }
    TRAP_LINKS.iter().find_map(|(href, action)| {
        let href = href.split('?').next().unwrap_or(href);
        (plain_path(href) == plain).then_some(Outcome::StateChanging(*action))
    })
}

/// Percent-decoded (repeatedly), lower-cased, with dot segments resolved. Written here on
/// purpose rather than taken from `dnmscope_parse::safety`: the simulator judges whether the
/// crawler sprang a trap, and a judge sharing the crawler's normaliser would share its bugs.
fn plain_path(path: &str) -> String {
    let mut text = path.to_owned();
    for _ in 0..4 {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        let decoded = String::from_utf8_lossy(&out).into_owned();
        if decoded == text {
            break;
        }
        text = decoded;
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in text.split('/') {
        match segment {
            "." | "" => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    format!("/{}", segments.join("/")).to_lowercase()
}
