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
fn arti_config(config: &Config) -> ArtiConfig {
    ArtiConfig {
        data_dir: PathBuf::from(&config.fetch.data_dir),
        bootstrap_timeout: Duration::from_secs(config.fetch.bootstrap_timeout_secs),
        authorities: Vec::new(),
        fallbacks: Vec::new(),
        relax_permissions: false,
        private_network: false,
    }
}

/// The configured transport, started.
pub async fn transport(config: &Config) -> anyhow::Result<SharedTransport> {
    Ok(match config.fetch.transport {
        #[cfg(feature = "arti")]
        TransportKind::Arti => {
            eprintln!(
                "bootstrapping embedded Tor (state in {}/arti)…",
                config.fetch.data_dir
            );
            Arc::new(ArtiTransport::bootstrap(&arti_config(config)).await?)
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
    })
}

pub fn session_path(config: &Config, market: &str) -> PathBuf {
    Path::new(&config.fetch.data_dir)
        .join("sessions")
        .join(format!("{market}.{}.cookies.txt", config.fetch.account))
}

pub async fn fetch(
    config: &Config,
    url: &str,
    market: &str,
    store: Option<&StoreOptions>,
) -> anyhow::Result<ExitCode> {
    if !config.markets.contains_key(market) {
        bail!("market {market:?} is not in the configuration (add a [markets.{market}] table with its hosts)");
    }
    let store = match store {
        Some(options) => Some(Store::open(options).await?),
        None => None,
    };
    let crawl = match &store {
        Some(store) => {
            store
                .begin_crawl(
                    &[MarketName::new(market)?],
                    &serde_json::json!({"command": "fetch", "url": url}),
                    chrono::Utc::now(),
                )
                .await?
        }
        None => CrawlId(0),
    };
    let transport = transport(config).await?;
    let fetcher = Fetcher::new(
        transport,
        Arc::new(TokioClock::new()),
        config.fetch.limits(),
        config.market_specs()?,
        crawl,
    )
    .with_account(&config.fetch.account);
    let session = session_path(config, market);
    if session.exists() {
        fetcher.set_cookies(market, CookieJar::load(&session)?)?;
    }
    let fetched = fetcher.fetch(market, url).await?;
    let capture = &fetched.capture;
    println!("status: {}", capture.status);
    println!("bytes: {}", capture.body.len());
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
    if let Some(store) = &store {
        let stored = store.store_capture(capture).await?;
        println!(
            "stored: capture {} ({})",
            stored.id,
            if stored.new { "new" } else { "already stored" }
        );
        store
            .finish_crawl(
                crawl,
                dnmscope_model::FinishReason::Completed,
                chrono::Utc::now(),
            )
            .await?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "arti"))]
const NO_ARTI: &str = "this dnmscope was built without embedded Tor (cargo build --features arti); set [fetch] transport = \"socks\" to use an external tor";

pub async fn doctor(config: &Config) -> anyhow::Result<ExitCode> {
    match config.fetch.transport {
        #[cfg(not(feature = "arti"))]
        TransportKind::Arti => {
            println!("{NO_ARTI}");
            Ok(ExitCode::FAILURE)
        }
        #[cfg(feature = "arti")]
        TransportKind::Arti => {
            let started = Instant::now();
            println!(
                "transport: arti (embedded Tor), state in {}/arti",
                config.fetch.data_dir
            );
            match ArtiTransport::bootstrap(&arti_config(config)).await {
                Ok(transport) => {
                    for (at, line) in &transport.report().progress {
                        println!("  {:>7.2} s  {line}", at.as_secs_f64());
                    }
                    println!("bootstrapped in {:.2} s", started.elapsed().as_secs_f64());
                    Ok(ExitCode::SUCCESS)
                }
                Err(err) => {
                    println!("Tor did not bootstrap: {err}");
                    println!("check that this machine reaches the Internet, or use an external tor: [fetch] transport = \"socks\"");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        TransportKind::Socks => {
            let transport =
                SocksTransport::new(&config.fetch.socks_url, Arc::new(LiteralResolver))?;
            println!(
                "transport: external tor at {} ({transport:?})",
                config.fetch.socks_url
            );
            let addr: std::net::SocketAddr = config
                .fetch
                .socks_url
                .trim_start_matches("socks5h://")
                .replace("localhost", "127.0.0.1")
                .parse()
                .context("fetch.socks_url")?;
            let started = Instant::now();
            match tokio::time::timeout(
                Duration::from_secs(10),
                tokio::net::TcpStream::connect(addr),
            )
            .await
            {
                Ok(Ok(_)) => {
                    println!(
                        "the SOCKS port answers ({:.1} ms)",
                        started.elapsed().as_secs_f64() * 1e3
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Ok(Err(err)) => {
                    println!(
                        "the SOCKS port does not answer: {err}; is tor running with SocksPort {}?",
                        addr.port()
                    );
                    Ok(ExitCode::FAILURE)
                }
                Err(_) => {
                    println!("the SOCKS port did not answer within 10 s");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        TransportKind::Loopback => {
            println!(
                "transport: loopback to {} (simulator only; no Tor)",
                config.fetch.loopback_addr
            );
            Ok(ExitCode::SUCCESS)
        }
    }
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

pub async fn export_warc(
    options: &StoreOptions,
    out: &Path,
    crawl: Option<i64>,
) -> anyhow::Result<ExitCode> {
    let store = Store::open(options).await?;
    let ids = store.capture_ids(crawl.map(CrawlId)).await?;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut writer = dnmscope_fetch::warc::WarcWriter::new(std::io::BufWriter::new(file));
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    writer.write_info(&name, chrono::Utc::now())?;
    for id in ids {
        writer.write_capture(&store.capture(id).await?)?;
    }
    let records = writer.records();
    writer.finish()?;
    println!("wrote {records} records to {}", out.display());
    Ok(ExitCode::SUCCESS)
}
