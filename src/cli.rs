//! The command line, as close to what the user typed as possible; `commands` validates it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// dnmscope: a research instrument that monitors darknet drug markets over time.
///
/// It crawls markets through Tor, keeps every fetched page and every observation with its
/// time, and turns them into the indicators drug-policy research asks for.
#[derive(Debug, Parser)]
#[command(name = "dnmscope", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The store: a SQLite file path, sqlite://PATH or postgres://URL
    /// [default: the configuration's store.location, else dnmscope.sqlite]
    #[arg(long, global = true, env = "DNMSCOPE_DB", value_name = "LOCATION")]
    pub db: Option<String>,

    /// A configuration file (see config/dnmscope.example.toml) [default: none, built-in defaults]
    #[arg(long, global = true, env = "DNMSCOPE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Show more detail in the log (-v debug, -vv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Show only errors
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, upgrade and inspect the store
    #[command(subcommand)]
    Db(DbCommand),
    /// Run the simulated marketplace: the test bed, the demo and the training environment
    #[command(subcommand)]
    Sim(SimCommand),
    /// Crawl the configured markets: one snapshot (a crawl run), or one every --every until
    /// stopped. An unfinished run (killed, stopped) is resumed first.
    Crawl(CrawlArgs),
    /// Import saved pages (wget mirrors in the Darknet Market Archives layout, folders of saved
    /// pages, WARC and WARC.gz files): each dated snapshot becomes an import run, each page a
    /// capture, parsed and stored like a crawled page. Importing again adds nothing; a killed
    /// import run again goes on where it stopped.
    Import(ImportArgs),
    /// Parse stored captures again with the current market definitions: each new extraction is
    /// stored beside the old ones (analytics read the newest), and what changed is printed per
    /// page kind and field
    Reparse(ReparseArgs),
    /// Crawl simulated markets on loopback into a SQLite store, one snapshot per simulated day
    Demo(DemoArgs),
    /// Score the estimators against a simulated world's truth: for each seed, serve the world on
    /// loopback, crawl it with the real fetcher on seven of its days, run the analytics and
    /// compare them with what happened (linking, impersonators, review campaigns, sales and
    /// revenue with their intervals, harm-reduction topics per post, events and migrations)
    Validate(ValidateArgs),
    /// Fetch pages of configured markets (all at once, each market through its own isolated
    /// circuits) and print each one's status and a summary
    Fetch {
        /// The pages' URLs (http://HOST.onion/...); HOST must be one of the market's hosts.
        /// MARKET=URL names the URL's market
        #[arg(required = true)]
        urls: Vec<String>,
        /// The market's name in the configuration [default: the market whose hosts include
        /// each URL's host]
        #[arg(long)]
        market: Option<String>,
        /// Store the capture in the store as well (in a crawl of its own)
        #[arg(long)]
        store: bool,
    },
    /// Check the transport: bootstrap Tor (or reach the SOCKS proxy) and report timings, or
    /// explain what is wrong; with --url, also fetch a page through it and time each fetch
    Doctor {
        /// A page to fetch through the transport (e.g. a market's onion address)
        #[arg(long)]
        url: Option<String>,
        /// How often to fetch --url: the first fetch builds the circuits, later ones reuse them
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
        fetches: u32,
    },
    /// Manage market sessions
    #[command(subcommand)]
    Session(SessionCommand),
    /// Export every table and view of the store (CSV, JSON Lines or Parquet) with a data
    /// dictionary, a datasheet and SHA-256 checksums; `export warc` writes raw captures
    Export(ExportArgs),
    /// Write a self-contained HTML report: charts (also as SVG, PNG and CSV), tables, the
    /// completeness of every crawl and the assumptions
    Report {
        /// The directory to write (created if missing; an earlier report there is replaced)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Parse saved pages with a market definition and print one JSON object per file
    Parse(ParseArgs),
    /// Score the market definitions against a labelled corpus (SCHEMA.md layout)
    Eval(EvalArgs),
    /// Measure performance
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Ask the store the questions analysts ask most (vendor history, price trends, market
    /// timelines, vendor links)
    #[command(subcommand)]
    Query(QueryCommand),
    /// Exchange rates for converting prices to USD
    #[command(subcommand)]
    Rates(RatesCommand),
    /// Confirm or reject a candidate link between vendor accounts on two markets
    #[command(subcommand)]
    Links(LinksCommand),
}

/// How `query` prints its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// An aligned table for a terminal
    Table,
    Csv,
    Json,
}

