//! `fetch`, `doctor`, `session import` and `export warc`: the fetcher from the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
#[cfg(feature = "arti")]
use dnmscope_fetch::arti::{ArtiConfig, ArtiTransport};
use dnmscope_fetch::{
    CookieJar, Fetcher, LiteralResolver, LoopbackTransport, SharedTransport, SocksTransport,
    TokioClock,
};
use dnmscope_model::{CrawlId, MarketName};
use dnmscope_store::{Store, StoreOptions};

use crate::config::{Config, TransportKind};

#[cfg(feature = "arti")]
fn arti_config(config: &Config) -> anyhow::Result<ArtiConfig> {
    use dnmscope_fetch::arti::{AuthorityId, Fallback};
    let mut arti = ArtiConfig {
        data_dir: PathBuf::from(&config.fetch.data_dir),
        bootstrap_timeout: Duration::from_secs(config.fetch.bootstrap_timeout_secs),
        authorities: Vec::new(),
        fallbacks: Vec::new(),
        relax_permissions: false,
        ipv4_subnet_family_prefix: None,
        allow_local_addrs: false,
    };
    // Only a configured custom network changes anything: without it, the public Tor network.
    if let Some(network) = &config.fetch.tor_network {
        for (i, authority) in network.authorities.iter().enumerate() {
            arti.authorities.push(AuthorityId {
                name: authority.name.clone(),
                v3ident: authority.v3ident.clone(),
                dir_addr: authority
                    .address
                    .parse()
                    .with_context(|| format!("fetch.tor_network.authorities[{i}].address"))?,
            });
        }
        for (i, fallback) in network.fallbacks.iter().enumerate() {
            let orports = fallback
                .orports
                .iter()
                .map(|port| port.parse())
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("fetch.tor_network.fallbacks[{i}].orports"))?;
            arti.fallbacks.push(Fallback {
                rsa_identity: fallback.rsa_identity.clone(),
                ed_identity: fallback.ed_identity.clone(),
                orports,
            });
        }
        arti.relax_permissions = network.relax_storage_permissions;
        arti.ipv4_subnet_family_prefix = network.ipv4_subnet_family_prefix;
        arti.allow_local_addrs = network.allow_local_addrs;
    }
    Ok(arti)
}

/// Which Tor network embedded Tor joins, for messages.
#[cfg(feature = "arti")]
fn network_description(config: &Config) -> String {
    match &config.fetch.tor_network {
        None => "the public Tor network".to_string(),
        Some(network) => format!(
            "a custom Tor network ([fetch.tor_network]: {} directory authorities, {} fallback caches)",
            network.authorities.len(),
            network.fallbacks.len()
        ),
    }
}

/// A started transport, and embedded Tor's own handle when it is the transport (for its
/// bootstrap report and the circuits each market used).
pub struct Started {
    pub transport: SharedTransport,
    #[cfg(feature = "arti")]
    arti: Option<Arc<ArtiTransport>>,
}

/// The configured transport, started.
pub async fn transport(config: &Config) -> anyhow::Result<Started> {
    let transport: SharedTransport = match config.fetch.transport {
        #[cfg(feature = "arti")]
        TransportKind::Arti => {
            eprintln!(
                "bootstrapping embedded Tor on {} (state in {}/arti)…",
                network_description(config),
                config.fetch.data_dir
            );
            let arti = Arc::new(ArtiTransport::bootstrap(&arti_config(config)?).await?);
            return Ok(Started {
                transport: arti.clone(),
                arti: Some(arti),
            });
        }
        #[cfg(not(feature = "arti"))]
        TransportKind::Arti => bail!("{NO_ARTI}"),
        TransportKind::Socks => Arc::new(SocksTransport::new(
            &config.fetch.socks_url,
            Arc::new(LiteralResolver),
        )?),
        TransportKind::Loopback => {
            let addr = config
                .fetch
                .loopback_addr
                .parse()
                .context("fetch.loopback_addr is not an address")?;
            let hosts = config
                .markets
                .values()
                .flat_map(|m| m.hosts.iter().map(move |h| (h.clone(), addr)));
            Arc::new(LoopbackTransport::new(hosts)?)
        }
    };
    Ok(Started {
        transport,
        #[cfg(feature = "arti")]
        arti: None,
    })
}

pub fn session_path(config: &Config, market: &str) -> PathBuf {
    Path::new(&config.fetch.data_dir)
        .join("sessions")
        .join(format!("{market}.{}.cookies.txt", config.fetch.account))
}

