//! The fetcher against dnmscope-sim over loopback, a tiny 429 server and a fake SOCKS5 server:
//! caps, deadlines, the redirect policy, rate limits counted from the server's own request log
//! in fake time, Retry-After, SOCKS5h with per-market usernames, no local name resolution, WARC
//! files checked by `warcio`, and embedded Tor failing cleanly without a network.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dnmscope_fetch::{
    Clock, ErrorKind, FakeClock, FetchError, Fetcher, Limits, LoopbackTransport, MarketSpec,
    Politeness, RedirectRefusal, Resolver, SocksTransport, TokioClock,
};
use dnmscope_model::{CrawlId, MarketName, Truncation};
use dnmscope_sim::{generate, Hostile, ServerConfig, SimServer, World, WorldConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn world() -> Arc<World> {
    Arc::new(generate(&WorldConfig::small(7)).expect("world generates"))
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// The simulator's clock reads the fetcher's fake clock, so its log is in the same time.
struct SimClock(FakeClock);

impl dnmscope_sim::Clock for SimClock {
    fn now(&self) -> Duration {
        Clock::now(&self.0)
    }
}

fn specs(world: &World, politeness: &Politeness) -> Vec<MarketSpec> {
    world
        .markets
        .iter()
        .map(|m| MarketSpec {
            name: MarketName::new(&m.slug).unwrap(),
            hosts: m.hosts.clone(),
            politeness: politeness.clone(),
        })
        .collect()
}

fn unlimited() -> Politeness {
    Politeness {
        requests_per_minute: 6_000_000,
        jitter: Duration::ZERO,
        max_concurrent: 64,
        ..Politeness::default()
    }
}

fn loopback_transport(world: &World, addr: SocketAddr) -> Arc<LoopbackTransport> {
    let hosts = world
        .markets
        .iter()
        .flat_map(|m| m.hosts.iter().map(move |h| (h.clone(), addr)));
    Arc::new(LoopbackTransport::new(hosts).unwrap())
}

fn limits() -> Limits {
    Limits {
        max_body_bytes: 1 << 20,
        total_timeout: Duration::from_secs(10),
        backoff: Duration::from_millis(10),
        ..Limits::default()
    }
}

async fn hostile_sim() -> (SimServer, Fetcher, Arc<World>) {
    let world = world();
    let config = ServerConfig {
        hostile: Hostile::ALL.into_iter().collect(),
        ..ServerConfig::open(3)
    };
    let server = SimServer::start(world.clone(), config, loopback())
        .await
        .unwrap();
    let fetcher = Fetcher::new(
        loopback_transport(&world, server.addr()),
        Arc::new(TokioClock::new()),
        limits(),
        specs(&world, &unlimited()),
        CrawlId(1),
    );
    (server, fetcher, world)
}

fn url(world: &World, market: usize, path: &str) -> (String, String) {
    let m = &world.markets[market];
    (m.slug.clone(), format!("http://{}{path}", m.hosts[0]))
}

#[tokio::test]
async fn pages_come_back_as_captures_with_browser_headers() {
    let (server, fetcher, world) = hostile_sim().await;
    let (market, home) = url(&world, 0, "/");
    let fetched = fetcher.fetch(&market, &home).await.unwrap();
    assert_eq!(fetched.capture.status, 200);
    assert!(fetched.capture.truncated.is_none());
    assert!(String::from_utf8_lossy(&fetched.capture.body).contains("<html"));
    let log = server.requests();
    let headers: BTreeMap<_, _> = log[0].headers.iter().cloned().collect();
    assert!(
        headers["user-agent"].contains("Firefox/128.0"),
        "{headers:?}"
    );
    assert_eq!(headers["accept-encoding"], "gzip, deflate");
    assert_eq!(headers["host"], world.markets[0].hosts[0]);
    assert!(server.violations().is_empty());
    // A host of another market is refused before anything is sent.
    let (_, other) = url(&world, 1, "/");
    let err = fetcher.fetch(&market, &other).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Fatal);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn redirects_leaving_the_market_are_recorded_not_followed() {
    let (server, fetcher, world) = hostile_sim().await;
    for (path, reason) in [
        ("/h/offsite", RedirectRefusal::OtherHost),
        ("/h/onion", RedirectRefusal::OtherHost),
        ("/h/port", RedirectRefusal::OtherPort),
        ("/h/local", RedirectRefusal::LocalAddress),
        ("/h/file", RedirectRefusal::Scheme),
    ] {
        let (market, target) = url(&world, 0, path);
        let fetched = fetcher.fetch(&market, &target).await.unwrap();
        let refused = fetched.refused_redirect.expect(path);
        assert_eq!(refused.reason, reason, "{path}");
        assert_eq!(fetched.capture.status, 302, "{path}");
        assert_eq!(
            fetched.capture.header("location"),
            Some(refused.location.as_str())
        );
        assert!(fetched.redirects.is_empty());
    }
    // Only the five hostile requests reached the server, all to the market's own host.
    let log = server.requests();
    assert_eq!(log.len(), 5);
    assert!(log.iter().all(|r| r.host == world.markets[0].hosts[0]));
}

#[tokio::test]
async fn a_compression_bomb_stops_at_the_cap() {
    let (_server, fetcher, world) = hostile_sim().await;
    let (market, target) = url(&world, 0, "/h/bomb");
    let fetched = fetcher.fetch(&market, &target).await.unwrap();
    assert_eq!(fetched.capture.truncated, Some(Truncation::Length));
    assert_eq!(
        fetched.capture.body.len(),
        1 << 20,
        "exactly the cap, after decompression"
    );
    let (market, target) = url(&world, 0, "/h/oversized");
    let fetched = fetcher.fetch(&market, &target).await.unwrap();
    assert_eq!(fetched.capture.truncated, Some(Truncation::Length));
    assert_eq!(fetched.capture.body.len(), 1 << 20);
}

#[tokio::test(start_paused = true)]
async fn a_slow_body_stops_at_the_deadline() {
    let (_server, fetcher, world) = hostile_sim().await;
    let (market, target) = url(&world, 0, "/h/slow");
    let started = tokio::time::Instant::now();
    let fetched = fetcher.fetch(&market, &target).await.unwrap();
    assert_eq!(fetched.capture.truncated, Some(Truncation::Time));
    // One byte per 100 ms of (paused) time, cut at the 10 s total deadline.
    assert!(
        (99..=100).contains(&fetched.capture.body.len()),
        "{}",
        fetched.capture.body.len()
    );
    assert_eq!(started.elapsed(), Duration::from_secs(10));
}

#[tokio::test]
async fn a_truncated_body_is_marked_truncated() {
    let (_server, fetcher, world) = hostile_sim().await;
    let (market, target) = url(&world, 0, "/h/truncated");
    let fetched = fetcher.fetch(&market, &target).await.unwrap();
    assert_eq!(fetched.capture.truncated, Some(Truncation::Disconnect));
    assert_eq!(fetched.capture.body.len(), 20_000);
}

/// Counts, from the simulator's own log, the most requests of one market in any window.
fn most_in_window(times_ms: &[u64], window_ms: u64) -> usize {
    times_ms
        .iter()
        .map(|&start| {
            times_ms
                .iter()
                .filter(|&&t| t >= start && t < start + window_ms)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn rate_limits_hold_exactly_in_fake_time() {
    let world = world();
    let clock = FakeClock::new();
    let server = SimServer::start_with_clock(
        world.clone(),
        ServerConfig::open(3),
        loopback(),
        Arc::new(SimClock(clock.clone())),
    )
    .await
    .unwrap();
    // Three markets, three rates, jitter on, several requests in flight per market.
    let rates = [90u32, 30, 7];
    let mut markets = Vec::new();
    for (m, rate) in world.markets.iter().zip(rates) {
        markets.push(MarketSpec {
            name: MarketName::new(&m.slug).unwrap(),
            hosts: m.hosts.clone(),
            politeness: Politeness {
                requests_per_minute: rate,
                jitter: Duration::from_millis(700),
                max_concurrent: 3,
                ..Politeness::default()
            },
        });
    }
    let fetcher = Arc::new(Fetcher::new(
        loopback_transport(&world, server.addr()),
        Arc::new(clock.clone()),
        limits(),
        markets,
        CrawlId(1),
    ));
    let mut tasks = Vec::new();
    for (i, m) in world.markets.iter().enumerate() {
        for n in 0..[150, 50, 12][i] {
            let fetcher = fetcher.clone();
            let slug = m.slug.clone();
            let target = format!("http://{}/?n={n}", m.hosts[n % m.hosts.len()]);
            tasks.push(tokio::spawn(
                async move { fetcher.fetch(&slug, &target).await },
            ));
        }
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let log = server.requests();
    assert_eq!(log.len(), 150 + 50 + 12);
    for (i, rate) in rates.into_iter().enumerate() {
        let times: Vec<u64> = log
            .iter()
            .filter(|r| r.market == Some(world.markets[i].id))
            .map(|r| r.at_ms)
            .collect();
        let per_minute = most_in_window(&times, 60_000);
        let per_second = most_in_window(&times, 1_000);
        assert!(
            per_minute <= rate as usize,
            "market {i}: {per_minute} in 60 s, limit {rate}"
        );
        assert!(
            per_second <= rate.div_ceil(60) as usize,
            "market {i}: {per_second} in 1 s"
        );
        // And the limit is used, not just respected: the busiest minute is full.
        assert!(
            per_minute * 2 >= rate as usize,
            "market {i}: only {per_minute} in the busiest minute"
        );
    }
}

/// A server that answers 429 with Retry-After the first time, then 200; it logs arrival times
/// by the fake clock.
async fn retry_after_server(
    clock: FakeClock,
    retry_after: &'static str,
) -> (SocketAddr, Arc<Mutex<Vec<Duration>>>) {
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let log = arrivals.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = vec![0u8; 4096];
            let mut read = 0;
            while !buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buffer[read..]).await.unwrap();
                if n == 0 {
                    break;
                }
                read += n;
            }
            let first = {
                let mut log = log.lock().unwrap();
                log.push(Clock::now(&clock));
                log.len() == 1
            };
            let response = if first {
                format!("HTTP/1.1 429 Too Many Requests\r\nRetry-After: {retry_after}\r\nContent-Length: 4\r\n\r\nslow")
            } else {
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_string()
            };
            socket.write_all(response.as_bytes()).await.unwrap();
        }
    });
    (addr, arrivals)
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let clock = FakeClock::new();
    let (addr, arrivals) = retry_after_server(clock.clone(), "120").await;
    let transport = Arc::new(LoopbackTransport::new([("ra.onion".to_string(), addr)]).unwrap());
    let politeness = Politeness {
        requests_per_minute: 60,
        jitter: Duration::ZERO,
        ..Politeness::default()
    };
    let fetcher = Fetcher::new(
        transport,
        Arc::new(clock.clone()),
        limits(),
        vec![MarketSpec {
            name: MarketName::new("ra").unwrap(),
            hosts: vec!["ra.onion".to_string()],
            politeness,
        }],
        CrawlId(1),
    );
    let fetched = fetcher.fetch("ra", "http://ra.onion/").await.unwrap();
    assert_eq!(fetched.capture.status, 200);
    assert_eq!(fetched.attempts, 2);
    let arrivals = arrivals.lock().unwrap().clone();
    assert_eq!(arrivals, [Duration::ZERO, Duration::from_secs(120)]);
    // The market pushed back: the next request waits for the slow-down, not just the rate.
    fetcher.fetch("ra", "http://ra.onion/").await.unwrap();
    assert!(Clock::now(&clock) >= Duration::from_secs(121));
}

#[tokio::test]
async fn retries_run_out_with_the_capture_kept_and_a_rate_limited_kind() {
    let clock = FakeClock::new();
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            let _ = socket
                .write_all(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Length: 4\r\n\r\nslow")
                .await;
        }
    });
    let fetcher = Fetcher::new(
        Arc::new(LoopbackTransport::new([("ra.onion".to_string(), addr)]).unwrap()),
        Arc::new(clock.clone()),
        limits(),
        vec![MarketSpec {
            name: MarketName::new("ra").unwrap(),
            hosts: vec!["ra.onion".to_string()],
            politeness: Politeness::default(),
        }],
        CrawlId(1),
    );
    let err = fetcher.fetch("ra", "http://ra.onion/").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    let FetchError::GaveUp {
        capture, attempts, ..
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!(attempts, 3);
    assert_eq!(capture.body, b"slow");
}

