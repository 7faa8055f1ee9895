//! `dnmscope query` (vendor history, price trends, market timelines, vendor links),
//! `dnmscope rates import` and `dnmscope links confirm|reject`: IO around `dnmscope-analytics`.

use std::process::ExitCode;

use anyhow::{bail, Context};
use dnmscope_analytics::{format, queries, Filter, Period, Table};
use dnmscope_store::{LinkDecision, Store, StoreOptions, VendorRef};

use crate::cli::{
    LinkArgs, LinksCommand, OutputArgs, OutputFormat, PeriodArg, QueryCommand, RatesCommand,
};

fn period(arg: PeriodArg) -> Period {
    match arg {
        PeriodArg::Day => Period::Day,
        PeriodArg::Week => Period::Week,
    }
}

async fn open(options: &StoreOptions) -> anyhow::Result<Store> {
    Store::open(options)
        .await
        .with_context(|| format!("opening the store {}", options.location))
}

fn print(table: &Table, output: &OutputArgs) {
    match output.format {
        OutputFormat::Table => print!("{}", format::to_text(table)),
        OutputFormat::Csv => print!("{}", format::to_csv(table)),
        OutputFormat::Json => println!("{}", format::to_json(table)),
    }
}

pub async fn query(command: QueryCommand, options: &StoreOptions) -> anyhow::Result<ExitCode> {
    let store = open(options).await?;
    let (table, output) = match command {
        QueryCommand::Vendor {
            market,
            handle,
            output,
        } => (
            queries::vendor_history(&store, &market, &handle)
                .await
                .with_context(|| format!("reading the history of {market}:{handle}"))?,
            output,
        ),
        QueryCommand::Prices {
            substance,
            category,
            origin,
            destination,
            market,
            period: p,
            output,
        } => {
            let filter = Filter {
                markets: market,
                category,
                substance,
                origin: origin.map(|o| o.to_uppercase()),
                destination: destination.map(|d| d.to_uppercase()),
                period: period(p),
            };
            (
                queries::price_trend(&store, &filter)
                    .await
                    .context("computing the price trend")?,
                output,
            )
        }
        QueryCommand::Market {
            market,
            period: p,
            output,
        } => (
            queries::market_timeline(&store, &market, period(p))
                .await
                .with_context(|| format!("computing the timeline of {market}"))?,
            output,
        ),
        QueryCommand::Links {
            market,
            handle,
            output,
        } => {
            let filter = Filter {
                markets: market,
                ..Filter::default()
            };
            (
                queries::vendor_links(&store, &filter, handle.as_deref())
                    .await
                    .context("scoring vendor links")?,
                output,
            )
        }
    };
    print(&table, &output);
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn rates(command: RatesCommand, options: &StoreOptions) -> anyhow::Result<ExitCode> {
    let RatesCommand::Import { csv, source } = command;
    let text = std::fs::read_to_string(&csv)
        .with_context(|| format!("reading the rates file {}", csv.display()))?;
    let name = csv.display().to_string();
    let source = source.unwrap_or_else(|| {
        csv.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.clone())
    });
    let rates = dnmscope_analytics::parse_rates_csv(&text, &name, &source)?;
    let store = open(options).await?;
    let added = store
        .import_rates(&rates)
        .await
        .with_context(|| format!("importing the rates of {name}"))?;
    println!(
        "{added} new rates imported from {name} (source {source:?}); {} were already stored and \
         kept (import under another --source to add different figures)",
        rates.len() as u64 - added
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

fn account(text: &str) -> anyhow::Result<VendorRef> {
    match text.split_once(':') {
        Some((market, handle)) if !market.is_empty() && !handle.trim().is_empty() => {
            Ok(VendorRef::new(market, handle))
        }
        _ => bail!("{text:?} is not MARKET:HANDLE (for example dream:SomeVendor)"),
    }
}

pub async fn links(command: LinksCommand, options: &StoreOptions) -> anyhow::Result<ExitCode> {
    let (decision, args): (LinkDecision, LinkArgs) = match command {
        LinksCommand::Confirm(args) => (LinkDecision::Confirmed, args),
        LinksCommand::Reject(args) => (LinkDecision::Rejected, args),
    };
    let (a, b) = (account(&args.a)?, account(&args.b)?);
    let store = open(options).await?;
    store
        .decide_link(&a, &b, decision, &args.note, chrono::Utc::now())
        .await
        .with_context(|| format!("recording the decision on {} and {}", args.a, args.b))?;
    println!(
        "link between {}:{} and {}:{} {}",
        a.market,
        a.handle,
        b.market,
        b.handle,
        decision.as_str()
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
