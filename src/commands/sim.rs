//! `dnmscope sim …`: serve a simulated world, export its truth, write a labelled corpus or a
//! wget-style mirror.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use dnmscope_sim::{DaySchedule, Hostile, ServerConfig, SimServer, World, WorldConfig};

use crate::cli::{HostileArg, SimCommand, WorldArgs};

pub async fn run(command: SimCommand) -> anyhow::Result<ExitCode> {
    match command {
        SimCommand::Serve {
            world,
            addr,
            day,
            days_per_minute,
            open,
            hostile,
            layout_change_day,
            host_alias,
        } => {
            let world = world_config(&world)?;
            let schedule = match (day, days_per_minute) {
                (Some(day), _) => {
                    if day >= world.days {
                        bail!(
                            "--day {day} is outside the world: days run from 0 to {}",
                            world.days - 1
                        );
                    }
                    DaySchedule::Fixed(day)
                }
                (None, Some(rate)) => {
                    if !(rate.is_finite() && rate > 0.0) {
                        bail!("--days-per-minute must be a positive number, not {rate}");
                    }
                    DaySchedule::Advancing {
                        from: 0,
                        days_per_minute: rate,
                    }
                }
                (None, None) => DaySchedule::Fixed(0),
            };
            dnmscope_sim::server::check_loopback(addr)?;
            let world = Arc::new(build(&world)?);
            let mut config = if open {
                ServerConfig::open(0)
            } else {
                ServerConfig::default()
            };
            config.day = schedule;
            config.hostile = hostile.into_iter().map(hostile_mode).collect();
            config.layout_change_day = layout_change_day;
            config.host_aliases = host_aliases(&world, &host_alias)?;
            let aliases = config.host_aliases.clone();
            let server = SimServer::start(world.clone(), config, addr)
                .await
                .context("starting the simulator")?;
            print_how_to_reach(&world, &server, open, &aliases);
            tokio::select! {
                result = server.wait() => result.context("serving the simulated world")?,
                signal = tokio::signal::ctrl_c() => {
                    signal.context("waiting for Ctrl-C")?;
                    eprintln!("stopped");
                }
            }
        }
        SimCommand::Truth { world, out } => {
            let world = build(&world_config(&world)?)?;
            dnmscope_sim::truth::write_truth(&world, &out)?;
            println!(
                "wrote the truth of seed {} ({} markets, {} days, {} vendor accounts, {} listings, {} reviews) to {}",
                world.config.seed,
                world.markets.len(),
                world.config.days,
                world.vendors.len(),
                world.listings.len(),
                world.feedback.len(),
                out.display()
            );
        }
        SimCommand::Corpus {
            world,
            day,
            per_kind,
            out,
        } => {
            let world = world_config(&world)?;
            if day >= world.days {
                bail!(
                    "--day {day} is outside the world: days run from 0 to {}",
                    world.days - 1
                );
            }
            let world = build(&world)?;
            let count = dnmscope_sim::corpus::write_corpus(&world, day, per_kind, &out)?;
            println!(
                "wrote {count} labelled pages of day {day} to {}",
                out.display()
            );
        }
        SimCommand::Mirror {
            seed,
            world,
            markets,
            world_days,
            vendors,
            days,
            out,
            no_adjust_extension,
            no_warc,
        } => {
            let config = world_config(&WorldArgs {
                seed,
                world,
                markets,
                days: world_days,
                vendors,
            })?;
            if *days.end() >= config.days {
                bail!(
                    "--days {}..{} is outside the world: days run from 0 to {} (--world-days sets how many)",
                    days.start(),
                    days.end(),
                    config.days - 1
                );
            }
            let world = build(&config)?;
            let options = dnmscope_sim::MirrorOptions {
                days,
                out,
                adjust_extension: !no_adjust_extension,
                warc: !no_warc,
            };
            let summary = dnmscope_sim::write_mirror(&world, &options)
                .with_context(|| format!("writing the mirror to {}", options.out.display()))?;
            println!(
                "mirrored {} markets on days {}..{}: {} pages, {} bytes, {} files ({} WARC) in {}",
                world.markets.len(),
                options.days.start(),
                options.days.end(),
                summary.pages,
                summary.bytes,
                summary.pages + summary.warc_files.len(),
                summary.warc_files.len(),
                options.out.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The world the flags and the world file describe.
fn world_config(args: &WorldArgs) -> anyhow::Result<WorldConfig> {
    let mut config = WorldConfig::new(args.seed);
    if let Some(path) = &args.world {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the world file {}", path.display()))?;
        config = WorldConfig::from_toml(&text, config)
            .with_context(|| format!("in the world file {}", path.display()))?;
    }
    config.markets = args.markets.unwrap_or(config.markets);
    config.days = args.days.unwrap_or(config.days);
    config.vendors = args.vendors.unwrap_or(config.vendors);
    Ok(config)
}

fn build(config: &WorldConfig) -> anyhow::Result<World> {
    let started = Instant::now();
    let world = dnmscope_sim::generate(config).context("generating the simulated world")?;
    tracing::info!(
        seed = config.seed,
        vendors = world.vendors.len(),
        listings = world.listings.len(),
        seconds = started.elapsed().as_secs_f64(),
        "world generated"
    );
    Ok(world)
}

/// `HOST=MARKET` pairs: each alias to the main host of the market named (by name or by one of
/// its hosts).
fn host_aliases(world: &World, pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut aliases = BTreeMap::new();
    for pair in pairs {
        let Some((alias, market)) = pair.split_once('=') else {
            bail!("--host-alias {pair:?} is not HOST=MARKET");
        };
        let alias = alias.trim().to_ascii_lowercase();
        if alias.is_empty() || alias.contains(['/', ':', ' ']) {
            bail!("--host-alias {pair:?}: {alias:?} is not a host name");
        }
        let market = market.trim();
        let Some(found) = world.markets.iter().find(|m| {
            m.name.eq_ignore_ascii_case(market)
                || m.slug.eq_ignore_ascii_case(market)
                || m.hosts.iter().any(|h| h.eq_ignore_ascii_case(market))
        }) else {
            let names: Vec<&str> = world.markets.iter().map(|m| m.name.as_str()).collect();
            bail!(
                "--host-alias {pair:?}: no market {market:?} in this world (markets: {})",
                names.join(", ")
            );
        };
        if world.market_by_host(&alias).is_some() {
            bail!("--host-alias {pair:?}: {alias} is already a market's own host");
        }
        aliases.insert(alias, found.hosts[0].clone());
    }
    Ok(aliases)
}

fn hostile_mode(arg: HostileArg) -> Hostile {
    match arg {
        HostileArg::OffsiteRedirect => Hostile::OffsiteRedirect,
        HostileArg::LocalRedirect => Hostile::LocalRedirect,
        HostileArg::Oversized => Hostile::Oversized,
        HostileArg::CompressionBomb => Hostile::CompressionBomb,
        HostileArg::SlowBody => Hostile::SlowBody,
        HostileArg::TruncatedBody => Hostile::TruncatedBody,
        HostileArg::MalformedHtml => Hostile::MalformedHtml,
        HostileArg::ParseBombs => Hostile::ParseBombs,
        HostileArg::Traps => Hostile::Traps,
        HostileArg::Gates => Hostile::Gates,
    }
}

fn print_how_to_reach(
    world: &World,
    server: &SimServer,
    open: bool,
    aliases: &BTreeMap<String, String>,
) {
    let addr = server.addr();
    println!(
        "simulator listening on http://{addr} (seed {}, day {})",
        world.config.seed,
        server.day()
    );
    for market in &world.markets {
        println!("  {} ({} skin):", market.name, market.skin.name());
        for host in &market.hosts {
            println!("    http://{host}/");
        }
        for (alias, _) in aliases.iter().filter(|(_, to)| **to == market.hosts[0]) {
            println!("    http://{alias}/ (alias)");
        }
        if !open {
            for account in world.accounts.iter().filter(|a| a.market == market.id) {
                println!("    account: {} / {}", account.username, account.password);
            }
        }
    }
    let host = &world.markets[0].hosts[0];
    println!("reach a market by resolving its host to this address, e.g.:");
    println!(
        "  curl --resolve {host}:{}:{} http://{host}:{}/",
        addr.port(),
        addr.ip(),
        addr.port()
    );
    if !open {
        println!("the markets sit behind a queue, a captcha login and a rate limit; --open turns them off");
    }
    println!("press Ctrl-C to stop");
}