#[tokio::test]
async fn a_market_that_refuses_connections_is_site_down() {
    // Bind then drop a listener: its port refuses connections.
    let addr = tokio::net::TcpListener::bind(loopback())
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let fetcher = Fetcher::new(
        Arc::new(LoopbackTransport::new([("down.onion".to_string(), addr)]).unwrap()),
        Arc::new(FakeClock::new()),
        limits(),
        vec![MarketSpec {
            name: MarketName::new("down").unwrap(),
            hosts: vec!["down.onion".to_string()],
            politeness: unlimited(),
        }],
        CrawlId(1),
    );
    let err = fetcher
        .fetch("down", "http://down.onion/")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SiteDown, "{err}");
}

/// A resolver that fails the test if anything asks it for a name.
#[derive(Debug)]
struct PanickingResolver;

impl Resolver for PanickingResolver {
    fn resolve(&self, host: &str) -> Result<std::net::IpAddr, FetchError> {
        panic!("something tried to resolve {host} locally");
    }
}

/// A SOCKS5 server that logs (username, address type, host) and forwards to the simulator.
async fn fake_socks(upstream: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<(String, u8, String)>>>) {
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut client, _) = listener.accept().await.unwrap();
            let log = log.clone();
            tokio::spawn(async move {
                let mut greeting = [0u8; 2];
                client.read_exact(&mut greeting).await.unwrap();
                let mut methods = vec![0u8; greeting[1] as usize];
                client.read_exact(&mut methods).await.unwrap();
                assert!(methods.contains(&2), "username authentication offered");
                client.write_all(&[5, 2]).await.unwrap();
                let mut head = [0u8; 2];
                client.read_exact(&mut head).await.unwrap();
                let mut user = vec![0u8; head[1] as usize];
                client.read_exact(&mut user).await.unwrap();
                let mut plen = [0u8; 1];
                client.read_exact(&mut plen).await.unwrap();
                let mut pass = vec![0u8; plen[0] as usize];
                client.read_exact(&mut pass).await.unwrap();
                client.write_all(&[1, 0]).await.unwrap();
                let mut request = [0u8; 4];
                client.read_exact(&mut request).await.unwrap();
                let host = match request[3] {
                    3 => {
                        let mut len = [0u8; 1];
                        client.read_exact(&mut len).await.unwrap();
                        let mut name = vec![0u8; len[0] as usize];
                        client.read_exact(&mut name).await.unwrap();
                        String::from_utf8(name).unwrap()
                    }
                    1 => {
                        let mut ip = [0u8; 4];
                        client.read_exact(&mut ip).await.unwrap();
                        std::net::Ipv4Addr::from(ip).to_string()
                    }
                    other => panic!("address type {other}"),
                };
                let mut port = [0u8; 2];
                client.read_exact(&mut port).await.unwrap();
                log.lock()
                    .unwrap()
                    .push((String::from_utf8(user).unwrap(), request[3], host));
                client
                    .write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])
                    .await
                    .unwrap();
                let mut server = tokio::net::TcpStream::connect(upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn socks5h_sends_names_with_a_username_per_market_and_never_resolves_locally() {
    let world = world();
    let server = SimServer::start(world.clone(), ServerConfig::open(3), loopback())
        .await
        .unwrap();
    let (proxy, seen) = fake_socks(server.addr()).await;
    let transport = SocksTransport::new(&format!("socks5h://{proxy}"), Arc::new(PanickingResolver));
    // The proxy is an IP literal, so even building the transport asks no resolver.
    let transport = Arc::new(transport.unwrap());
    let fetcher = Fetcher::new(
        transport,
        Arc::new(TokioClock::new()),
        limits(),
        specs(&world, &unlimited()),
        CrawlId(1),
    )
    .with_account("crawler1");
    for m in &world.markets {
        for host in &m.hosts {
            let fetched = fetcher
                .fetch(&m.slug, &format!("http://{host}/"))
                .await
                .unwrap();
            assert_eq!(fetched.capture.status, 200);
        }
    }
    let seen = seen.lock().unwrap().clone();
    let hosts: usize = world.markets.iter().map(|m| m.hosts.len()).sum();
    assert_eq!(seen.len(), hosts);
    assert!(
        seen.iter().all(|(_, atyp, _)| *atyp == 3),
        "every request names its host: {seen:?}"
    );
    for m in &world.markets {
        let users: std::collections::BTreeSet<&String> = seen
            .iter()
            .filter(|(_, _, host)| m.hosts.contains(host))
            .map(|(user, _, _)| user)
            .collect();
        assert_eq!(users.len(), 1, "one username per market and account");
        assert!(users.iter().next().unwrap().contains(&m.slug));
    }
    let all_users: std::collections::BTreeSet<&String> = seen.iter().map(|(u, _, _)| u).collect();
    assert_eq!(
        all_users.len(),
        world.markets.len(),
        "distinct usernames for distinct markets"
    );
    // And a socks5:// proxy is refused at start-up.
    let err =
        SocksTransport::new(&format!("socks5://{proxy}"), Arc::new(PanickingResolver)).unwrap_err();
    assert!(err.to_string().contains("socks5h"), "{err}");
}

#[tokio::test]
async fn imported_cookies_are_sent_and_set_cookie_updates_the_jar() {
    let world = world();
    let server = SimServer::start(world.clone(), ServerConfig::open(3), loopback())
        .await
        .unwrap();
    let fetcher = Fetcher::new(
        loopback_transport(&world, server.addr()),
        Arc::new(TokioClock::new()),
        limits(),
        specs(&world, &unlimited()),
        CrawlId(1),
    );
    let m = &world.markets[0];
    let file = format!(
        "{}\tFALSE\t/\tFALSE\t0\tsid\tabc123\nother.onion\tFALSE\t/\tFALSE\t0\tx\ty\n",
        m.hosts[0]
    );
    let jar = dnmscope_fetch::CookieJar::parse_netscape(&file, "cookies.txt").unwrap();
    fetcher.set_cookies(&m.slug, jar).unwrap();
    assert_eq!(
        fetcher.cookies(&m.slug).unwrap().len(),
        1,
        "cookies of other hosts are dropped"
    );
    fetcher
        .fetch(&m.slug, &format!("http://{}/", m.hosts[0]))
        .await
        .unwrap();
    assert_eq!(server.requests()[0].session.as_deref(), Some("abc123"));
}

fn warcio() -> Option<std::path::PathBuf> {
    if let Ok(path) = std::env::var("DNMSCOPE_WARCIO") {
        return Some(path.into());
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/venv/bin/warcio");
    if venv.exists() {
        return Some(venv);
    }
    std::process::Command::new("warcio")
        .arg("--help")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "warcio".into())
}

#[tokio::test]
async fn warc_files_pass_warcio_check() {
    let (_server, fetcher, world) = hostile_sim().await;
    let mut captures = Vec::new();
    for path in ["/", "/h/bomb", "/h/truncated", "/h/offsite"] {
        let (market, target) = url(&world, 1, path);
        captures.push(fetcher.fetch(&market, &target).await.unwrap().capture);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("captures.warc");
    let mut writer = dnmscope_fetch::warc::WarcWriter::new(std::fs::File::create(&path).unwrap());
    writer
        .write_info("captures.warc", chrono::Utc::now())
        .unwrap();
    for capture in &captures {
        writer.write_capture(capture).unwrap();
    }
    assert_eq!(writer.records(), 5);
    writer.finish().unwrap();
    let text = std::fs::read(&path).unwrap();
    assert!(String::from_utf8_lossy(&text).contains("WARC-Truncated: length"));
    let Some(warcio) = warcio() else {
        let what = "warcio is not installed (.ci/run installs it into .ci/venv): the WARC files were not checked by warcio";
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("{what}; under CI=true every check must run");
        }
        eprintln!("SKIPPED CHECK: {what}");
        return;
    };
    let output = std::process::Command::new(&warcio)
        .arg("check")
        .arg("-v")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "warcio check failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A keep-alive HTTP/1.1 server that logs, for every request, the connection it came on and its
/// `Host` header. `close_after_each` closes every connection after its first answer (without
/// saying so), as a server that drops idle connections does.
async fn keep_alive_server(
    close_after_each: bool,
    body_len: usize,
) -> (SocketAddr, Arc<Mutex<Vec<(usize, String)>>>) {
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    tokio::spawn(async move {
        for connection in 0.. {
            let (mut socket, _) = listener.accept().await.unwrap();
            let log = log.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                loop {
                    let mut chunk = [0u8; 4096];
                    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buffer[..end]).to_string();
                    buffer.drain(..end + 4);
                    let host = head
                        .lines()
                        .find_map(|l| {
                            l.split_once(':')
                                .filter(|(n, _)| n.eq_ignore_ascii_case("host"))
                                .map(|(_, v)| v.trim().to_string())
                        })
                        .unwrap_or_default();
                    log.lock().unwrap().push((connection, host));
                    let body = format!("<html>{}</html>", "x".repeat(body_len));
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if socket.write_all(response.as_bytes()).await.is_err() || close_after_each {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

fn two_markets(addr: SocketAddr, limits: Limits) -> Fetcher {
    let transport = LoopbackTransport::new([
        ("alpha.onion".to_string(), addr),
        ("alpha2.onion".to_string(), addr),
        ("beta.onion".to_string(), addr),
    ])
    .unwrap();
    let spec = |name: &str, hosts: &[&str]| MarketSpec {
        name: MarketName::new(name).unwrap(),
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        politeness: Politeness {
            max_concurrent: 4,
            ..unlimited()
        },
    };
    Fetcher::new(
        Arc::new(transport),
        Arc::new(TokioClock::new()),
        limits,
        vec![
            spec("alpha", &["alpha.onion", "alpha2.onion"]),
            spec("beta", &["beta.onion"]),
        ],
        CrawlId(1),
    )
}

#[tokio::test]
async fn keep_alive_reuses_connections_within_a_market_and_never_across_markets() {
    let (addr, log) = keep_alive_server(false, 2_000).await;
    let fetcher = Arc::new(two_markets(addr, limits()));
    let mut tasks = Vec::new();
    // 8 fetches in flight at a time against 4 allowed per market; 3 hosts, two of one market.
    for i in 0..120 {
        let fetcher = fetcher.clone();
        let (market, host) = match i % 3 {
            0 => ("alpha", "alpha.onion"),
            1 => ("alpha", "alpha2.onion"),
            _ => ("beta", "beta.onion"),
        };
        tasks.push(tokio::spawn(async move {
            let fetched = fetcher
                .fetch(market, &format!("http://{host}/page/{i}"))
                .await
                .unwrap();
            assert_eq!(fetched.capture.status, 200);
            assert!(fetched.capture.truncated.is_none());
            assert_eq!(fetched.attempts, 1);
        }));
        if tasks.len() == 8 {
            for task in tasks.drain(..) {
                task.await.unwrap();
            }
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 120);
    // Every connection carried one host only (and so one market only).
    let mut hosts_by_connection: BTreeMap<usize, std::collections::BTreeSet<String>> =
        BTreeMap::new();
    for (connection, host) in &log {
        hosts_by_connection
            .entry(*connection)
            .or_default()
            .insert(host.clone());
    }
    for (connection, hosts) in &hosts_by_connection {
        assert_eq!(hosts.len(), 1, "connection {connection} carried {hosts:?}");
    }
    // At most as many connections per host as requests were in flight for its market.
    let connections = hosts_by_connection.len();
    assert!(
        connections <= 3 * 4,
        "{connections} connections for 120 requests"
    );
    let stats = fetcher.connection_stats();
    assert_eq!(stats.opened as usize, connections);
    assert_eq!(stats.reused as usize, 120 - connections);
    assert!(fetcher.idle_connections() <= connections);
}

#[tokio::test]
async fn keep_alive_can_be_turned_off() {
    let (addr, log) = keep_alive_server(false, 10).await;
    let fetcher = two_markets(
        addr,
        Limits {
            max_idle_connections: 0,
            ..limits()
        },
    );
    for i in 0..5 {
        fetcher
            .fetch("alpha", &format!("http://alpha.onion/{i}"))
            .await
            .unwrap();
    }
    let connections: std::collections::BTreeSet<usize> =
        log.lock().unwrap().iter().map(|(c, _)| *c).collect();
    assert_eq!(connections.len(), 5);
    assert_eq!(fetcher.connection_stats().opened, 5);
    assert_eq!(fetcher.connection_stats().reused, 0);
}

#[tokio::test]
async fn a_connection_the_server_closed_is_replaced_without_costing_an_attempt() {
    let (addr, log) = keep_alive_server(true, 10).await;
    let fetcher = two_markets(
        addr,
        Limits {
            max_attempts: 1,
            ..limits()
        },
    );
    for i in 0..6 {
        let fetched = fetcher
            .fetch("beta", &format!("http://beta.onion/{i}"))
            .await
            .unwrap();
        assert_eq!(fetched.capture.status, 200);
        assert_eq!(fetched.attempts, 1);
    }
    let connections: std::collections::BTreeSet<usize> =
        log.lock().unwrap().iter().map(|(c, _)| *c).collect();
    assert_eq!(
        connections.len(),
        6,
        "each answer came on its own connection"
    );
    assert_eq!(fetcher.connection_stats().opened, 6);
}

#[tokio::test]
async fn idle_connections_expire_and_cut_bodies_are_never_reused() {
    let (addr, log) = keep_alive_server(false, 4_000).await;
    let fetcher = two_markets(
        addr,
        Limits {
            idle_timeout: Duration::from_millis(100),
            ..limits()
        },
    );
    fetcher
        .fetch("alpha", "http://alpha.onion/1")
        .await
        .unwrap();
    fetcher
        .fetch("alpha", "http://alpha.onion/2")
        .await
        .unwrap();
    assert_eq!(fetcher.connection_stats().opened, 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    fetcher
        .fetch("alpha", "http://alpha.onion/3")
        .await
        .unwrap();
    assert_eq!(fetcher.connection_stats().opened, 2, "the idle one expired");

    // A body cut at the cap leaves the connection mid-message: it is closed, not reused.
    let small = two_markets(
        addr,
        Limits {
            max_body_bytes: 1_000,
            ..limits()
        },
    );
    for i in 0..3 {
        let fetched = small
            .fetch("alpha", &format!("http://alpha.onion/cut/{i}"))
            .await
            .unwrap();
        assert_eq!(fetched.capture.truncated, Some(Truncation::Length));
    }
    assert_eq!(small.connection_stats().opened, 3);
    assert_eq!(small.connection_stats().reused, 0);
    assert_eq!(log.lock().unwrap().len(), 6);
}
