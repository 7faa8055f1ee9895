//! A simulated world served on loopback and crawled by the real fetcher (`dnmscope-fetch` over
//! its loopback transport, polite, redirects checked) into a store: the way the demo, the
//! validation test and `dnmscope validate` all crawl.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dnmscope_crawl::{crawl, CrawlConfig, FetchSource, MarketPlan, RunOutcome, Stop};
use dnmscope_fetch::{Fetcher, Limits, LoopbackTransport, MarketSpec, Politeness, TokioClock};
use dnmscope_model::{CrawlId, MarketName, PseudonymKey};
use dnmscope_sim::view::Ctx;
use dnmscope_sim::{Page, RequestRecord, ServerConfig, SimServer, World};
use dnmscope_store::Store;

use crate::error::TestbedError;

/// How the test bed crawls: politeness and bounds.
#[derive(Debug, Clone)]
pub struct CrawlSettings {
    /// Per market.
    pub requests_per_minute: u32,
    /// Requests in flight per market.
    pub per_market_concurrency: u32,
    /// Pages in flight over all markets.
    pub concurrency: usize,
    /// Pages per market per run; `None`: until the frontier is empty.
    pub max_pages: Option<u64>,
    pub max_depth: u32,
    /// How long to stay away after a ban or a logged-out page.
    pub pause: Duration,
    pub pseudonyms: PseudonymKey,
}

impl CrawlSettings {
    /// As fast as loopback allows and complete: for tests and validation, where the simulator
    /// is the only server.
    pub fn complete(pseudonyms: PseudonymKey) -> CrawlSettings {
        CrawlSettings {
            requests_per_minute: 60_000,
            per_market_concurrency: 8,
            concurrency: 12,
            max_pages: None,
            max_depth: 50,
            pause: Duration::from_secs(1),
            pseudonyms,
        }
    }
}

/// A served world.
#[derive(Debug)]
pub struct Testbed {
    world: Arc<World>,
    server: SimServer,
}

impl Testbed {
    /// Serves `world` on a free loopback port, on `day`.
    pub async fn start(world: Arc<World>, day: u32) -> Result<Testbed, TestbedError> {
        let server = SimServer::start(
            world.clone(),
            ServerConfig::open(day),
            "127.0.0.1:0".parse().expect("a loopback address"),
        )
        .await
        .map_err(|source| TestbedError::Serve {
            what: "starting the simulated markets on loopback".into(),
            source: Box::new(source),
        })?;
        Ok(Testbed { world, server })
    }

    pub fn world(&self) -> &Arc<World> {
        &self.world
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Requests the simulator saw that a crawler must never make (state-changing actions,
    /// hidden links).
    pub fn violations(&self) -> Vec<RequestRecord> {
        self.server.violations()
    }

    /// One crawl plan per market, seeded at its home, category index and forum on `day`.
    pub fn plans(
        &self,
        day: u32,
        settings: &CrawlSettings,
    ) -> Result<Vec<MarketPlan>, TestbedError> {
        let mut definitions =
            dnmscope_parse::builtin_markets().map_err(|e| TestbedError::Setup {
                what: format!("loading the built-in market definitions: {e}"),
            })?;
        let port = self.addr().port();
        self.world
            .markets
            .iter()
            .map(|market| {
                let name = MarketName::new(&market.slug).map_err(|e| TestbedError::Setup {
                    what: format!("the simulated market {}: {e}", market.slug),
                })?;
                let position = definitions
                    .iter()
                    .position(|d| d.name == market.slug)
                    .ok_or_else(|| TestbedError::Setup {
                        what: format!(
                            "no market definition for the simulated market {}",
                            market.slug
                        ),
                    })?;
                let definition = definitions.swap_remove(position);
                let ctx = Ctx {
                    world: &self.world,
                    market,
                    day,
                    layout: 1,
                };
                let base = format!("http://{}:{port}", market.hosts[0]);
                Ok(MarketPlan {
                    name,
                    definition: Arc::new(definition),
                    hosts: market.hosts.clone(),
                    seeds: [Page::Home, Page::CategoryIndex, Page::Forum { page: 1 }]
                        .iter()
                        .map(|p| format!("{base}{}", ctx.url(p)))
                        .collect(),
                    max_pages: settings.max_pages,
                    max_depth: settings.max_depth,
                    session_params: Vec::new(),
                })
            })
            .collect()
    }

    /// Serves `day` and crawls every market once into `store`, through the real fetcher over
    /// the loopback transport, each capture dated by the simulated day.
    pub async fn crawl_day(
        &self,
        store: &Store,
        day: u32,
        settings: &CrawlSettings,
        stop: &Stop,
    ) -> Result<RunOutcome, TestbedError> {
        if day >= self.world.config.days {
            return Err(TestbedError::Setup {
                what: format!(
                    "day {day} is outside the world: days run from 0 to {}",
                    self.world.config.days.saturating_sub(1)
                ),
            });
        }
        self.server.set_day(day);
        let addr = self.addr();
        let politeness = Politeness {
            requests_per_minute: settings.requests_per_minute,
            jitter: Duration::from_millis(5),
            max_concurrent: settings.per_market_concurrency,
            ban_pause: settings.pause,
            max_slowdown: settings.pause,
        };
        let plans = self.plans(day, settings)?;
        let specs = plans
            .iter()
            .map(|p| MarketSpec {
                name: p.name.clone(),
                hosts: p.hosts.clone(),
                politeness: politeness.clone(),
            })
            .collect();
        let transport = LoopbackTransport::new(
            self.world
                .markets
                .iter()
                .flat_map(|m| m.hosts.iter().map(move |h| (h.clone(), addr))),
        )
        .map_err(|e| TestbedError::Setup {
            what: format!("the loopback transport: {e}"),
        })?;
        let fetcher = Fetcher::new(
            Arc::new(transport),
            Arc::new(TokioClock::new()),
            Limits {
                backoff: Duration::from_millis(50),
                ..Limits::default()
            },
            specs,
            CrawlId(0),
        );
        let config = CrawlConfig {
            markets: plans,
            concurrency: settings.concurrency,
            max_attempts: 3,
            retry_delay: Duration::from_millis(50),
            ban_pause: settings.pause,
            login_pause: settings.pause,
            unreachable_after: 2,
            pseudonyms: settings.pseudonyms.clone(),
            parse_limits: dnmscope_parse::Limits::default(),
        };
        let source = FetchSource::new(fetcher, None).with_server_dates();
        crawl(store, &source, &config, stop)
            .await
            .map_err(|source| TestbedError::Crawl {
                day,
                source: Box::new(source),
            })
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}
