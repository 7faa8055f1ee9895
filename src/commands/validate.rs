//! `dnmscope validate`: the estimators scored against a simulated world's truth, through the
//! test bed the validation test uses (`dnmscope-testbed`).

use std::process::ExitCode;

use anyhow::Context;
use dnmscope_testbed::{markdown_table, validate_world, validation_world, world_from_file};

use crate::cli::ValidateArgs;

pub async fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let (name, text) = match &args.world {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the world file {}", path.display()))?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "world".to_owned());
            (name, Some(text))
        }
        None => ("default".to_owned(), None),
    };
    let mut seeds = args.seeds.clone();
    seeds.sort_unstable();
    seeds.dedup();
    let dir = tempfile::tempdir().context("making a directory for the validation stores")?;
    let mut cards = Vec::new();
    for &seed in &seeds {
        let mut config = match &text {
            Some(text) => world_from_file(text, seed).with_context(|| {
                format!(
                    "in the world file {}",
                    args.world
                        .as_deref()
                        .unwrap_or(std::path::Path::new(""))
                        .display()
                )
            })?,
            None => validation_world(seed),
        };
        config.days = args.days.unwrap_or(config.days);
        config.vendors = args.vendors.unwrap_or(config.vendors);
        if !args.json {
            eprintln!(
                "validating world {name}, seed {seed} ({} days, {} vendors)",
                config.days, config.vendors
            );
        }
        let card = validate_world(&config, &name, dir.path())
            .await
            .with_context(|| format!("validating world {name} with seed {seed}"))?;
        if !args.json {
            eprintln!("  done in {:.1} s", card.seconds);
        }
        cards.push(card);
    }
    let table = markdown_table(&cards);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&cards)?);
    } else {
        if args.details {
            for card in &cards {
                for line in &card.details {
                    println!("seed {}: {line}", card.seed);
                }
            }
            println!();
        }
        print!("{table}");
    }
    if let Some(path) = &args.markdown {
        std::fs::write(path, &table).with_context(|| format!("writing {}", path.display()))?;
    }
    let violations: usize = cards.iter().map(|c| c.violations).sum();
    Ok(if violations == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("the crawler made {violations} forbidden requests");
        ExitCode::FAILURE
    })
}