/// Days or weeks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PeriodArg {
    Day,
    Week,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// A vendor's history on a market: listings, prices, profile figures, feedback per day
    Vendor {
        #[arg(long)]
        market: String,
        /// The vendor's handle (case does not matter)
        #[arg(long)]
        handle: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Prices per unit in USD over time (median and spread per substance, origin and unit)
    Prices {
        /// The substance: the last element of the category path, as the market shows it
        #[arg(long)]
        substance: Option<String>,
        /// A category anywhere in the category path
        #[arg(long)]
        category: Option<String>,
        /// Origin country code (ships_from), e.g. NL
        #[arg(long)]
        origin: Option<String>,
        /// Destination country code (in ships_to), e.g. US or WW
        #[arg(long)]
        destination: Option<String>,
        /// Only these markets (repeatable)
        #[arg(long)]
        market: Vec<String>,
        #[arg(long, value_enum, default_value_t = PeriodArg::Week)]
        period: PeriodArg,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// A market's timeline: listings, vendors (active, new, departed), feedback and events
    Market {
        #[arg(long)]
        market: String,
        #[arg(long, value_enum, default_value_t = PeriodArg::Week)]
        period: PeriodArg,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Candidate links between vendor accounts across markets, with scores and evidence
    Links {
        /// Only links touching these markets (repeatable)
        #[arg(long)]
        market: Vec<String>,
        /// Only links of this handle
        #[arg(long)]
        handle: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum RatesCommand {
    /// Import exchange rates from a CSV file with the columns date,currency,usd (USD per unit)
    Import {
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// A name for where the rates come from [default: the file's name]
        #[arg(long)]
        source: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum LinksCommand {
    /// Record that two accounts are the same vendor
    Confirm(LinkArgs),
    /// Record that two accounts are not the same vendor
    Reject(LinkArgs),
}

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// The first account, MARKET:HANDLE
    pub a: String,
    /// The second account, MARKET:HANDLE
    pub b: String,
    /// Why (kept with the decision)
    #[arg(long, default_value = "")]
    pub note: String,
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Import a browser's Netscape cookies.txt as a market's session (kept readable by you only)
    Import {
        #[arg(long)]
        market: String,
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ExportArgs {
    #[command(subcommand)]
    pub command: Option<ExportCommand>,
    /// csv, jsonl or parquet
    #[arg(long, required = true)]
    pub format: Option<String>,
    /// The directory to write: new or empty
    #[arg(long, required = true, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write stored captures as a WARC 1.1 file
    Warc {
        #[arg(long)]
        out: PathBuf,
        /// Only this crawl's captures
        #[arg(long)]
        crawl: Option<i64>,
        /// Write the pages as stored, buyers' and authors' handles included (the file says so
        /// in its warcinfo record). By default the spans a market definition marks as a buyer or
        /// a non-vendor author are replaced, and a page that cannot be redacted is left out
        #[arg(long)]
        raw: bool,
    },
}

#[derive(Debug, Args)]
pub struct CrawlArgs {
    /// Crawl only this market (repeatable) [default: every market in the configuration]
    #[arg(long = "market", value_name = "NAME")]
    pub markets: Vec<String>,
    /// Take a snapshot every this long until stopped (e.g. 24h, 90m, 7d), counted from each
    /// run's start
    #[arg(long, value_name = "INTERVAL", value_parser = parse_interval)]
    pub every: Option<std::time::Duration>,
    /// How to show progress: a live display on a terminal, plain status lines otherwise
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Folders and files to import (searched for dated folders, host folders, saved pages and
    /// *.warc / *.warc.gz files)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The pages' market (a configured market or a definition's name), or `auto`: each page's
    /// market from its host (the configured markets' hosts), else from the definition that
    /// recognises it; pages none recognises are kept as captures of the market `unknown`
    #[arg(long, default_value = "auto", value_name = "MARKET|auto")]
    pub market: String,
    /// When every page was seen (RFC 3339, or a date for its midnight UTC), instead of what the
    /// archive says (dated folders and file times, WARC-Date)
    #[arg(long, value_name = "TIME")]
    pub observed_at: Option<String>,
    /// Parsing threads [default: every core but one, which the writer needs]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=512))]
    pub threads: Option<u16>,
    /// How to show progress: a bar on a terminal, plain status lines otherwise
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReparseArgs {
    /// Only this market's captures (`unknown`: the pages an import could not attribute)
    #[arg(long, value_name = "NAME")]
    pub market: Option<String>,
    /// Only this crawl run's captures (its id, as `db stats` lists them)
    #[arg(long, value_name = "ID")]
    pub crawl: Option<i64>,
    /// Only captures fetched at or after this time (RFC 3339, or a date for its midnight UTC)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Parsing threads [default: every core]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=512))]
    pub threads: Option<u16>,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// A live display when stderr is a terminal, else status lines
    Auto,
    /// Status lines every crawl.status_every_secs
    Lines,
    /// Only the end-of-run summary
    None,
}

/// `30s`, `90m`, `24h`, `7d` (a number and a unit).
pub fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit: write e.g. 24h, 90m, 7d or 30s"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a whole number"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}: use s, m, h or d"
            ))
        }
    };
    if number == 0 {
        return Err("the interval must be longer than zero".to_owned());
    }
    // A year at most: longer is a typo, and would overflow the clock's arithmetic.
    const MAX_SECS: u64 = 366 * 86_400;
    match number.checked_mul(seconds) {
        Some(secs) if secs <= MAX_SECS => Ok(std::time::Duration::from_secs(secs)),
        _ => Err(format!(
            "{text:?} is longer than a year (366d), the longest interval"
        )),
    }
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// A world file (TOML, see config/worlds/); its knobs change the validation world (24
    /// vendors, 30 days), whose size the file may also set. Repeat for several worlds (then a
    /// summary table compares them); `default` is the validation world as it is [default:
    /// default]
    #[arg(long = "world", value_name = "FILE")]
    pub worlds: Vec<PathBuf>,
    /// Simulated days of the world (crawled on seven of them) [default: 30, or the file's]
    #[arg(long, value_parser = clap::value_parser!(u32).range(10..=365))]
    pub days: Option<u32>,
    /// People selling [default: 24, or the file's]
    #[arg(long, value_parser = clap::value_parser!(u32).range(4..=2000))]
    pub vendors: Option<u32>,
    /// A seed to run (repeat for several; each is a different world of the same kind)
    #[arg(long = "seed", default_values_t = [71u64, 72, 5])]
    pub seeds: Vec<u64>,
    /// Print the scorecards as JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// Also print the errors behind the figures (false and missed links, missed campaigns)
    #[arg(long)]
    pub details: bool,
    /// Write the tables as a Markdown file too (README's accuracy section is this file)
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write the tables as an HTML report too (the directory is created; an earlier report
    /// there is replaced)
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The simulated world's seed
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// People selling in the world (a small world keeps the demo to about a minute)
    #[arg(long, default_value_t = 24)]
    pub vendors: u32,
    /// Snapshots to take (one crawl run per simulated day)
    #[arg(long, default_value_t = 3)]
    pub days: u32,
    /// Simulated days between snapshots
    #[arg(long, default_value_t = 20)]
    pub every: u32,
    /// Requests per minute per market (politeness)
    #[arg(long, default_value_t = 1200)]
    pub rate: u32,
    /// Pages per market per run at most
    #[arg(long, default_value_t = 5000)]
    pub max_pages: u64,
}

/// The size and seed of a simulated world.
#[derive(Debug, Args)]
pub struct WorldArgs {
    /// The world's seed: same seed, same world
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A world file (TOML): any of the generator's knobs, the rest at their defaults (see
    /// config/worlds/default.toml); --markets, --days and --vendors override it
    #[arg(long, value_name = "FILE")]
    pub world: Option<std::path::PathBuf>,
    /// Number of markets (skins taken in turn: table, cards, list) [default: 3]
    #[arg(long)]
    pub markets: Option<u32>,
    /// Number of simulated days [default: 60]
    #[arg(long)]
    pub days: Option<u32>,
    /// Number of people selling (about 1.2 vendor accounts each) [default: 300]
    #[arg(long)]
    pub vendors: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve a simulated world over HTTP on a loopback address, one host name per market
    Serve {
        #[command(flatten)]
        world: WorldArgs,
        /// Loopback address to listen on
        #[arg(long, default_value = "127.0.0.1:8088")]
        addr: SocketAddr,
        /// Serve this day and no other
        #[arg(long, conflicts_with = "days_per_minute")]
        day: Option<u32>,
        /// Start at day 0 and advance this many days per minute
        #[arg(long)]
        days_per_minute: Option<f64>,
        /// No queue, login or rate limit: every page to anyone
        #[arg(long)]
        open: bool,
        /// Switch on misbehaviour for tests (repeatable)
        #[arg(long, value_enum)]
        hostile: Vec<HostileArg>,
        /// From this day on, every skin renames its CSS classes
        #[arg(long)]
        layout_change_day: Option<u32>,
        /// Also answer HOST as MARKET (a market's name or one of its hosts), e.g. an onion
        /// address of a private Tor network in front of the simulator (repeatable)
        #[arg(long, value_name = "HOST=MARKET")]
        host_alias: Vec<String>,
    },
    /// Write the ground truth of a world (identities, true sales, fake reviews, events) as JSON
    Truth {
        #[command(flatten)]
        world: WorldArgs,
        /// The JSON file to write
        #[arg(long)]
        out: PathBuf,
    },
    /// Write labelled pages of every kind of every skin in the layout of the real-page corpus
    Corpus {
        #[command(flatten)]
        world: WorldArgs,
        /// The day to render
        #[arg(long, default_value_t = 10)]
        day: u32,
        /// Pages per kind and market
        #[arg(long, default_value_t = 5)]
        per_kind: usize,
        /// The directory to write (`<market>/pages`, `<market>/expected`)
        #[arg(long)]
        out: PathBuf,
    },
    /// Write what `wget --mirror` (no login) would have saved of every market on each day, as
    /// researchers' archives hold real markets (`<out>/<market>/<YYYY-MM-DD>/<host>/…`), with a
    /// WARC per market and day (`<out>/warc/<market>-<YYYY-MM-DD>.warc.gz`)
    Mirror {
        /// The world's seed: same seed, same world
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A world file (TOML): any of the generator's knobs, the rest at their defaults (see
        /// config/worlds/default.toml); --markets, --world-days and --vendors override it
        #[arg(long, value_name = "FILE")]
        world: Option<PathBuf>,
        /// Number of markets (skins taken in turn: table, cards, list) [default: 3]
        #[arg(long)]
        markets: Option<u32>,
        /// Number of simulated days of the world (the other sim commands' --days) [default: 60]
        #[arg(long)]
        world_days: Option<u32>,
        /// Number of people selling (about 1.2 vendor accounts each) [default: 300]
        #[arg(long)]
        vendors: Option<u32>,
        /// The days to mirror: A..B (both included) or a single day
        #[arg(long, value_name = "A..B", value_parser = parse_day_range)]
        days: std::ops::RangeInclusive<u32>,
        /// The directory to write
        #[arg(long)]
        out: PathBuf,
        /// Save each page under its URL's own name (wget without --adjust-extension): a page
        /// needed both as a file and as a directory is then an error
        #[arg(long)]
        no_adjust_extension: bool,
        /// Write no WARC files
        #[arg(long)]
        no_warc: bool,
    },
}

/// A range of simulated days: `A..B` (both included; `A..=B` too) or a single day `A`.
pub fn parse_day_range(text: &str) -> Result<std::ops::RangeInclusive<u32>, String> {
    let text = text.trim();
    let (first, last) = match text.split_once("..") {
        Some((first, last)) => (first, last.strip_prefix('=').unwrap_or(last)),
        None => (text, text),
    };
    let day = |day: &str| {
        day.trim()
            .parse::<u32>()
            .map_err(|_| format!("{day:?} is not a day number: write A..B or a single day"))
    };
    let (first, last) = (day(first)?, day(last)?);
    if first > last {
        return Err(format!("{text}: the first day comes after the last"));
    }
    Ok(first..=last)
}

/// Misbehaviour of the simulator, for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HostileArg {
    OffsiteRedirect,
    LocalRedirect,
    Oversized,
    CompressionBomb,
    SlowBody,
    TruncatedBody,
    MalformedHtml,
    ParseBombs,
    Traps,
    Gates,
}

/// Where market definitions come from: the built-in ones, plus a directory of TOML files.
#[derive(Debug, Args)]
pub struct MarketsArgs {
    /// A directory of market definitions (*.toml) to use beside the built-in ones; a file
    /// whose market has the name of a built-in one replaces it
    #[arg(long, value_name = "DIR")]
    pub markets_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// The market whose definition reads the pages, or `auto` to recognise it from each page
    #[arg(long, default_value = "auto")]
    pub market: String,
    #[command(flatten)]
    pub markets: MarketsArgs,
    /// Saved pages (HTML)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A corpus directory: <market>/pages/*.html with <market>/expected/*.json
    #[arg(long, value_name = "DIR")]
    pub corpus: PathBuf,
    #[command(flatten)]
    pub markets: MarketsArgs,
    /// Print JSON instead of a report
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Parse-and-extract throughput on one core, in pages per CPU-second
    Parse {
        /// A corpus directory (as for `eval`); every page under it is parsed
        #[arg(long, value_name = "DIR")]
        corpus: PathBuf,
        /// How many times each page is parsed
        #[arg(long, default_value_t = 20)]
        rounds: u32,
        #[command(flatten)]
        markets: MarketsArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create the store if it does not exist and bring its schema up to date
    Migrate,
    /// Show rows per table, crawls, and the first and last observation
    Stats {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Encrypt the store's unencrypted raw bodies in place with the raw-body key
    /// (store.raw_key_file, created if missing), and every new body from then on. Resumable:
    /// stopped at any point, run it again
    EncryptRaw {
        /// Bodies per transaction
        #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        batch: u32,
    },
    /// Delete the raw bodies of pages fetched before a date (the observations stay, and their
    /// captures say the raw page was purged); each purge is recorded in raw_purges
    PurgeRaw {
        /// Purge pages fetched before this day (YYYY-MM-DD, UTC midnight) or instant (RFC 3339)
        #[arg(long, value_parser = parse_instant)]
        before: chrono::DateTime<chrono::Utc>,
        /// Only this market's pages
        #[arg(long)]
        market: Option<String>,
    },
}

/// A day (`2026-01-31`, its UTC midnight) or an RFC 3339 instant.
pub fn parse_instant(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| format!("{text:?} is neither a day (YYYY-MM-DD) nor an RFC 3339 instant"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn intervals_are_bounded() {
        assert_eq!(
            parse_interval("7d"),
            Ok(std::time::Duration::from_secs(7 * 86_400))
        );
        assert_eq!(
            parse_interval("366d"),
            Ok(std::time::Duration::from_secs(366 * 86_400))
        );
        for text in [
            "999999999999999999d",
            "367d",
            "18446744073709551615s",
            "0h",
            "5y",
        ] {
            assert!(parse_interval(text).is_err(), "{text}");
        }
    }
}
