//! `dnmscope db …`: create, upgrade and inspect the store.

use std::process::ExitCode;

use anyhow::Context;
use dnmscope_store::{Store, StoreOptions};

use crate::cli::DbCommand;

pub async fn run(command: DbCommand, options: &StoreOptions) -> anyhow::Result<ExitCode> {
    match command {
        DbCommand::Migrate => {
            let mut options = options.clone();
            options.create = true;
            let store = Store::open(&options).await?;
            // Not while a run writes to it (a newer schema under a running crawl).
            let _writer = store
                .lock_writer("dnmscope db migrate")
                .context("taking the store's writer lock")?;
            let stats = store.stats().await?;
            println!(
                "store {} ({}) is up to date: {} tables, {} crawls",
                stats.location,
                stats.backend,
                stats.tables.len(),
                stats.crawls.len()
            );
            store.close().await;
        }
        DbCommand::Stats { json } => {
            let store = Store::open(options).await?;
            let stats = store.stats().await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&stats).context("writing the statistics")?
                );
            } else {
                print!("{stats}");
            }
            store.close().await;
        }
    }
    Ok(ExitCode::SUCCESS)
}
