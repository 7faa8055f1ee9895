//! Fetch throughput over loopback against dnmscope-sim with no rate limit, and the fetcher's
//! overhead per request compared with a bare hyper client on the same pages.
//!
//! Run: `cargo bench -p dnmscope-fetch --bench fetch`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dnmscope_fetch::{Fetcher, Limits, LoopbackTransport, MarketSpec, Politeness, TokioClock};
use dnmscope_model::{CrawlId, MarketName};
use dnmscope_sim::{generate, ServerConfig, SimServer, WorldConfig};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

const REQUESTS: usize = 2_000;
const CONCURRENCY: usize = 8;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let world = Arc::new(generate(&WorldConfig::small(1)).expect("world"));
    let server = SimServer::start(
        world.clone(),
        ServerConfig::open(3),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("server");
    let addr = server.addr();
    let market = &world.markets[0];
    let host = market.hosts[0].clone();
    let transport = Arc::new(
        LoopbackTransport::new(market.hosts.iter().map(|h| (h.clone(), addr))).expect("transport"),
    );
    let fetcher = Arc::new(Fetcher::new(
        transport,
        Arc::new(TokioClock::new()),
        Limits::default(),
        vec![MarketSpec {
            name: MarketName::new(&market.slug).unwrap(),
            hosts: market.hosts.clone(),
            politeness: Politeness {
                requests_per_minute: u32::MAX,
                jitter: Duration::ZERO,
                max_concurrent: CONCURRENCY as u32,
                ..Politeness::default()
            },
        }],
        CrawlId(1),
    ));
    let url = format!("http://{host}/");

    // Sequential: latency per request through the fetcher and with bare hyper.
    let fetcher_each = time(REQUESTS / 4, || {
        let fetcher = fetcher.clone();
        let (slug, url) = (market.slug.clone(), url.clone());
        async move {
            fetcher.fetch(&slug, &url).await.expect("fetch");
        }
    })
    .await;
    let bare_each = time(REQUESTS / 4, || {
        let host = host.clone();
        async move {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .unwrap();
            tokio::spawn(conn);
            let request = http::Request::get("/")
                .header("Host", host)
                .body(Empty::<Bytes>::new())
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            response.into_body().collect().await.unwrap();
        }
    })
    .await;

    // Throughput with CONCURRENCY fetches in flight.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..CONCURRENCY {
        let fetcher = fetcher.clone();
        let (slug, url) = (market.slug.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            for _ in (worker..REQUESTS).step_by(CONCURRENCY) {
                fetcher.fetch(&slug, &url).await.expect("fetch");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let throughput = REQUESTS as f64 / started.elapsed().as_secs_f64();
    println!("fetch/loopback: {throughput:.0} pages/s with {CONCURRENCY} in flight ({REQUESTS} pages, no rate limit)");
    println!(
        "fetch/sequential: {:.0} µs per page through the fetcher, {:.0} µs with bare hyper: overhead {:.0} µs per request",
        fetcher_each.as_secs_f64() * 1e6,
        bare_each.as_secs_f64() * 1e6,
        (fetcher_each.as_secs_f64() - bare_each.as_secs_f64()) * 1e6
    );
    server.stop().await;
}

async fn time<F, Fut>(count: usize, mut make: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    make().await;
    let started = Instant::now();
    for _ in 0..count {
        make().await;
    }
    started.elapsed() / count as u32
}
