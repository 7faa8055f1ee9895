//! Benchmark of the simulator: how long the benchmark-sized world (3 markets,
//! 60 days, ~500 vendor accounts, ~20,000 listings) takes to generate, and how
//! many pages per second the server answers over loopback HTTP.
//!
//! Run with `cargo bench -p dnmscope-sim`. It prints figures; it asserts
//! nothing about speed (that is what tests must never do).
//! `DNMSCOPE_BENCH_REQUESTS` sets the number of requests (default 20000).

use std::sync::Arc;
use std::time::Instant;

use dnmscope_sim::view::{self, Ctx};
use dnmscope_sim::{generate, Page, ServerConfig, SimServer, WorldConfig};

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let requests: usize = std::env::var("DNMSCOPE_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let started = Instant::now();
    let world = generate(&WorldConfig::new(1)).expect("world generates");
    let generation = started.elapsed();
    println!(
        "generate: {} markets, {} days, {} vendor accounts, {} listings, {} orders, {} reviews, {} posts in {:.2} s (peak RSS {:.0} MiB)",
        world.markets.len(),
        world.config.days,
        world.vendors.len(),
        world.listings.len(),
        world.sales.len(),
        world.feedback.len(),
        world.posts.len(),
        generation.as_secs_f64(),
        peak_rss_mib()
    );

    // The pages to ask for: a crawl-like mix on day 30 across all markets.
    let day = 30;
    let mut targets: Vec<(String, String)> = Vec::new();
    for market in world
        .markets
        .iter()
        .filter(|m| world.state(m.id, day) == dnmscope_sim::MarketState::Up)
    {
        let ctx = Ctx {
            world: &world,
            market,
            day,
            layout: 1,
        };
        let host = market.hosts[0].clone();
        for (n, listing) in view::active_listings(&ctx).enumerate().take(3000) {
            targets.push((
                host.clone(),
                ctx.url(&Page::Listing {
                    id: listing.public_id.clone(),
                }),
            ));
            let vendor = &world.vendors[listing.vendor as usize];
            if n % 5 == 0 {
                targets.push((
                    host.clone(),
                    ctx.url(&Page::Vendor {
                        handle: vendor.handle.clone(),
                    }),
                ));
                targets.push((
                    host.clone(),
                    ctx.url(&Page::Feedback {
                        handle: vendor.handle.clone(),
                        page: 1,
                    }),
                ));
            }
            if n % 20 == 0 {
                targets.push((
                    host.clone(),
                    ctx.url(&Page::Category {
                        slug: "cannabis".into(),
                        page: 1 + (n / 20) as u32 % 5,
                    }),
                ));
                targets.push((
                    host.clone(),
                    ctx.url(&Page::Search {
                        query: "mdma".into(),
                        page: 1,
                    }),
                ));
            }
        }
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let world = Arc::new(world);
        let server = SimServer::start(world.clone(), ServerConfig::open(day), "127.0.0.1:0".parse().unwrap())
            .await
            .expect("server starts");
        let addr = server.addr();
        let mut builder = reqwest::Client::builder().no_proxy();
        for market in &world.markets {
            for host in &market.hosts {
                builder = builder.resolve(host, addr);
            }
        }
        let client = builder.build().expect("client");
        let targets = Arc::new(targets);
        let workers = 8;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for worker in 0..workers {
            let client = client.clone();
            let targets = targets.clone();
            tasks.push(tokio::spawn(async move {
                let (mut pages, mut bytes, mut errors) = (0usize, 0usize, 0usize);
                let mut i = worker;
                while i < requests {
                    let (host, path) = &targets[i % targets.len()];
                    match client.get(format!("http://{host}:{}{path}", addr.port())).send().await {
                        Ok(response) if response.status().is_success() => {
                            bytes += response.bytes().await.map_or(0, |b| b.len());
                            pages += 1;
                        }
                        _ => errors += 1,
                    }
                    i += workers;
                }
                (pages, bytes, errors)
            }));
        }
        let (mut pages, mut bytes, mut errors) = (0, 0, 0);
        for task in tasks {
            let (p, b, e) = task.await.expect("worker");
            pages += p;
            bytes += b;
            errors += e;
        }
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "serve: {pages} pages ({errors} errors, {:.1} MiB) in {elapsed:.2} s over loopback HTTP with {workers} concurrent clients: {:.0} pages/s (client and server share this machine; peak RSS {:.0} MiB)",
            bytes as f64 / (1 << 20) as f64,
            pages as f64 / elapsed,
            peak_rss_mib()
        );
        server.stop().await;
    });
}