/// The host of an `http://HOST[:PORT]/…` URL, lower-cased; `None` when there is none.
fn url_host(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority
        .rsplit_once(':')
        .filter(|(_, port)| port.parse::<u16>().is_ok())
        .map_or(authority, |(host, _)| host);
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// The configured market one of whose hosts is the URL's host.
fn market_of(config: &Config, url: &str) -> Option<String> {
    let host = url_host(url)?;
    config
        .markets
        .iter()
        .find(|(_, market)| market.hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)))
        .map(|(name, _)| name.clone())
}

/// Print what was fetched: status and a summary of the page.
fn print_fetched(fetched: &dnmscope_fetch::Fetched, took: Duration) {
    let capture = &fetched.capture;
    println!("status: {}", capture.status);
    println!("bytes: {}", capture.body.len());
    println!("took_ms: {}", took.as_millis());
    if let Some(ms) = capture.elapsed_ms {
        println!("elapsed_ms: {ms}");
    }
    if let Some(kind) = capture.header("content-type") {
        println!("content-type: {kind}");
    }
    if let Some(truncated) = capture.truncated {
        println!("truncated: {}", truncated.as_str());
    }
    for hop in &fetched.redirects {
        println!("redirected to: {hop}");
    }
    if let Some(refused) = &fetched.refused_redirect {
        println!(
            "redirect not followed: {} ({:?})",
            refused.location, refused.reason
        );
    }
    let text = String::from_utf8_lossy(&capture.body);
    if let Some(title) = text
        .split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(title, _)| title.trim())
    {
        println!("title: {title}");
    }
}

/// Print the circuits each market's streams used, and warn if two markets ever shared one
/// (isolation would then be broken).
#[cfg(feature = "arti")]
fn print_circuits(arti: &ArtiTransport) -> bool {
    let circuits = arti.circuits();
    let mut owners: std::collections::BTreeMap<&str, std::collections::BTreeSet<&str>> =
        std::collections::BTreeMap::new();
    for (key, ids) in &circuits {
        let mut distinct: Vec<&str> = Vec::new();
        for id in ids {
            if !distinct.contains(&id.as_str()) {
                distinct.push(id);
            }
            owners.entry(id).or_default().insert(&key.market);
        }
        println!(
            "tor: market {} (account {}): {} stream(s) on circuit(s) {}",
            key.market,
            key.account,
            ids.len(),
            distinct.join(", ")
        );
    }
    println!(
        "tor: {} isolated client(s), one per market and account",
        arti.isolated_clients()
    );
    let mut isolated = true;
    for (id, markets) in owners.iter().filter(|(_, markets)| markets.len() > 1) {
        isolated = false;
        tracing::warn!(
            "circuit {id} carried streams of several markets ({})",
            markets.iter().copied().collect::<Vec<_>>().join(", ")
        );
    }
    isolated
}

