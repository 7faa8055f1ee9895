//! Crawls of the simulated markets over loopback HTTP: a run recovers what the truth says was
//! reachable, follows no state-changing or hidden link, resumes after an interruption without
//! fetching a stored page again, handles queues, seizures and outages, and behind a login with
//! forced logouts and bans pauses for a human and loses nothing.
//!
//! The source here is a plain loopback HTTP client (the crawler's tests need a page source, not
//! Tor); `dnmscope-fetch` is the real one.

use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use dnmscope_crawl::{
    crawl, CrawlConfig, FailureKind, MarketPlan, Signal, Source, SourceError, Stop,
};
use dnmscope_model::{Capture, CrawlId, FinishReason, Header, MarketName, PseudonymKey};
use dnmscope_sim::view::{self, Ctx};
use dnmscope_sim::{generate, MarketState, Page, ServerConfig, SimServer, World, WorldConfig};
use dnmscope_store::{Location, Store, StoreOptions};

/// Fetches over loopback; stops answering after `limit` fetches when one is set; with a jar,
/// keeps the cookies a market sets (the queue's pass), as a browser would.
struct HttpSource {
    client: reqwest::Client,
    fetches: AtomicUsize,
    limit: Option<usize>,
    jar: Option<std::sync::Mutex<Vec<(String, String)>>>,
    /// A human at the keyboard: when the crawler says a market needs a session, the next fetch
    /// of that market first logs in as a person would (waiting out the queue, solving the
    /// captcha) and keeps the session cookie, as `dnmscope session import` would.
    human: Option<Human>,
}

struct Human {
    world: Arc<World>,
    addr: SocketAddr,
    wanted: std::sync::Mutex<HashSet<String>>,
    logins: AtomicUsize,
}

impl HttpSource {
    fn new(world: &World, addr: SocketAddr, limit: Option<usize>) -> HttpSource {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        for market in &world.markets {
            for host in &market.hosts {
                builder = builder.resolve(host, addr);
            }
        }
        HttpSource {
            client: builder.build().unwrap(),
            fetches: AtomicUsize::new(0),
            limit,
            jar: None,
            human: None,
        }
    }

    fn with_human(mut self, world: Arc<World>, addr: SocketAddr) -> HttpSource {
        self.jar = Some(std::sync::Mutex::new(Vec::new()));
        self.human = Some(Human {
            world,
            addr,
            wanted: std::sync::Mutex::new(HashSet::new()),
            logins: AtomicUsize::new(0),
        });
        self
    }

    fn cookies_for(&self, host: &str) -> Option<String> {
        let jar = self.jar.as_ref()?.lock().unwrap();
        let cookies: Vec<&str> = jar
            .iter()
            .filter(|(h, _)| h == host)
            .map(|(_, c)| c.as_str())
            .collect();
        (!cookies.is_empty()).then(|| cookies.join("; "))
    }

    fn keep_cookies(&self, host: &str, response: &reqwest::Response) {
        let Some(jar) = &self.jar else {
            return;
        };
        for value in response.headers().get_all("set-cookie") {
            if let Some(pair) = value.to_str().ok().and_then(|v| v.split(';').next()) {
                let mut jar = jar.lock().unwrap();
                let name = pair.split('=').next().unwrap_or("").to_owned();
                jar.retain(|(h, c)| !(*h == host && c.starts_with(&format!("{name}="))));
                jar.push((host.to_owned(), pair.to_owned()));
            }
        }
    }

