//! `dnmscope validate`: the estimators scored against simulated worlds' truth, through the
//! test bed the validation test uses (`dnmscope-testbed`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use dnmscope_testbed::{
    markdown_table, summary_table, validate_world, validation_world, world_from_file, Scorecard,
};

use crate::cli::ValidateArgs;

/// A world to run: its name and its file's text (`None`: the validation world as it is).
struct World {
    name: String,
    path: Option<PathBuf>,
    text: Option<String>,
}

fn worlds(args: &ValidateArgs) -> anyhow::Result<Vec<World>> {
    if args.worlds.is_empty() {
        return Ok(vec![World {
            name: "default".into(),
            path: None,
            text: None,
        }]);
    }
    let mut worlds: Vec<World> = Vec::new();
    for path in &args.worlds {
        let world = if path.as_os_str() == "default" {
            World {
                name: "default".into(),
                path: None,
                text: None,
            }
        } else {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the world file {}", path.display()))?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "world".to_owned());
            World {
                name,
                path: Some(path.clone()),
                text: Some(text),
            }
        };
        if worlds.iter().any(|w| w.name == world.name) {
            anyhow::bail!(
                "two worlds are named {} (by their files' names)",
                world.name
            );
        }
        worlds.push(world);
    }
    Ok(worlds)
}

pub async fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let worlds = worlds(&args)?;
    let mut seeds = args.seeds.clone();
    seeds.sort_unstable();
    seeds.dedup();
    // Every world file is checked before any crawl starts.
    let mut configs = Vec::new();
    for world in &worlds {
        let mut per_seed = Vec::new();
        for &seed in &seeds {
            let mut config = match (&world.text, &world.path) {
                (Some(text), Some(path)) => world_from_file(text, seed)
                    .with_context(|| format!("in the world file {}", path.display()))?,
                _ => validation_world(seed),
            };
            config.days = args.days.unwrap_or(config.days);
            config.vendors = args.vendors.unwrap_or(config.vendors);
            per_seed.push(config);
        }
        configs.push(per_seed);
    }
    let dir = tempfile::tempdir().context("making a directory for the validation stores")?;
    let mut all: Vec<(String, Vec<Scorecard>)> = Vec::new();
    for (world, per_seed) in worlds.iter().zip(configs) {
        let mut cards = Vec::new();
        for config in per_seed {
            if !args.json {
                eprintln!(
                    "validating world {}, seed {} ({} days, {} vendors)",
                    world.name, config.seed, config.days, config.vendors
                );
            }
            let card = validate_world(&config, &world.name, dir.path())
                .await
                .with_context(|| {
                    format!("validating world {} with seed {}", world.name, config.seed)
                })?;
            if !args.json {
                eprintln!("  done in {:.1} s", card.seconds);
            }
            cards.push(card);
        }
        all.push((world.name.clone(), cards));
    }
    let mut markdown = String::new();
    if all.len() > 1 {
        markdown.push_str(&summary_table(&all));
        markdown.push('\n');
    }
    for (_, cards) in &all {
        markdown.push_str(&markdown_table(cards));
        markdown.push('\n');
    }
    if args.json {
        let cards: Vec<&Scorecard> = all.iter().flat_map(|(_, c)| c).collect();
        println!("{}", serde_json::to_string_pretty(&cards)?);
    } else {
        if args.details {
            for card in all.iter().flat_map(|(_, c)| c) {
                for line in &card.details {
                    println!("{} seed {}: {line}", card.world, card.seed);
                }
            }
            println!();
        }
        print!("{markdown}");
    }
    if let Some(path) = &args.markdown {
        std::fs::write(path, &markdown).with_context(|| format!("writing {}", path.display()))?;
    }
    let violations: usize = all.iter().flat_map(|(_, c)| c).map(|c| c.violations).sum();
    Ok(if violations == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("the crawler made {violations} forbidden requests");
        ExitCode::FAILURE
    })
}