pub async fn fetch(
    config: &Config,
    urls: &[String],
    market: Option<&str>,
    store: Option<&StoreOptions>,
) -> anyhow::Result<ExitCode> {
    // Each URL with its market: the one named, else the one whose hosts include its host.
    let mut jobs: Vec<(String, String)> = Vec::new();
    for arg in urls {
        // MARKET=URL names a URL's market (two markets may share a host).
        let (named, url) = match arg.split_once('=') {
            Some((name, url))
                if url.contains("://") && !name.is_empty() && !name.contains([':', '/']) =>
            {
                (Some(name), url)
            }
            _ => (None, arg.as_str()),
        };
        let name = match named.or(market) {
            Some(name) => name.to_string(),
            None => market_of(config, url).with_context(|| {
                format!(
                    "no configured market has the host of {url:?} (add it to a [markets.NAME] hosts list, or name the market with --market)"
                )
            })?,
        };
        if !config.markets.contains_key(&name) {
            bail!("market {name:?} is not in the configuration (add a [markets.{name}] table with its hosts)");
        }
        // The crawler only reads: the same rule that keeps the crawl off actions applies here.
        if let Some(why) = dnmscope_parse::safety::state_changing(url) {
            bail!("refusing to fetch {url:?}: it names a state-changing action ({why}); dnmscope only reads");
        }
        jobs.push((url.to_string(), name));
    }
    let mut markets: Vec<MarketName> = Vec::new();
    for (_, name) in &jobs {
        let name = MarketName::new(name)?;
        if !markets.contains(&name) {
            markets.push(name);
        }
    }
    let store = match store {
        Some(options) => Some(Store::open(options).await?),
        None => None,
    };
    let _writer = match &store {
        Some(store) => store
            .lock_writer("dnmscope fetch --store")
            .context("taking the store's writer lock")?,
        None => None,
    };
    let crawl = match &store {
        Some(store) => {
            store
                .begin_crawl(
                    &markets,
                    &serde_json::json!({"command": "fetch", "urls": urls}),
                    chrono::Utc::now(),
                )
                .await?
        }
        None => CrawlId(0),
    };
    let started = transport(config).await?;
    let fetcher = Fetcher::new(
        started.transport.clone(),
        Arc::new(TokioClock::new()),
        config.fetch.limits(),
        config.market_specs()?,
        crawl,
    )
    .with_account(&config.fetch.account);
    for market in &markets {
        let session = session_path(config, market.as_str());
        if session.exists() {
            fetcher.set_cookies(market.as_str(), CookieJar::load(&session)?)?;
        }
    }
    // All at once: each market through its own isolated client (the fetcher keys transport
    // streams by market and account).
    let outcomes = futures_util::future::join_all(jobs.iter().map(|(url, name)| {
        let fetcher = &fetcher;
        async move {
            let began = Instant::now();
            let outcome = fetcher.fetch(name, url).await;
            (outcome, began.elapsed())
        }
    }))
    .await;
    let single = jobs.len() == 1;
    let mut failed = 0;
    for ((url, name), (outcome, took)) in jobs.iter().zip(outcomes) {
        if !single {
            println!("url: {url}");
        }
        println!("market: {name}");
        let fetched = match outcome {
            Ok(fetched) => fetched,
            // One URL: its error is the command's error.
            Err(err) if single => return Err(err.into()),
            Err(err) => {
                failed += 1;
                println!("error: {:#}", anyhow::Error::from(err));
                println!();
                continue;
            }
        };
        print_fetched(&fetched, took);
        if let Some(store) = &store {
            let stored = store.store_capture(&fetched.capture).await?;
            println!(
                "stored: capture {} ({})",
                stored.id,
                if stored.new { "new" } else { "already stored" }
            );
        }
        if !single {
            println!();
        }
    }
    #[cfg(feature = "arti")]
    if let Some(arti) = &started.arti {
        println!(
            "tor: bootstrapped in {} ms",
            arti.report().elapsed.as_millis()
        );
        print_circuits(arti);
    }
    if let Some(store) = &store {
        store
            .finish_crawl(
                crawl,
                dnmscope_model::FinishReason::Completed,
                chrono::Utc::now(),
            )
            .await?;
    }
    if failed > 0 {
        eprintln!(
            "error: {failed} of {} pages could not be fetched",
            jobs.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "arti"))]
const NO_ARTI: &str = "this dnmscope was built without embedded Tor (cargo build --features arti); set [fetch] transport = \"socks\" to use an external tor";

/// `doctor --url`: fetch one page `fetches` times through the started transport and time
/// each; the first includes building the circuits (for an onion: the descriptor, introduction
/// and rendezvous), later ones reuse them. `true` when every fetch got an answer.
async fn check_page(
    config: &Config,
    started: &Started,
    url: &str,
    fetches: u32,
) -> anyhow::Result<bool> {
    let (name, specs) = match market_of(config, url) {
        Some(name) => (name, config.market_specs()?),
        None => {
            // Not a configured market's page: a market of its own, with the default politeness.
            let host = url_host(url).with_context(|| format!("--url {url:?} has no host"))?;
            let specs = Config {
                markets: std::iter::once((
                    "doctor".to_string(),
                    crate::config::MarketConfig {
                        hosts: vec![host],
                        ..Default::default()
                    },
                ))
                .collect(),
                ..config.clone()
            }
            .market_specs()?;
            ("doctor".to_string(), specs)
        }
    };
    let fetcher = Fetcher::new(
        started.transport.clone(),
        Arc::new(TokioClock::new()),
        config.fetch.limits(),
        specs,
        CrawlId(0),
    )
    .with_account(&config.fetch.account);
    println!("page check: {url} (market {name}), {fetches} fetch(es)");
    println!("  times include any politeness delay ([politeness] jitter_ms, requests_per_minute)");
    let mut all_answered = true;
    for attempt in 1..=fetches {
        let began = Instant::now();
        match fetcher.fetch(&name, url).await {
            Ok(fetched) => println!(
                "  fetch {attempt}: status {}, {} bytes in {:.3} s",
                fetched.capture.status,
                fetched.capture.body.len(),
                began.elapsed().as_secs_f64()
            ),
            Err(err) => {
                all_answered = false;
                println!(
                    "  fetch {attempt}: failed after {:.3} s ({:?}): {:#}",
                    began.elapsed().as_secs_f64(),
                    err.kind(),
                    anyhow::Error::from(err)
                );
            }
        }
    }
    let connections = fetcher.connection_stats();
    println!(
        "  connections: {} opened, {} reused (keep-alive, fetch.max_idle_connections = {})",
        connections.opened, connections.reused, config.fetch.max_idle_connections
    );
    #[cfg(feature = "arti")]
    if let Some(arti) = &started.arti {
        all_answered &= print_circuits(arti);
    }
    Ok(all_answered)
}