    /// Logs into `market` as a person would.
    async fn log_in(&self, human: &Human, market: &MarketName) {
        let world = &human.world;
        let m = world
            .markets
            .iter()
            .find(|m| m.slug == market.as_str())
            .unwrap();
        let host = m.hosts[0].clone();
        let base = format!("http://{host}:{}", human.addr.port());
        let login = Ctx {
            world,
            market: m,
            day: 0,
            layout: 1,
        }
        .url(&Page::Login);
        for _ in 0..30 {
            let mut request = self.client.get(format!("{base}{login}"));
            if let Some(cookies) = self.cookies_for(&host) {
                request = request.header("cookie", cookies);
            }
            let response = request.send().await.unwrap();
            self.keep_cookies(&host, &response);
            let form = response.text().await.unwrap();
            let Some(challenge) = form
                .split("name=\"challenge\" value=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
            else {
                // A queue or a ban: a person waits and tries again.
                tokio::time::sleep(Duration::from_millis(700)).await;
                continue;
            };
            let account = world.accounts.iter().find(|a| a.market == m.id).unwrap();
            let answer = world.captcha_answer(m.id, challenge);
            let mut request = self
                .client
                .post(format!("{base}{login}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "username={}&password={}&challenge={challenge}&captcha={answer}",
                    account.username, account.password
                ));
            if let Some(cookies) = self.cookies_for(&host) {
                request = request.header("cookie", cookies);
            }
            let response = request.send().await.unwrap();
            self.keep_cookies(&host, &response);
            if self.cookies_for(&host).is_some_and(|c| c.contains("sid=")) {
                human.logins.fetch_add(1, Ordering::SeqCst);
                return;
            }
        }
        panic!("the human could not log into {market}");
    }

    fn with_cookies(mut self) -> HttpSource {
        self.jar = Some(std::sync::Mutex::new(Vec::new()));
        self
    }
}

impl Source for HttpSource {
    async fn fetch(
        &self,
        crawl: CrawlId,
        market: &MarketName,
        url: &str,
    ) -> Result<Capture, SourceError> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst);
        if self.limit.is_some_and(|limit| n >= limit) {
            return Err(SourceError {
                kind: FailureKind::TorUnhealthy,
                url: url.to_owned(),
                message: "the test cut the network".into(),
                answer: None,
            });
        }
        let started = Instant::now();
        let failure = |kind, e: reqwest::Error| SourceError {
            kind,
            url: url.to_owned(),
            message: e.to_string(),
            answer: None,
        };
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        if let Some(human) = &self.human {
            let wanted = human.wanted.lock().unwrap().remove(market.as_str());
            if wanted {
                self.log_in(human, market).await;
            }
        }
        let mut request = self.client.get(url);
        if let Some(cookies) = self.cookies_for(&host) {
            request = request.header("cookie", cookies);
        }
        let response = request
            .send()
            .await
            .map_err(|e| failure(FailureKind::SiteDown, e))?;
        let status = response.status().as_u16();
        if status >= 500 {
            return Err(SourceError {
                kind: FailureKind::SiteDown,
                url: url.to_owned(),
                message: format!("HTTP {status}"),
                answer: None,
            });
        }
        self.keep_cookies(&host, &response);
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| Header::new(k.as_str(), &String::from_utf8_lossy(v.as_bytes())))
            .collect();
        let body = response
            .bytes()
            .await
            .map_err(|e| failure(FailureKind::Transient, e))?
            .to_vec();
        Ok(Capture {
            market: market.clone(),
            crawl,
            url: url.to_owned(),
            final_url: None,
            fetched_at: Utc::now(),
            status,
            headers,
            body,
            truncated: None,
            elapsed_ms: Some(started.elapsed().as_millis() as u64),
        })
    }

    fn report(&self, market: &MarketName, signal: Signal) {
        if let (Some(human), Signal::NeedsSession) = (&self.human, signal) {
            human
                .wanted
                .lock()
                .unwrap()
                .insert(market.as_str().to_owned());
        }
    }
}

fn plans(world: &World, addr: SocketAddr, day: u32) -> Vec<MarketPlan> {
    world
        .markets
        .iter()
        .map(|market| {
            let ctx = Ctx {
                world,
                market,
                day,
                layout: 1,
            };
            let base = format!("http://{}:{}", market.hosts[0], addr.port());
            MarketPlan {
                name: MarketName::new(&market.slug).unwrap(),
                definition: Arc::new(
                    dnmscope_parse::builtin_markets()
                        .unwrap()
                        .into_iter()
                        .find(|d| d.name == market.slug)
                        .unwrap(),
                ),
                hosts: market.hosts.clone(),
                seeds: [Page::Home, Page::CategoryIndex, Page::Forum { page: 1 }]
                    .iter()
                    .map(|p| format!("{base}{}", ctx.url(p)))
                    .collect(),
                max_pages: None,
                max_depth: 50,
                session_params: vec![],
            }
        })
        .collect()
}

fn config(markets: Vec<MarketPlan>) -> CrawlConfig {
    CrawlConfig {
        markets,
        concurrency: 8,
        max_attempts: 3,
        retry_delay: Duration::from_millis(50),
        ban_pause: Duration::from_secs(1),
        login_pause: Duration::from_secs(1),
        unreachable_after: 3,
        pseudonyms: PseudonymKey::from_bytes([9; 32]),
        parse_limits: dnmscope_parse::Limits::default(),
    }
}

async fn store(dir: &tempfile::TempDir) -> Store {
    let mut options = StoreOptions::new(Location::SqliteFile(dir.path().join("crawl.sqlite")));
    options.create = true;
    Store::open(&options).await.unwrap()
}

fn rows(stats: &dnmscope_store::Stats, table: &str) -> u64 {
    stats
        .tables
        .iter()
        .find(|t| t.table == table)
        .map_or(0, |t| t.rows as u64)
}

/// What the truth says a crawl of `day` can reach.
struct Reachable {
    listings: usize,
    vendors: usize,
    posts: usize,
}

/// A review as its pages tell it apart (the content key's parts): market, vendor, the rating as
/// shown (a verdict on the cards skin, stars elsewhere), text, item, the price as shown (none on
/// the cards skin), and the day it was left.
type ShownReview = (String, String, String, String, String, String, u32);

fn shown_review(ctx: &Ctx, f: &dnmscope_sim::Feedback) -> ShownReview {
    let row = view::feedback_row(ctx, f);
    let cards = ctx.market.skin == dnmscope_sim::SkinKind::Cards;
    (
        ctx.market.slug.clone(),
        ctx.world.vendors[f.vendor as usize].handle.clone(),
        if cards {
            row.verdict.to_owned()
        } else {
            row.stars.to_string()
        },
        row.text,
        row.item,
        if cards {
            String::new()
        } else {
            row.price.usd_text()
        },
        f.day,
    )
}

