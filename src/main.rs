//! `dnmscope`: the command-line entry point. Glue only: parse the flags, install logging, run
//! the command, print the full error chain and exit non-zero when it fails.

mod cli;
mod commands;
mod config;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // `validate` crawls worlds built to fail (seizures, outages, hostile vendors): their
    // warnings are the expected course of a run, and its output is the table, so it logs only
    // errors unless asked with -v.
    let quiet = match cli.command {
        cli::Command::Validate(_) if cli.global.verbose == 0 => cli.global.quiet.max(1),
        _ => cli.global.quiet,
    };
    install_logging(cli.global.verbose, quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr. `-v` shows debug detail, `-vv` everything, `-q` only errors;
/// `RUST_LOG` overrides all of it.
fn install_logging(verbose: u8, quiet: u8) {
    use tracing_subscriber::EnvFilter;
    let level = match (quiet, verbose) {
        (q, _) if q > 0 => "error",
        (_, 0) => "warn,dnmscope=info",
        (_, 1) => "info,dnmscope=debug,dnmscope_store=debug",
        _ => "debug,dnmscope=trace,dnmscope_store=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only on a terminal: a log written to a file or a pipe carries no escape codes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(verbose > 0)
        .init();
}
