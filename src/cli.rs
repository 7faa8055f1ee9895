//! The command line, as close to what the user typed as possible; `commands` validates it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// Parse saved pages with a market definition and print one JSON object per file
    Parse(ParseArgs),
    /// Score the market definitions against a labelled corpus (SCHEMA.md layout)
    Eval(EvalArgs),
    /// Measure performance
    #[command(subcommand)]
    Bench(BenchCommand),
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
