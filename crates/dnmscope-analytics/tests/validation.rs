//! The analytics measured against the simulator's truth.
//!
//! A seeded simulated world is served on loopback and crawled end to end into a SQLite store on
//! several simulated days, across the default event script (an outage of the second market at
//! 25 % of the run, the seizure of the first at 60 %, the second's exit scam at 80 %). Then the
//! indicators are compared with what really happened: vendor-linking precision and recall
//! against the persons behind the accounts, the sales estimate against true sales, detection of
//! the fake-review campaigns, and recovery of the migrations after the seizure. The figures are
//! printed (`cargo test -p dnmscope-analytics --test validation -- --nocapture`); another world
//! is one `DNMSCOPE_VALIDATION_SEED=N` away, another kind of world one
//! `DNMSCOPE_VALIDATION_WORLD=config/worlds/FILE.toml` away.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dnmscope_analytics::{
    candidate_links, compute_all, event_tables, profiles, review_flags, Dataset, Filter, Period,
};
use dnmscope_crawl::{crawl, CrawlConfig, FailureKind, MarketPlan, Source, SourceError, Stop};
use dnmscope_model::{Capture, CrawlId, FinishReason, Header, MarketName, PseudonymKey};
use dnmscope_sim::view::Ctx;
use dnmscope_sim::{generate, MarketState, Page, ServerConfig, SimServer, World, WorldConfig};
use dnmscope_store::{AnalyticsFilter, Location, Store, StoreOptions};

/// The simulated days crawled: before and after the outage (days 8-10), the last days before
/// the seizure (day 18), after it while migrants arrive (days 19-25), and after the exit scam
/// (day 24).
const CRAWL_DAYS: &[u32] = &[2, 7, 12, 17, 20, 23, 27];

/// The world's seed: `DNMSCOPE_VALIDATION_SEED`, else 71.
fn seed() -> u64 {
    std::env::var("DNMSCOPE_VALIDATION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(71)
}

/// The world: the test's own, changed by the world file `DNMSCOPE_VALIDATION_WORLD` when it is
/// set (e.g. `config/worlds/handles.toml`; the targets below stay what they are).
fn world_config() -> WorldConfig {
    let base = WorldConfig {
        days: 30,
        vendors: 24,
        listings_per_vendor: 3.0,
        threads_per_market: 6,
        fake_review_share: 0.1,
        ..WorldConfig::small(seed())
    };
    match std::env::var("DNMSCOPE_VALIDATION_WORLD") {
        Ok(path) if !path.is_empty() => {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading the world file {path}: {e}"));
            WorldConfig::from_toml(&text, base)
                .unwrap_or_else(|e| panic!("the world file {path}: {e}"))
        }
        _ => base,
    }
}

/// Fetches over loopback. A capture is dated by the simulator's `Date` header (its simulated
/// day), as a crawl of a real market is dated by the day it runs.
struct HttpSource {
    client: reqwest::Client,
    started: Instant,
}

impl HttpSource {
    fn new(world: &World, addr: SocketAddr) -> HttpSource {
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
            started: Instant::now(),
        }
    }
}

impl Source for HttpSource {
    async fn fetch(
        &self,
        crawl: CrawlId,
        market: &MarketName,
        url: &str,
    ) -> Result<Capture, SourceError> {
        let failure = |kind, message: String| SourceError {
            kind,
            url: url.to_owned(),
            message,
            answer: None,
        };
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| failure(FailureKind::SiteDown, e.to_string()))?;
        let status = response.status().as_u16();
        if status >= 500 {
            return Err(failure(FailureKind::SiteDown, format!("HTTP {status}")));
        }
        let headers: Vec<Header> = response
            .headers()
            .iter()
            .map(|(k, v)| Header::new(k.as_str(), &String::from_utf8_lossy(v.as_bytes())))
            .collect();
        let date = headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("date"))
            .and_then(|h| DateTime::parse_from_rfc2822(&h.value).ok())
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(Utc::now);
        let body = response
            .bytes()
            .await
            .map_err(|e| failure(FailureKind::Transient, e.to_string()))?
            .to_vec();
        Ok(Capture {
            market: market.clone(),
            crawl,
            url: url.to_owned(),
            final_url: None,
            fetched_at: date + self.started.elapsed(),
            status,
            headers,
            body,
            truncated: None,
            elapsed_ms: None,
        })
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

