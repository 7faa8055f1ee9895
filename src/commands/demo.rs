//! `dnmscope demo`: the whole instrument on the embedded default. It starts the simulated markets
//! in-process on loopback, crawls them through `dnmscope-fetch` (loopback transport, polite
//! rates) into a SQLite store, one snapshot per simulated day, and says what was collected and
//! how to look at it.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use dnmscope_crawl::{crawl, table, CrawlConfig, FetchSource, MarketPlan, Stop};
use dnmscope_fetch::{Fetcher, Limits, LoopbackTransport, MarketSpec, Politeness, TokioClock};
use dnmscope_model::{CrawlId, MarketName, PseudonymKey};
use dnmscope_sim::view::Ctx;
use dnmscope_sim::{generate, Page, ServerConfig, SimServer, WorldConfig};
use dnmscope_store::{Store, StoreOptions};

use crate::cli::DemoArgs;

pub async fn run(args: DemoArgs, store_options: &StoreOptions) -> anyhow::Result<ExitCode> {
    if args.days == 0 || args.days > 60 {
        bail!("--days must be between 1 and 60, not {}", args.days);
    }
    if args.rate == 0 {
        bail!("--rate must be at least 1 request per minute");
    }
    let started = Instant::now();
    let world_config = WorldConfig {
        vendors: args.vendors,
        ..WorldConfig::small(args.seed)
    };
    let world = Arc::new(generate(&world_config).context("generating the simulated world")?);
    let server = SimServer::start(
        world.clone(),
        ServerConfig::open(0),
        "127.0.0.1:0".parse().expect("an address"),
    )
    .await
    .context("starting the simulated markets")?;
    let addr = server.addr();
    println!(
        "simulated world: seed {}, {} markets, {} vendor accounts, {} listings; serving on http://{addr}",
        args.seed,
        world.markets.len(),
        world.vendors.len(),
        world.listings.len()
    );

    let mut options = store_options.clone();
    options.create = true;
    let store = Store::open(&options).await.context("opening the store")?;
    let _writer = store
        .lock_writer("dnmscope demo")
        .context("taking the store's writer lock")?;
    let definitions =
        dnmscope_parse::builtin_markets().context("loading the built-in market definitions")?;
    let politeness = Politeness {
        requests_per_minute: args.rate,
        jitter: Duration::from_millis(20),
        max_concurrent: 4,
        ban_pause: Duration::from_secs(30),
        max_slowdown: Duration::from_secs(30),
    };
    let pseudonyms = PseudonymKey::from_bytes(
        *blake3::hash(format!("demo pseudonym key {}", args.seed).as_bytes()).as_bytes(),
    );

    let stop = Stop::new();
    let ctrl_c = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping after the pages in flight (the run can be resumed)");
            ctrl_c.request();
        }
    });

    for day in (0..world.config.days)
        .step_by(args.every as usize)
        .take(args.days as usize)
    {
        server.set_day(day);
        let mut plans = Vec::new();
        let mut specs = Vec::new();
        for market in &world.markets {
            let name = MarketName::new(&market.slug).context("a simulated market's name")?;
            let Some(definition) = definitions.iter().position(|d| d.name == market.slug) else {
                bail!(
                    "no market definition for the simulated market {}",
                    market.slug
                );
            };
            let ctx = Ctx {
                world: &world,
                market,
                day,
                layout: 1,
            };
            let base = format!("http://{}:{}", market.hosts[0], addr.port());
            plans.push(MarketPlan {
                name: name.clone(),
                definition: Arc::new(dnmscope_parse::builtin_markets()?.swap_remove(definition)),
                hosts: market.hosts.clone(),
                seeds: [Page::Home, Page::CategoryIndex, Page::Forum { page: 1 }]
                    .iter()
                    .map(|p| format!("{base}{}", ctx.url(p)))
                    .collect(),
                max_pages: Some(args.max_pages),
                max_depth: 20,
                session_params: Vec::new(),
            });
            specs.push(MarketSpec {
                name,
                hosts: market.hosts.clone(),
                politeness: politeness.clone(),
            });
        }
        let transport = LoopbackTransport::new(
            world
                .markets
                .iter()
                .flat_map(|m| m.hosts.iter().map(move |h| (h.clone(), addr))),
        )?;
        let fetcher = Fetcher::new(
            Arc::new(transport),
            Arc::new(TokioClock::new()),
            Limits {
                backoff: Duration::from_millis(200),
                ..Limits::default()
            },
            specs,
            CrawlId(0),
        );
        let config = CrawlConfig {
            markets: plans,
            concurrency: 12,
            max_attempts: 3,
            retry_delay: Duration::from_millis(500),
            ban_pause: Duration::from_secs(30),
            login_pause: Duration::from_secs(30),
            unreachable_after: 3,
            pseudonyms: pseudonyms.clone(),
            parse_limits: dnmscope_parse::Limits::default(),
        };
        let day_started = Instant::now();
        let outcome = crawl(
            &store,
            &FetchSource::new(fetcher, None).with_server_dates(),
            &config,
            &stop,
        )
        .await
        .context("crawling the simulated markets")?;
        println!(
            "\nday {day} ({}): {} in {:.1} s{}",
            world.date(day),
            outcome.crawl,
            day_started.elapsed().as_secs_f64(),
            match outcome.finish {
                Some(reason) => format!(", {}", reason.as_str()),
                None => ", stopped (resumable)".to_owned(),
            }
        );
        print!("{}", table(&outcome.accounting));
        if outcome.finish.is_none() {
            break;
        }
    }
    let violations = server.violations().len();
    server.stop().await;
    let stats = store.stats().await?;
    println!("\n{stats}");
    println!(
        "done in {:.1} s; the simulator saw {violations} state-changing or hidden-link requests.",
        started.elapsed().as_secs_f64()
    );
    println!("look at it with: dnmscope db stats --db {0}   or   sqlite3 {0} 'SELECT * FROM listing_observations_view LIMIT 5'", store.location());
    let report_dir = super::report::demo_report_dir(store_options);
    let report = super::report::write_report(&store, &report_dir).await?;
    println!(
        "report: {} (open it in a browser; charts as SVG, PNG and CSV in {})",
        report.index.display(),
        report_dir.join("charts").display()
    );
    store.close().await;
    Ok(if violations == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
