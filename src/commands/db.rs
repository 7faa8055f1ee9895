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
                if let (Some(policy), None) = (&stats.raw.policy, options.raw_key.as_ref()) {
                    println!(
                        "\nnote: raw bodies need the key {}, which was not found (store.raw_key_file); everything else reads without it",
                        policy.key_id
                    );
                }
            }
            store.close().await;
        }
        DbCommand::EncryptRaw { batch } => {
            let store = Store::open(options).await?;
            let _writer = store
                .lock_writer("dnmscope db encrypt-raw")
                .context("taking the store's writer lock")?;
            let key = options.raw_key.as_ref().context(
                "no raw-body key: set store.raw_key_file, or turn store.encrypt_raw on so that one is created",
            )?;
            let before = store.stats().await?.raw;
            println!(
                "encrypting {} raw bodies with key {} ({} already encrypted)",
                before.bodies_plain,
                key.id(),
                before.bodies_encrypted
            );
            let by = format!("dnmscope db encrypt-raw ({})", operator());
            let done = store
                .encrypt_raw(batch, &by, |done, total| {
                    println!("encrypted {done} of {total}");
                })
                .await?;
            store.compact().await.context(
                "compacting the store after encryption (its old plaintext pages may remain until this succeeds; run encrypt-raw again)",
            )?;
            let after = store.stats().await?.raw;
            println!(
                "done: {done} bodies encrypted now; {} encrypted, {} unencrypted, {} purged; store compacted",
                after.bodies_encrypted, after.bodies_plain, after.bodies_purged
            );
            store.close().await;
        }
        DbCommand::PurgeRaw { before, market } => {
            let store = Store::open(options).await?;
            let _writer = store
                .lock_writer("dnmscope db purge-raw")
                .context("taking the store's writer lock")?;
            let market = market
                .map(|m| {
                    dnmscope_model::MarketName::new(&m)
                        .with_context(|| format!("market name {m:?}"))
                })
                .transpose()?;
            let report = store
                .purge_raw(before, market.as_ref(), &operator())
                .await?;
            match report {
                None => println!(
                    "nothing to purge: no raw page fetched before {} is kept{}",
                    before.format("%Y-%m-%d %H:%M:%S UTC"),
                    market.map(|m| format!(" for {m}")).unwrap_or_default()
                ),
                Some(report) => {
                    store
                        .compact()
                        .await
                        .context("compacting the store after the purge")?;
                    println!(
                        "purge {}: the raw pages of {} captures fetched before {} purged; {} bodies ({} bytes) deleted; observations kept; store compacted",
                        report.purge_id,
                        report.captures,
                        before.format("%Y-%m-%d %H:%M:%S UTC"),
                        report.bodies,
                        report.bytes
                    );
                }
            }
            println!("{}", store.stats().await?.raw.retention_summary());
            store.close().await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Who runs a command, for audit rows: `user@host` from the environment (or the process's uid
/// in /etc/passwd) and /etc/hostname.
fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(user_of_uid)
        .unwrap_or_else(|| "unknown".to_string());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_string());
    format!("{user}@{host}")
}

/// The name /etc/passwd gives this process's real uid (`uid N` when it names none).
fn user_of_uid() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() > 2 && fields[2] == uid).then(|| fields[0].to_string())
    });
    Some(name.unwrap_or_else(|| format!("uid {uid}")))
}
