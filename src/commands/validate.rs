//! `dnmscope validate`: the estimators scored against simulated worlds' truth, through the
//! test bed the validation test uses (`dnmscope-testbed`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use dnmscope_analytics::report::{self, Report, Section};
use dnmscope_analytics::{Cell, Column, ColumnType, Table};
use dnmscope_testbed::{
    markdown_table, summary_grid, summary_table, validate_world, validation_world, world_from_file,
    world_grid, Grid, Scorecard,
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
    if let Some(dir) = &args.report {
        let report = Report {
            title: "dnmscope validation".to_string(),
            generated_at: chrono::Utc::now(),
            source: format!(
                "simulated worlds {} over seeds {}",
                all.iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                seeds
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            sections: sections(&all),
        };
        let files = report::write(&report, dir, &dnmscope_analytics::chart::Fonts::system())
            .with_context(|| format!("writing the validation report to {}", dir.display()))?;
        if !args.json {
            eprintln!("report: {}", files.index.display());
        }
    }
    let violations: usize = all.iter().flat_map(|(_, c)| c).map(|c| c.violations).sum();
    Ok(if violations == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("the crawler made {violations} forbidden requests");
        ExitCode::FAILURE
    })
}

/// What every validation figure assumes, printed beside the tables.
pub const ASSUMPTIONS: &[&str] = &[
    "Each world is generated from its seed, served on loopback and crawled with the real fetcher \
     and pipeline on seven of its days (at 7, 30, 40, 57, 67, 77 and 90 % of the run); figures \
     count only what those crawls could see: the observed vendor accounts and, per market, the \
     days up to its last crawl while it was up.",
    "Linking: pairs of observed accounts on different markets run by one person; an \
     impersonator is another person, and a probable link to the vendor it copies counts against \
     precision.",
    "Campaigns: a vendor with at least 8 bought reviews dated before its market's last crawl is \
     a campaign to find; a suspected_campaign flag is right on any vendor with a visible bought \
     review. Review-level figures match stored entries to the truth by vendor, date and text.",
    "Sales: the estimate assumes 50 to 90 % of orders leave a review (central 70 %); the truth's \
     own rate is shown beside it. Coverage asks whether the interval holds the true sales.",
    "Harm reduction: each stored post matched to the truth's post by market and text; topics \
     compared post by post (the truth's vendor-review and general threads carry no topic).",
];

/// A grid as a report table (every cell text).
fn grid_table(name: &str, description: &str, grid: &Grid) -> Table {
    let columns = grid
        .header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let name = if i == 0 {
                "figure".to_string()
            } else {
                let clean: String = h
                    .to_lowercase()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                let clean = clean.trim_matches('_');
                if clean.starts_with(|c: char| c.is_ascii_lowercase()) {
                    clean.to_string()
                } else {
                    format!("c{i}_{clean}")
                }
            };
            // Report columns are named by static strings; a validation run writes one report
            // of a few columns, so leaking their names is bounded.
            Column::new(
                Box::leak(name.into_boxed_str()),
                ColumnType::Text,
                Box::leak(h.clone().into_boxed_str()),
            )
        })
        .collect();
    let mut table = Table::new(name, description, columns);
    for row in &grid.rows {
        table.push(row.iter().map(|c| Cell::Text(c.clone())).collect());
    }
    table
}

/// The report's sections: the worlds side by side (when several), then one per world.
pub fn sections(all: &[(String, Vec<Scorecard>)]) -> Vec<Section> {
    let mut sections = Vec::new();
    let assumptions: Vec<String> = ASSUMPTIONS.iter().map(|a| a.to_string()).collect();
    if all.len() > 1 {
        sections.push(Section {
            id: "validation-summary".into(),
            title: "Accuracy across worlds".into(),
            text: "Every estimator scored against the simulator's truth, each world over all its \
                   seeds."
                .into(),
            charts: Vec::new(),
            tables: vec![grid_table(
                "validation_summary",
                "Figures per world over all seeds",
                &summary_grid(all),
            )],
            assumptions: assumptions.clone(),
        });
    }
    for (n, (name, cards)) in all.iter().enumerate() {
        let grid = world_grid(cards);
        sections.push(Section {
            id: format!("validation-{n}"),
            title: format!("Accuracy on the world {name}"),
            text: grid.caption.replace('`', ""),
            charts: Vec::new(),
            tables: vec![grid_table(
                &format!("validation_world_{n}"),
                &format!("Figures on the world {name}, per seed and over all seeds"),
                &grid,
            )],
            assumptions: assumptions.clone(),
        });
    }
    sections
}
