//! `dnmscope demo`: the whole instrument on the embedded default. It starts the simulated markets
//! in-process on loopback, crawls them through `dnmscope-fetch` (loopback transport, polite
//! rates) into a SQLite store, one snapshot per simulated day, and says what was collected and
//! how to look at it. The serving and crawling are the test bed's (`dnmscope-testbed`), as in
//! the validation test and `dnmscope validate`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use dnmscope_crawl::{table, Stop};
use dnmscope_model::PseudonymKey;
use dnmscope_sim::{generate, WorldConfig};
use dnmscope_store::{Store, StoreOptions};
use dnmscope_testbed::CrawlSettings;

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
    let bed = dnmscope_testbed::Testbed::start(world.clone(), 0)
        .await
        .context("starting the simulated markets")?;
    let addr = bed.addr();
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
    let pseudonyms = PseudonymKey::from_bytes(
        *blake3::hash(format!("demo pseudonym key {}", args.seed).as_bytes()).as_bytes(),
    );
    let settings = CrawlSettings {
        requests_per_minute: args.rate,
        per_market_concurrency: 4,
        concurrency: 12,
        max_pages: Some(args.max_pages),
        max_depth: 20,
        pause: Duration::from_secs(30),
        pseudonyms,
    };

    let stop = Stop::new();
    let ctrl_c = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping after the pages in flight (the run can be resumed)");
            ctrl_c.request();
        }
    });

    let mut crawled_days = Vec::new();
    for day in (0..world.config.days)
        .step_by(args.every as usize)
        .take(args.days as usize)
    {
        crawled_days.push(day);
        let day_started = Instant::now();
        let outcome = bed
            .crawl_day(&store, day, &settings, &stop)
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
    let violations = bed.violations().len();
    bed.stop().await;
    let stats = store.stats().await?;
    println!("\n{stats}");
    println!(
        "done in {:.1} s; the simulator saw {violations} state-changing or hidden-link requests.",
        started.elapsed().as_secs_f64()
    );
    println!("look at it with: dnmscope db stats --db {0}   or   sqlite3 {0} 'SELECT * FROM listing_observations_view LIMIT 5'", store.location());
    let report_dir = super::report::demo_report_dir(store_options);
    // The demo's world is known: how the analytics did on it is the report's last section.
    let data = dnmscope_analytics::Dataset::load(
        &store,
        &Default::default(),
        dnmscope_analytics::Period::Week,
    )
    .await
    .context("loading the crawled data to score it")?;
    let card = dnmscope_testbed::score(&world, "demo", &data, &crawled_days);
    let accuracy = super::validate::sections(&[("demo".to_string(), vec![card])]);
    let report = super::report::write_report(&store, &report_dir, accuracy).await?;
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