pub async fn doctor(config: &Config, url: Option<&str>, fetches: u32) -> anyhow::Result<ExitCode> {
    let started = match config.fetch.transport {
        #[cfg(not(feature = "arti"))]
        TransportKind::Arti => {
            println!("{NO_ARTI}");
            return Ok(ExitCode::FAILURE);
        }
        #[cfg(feature = "arti")]
        TransportKind::Arti => {
            let began = Instant::now();
            println!(
                "transport: arti (embedded Tor) on {}, state in {}/arti",
                network_description(config),
                config.fetch.data_dir
            );
            match ArtiTransport::bootstrap(&arti_config(config)?).await {
                Ok(transport) => {
                    for (at, line) in &transport.report().progress {
                        println!("  {:>7.2} s  {line}", at.as_secs_f64());
                    }
                    println!(
                        "bootstrapped in {:.2} s (consensus, authority certificates and enough relay descriptors to build circuits)",
                        began.elapsed().as_secs_f64()
                    );
                    println!(
                        "tor status (arti's last report, may lag): {}",
                        transport.report().status
                    );
                    let arti = Arc::new(transport);
                    Started {
                        transport: arti.clone(),
                        arti: Some(arti),
                    }
                }
                Err(err) => {
                    println!("Tor did not bootstrap: {err}");
                    if config.fetch.tor_network.is_some() {
                        println!("check that the directory authorities and fallback caches of [fetch.tor_network] are running and reachable");
                    } else {
                        println!("check that this machine reaches the Internet, or use an external tor: [fetch] transport = \"socks\"");
                    }
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        TransportKind::Socks => {
            let socks = SocksTransport::new(&config.fetch.socks_url, Arc::new(LiteralResolver))?;
            println!(
                "transport: external tor at {} ({socks:?})",
                config.fetch.socks_url
            );
            let addr: std::net::SocketAddr = config
                .fetch
                .socks_url
                .trim_start_matches("socks5h://")
                .replace("localhost", "127.0.0.1")
                .parse()
                .context("fetch.socks_url")?;
            let began = Instant::now();
            match tokio::time::timeout(
                Duration::from_secs(10),
                tokio::net::TcpStream::connect(addr),
            )
            .await
            {
                Ok(Ok(_)) => {
                    println!(
                        "the SOCKS port answers ({:.1} ms)",
                        began.elapsed().as_secs_f64() * 1e3
                    );
                }
                Ok(Err(err)) => {
                    println!(
                        "the SOCKS port does not answer: {err}; is tor running with SocksPort {}?",
                        addr.port()
                    );
                    return Ok(ExitCode::FAILURE);
                }
                Err(_) => {
                    println!("the SOCKS port did not answer within 10 s");
                    return Ok(ExitCode::FAILURE);
                }
            }
            transport(config).await?
        }
        TransportKind::Loopback => {
            println!(
                "transport: loopback to {} (simulator only; no Tor)",
                config.fetch.loopback_addr
            );
            transport(config).await?
        }
    };
    if let Some(url) = url {
        if !check_page(config, &started, url, fetches).await? {
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn session_import(config: &Config, market: &str, file: &Path) -> anyhow::Result<ExitCode> {
    let Some(spec) = config.markets.get(market) else {
        bail!("market {market:?} is not in the configuration");
    };
    let mut jar = CookieJar::load(file)?;
    let read = jar.len();
    let hosts: Vec<String> = spec.hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
    jar.retain_hosts(&hosts);
    if jar.is_empty() {
        bail!(
            "{} has {read} cookies but none for market {market}'s hosts ({})",
            file.display(),
            hosts.join(", ")
        );
    }
    let path = session_path(config, market);
    jar.save(&path)?;
    let names: Vec<&str> = jar.cookies().iter().map(|c| c.name.as_str()).collect();
    println!(
        "imported {} of {read} cookies for {market} ({}) into {}",
        jar.len(),
        names.join(", "),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
