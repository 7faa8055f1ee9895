//! The commands: each turns validated arguments into calls on the library crates.

mod crawl;
mod db;
mod demo;
mod fetch;
mod import;
mod keys;
mod parse;
mod query;
mod report;
mod sim;
mod validate;
mod warc;

use std::process::ExitCode;

use anyhow::Context;
use dnmscope_store::{Location, StoreOptions};

use crate::cli::{BenchCommand, Cli, Command};
use crate::config::Config;

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = match &cli.global.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let store = store_options(&cli, &config)?;
    match cli.command {
        Command::Db(command) => db::run(command, &store).await,
        Command::Sim(command) => sim::run(command).await,
        Command::Crawl(args) => crawl::run(args, &config, &store).await,
        Command::Import(args) => import::run(args, &config, &store).await,
        Command::Reparse(args) => import::reparse(args, &config, &store).await,
        Command::Demo(args) => demo::run(args, &store).await,
        Command::Validate(args) => validate::run(args).await,
        Command::Fetch {
            urls,
            market,
            store: keep,
        } => fetch::fetch(&config, &urls, market.as_deref(), keep.then_some(&store)).await,
        Command::Doctor { url, fetches } => fetch::doctor(&config, url.as_deref(), fetches).await,
        Command::Session(crate::cli::SessionCommand::Import { market, file }) => {
            fetch::session_import(&config, &market, &file)
        }
        Command::Export(crate::cli::ExportArgs {
            command: Some(crate::cli::ExportCommand::Warc { out, crawl, raw }),
            ..
        }) => warc::export_warc(&config, &store, &out, crawl, raw).await,
        Command::Export(crate::cli::ExportArgs {
            command: None,
            format,
            out,
        }) => report::export(&store, format.as_deref(), out.as_deref()).await,
        Command::Report { out } => report::report(&store, &out).await,
        Command::Parse(args) => parse::parse(&args),
        Command::Eval(args) => parse::eval(&args),
        Command::Bench(BenchCommand::Parse {
            corpus,
            rounds,
            markets,
        }) => parse::bench(&corpus, rounds, &markets),
        Command::Query(command) => query::query(command, &store).await,
        Command::Rates(command) => query::rates(command, &store).await,
        Command::Links(command) => query::links(command, &store).await,
    }
}

/// The store location and options: `--db` (or `DNMSCOPE_DB`) wins over the configuration.
fn store_options(cli: &Cli, config: &Config) -> anyhow::Result<StoreOptions> {
    let text = cli
        .global
        .db
        .clone()
        .unwrap_or_else(|| config.store.location.clone());
    let location = Location::parse(&text).context("reading the store location")?;
    let mut options = config.store.options(location);
    // Commands that write raw pages make the raw-body key when there is none yet, and turn
    // encryption on in a store that holds no raw page yet. Others (`db migrate` included, which
    // may run without the configuration a crawl will use) only read the key if it is there.
    let writes_raw = matches!(
        &cli.command,
        Command::Db(crate::cli::DbCommand::EncryptRaw { .. })
            | Command::Crawl(_)
            | Command::Import(_)
            | Command::Demo(_)
            | Command::Fetch { store: true, .. }
    );
    options.raw_key = keys::raw_key(config, writes_raw)?;
    options.encrypt_new_stores = writes_raw && config.store.encrypt_raw;
    Ok(options)
}