/// Crawls the world on each of `CRAWL_DAYS` into a new SQLite store.
async fn crawled(world: &Arc<World>, dir: &tempfile::TempDir) -> Store {
    let server = SimServer::start(
        world.clone(),
        ServerConfig::open(CRAWL_DAYS[0]),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let mut options = StoreOptions::new(Location::SqliteFile(dir.path().join("store.sqlite")));
    options.create = true;
    let store = Store::open(&options).await.unwrap();
    for &day in CRAWL_DAYS {
        server.set_day(day);
        let config = CrawlConfig {
            markets: plans(world, server.addr(), day),
            concurrency: 8,
            max_attempts: 2,
            retry_delay: Duration::from_millis(20),
            ban_pause: Duration::from_secs(1),
            login_pause: Duration::from_secs(1),
            unreachable_after: 2,
            pseudonyms: PseudonymKey::from_bytes([7; 32]),
            parse_limits: dnmscope_parse::Limits::default(),
        };
        let source = HttpSource::new(world, server.addr());
        let outcome = crawl(&store, &source, &config, &Stop::new()).await.unwrap();
        assert_eq!(outcome.finish, Some(FinishReason::Completed), "day {day}");
    }
    assert!(server.violations().is_empty(), "{:?}", server.violations());
    server.stop().await;
    store
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indicators_recover_the_simulated_truth() {
    let started = Instant::now();
    let world = Arc::new(generate(&world_config()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let store = crawled(&world, &dir).await;
    // The cards market shows prices in BTC only and prints no rates: a researcher imports
    // historical BTC rates (here the world's own series, as a CSV).
    let csv: String = std::iter::once("date,currency,usd\n".to_string())
        .chain(
            (0..world.config.days)
                .map(|d| format!("{},BTC,{}\n", world.date(d), world.btc_rate(d))),
        )
        .collect();
    let rates = dnmscope_analytics::parse_rates_csv(&csv, "btc.csv", "btc.csv").unwrap();
    assert_eq!(
        store.import_rates(&rates).await.unwrap(),
        u64::from(world.config.days)
    );
    assert_eq!(
        store.import_rates(&rates).await.unwrap(),
        0,
        "imported once"
    );
    println!(
        "seed {}: crawled {} simulated days of a world with {} vendor accounts and {} listings \
         in {:.1} s",
        seed(),
        CRAWL_DAYS.len(),
        world.vendors.len(),
        world.listings.len(),
        started.elapsed().as_secs_f64()
    );
    let data = Dataset::load(&store, &AnalyticsFilter::default())
        .await
        .unwrap();
    let market_of: HashMap<&str, u32> = world
        .markets
        .iter()
        .map(|m| (m.slug.as_str(), m.id))
        .collect();
    // The truth's vendor account behind each observed profile.
    let profiles = profiles(&data);
    let account = |p: &dnmscope_analytics::Profile| -> u32 {
        world
            .vendor_by_handle(market_of[p.market.as_str()], &p.handle)
            .unwrap_or_else(|| panic!("{}:{} is in the truth", p.market, p.handle))
            .id
    };
    let accounts: Vec<u32> = profiles.iter().map(account).collect();

    // 1. Vendor linking against the persons behind the accounts.
    let links = candidate_links(&data, &profiles);
    let mut truth_pairs = BTreeSet::new();
    for a in 0..profiles.len() {
        for b in a + 1..profiles.len() {
            let (va, vb) = (
                &world.vendors[accounts[a] as usize],
                &world.vendors[accounts[b] as usize],
            );
            if va.person == vb.person && va.market != vb.market {
                truth_pairs.insert((a, b));
            }
        }
    }
    let predicted: BTreeSet<(usize, usize)> = links
        .iter()
        .filter(|l| l.accepted())
        .map(|l| (l.a.min(l.b), l.a.max(l.b)))
        .collect();
    let correct = predicted.intersection(&truth_pairs).count();
    let precision = ratio(correct, predicted.len());
    let recall = ratio(correct, truth_pairs.len());
    println!(
        "vendor linking: {} observed accounts, {} true cross-market pairs, {} candidates, {} \
         probable; precision {precision:.3}, recall {recall:.3}",
        profiles.len(),
        truth_pairs.len(),
        links.len(),
        predicted.len()
    );
    for l in links.iter().filter(|l| {
        let pair = (l.a.min(l.b), l.a.max(l.b));
        l.accepted() != truth_pairs.contains(&pair)
    }) {
        println!(
            "  {} {}:{} ~ {}:{} ({:.2}): {} (imported ratings from {:?} and {:?})",
            if l.accepted() {
                "false link"
            } else {
                "missed link"
            },
            profiles[l.a].market,
            profiles[l.a].handle,
            profiles[l.b].market,
            profiles[l.b].handle,
            l.score,
            l.evidence(&profiles),
            profiles[l.a].imported_from(),
            profiles[l.b].imported_from(),
        );
    }
    let candidates: BTreeSet<(usize, usize)> =
        links.iter().map(|l| (l.a.min(l.b), l.a.max(l.b))).collect();
    for &(a, b) in truth_pairs.difference(&candidates) {
        println!(
            "  not a candidate: {}:{} ~ {}:{} (keys {:?} and {:?}, imported ratings {:?} and {:?})",
            profiles[a].market,
            profiles[a].handle,
            profiles[b].market,
            profiles[b].handle,
            profiles[a].fingerprints.len(),
            profiles[b].fingerprints.len(),
            profiles[a].imported,
            profiles[b].imported,
        );
    }
    // Impersonators (worlds that have them): links to the person whose handle they copy.
    let impersonating: Vec<usize> = (0..profiles.len())
        .filter(|&a| world.vendors[accounts[a] as usize].impersonates.is_some())
        .collect();
    if !impersonating.is_empty() {
        let fooled = predicted
            .iter()
            .filter(|&&(a, b)| {
                let (va, vb) = (
                    &world.vendors[accounts[a] as usize],
                    &world.vendors[accounts[b] as usize],
                );
                let copies = |x: &dnmscope_sim::VendorAccount, y: &dnmscope_sim::VendorAccount| {
                    x.impersonates
                        .is_some_and(|c| world.vendors[c as usize].person == y.person)
                };
                copies(va, vb) || copies(vb, va)
            })
            .count();
        println!(
            "impersonators: {} observed, {fooled} probable links to the vendor they copy",
            impersonating.len()
        );
    }
    assert!(truth_pairs.len() >= 5, "the world has cross-market vendors");
    assert!(precision > 0.95, "linking precision {precision:.3}");
    assert!(recall > 0.95, "linking recall {recall:.3}");

    // 2. Sales estimates against true sales, for the observed vendor accounts, up to the last
    // day each market was crawled while it was up.
    let last_up: HashMap<u32, u32> = world
        .markets
        .iter()
        .map(|m| {
            let day = CRAWL_DAYS
                .iter()
                .copied()
                .filter(|&d| world.state(m.id, d) == MarketState::Up)
                .max()
                .unwrap_or(0);
            (m.id, day)
        })
        .collect();
    let observed: BTreeSet<u32> = accounts.iter().copied().collect();
    let (mut true_sales, mut true_revenue, mut reviewed) = (0usize, 0f64, 0usize);
    for l in &world.listings {
        if !observed.contains(&l.vendor) {
            continue;
        }
        let until = last_up[&l.market];
        for s in world
            .sales_of(l.id)
            .iter()
            .filter(|s| s.real && s.day <= until)
        {
            true_sales += 1;
            true_revenue += world
                .price_usd(l, s.day)
                .to_string()
                .parse::<f64>()
                .unwrap();
        }
    }
    for f in &world.feedback {
        let v = &world.vendors[f.vendor as usize];
        if observed.contains(&f.vendor) && !f.fake && f.day <= last_up[&v.market] {
            reviewed += 1;
        }
    }
    let no_feedback_share = 1.0 - ratio(reviewed, true_sales);
    let sales = data.sales();
    let estimated = sales.len();
    let estimated_revenue: f64 = sales.iter().filter_map(|s| s.usd).sum();
    let priced = sales.iter().filter(|s| s.usd.is_some()).count();
    let sales_error = (true_sales as f64 - estimated as f64).abs() / true_sales as f64;
    let revenue_error = (true_revenue - estimated_revenue).abs() / true_revenue;
    println!(
        "sales: {true_sales} true sales (USD {true_revenue:.0}) of the observed vendors, \
         {reviewed} real reviews ({:.1} % of sales left none); estimated {estimated} sales \
         ({priced} priced, USD {estimated_revenue:.0}); error {:.1} % in sales, {:.1} % in \
         revenue",
        100.0 * no_feedback_share,
        100.0 * sales_error,
        100.0 * revenue_error
    );
    assert!(true_sales > 200, "enough sales to measure: {true_sales}");
    assert!(
        sales_error <= no_feedback_share,
        "the sales error {sales_error:.3} is within the share of sales without feedback \
         {no_feedback_share:.3}"
    );
    assert!(
        revenue_error <= no_feedback_share + 0.05,
        "the revenue error {revenue_error:.3} is near the share of sales without feedback"
    );
    assert_eq!(priced, estimated, "every sale is priced");
    assert!(estimated <= true_sales + world.feedback.iter().filter(|f| f.fake).count());

    // 3. Fake-review campaigns: vendors whose campaign fell before their market's last crawl.
    let flags = review_flags(&data);
    let flagged: BTreeSet<u32> = flags
        .iter()
        .filter(|f| f.flag == "suspected_campaign")
        .filter_map(|f| {
            world
                .vendor_by_handle(market_of[f.market.as_str()], &f.vendor)
                .map(|v| v.id)
        })
        .collect();
    let campaigns: BTreeSet<u32> = world
        .vendors
        .iter()
        .filter(|v| observed.contains(&v.id))
        .filter(|v| {
            v.fake_campaign
                .is_some_and(|(_, end)| end <= last_up[&v.market])
        })
        .map(|v| v.id)
        .collect();
    let caught = flagged.intersection(&campaigns).count();
    println!(
        "fake reviews: {} campaigns among the observed vendors, {} vendors flagged, {caught} \
         campaigns caught (recall {:.3}, precision {:.3})",
        campaigns.len(),
        flagged.len(),
        ratio(caught, campaigns.len()),
        ratio(caught, flagged.len())
    );
    for f in flags.iter().filter(|f| f.flag == "suspected_campaign") {
        println!("  {}:{} {}", f.market, f.vendor, f.evidence);
    }
    for &missed in campaigns.difference(&flagged) {
        let v = &world.vendors[missed as usize];
        let (start, end) = v.fake_campaign.unwrap();
        let market = &world.markets[v.market as usize].slug;
        let stored: Vec<String> = data
            .feedback
            .iter()
            .filter(|f| &f.market == market && f.vendor.as_deref() == Some(v.handle.as_str()))
            .map(|f| Dataset::feedback_day(f).to_string())
            .collect();
        let fakes = world
            .feedback
            .iter()
            .filter(|f| f.fake && f.vendor == missed)
            .count();
        println!(
            "  missed campaign {market}:{} days {start}..{end} ({} to {}), {fakes} fake reviews; \
             stored entry days: {stored:?}",
            v.handle,
            world.date(start),
            world.date(end)
        );
    }
    assert!(!campaigns.is_empty(), "the world has fake-review campaigns");
    assert_eq!(caught, campaigns.len(), "every campaign is detected");
    assert!(
        ratio(caught, flagged.len()) >= 0.75,
        "few false campaign flags"
    );

    // 4. Migrations after the seizure.
    let (_, migrations) = event_tables(&data, &profiles, &links);
    let seized = world
        .events
        .iter()
        .find(|e| e.kind == dnmscope_sim::EventKind::Seizure)
        .unwrap();
    let seized_slug = &world.markets[seized.market as usize].slug;
    let true_moves: BTreeSet<(usize, usize)> = (0..profiles.len())
        .flat_map(|to| (0..profiles.len()).map(move |from| (from, to)))
        .filter(|&(from, to)| {
            world.vendors[accounts[to] as usize].migrated_from == Some(accounts[from])
                && world.vendors[accounts[from] as usize].market == seized.market
        })
        .collect();
    let reported = |new_only: bool| -> BTreeSet<(usize, usize)> {
        migrations
            .iter()
            .filter(|m| &m.event_market == seized_slug && m.event_kind == "seizure_banner")
            .filter(|m| !new_only || m.new_account)
            .map(|m| (m.from, m.to))
            .collect()
    };
    let found = reported(true);
    let recovered = true_moves.intersection(&found).count();
    println!(
        "migrations after the seizure of {seized_slug}: {} true moves to new accounts between \
         observed accounts, {} reported, {recovered} recovered (recall {:.3}, precision {:.3})",
        true_moves.len(),
        found.len(),
        ratio(recovered, true_moves.len()),
        ratio(recovered, found.len())
    );
    assert!(!true_moves.is_empty(), "vendors moved after the seizure");
    assert!(ratio(recovered, true_moves.len()) > 0.95);
    assert!(ratio(recovered, found.len()) > 0.95);
    // Reappearance in general: a lost vendor's person active on another market after the
    // seizure, through a new account or one it already had.
    let seizure_at = data
        .events
        .iter()
        .find(|e| &e.market == seized_slug && e.kind == "seizure_banner")
        .unwrap()
        .observed_at;
    let true_reappearances: BTreeSet<(usize, usize)> = (0..profiles.len())
        .flat_map(|from| (0..profiles.len()).map(move |to| (from, to)))
        .filter(|&(from, to)| {
            let (a, b) = (&profiles[from], &profiles[to]);
            &a.market == seized_slug
                && b.market != a.market
                && b.last_seen >= seizure_at
                && a.last_seen < seizure_at
                && world.vendors[accounts[from] as usize].person
                    == world.vendors[accounts[to] as usize].person
        })
        .collect();
    let all = reported(false);
    let right = all.intersection(&true_reappearances).count();
    println!(
        "reappearance after the seizure: {} lost vendors' accounts active elsewhere afterwards, \
         {} reported, {right} right (recall {:.3}, precision {:.3})",
        true_reappearances.len(),
        all.len(),
        ratio(right, true_reappearances.len()),
        ratio(right, all.len())
    );
    assert!(ratio(right, true_reappearances.len()) > 0.95);
    assert!(ratio(right, all.len()) > 0.95);

    // Every indicator computes on this store, and the tables are consistent with the rows.
    let indicators = compute_all(
        &store,
        &Filter {
            period: Period::Week,
            ..Filter::default()
        },
    )
    .await
    .unwrap();
    let names: Vec<&str> = indicators.tables.iter().map(|t| t.name.as_str()).collect();
    println!("tables: {}", names.join(", "));
    for table in &indicators.tables {
        for row in &table.rows {
            assert_eq!(row.len(), table.columns.len(), "{}", table.name);
        }
    }
    let by_vendor = indicators.table("sales_by_vendor").unwrap();
    let total: i64 = by_vendor
        .rows
        .iter()
        .map(|r| match r[3] {
            dnmscope_analytics::Cell::Integer(n) => n,
            _ => 0,
        })
        .sum();
    assert_eq!(
        total as usize, estimated,
        "sales_by_vendor adds up to the estimate"
    );
    let impact = indicators.table("event_impact").unwrap();
    assert!(
        impact
            .rows
            .iter()
            .any(|r| r[1] == dnmscope_analytics::Cell::Text("seizure_banner".into())),
        "the seizure's impact is reported"
    );
    let harm = indicators.table("harm_reduction").unwrap();
    let topics: BTreeMap<String, i64> = harm.rows.iter().fold(BTreeMap::new(), |mut acc, r| {
        if let (dnmscope_analytics::Cell::Text(t), dnmscope_analytics::Cell::Integer(n)) =
            (&r[2], &r[4])
        {
            *acc.entry(t.clone()).or_default() += n;
        }
        acc
    });
    println!("harm-reduction posts by topic: {topics:?}");
    assert_eq!(topics.len(), 5, "every harm-reduction topic is discussed");
    println!(
        "validation done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