/// The vendors whose reviews a crawl of `market` on `day` can read: those with a listing up, and
/// those active ones a forum post links to.
fn reviewed_vendors(ctx: &Ctx) -> BTreeSet<u32> {
    let world = ctx.world;
    let mut vendors: BTreeSet<u32> = view::active_listings(ctx).map(|l| l.vendor).collect();
    for thread in view::forum_threads(ctx) {
        for post in view::visible_posts(ctx, thread.id) {
            if let dnmscope_sim::PostAuthor::Vendor(v) = post.author {
                if world.vendor_active(&world.vendors[v as usize], ctx.day) {
                    vendors.insert(v);
                }
            }
        }
    }
    vendors
}

fn reachable(world: &World, day: u32) -> Reachable {
    let mut listings = 0;
    let mut vendors = BTreeSet::new();
    let mut posts = 0;
    for market in world
        .markets
        .iter()
        .filter(|m| world.state(m.id, day) == MarketState::Up)
    {
        let ctx = Ctx {
            world,
            market,
            day,
            layout: 1,
        };
        for listing in view::active_listings(&ctx) {
            listings += 1;
            vendors.insert(listing.vendor);
        }
        for thread in view::forum_threads(&ctx) {
            for post in view::visible_posts(&ctx, thread.id) {
                posts += 1;
                if let dnmscope_sim::PostAuthor::Vendor(v) = post.author {
                    let account = &world.vendors[v as usize];
                    // The table skin shows a banned vendor's profile: observed, with its
                    // status, not taken for a ban of the crawler.
                    let banned_shown = market.skin == dnmscope_sim::SkinKind::Table
                        && world.vendor_banned(account, day);
                    if world.vendor_active(account, day) || banned_shown {
                        vendors.insert(v);
                    }
                }
            }
        }
    }
    Reachable {
        listings,
        vendors: vendors.len(),
        posts,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crawl_recovers_what_the_truth_says_was_reachable_and_takes_no_action() {
    let world = Arc::new(generate(&WorldConfig::small(31)).unwrap());
    let day = 6;
    let server = SimServer::start(
        world.clone(),
        ServerConfig::open(day),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let source = HttpSource::new(&world, server.addr(), None);
    let outcome = crawl(
        &store,
        &source,
        &config(plans(&world, server.addr(), day)),
        &Stop::new(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.finish, Some(FinishReason::Completed));

    let truth = reachable(&world, day);
    let stats = store.stats().await.unwrap();
    assert_eq!(
        rows(&stats, "listings") as usize,
        truth.listings,
        "every reachable listing"
    );
    assert_eq!(
        rows(&stats, "vendors") as usize,
        truth.vendors,
        "every reachable vendor"
    );
    assert_eq!(
        rows(&stats, "forum_posts") as usize,
        truth.posts,
        "every visible post"
    );
    // Every review of every reachable vendor, once (the same review on a listing page and a
    // feedback page is one entry).
    let mut reviews = HashSet::new();
    for market in world
        .markets
        .iter()
        .filter(|m| world.state(m.id, day) == MarketState::Up)
    {
        let ctx = Ctx {
            world: &world,
            market,
            day,
            layout: 1,
        };
        let vendors: BTreeSet<u32> = view::active_listings(&ctx).map(|l| l.vendor).collect();
        for v in vendors {
            for f in world.feedback_until(v, day) {
                reviews.insert(shown_review(&ctx, f));
            }
        }
    }
    let feedback_rows = rows(&stats, "feedback") as usize;
    assert!(
        feedback_rows >= reviews.len(),
        "{feedback_rows} feedback rows for {} distinct reviews",
        reviews.len()
    );
    assert!(feedback_rows <= world.feedback.iter().filter(|f| f.day <= day).count());

    assert!(server.violations().is_empty(), "{:?}", server.violations());
    for (market, accounting) in &outcome.accounting {
        assert_eq!(
            accounting.attempted, accounting.fetched,
            "{market}: every attempt answered"
        );
        assert!(
            accounting.listings_announced > 0
                && accounting.listings_announced == accounting.listings_fetched,
            "{market}: {accounting:?}"
        );
    }
    // Nothing is fetched twice in a run.
    let targets: Vec<String> = server
        .requests()
        .into_iter()
        .map(|r| format!("{}{}", r.host, r.target))
        .collect();
    let distinct: HashSet<&String> = targets.iter().collect();
    assert_eq!(
        distinct.len(),
        targets.len(),
        "a page is fetched once per run"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_resumes_without_refetching_or_duplicating() {
    let world = Arc::new(generate(&WorldConfig::small(32)).unwrap());
    let day = 4;
    let server = SimServer::start(
        world.clone(),
        ServerConfig::open(day),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let addr = server.addr();

    // The reference: one uninterrupted run.
    let reference_dir = tempfile::tempdir().unwrap();
    let reference = store(&reference_dir).await;
    crawl(
        &reference,
        &HttpSource::new(&world, addr, None),
        &config(plans(&world, addr, day)),
        &Stop::new(),
    )
    .await
    .unwrap();
    let expected = reference.stats().await.unwrap();
    let requests_once = server.requests().len();

    // The same run, cut off three times (the network dies after N pages and the process is
    // dropped mid-step, as a kill would: the store is closed and opened again), then resumed.
    let dir = tempfile::tempdir().unwrap();
    let mut first = None;
    for limit in [40, 90, 150] {
        let store = store(&dir).await;
        let source = HttpSource::new(&world, addr, Some(limit));
        let mut cfg = config(plans(&world, addr, day));
        cfg.max_attempts = 1000;
        cfg.unreachable_after = 1000;
        let stop = Stop::new();
        let run =
            tokio::time::timeout(Duration::from_secs(3), crawl(&store, &source, &cfg, &stop)).await;
        if let Ok(result) = run {
            result.unwrap();
        }
        let id = store
            .unfinished_crawl()
            .await
            .unwrap()
            .expect("the run is unfinished");
        assert_eq!(*first.get_or_insert(id), id, "one run throughout");
        store.close().await;
    }
    let store = store(&dir).await;
    let outcome = crawl(
        &store,
        &HttpSource::new(&world, addr, None),
        &config(plans(&world, addr, day)),
        &Stop::new(),
    )
    .await
    .unwrap();
    assert!(outcome.resumed);
    assert_eq!(outcome.finish, Some(FinishReason::Completed));
    let got = store.stats().await.unwrap();
    for table in [
        "listings",
        "listing_observations",
        "vendors",
        "vendor_observations",
        "feedback",
        "forum_posts",
        "post_observations",
        "captures",
    ] {
        assert_eq!(rows(&got, table), rows(&expected, table), "{table}");
    }
    // The interrupted run asked again only for pages in flight at a cut (fetched, not yet
    // stored): at most the concurrency per cut.
    let interrupted_requests = server.requests().len() - requests_once;
    let in_flight = 3 * config(Vec::new()).concurrency;
    assert!(
        interrupted_requests <= requests_once + in_flight,
        "{interrupted_requests} requests against {requests_once}"
    );
    assert!(server.violations().is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_are_waited_out_seizures_recorded_and_dead_markets_dropped() {
    let world = Arc::new(generate(&WorldConfig::small(33)).unwrap());
    // Day 36: the first market shows a seizure banner; the second is down until its outage ends
    // at day 18 — take day 15 for the outage, day 36 for the seizure.
    for (day, what) in [(15u32, "outage"), (36, "seizure")] {
        let config_server = ServerConfig {
            queue: Some(dnmscope_sim::QueueConfig {
                wait: Duration::from_secs(1),
                requeue_rate: 0.0,
            }),
            ..ServerConfig::open(day)
        };
        let server = SimServer::start(world.clone(), config_server, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let source = HttpSource::new(&world, server.addr(), None).with_cookies();
        let outcome = crawl(
            &store,
            &source,
            &config(plans(&world, server.addr(), day)),
            &Stop::new(),
        )
        .await
        .unwrap();
        assert_eq!(outcome.finish, Some(FinishReason::Completed), "{what}");
        let stats = store.stats().await.unwrap();
        let truth = reachable(&world, day);
        assert_eq!(
            rows(&stats, "listings") as usize,
            truth.listings,
            "{what}: the markets that answer are crawled in full"
        );
        // Queue pages were met and waited out: no ticket was ever banned for coming back early.
        assert!(
            server
                .requests()
                .iter()
                .any(|r| r.outcome == dnmscope_sim::Outcome::Queue),
            "{what}"
        );
        assert!(
            server
                .requests()
                .iter()
                .all(|r| r.outcome != dnmscope_sim::Outcome::Banned),
            "{what}: never back early"
        );
        assert!(server.violations().is_empty());
        match what {
            "outage" => assert!(
                outcome.accounting["cobalt"].unreachable,
                "{:?}",
                outcome.accounting
            ),
            _ => {
                assert!(outcome.accounting["nightshade"].seized);
                assert_eq!(
                    rows(&stats, "market_events"),
                    1,
                    "the seizure banner is an event"
                );
            }
        }
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_captchas_forced_logouts_and_bans_pause_the_market_and_lose_nothing() {
    let world = Arc::new(generate(&WorldConfig::small(34)).unwrap());
    let day = 6;
    // A market front as crawlers meet it: a queue, a login with a captcha, sessions logged out
    // at random, and a rate limit that bans the session for a while.
    let server_config = ServerConfig {
        day: dnmscope_sim::DaySchedule::Fixed(day),
        forced_logout_rate: 0.03,
        queue: Some(dnmscope_sim::QueueConfig {
            wait: Duration::from_secs(1),
            requeue_rate: 0.0,
        }),
        rate_limit: Some(dnmscope_sim::RateLimit {
            requests: 25,
            window: Duration::from_secs(2),
            ban: Duration::from_secs(2),
        }),
        ..ServerConfig::default()
    };
    let server = SimServer::start(world.clone(), server_config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.addr();
    let dir = tempfile::tempdir().unwrap();
    let crawled = store(&dir).await;
    let source = HttpSource::new(&world, addr, None).with_human(world.clone(), addr);
    let mut cfg = config(plans(&world, addr, day));
    cfg.unreachable_after = 50;
    let outcome = crawl(&crawled, &source, &cfg, &Stop::new()).await.unwrap();
    assert_eq!(outcome.finish, Some(FinishReason::Completed));

    // Every gate was met.
    let requests = server.requests();
    let met =
        |outcome: dnmscope_sim::Outcome| requests.iter().filter(|r| r.outcome == outcome).count();
    let logins = source.human.as_ref().unwrap().logins.load(Ordering::SeqCst);
    println!(
        "queue {}, login forms {}, forced logouts {}, bans {}, human logins {logins}",
        met(dnmscope_sim::Outcome::Queue),
        met(dnmscope_sim::Outcome::LoginForm),
        met(dnmscope_sim::Outcome::SessionEnded),
        met(dnmscope_sim::Outcome::Banned),
    );
    assert!(met(dnmscope_sim::Outcome::LoginForm) > 0);
    assert!(
        met(dnmscope_sim::Outcome::SessionEnded) > 0,
        "forced logouts happened"
    );
    assert!(met(dnmscope_sim::Outcome::Banned) > 0, "bans happened");
    assert!(logins >= world.markets.len(), "a human logged in");
    for (market, accounting) in &outcome.accounting {
        assert!(
            !accounting.needs_human.is_empty(),
            "{market}: the need was recorded"
        );
        assert!(
            accounting.gates.contains_key("login") || accounting.gates.contains_key("captcha"),
            "{market}: {accounting:?}"
        );
    }

    // Nothing was lost, and no gate page became an observation: the store holds exactly what a
    // crawl of the same day without any gate holds.
    let stats = crawled.stats().await.unwrap();
    let truth = reachable(&world, day);
    assert_eq!(rows(&stats, "listings") as usize, truth.listings);
    assert_eq!(rows(&stats, "vendors") as usize, truth.vendors);
    assert_eq!(rows(&stats, "forum_posts") as usize, truth.posts);
    let open = SimServer::start(
        world.clone(),
        ServerConfig::open(day),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let reference_dir = tempfile::tempdir().unwrap();
    let reference = store(&reference_dir).await;
    crawl(
        &reference,
        &HttpSource::new(&world, open.addr(), None),
        &config(plans(&world, open.addr(), day)),
        &Stop::new(),
    )
    .await
    .unwrap();
    let expected = reference.stats().await.unwrap();
    for table in [
        "listings",
        "listing_observations",
        "vendors",
        "vendor_observations",
        "feedback",
        "feedback_sightings",
        "forum_threads",
        "thread_observations",
        "forum_posts",
        "post_observations",
    ] {
        assert_eq!(rows(&stats, table), rows(&expected, table), "{table}");
    }
    // The only events: each time a market started needing a human (a needs_human event with
    // the instructions); the crawl without gates has none.
    assert_eq!(rows(&expected, "market_events"), 0);
    assert!(
        rows(&stats, "market_events") >= world.markets.len() as u64,
        "{} events",
        rows(&stats, "market_events")
    );
    open.stop().await;
    assert!(server.violations().is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_budget_is_spent_on_distinct_pages() {
    let world = Arc::new(generate(&WorldConfig::small(35)).unwrap());
    let day = 3;
    let server = SimServer::start(
        world.clone(),
        ServerConfig::open(day),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let mut plans = plans(&world, server.addr(), day);
    for plan in &mut plans {
        plan.max_pages = Some(40);
    }
    let outcome = crawl(
        &store,
        &HttpSource::new(&world, server.addr(), None),
        &config(plans),
        &Stop::new(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.finish, Some(FinishReason::BudgetExhausted));
    for (market, accounting) in &outcome.accounting {
        // Links already in the frontier (the same vendor linked from every listing) cost
        // nothing: the budget buys 40 distinct pages.
        assert_eq!(accounting.fetched, 40, "{market}: {accounting:?}");
    }
    server.stop().await;
}

/// The same simulated markets crawled on five days in a row: every review is stored once (no
/// growth from re-sightings), on each skin, and dated the day it was left, whatever form the
/// skin prints its date in (ISO dates, European dates, ages like `3d 4h` or a bare `09:41`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_daily_crawls_store_each_review_once_on_every_skin() {
    let world = Arc::new(generate(&WorldConfig::small(31)).unwrap());
    let days = 6..=10;
    let server = SimServer::start(
        world.clone(),
        ServerConfig::open(*days.start()),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let mut truth: BTreeSet<ShownReview> = BTreeSet::new();
    for day in days.clone() {
        server.set_day(day);
        let source = HttpSource::new(&world, server.addr(), None);
        let outcome = crawl(
            &store,
            &source,
            &config(plans(&world, server.addr(), day)),
            &Stop::new(),
        )
        .await
        .unwrap();
        assert_eq!(outcome.finish, Some(FinishReason::Completed), "day {day}");
        for market in world
            .markets
            .iter()
            .filter(|m| world.state(m.id, day) == MarketState::Up)
        {
            let ctx = Ctx {
                world: &world,
                market,
                day,
                layout: 1,
            };
            for v in reviewed_vendors(&ctx) {
                for f in world.feedback_until(v, day) {
                    truth.insert(shown_review(&ctx, f));
                }
            }
        }
    }
    let rows = store
        .feedback_rows(&dnmscope_store::AnalyticsFilter::default())
        .await
        .unwrap();
    let stored: Vec<ShownReview> = rows
        .iter()
        .map(|r| {
            let left_on = r.left_on.expect("every simulated review's date is read");
            (
                r.market.clone(),
                r.vendor.clone().unwrap_or_default(),
                r.rating.clone(),
                r.text.clone(),
                r.item.clone().unwrap_or_default(),
                r.price_amount
                    .as_deref()
                    .map(|a| format!("{:.2}", a.parse::<f64>().unwrap()))
                    .unwrap_or_default(),
                (left_on - world.date(0)).num_days() as u32,
            )
        })
        .collect();
    let stored_set: BTreeSet<ShownReview> = stored.iter().cloned().collect();
    assert_eq!(stored.len(), stored_set.len(), "a review stored twice");
    let skins: Vec<(String, dnmscope_sim::SkinKind)> = world
        .markets
        .iter()
        .map(|m| (m.slug.clone(), m.skin))
        .collect();
    for (market, skin) in &skins {
        let want: BTreeSet<&ShownReview> = truth.iter().filter(|r| &r.0 == market).collect();
        let got: BTreeSet<&ShownReview> = stored_set.iter().filter(|r| &r.0 == market).collect();
        let missing: Vec<_> = want.difference(&got).take(3).collect();
        let extra: Vec<_> = got.difference(&want).take(3).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{market} ({skin:?}): {} stored for {} distinct reviews seen; missing {missing:?}, \
             not in the truth {extra:?}",
            got.len(),
            want.len()
        );
        assert!(!want.is_empty(), "{market}: no reviews to check");
        println!(
            "{market} ({}): {} feedback rows for {} distinct reviews seen over 5 daily crawls",
            skin.name(),
            got.len(),
            want.len()
        );
    }
    assert!(server.violations().is_empty(), "{:?}", server.violations());
    server.stop().await;
}

/// A vendor's page of each skin read on one day and again three days later: every review on
/// both keeps its content key (the store's rule: a key within the printed date's resolution).
#[test]
fn review_keys_stay_stable_across_days_on_every_skin() {
    let world = generate(&WorldConfig::small(31)).unwrap();
    let markets = dnmscope_parse::builtin_markets().unwrap();
    let pseudonyms = PseudonymKey::from_bytes([9; 32]);
    let viewer = view::Viewer {
        username: "crawler".into(),
        token: "t".into(),
    };
    let (first, later) = (6, 9);
    for market in &world.markets {
        let definition = markets.iter().find(|d| d.name == market.slug).unwrap();
        let name = MarketName::new(&market.slug).unwrap();
        let ctx_on = |day| Ctx {
            world: &world,
            market,
            day,
            layout: 1,
        };
        let vendor = view::active_listings(&ctx_on(later))
            .map(|l| l.vendor)
            .find(|v| {
                let reviews = world.feedback_until(*v, first);
                reviews.len() >= 3 && world.vendor_active(&world.vendors[*v as usize], first)
            })
            .expect("a vendor with reviews");
        let handle = world.vendors[vendor as usize].handle.clone();
        // Every feedback page of the vendor on `day`, read as a crawl captured at noon.
        let read = |day| {
            let ctx = ctx_on(day);
            let mut feedback = Vec::new();
            for number in 1.. {
                let page = Page::Feedback {
                    handle: handle.clone(),
                    page: number,
                };
                let Some((_, html)) = dnmscope_sim::server::render_page(
                    &ctx,
                    &page,
                    Some(&viewer),
                    "h",
                    &Default::default(),
                ) else {
                    break;
                };
                let parsed = dnmscope_parse::parse_page(
                    &html,
                    Some(definition),
                    dnmscope_parse::Limits::default(),
                );
                let captured_at = world.date(day).and_hms_opt(12, 0, 0).unwrap().and_utc();
                let url = format!("http://{}{}", market.hosts[0], ctx.url(&page));
                feedback.extend(
                    dnmscope_parse::to_extraction(
                        &parsed,
                        &dnmscope_parse::PageContext {
                            market: &name,
                            url: &url,
                            captured_at,
                            pseudonyms: &pseudonyms,
                        },
                    )
                    .feedback,
                );
            }
            feedback
        };
        let (before, after) = (read(first), read(later));
        assert!(!before.is_empty(), "{}: no feedback read", market.slug);
        // Every review of the first day is still shown three days later, under its key.
        assert!(after.len() >= before.len(), "{}", market.slug);
        for entry in &before {
            let key = entry.content_key(&name);
            assert!(
                after
                    .iter()
                    .any(|a| a.keys_within_resolution(&name).contains(&key)),
                "{} ({}): {entry:?} lost its key three days later",
                market.slug,
                market.skin.name()
            );
        }
        for entry in before.iter().chain(&after) {
            assert!(entry.left_on.is_some(), "{}: {entry:?}", market.slug);
        }
    }
}

/// Pages served from memory, by path: no network at all.
struct MemorySource {
    pages: std::collections::HashMap<String, String>,
    fetched: std::sync::Mutex<Vec<String>>,
    /// Paths that answer 503 every time (the fetcher gives up and hands over the answer).
    down: Vec<String>,
}

impl Source for MemorySource {
    async fn fetch(
        &self,
        crawl: CrawlId,
        market: &MarketName,
        url: &str,
    ) -> Result<Capture, SourceError> {
        let path = url::Url::parse(url).unwrap().path().to_owned();
        self.fetched.lock().unwrap().push(path.clone());
        if self.down.contains(&path) {
            return Err(SourceError {
                kind: FailureKind::SiteDown,
                url: url.to_owned(),
                message: "HTTP 503 after every retry".into(),
                answer: Some(Box::new(memory_capture(
                    crawl,
                    market,
                    url,
                    503,
                    b"<h1>We are gone. Thanks for all the coins.</h1>".to_vec(),
                ))),
            });
        }
        let Some(body) = self.pages.get(&path) else {
            return Err(SourceError {
                kind: FailureKind::Fatal,
                url: url.to_owned(),
                message: "not in the test's pages".into(),
                answer: None,
            });
        };
        Ok(memory_capture(
            crawl,
            market,
            url,
            200,
            body.clone().into_bytes(),
        ))
    }

    fn report(&self, _market: &MarketName, _signal: Signal) {}
}

/// A page served from memory, as the source hands it over.
fn memory_capture(
    crawl: CrawlId,
    market: &MarketName,
    url: &str,
    status: u16,
    body: Vec<u8>,
) -> Capture {
    Capture {
        market: market.clone(),
        crawl,
        url: url.to_owned(),
        final_url: None,
        fetched_at: Utc::now(),
        status,
        headers: vec![],
        body,
        truncated: None,
        elapsed_ms: Some(1),
    }
}

/// A market whose every page is a listing linking to the pages it names.
fn memory_plan() -> MarketPlan {
    let definition = dnmscope_parse::Market::from_toml(
        "memory.toml",
        "name = \"memory\"\nversion = 1\nhosts = [\"memory.onion\"]\n\
         [[page_kinds]]\nkind = \"listing\"\nselector = \"h1.item\"\n\
         [fields.listing.title]\nselector = \"h1.item\"\n\
         [[links]]\nkind = \"listing\"\nselector = \"a\"\n",
    )
    .unwrap();
    MarketPlan {
        name: MarketName::new("memory").unwrap(),
        definition: Arc::new(definition),
        hosts: vec!["memory.onion".into()],
        seeds: vec!["http://memory.onion/".into()],
        max_pages: None,
        max_depth: 5,
        session_params: vec![],
    }
}

/// A page that makes the tree builder clone misnested formatting elements for every paragraph:
/// thousands of nodes out of each chunk of a few kilobytes.
fn amplifying_page() -> String {
    let formatting: String = (0..60).map(|i| format!("<b c={i}>")).collect();
    format!("<div>{formatting}</div>{}", "<p>x".repeat(5_000))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_the_parser_refuses_are_stored_given_up_counted_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let mut pages = std::collections::HashMap::new();
    let links: String = (0..3)
        .map(|i| format!("<a href=/hostile/{i}>h</a><a href=/ok/{i}>o</a>"))
        .collect();
    pages.insert("/".to_owned(), format!("<h1 class=item>home</h1>{links}"));
    for i in 0..3 {
        pages.insert(format!("/hostile/{i}"), amplifying_page());
        pages.insert(format!("/ok/{i}"), format!("<h1 class=item>item {i}</h1>"));
    }
    let source = MemorySource {
        pages,
        fetched: Default::default(),
        down: vec![],
    };
    let mut config = config(vec![memory_plan()]);
    config.parse_limits = dnmscope_parse::Limits {
        max_nodes: 2_000,
        ..dnmscope_parse::Limits::default()
    };
    let outcome = crawl(&store, &source, &config, &Stop::new()).await.unwrap();
    assert_eq!(outcome.finish, Some(FinishReason::Completed));
    let accounting = &outcome.accounting["memory"];
    assert_eq!(accounting.refused, 3, "{accounting:?}");
    assert_eq!(
        accounting.fetched, 7,
        "every page is fetched and stored once"
    );
    assert_eq!(accounting.parsed.get("listing"), Some(&4), "{accounting:?}");
    let table = dnmscope_crawl::table(&outcome.accounting);
    assert!(table.contains("[3 pages refused by the parser]"), "{table}");
    let stats = store.stats().await.unwrap();
    assert_eq!(rows(&stats, "captures"), 7);
    assert_eq!(rows(&stats, "listing_observations"), 4);
    let mut fetched = source.fetched.lock().unwrap().clone();
    fetched.sort();
    fetched.dedup();
    assert_eq!(fetched.len(), 7, "nothing is fetched twice: {fetched:?}");

    // Resumed, the finished run is not touched again; the refused pages' entries say why.
    let counts = store.frontier_counts(outcome.crawl).await.unwrap();
    assert!(
        counts.contains(&("memory".into(), dnmscope_model::FrontierState::Failed, 3)),
        "{counts:?}"
    );
    // Refused by the parser's limits, not crashed on (the pool would catch a crash too).
    let mut reasons = Vec::new();
    for id in 1..=20 {
        if let Ok(entry) = store.frontier_entry(id).await {
            if entry.state == dnmscope_model::FrontierState::Failed {
                reasons.push(entry.last_error.unwrap_or_default());
            }
        }
    }
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .all(|r| r.starts_with("refused: the page makes the parser build")),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_page_three_processes_ended_on_is_refused_instead_of_parsed_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let plan = memory_plan();
    let config = config(vec![plan.clone()]);
    // The state killed processes leave: the run unfinished, pages stored for two entries, and on
    // one of them the note of the resumes that each ended while parsing it again.
    let run = store
        .begin_crawl(
            std::slice::from_ref(&plan.name),
            &config.describe(),
            Utc::now(),
        )
        .await
        .unwrap();
    let link = |path: &str| dnmscope_model::NewLink {
        url: format!("http://memory.onion{path}"),
        kind: "listing".into(),
        depth: 0,
        priority: 10,
    };
    store
        .enqueue(
            run,
            &plan.name,
            &[link("/"), link("/crash"), link("/again")],
            None,
            Utc::now(),
        )
        .await
        .unwrap();
    let due = store.due(run, Utc::now(), 10).await.unwrap();
    let source = MemorySource {
        pages: [
            ("/".to_owned(), "<h1 class=item>home</h1>".to_owned()),
            ("/crash".to_owned(), "<h1 class=item>crash</h1>".to_owned()),
            ("/again".to_owned(), "<h1 class=item>again</h1>".to_owned()),
        ]
        .into_iter()
        .collect(),
        fetched: Default::default(),
        down: vec![],
    };
    for path in ["/crash", "/again"] {
        let entry = due
            .iter()
            .find(|e| e.url.ends_with(path))
            .expect("the entry");
        let capture = source.fetch(run, &plan.name, &entry.url).await.unwrap();
        store.store_fetched(entry.id, &capture).await.unwrap();
        if path == "/again" {
            // One process ended while parsing it: parsed again, not refused.
            store
                .note_reparse(
                    entry.id,
                    Some(&format!("{} (try 1)", dnmscope_crawl::REPARSE_NOTE)),
                )
                .await
                .unwrap();
        }
        if path == "/crash" {
            store
                .note_reparse(
                    entry.id,
                    Some(&format!(
                        "{} (try {})",
                        dnmscope_crawl::REPARSE_NOTE,
                        dnmscope_crawl::REPARSE_TRIES
                    )),
                )
                .await
                .unwrap();
        }
    }
    source.fetched.lock().unwrap().clear();
    let outcome = crawl(&store, &source, &config, &Stop::new()).await.unwrap();
    assert!(outcome.resumed);
    assert_eq!(outcome.finish, Some(FinishReason::Completed));
    let accounting = &outcome.accounting["memory"];
    assert_eq!(accounting.refused, 1, "{accounting:?}");
    // The page killed once is parsed from the store; the one killed twice is refused; neither
    // is fetched again.
    assert_eq!(*source.fetched.lock().unwrap(), ["/"]);
    assert_eq!(accounting.parsed.get("listing"), Some(&2), "{accounting:?}");
    let crash = store
        .due(run, Utc::now() + chrono::Duration::days(1), 10)
        .await
        .unwrap();
    assert!(crash.is_empty(), "nothing is left pending: {crash:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_market_s_last_503_answer_is_stored_though_the_page_fails() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let source = MemorySource {
        pages: [(
            "/".to_owned(),
            "<h1 class=item>home</h1><a href=/gone>gone</a>".to_owned(),
        )]
        .into_iter()
        .collect(),
        fetched: Default::default(),
        down: vec!["/gone".into()],
    };
    let config = config(vec![memory_plan()]);
    let outcome = crawl(&store, &source, &config, &Stop::new()).await.unwrap();
    let mut statuses = Vec::new();
    for id in store.capture_ids(Some(outcome.crawl)).await.unwrap() {
        let capture = store.capture(id).await.unwrap();
        statuses.push((capture.url.clone(), capture.status));
        if capture.status == 503 {
            assert!(String::from_utf8_lossy(&capture.body).contains("Thanks for all the coins"));
        }
    }
    assert!(
        statuses.contains(&("http://memory.onion/gone".to_owned(), 503)),
        "{statuses:?}"
    );
    let accounting = &outcome.accounting["memory"];
    assert_eq!(
        accounting.fetched, 1,
        "a 503 is a failed attempt: {accounting:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_that_never_lets_the_crawler_in_is_given_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let queue = "<html><head><meta http-equiv=\"refresh\" content=\"0\"><title>Queue</title>\
                 </head><body><h1>You are in the queue</h1><p>Please wait, you will be \
                 redirected.</p></body></html>";
    let source = MemorySource {
        pages: [("/".to_owned(), queue.to_owned())].into_iter().collect(),
        fetched: Default::default(),
        down: vec![],
    };
    let mut config = config(vec![memory_plan()]);
    config.unreachable_after = 1;
    let outcome = crawl(&store, &source, &config, &Stop::new()).await.unwrap();
    assert!(outcome.finish.is_some(), "the run ends");
    let accounting = &outcome.accounting["memory"];
    assert!(accounting.unreachable, "{accounting:?}");
    let queued = accounting.gates.get("queue").copied().unwrap_or(0);
    assert!((1..=4).contains(&queued), "{accounting:?}");
    assert_eq!(source.fetched.lock().unwrap().len() as u64, queued + 1);
}
