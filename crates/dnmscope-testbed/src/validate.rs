//! World → serve → crawl → analytics → scorecard: one validation run, and the tables that show
//! a set of them.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use dnmscope_analytics::Dataset;
use dnmscope_crawl::Stop;
use dnmscope_model::{FinishReason, PseudonymKey};
use dnmscope_sim::{generate, WorldConfig};
use dnmscope_store::{AnalyticsFilter, Location, Period, Store, StoreOptions};

use crate::bed::{CrawlSettings, Testbed};
use crate::error::TestbedError;
use crate::score::{score, Scorecard};

/// The world validation runs at unless a world file sets its size: the generator's defaults
/// with 24 vendors of about 3 listings each over 30 days, six forum threads per market and one
/// vendor in ten buying reviews. Small enough to crawl seven times in a minute.
pub fn validation_world(seed: u64) -> WorldConfig {
    WorldConfig {
        days: 30,
        vendors: 24,
        listings_per_vendor: 3.0,
        threads_per_market: 6,
        fake_review_share: 0.1,
        ..WorldConfig::small(seed)
    }
}

/// `validation_world` changed by a world file's text.
pub fn world_from_file(text: &str, seed: u64) -> Result<WorldConfig, dnmscope_sim::SimError> {
    WorldConfig::from_toml(text, validation_world(seed))
}

/// The simulated days crawled in a world of `days` days: seven snapshots at 7, 30, 40, 57, 67,
/// 77 and 90 % of the run. Against the default event script (an outage of the second market
/// for three days from 25 %, the first's seizure at 60 %, the second's exit at 80 %) that is
/// before and during the outage, the last days before the seizure, after it while migrants
/// arrive, and after the exit. On 30 days: 2, 9, 12, 17, 20, 23, 27.
pub fn crawl_schedule(days: u32) -> Vec<u32> {
    let mut schedule: Vec<u32> = [0.07, 0.3, 0.4, 0.57, 0.67, 0.77, 0.9]
        .iter()
        .map(|share| ((f64::from(days) * share).round() as u32).min(days.saturating_sub(1)))
        .collect();
    schedule.dedup();
    schedule
}

/// Generates the world, serves it, crawls it on `crawl_schedule` into a new SQLite store in
/// `dir`, imports the world's BTC rates (a researcher imports historical rates for a market
/// that prints none) and scores the analytics against the truth.
pub async fn validate_world(
    config: &WorldConfig,
    world_name: &str,
    dir: &Path,
) -> Result<Scorecard, TestbedError> {
    let started = Instant::now();
    let world = Arc::new(generate(config).map_err(|source| TestbedError::Serve {
        what: format!("generating the world {world_name} (seed {})", config.seed),
        source: Box::new(source),
    })?);
    let schedule = crawl_schedule(world.config.days);
    let bed = Testbed::start(world.clone(), schedule[0]).await?;
    let mut options = StoreOptions::new(Location::SqliteFile(
        dir.join(format!("validate-{world_name}-{}.sqlite", config.seed)),
    ));
    options.create = true;
    let store = Store::open(&options)
        .await
        .map_err(|source| TestbedError::Store {
            what: "opening the validation store".into(),
            source: Box::new(source),
        })?;
    let settings = CrawlSettings::complete(PseudonymKey::from_bytes(
        *blake3::hash(format!("validation {}", config.seed).as_bytes()).as_bytes(),
    ));
    let mut incomplete = Vec::new();
    for &day in &schedule {
        let outcome = bed.crawl_day(&store, day, &settings, &Stop::new()).await?;
        if outcome.finish != Some(FinishReason::Completed) {
            incomplete.push(format!("the crawl of day {day} ended {:?}", outcome.finish));
        }
    }
    let violations = bed.violations();
    bed.stop().await;
    let rates: String = std::iter::once("date,currency,usd\n".to_string())
        .chain(
            (0..world.config.days)
                .map(|d| format!("{},BTC,{}\n", world.date(d), world.btc_rate(d))),
        )
        .collect();
    let rates = dnmscope_analytics::parse_rates_csv(&rates, "btc.csv", "the world's BTC rates")
        .map_err(|source| TestbedError::Analytics {
            what: "reading the world's BTC rates".into(),
            source: Box::new(source),
        })?;
    store
        .import_rates(&rates)
        .await
        .map_err(|source| TestbedError::Store {
            what: "importing the world's BTC rates".into(),
            source: Box::new(source),
        })?;
    let data = Dataset::load(&store, &AnalyticsFilter::default(), Period::Week)
        .await
        .map_err(|source| TestbedError::Analytics {
            what: "loading the crawled data".into(),
            source: Box::new(source),
        })?;
    let mut card = score(&world, world_name, &data, &schedule);
    card.details.extend(incomplete);
    for v in &violations {
        card.details
            .push(format!("the crawler requested a forbidden page: {v:?}"));
    }
    card.violations = violations.len();
    card.seconds = started.elapsed().as_secs_f64();
    store.close().await;
    tracing::info!(
        world = world_name,
        seed = config.seed,
        seconds = card.seconds,
        "validated"
    );
    Ok(card)
}

fn share(x: f64) -> String {
    format!("{x:.3}")
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.collect();
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// A table of figures: a caption, column headers, rows of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Grid {
    /// As Markdown: the caption, then the table.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        if !self.caption.is_empty() {
            let _ = writeln!(out, "{}\n", self.caption);
        }
        let _ = writeln!(out, "| {} |", self.header.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(self.header.len()));
        for row in &self.rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out
    }
}

/// The scorecards of one world (one per seed) as a Markdown table: a row per figure, a column
/// per seed and one for all seeds together.
pub fn markdown_table(cards: &[Scorecard]) -> String {
    world_grid(cards).markdown()
}

/// The scorecards of one world as a [`Grid`].
pub fn world_grid(cards: &[Scorecard]) -> Grid {
    let Some(first) = cards.first() else {
        return Grid {
            caption: String::new(),
            header: Vec::new(),
            rows: Vec::new(),
        };
    };
    let seeds: Vec<String> = cards.iter().map(|c| c.seed.to_string()).collect();
    let caption = format!(
        "World `{}`: {} days, crawled on days {:?}; seeds {}.",
        first.world,
        first.days,
        first.crawl_days,
        seeds.join(", ")
    );
    let mut header = vec!["figure".to_string()];
    header.extend(seeds.iter().map(|s| format!("seed {s}")));
    header.push("all".into());
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |name: &str, cell: &dyn Fn(&Scorecard) -> String, all: String| {
        let mut r = vec![name.to_string()];
        r.extend(cards.iter().map(cell));
        r.push(all);
        rows.push(r);
    };
    let sum = |f: &dyn Fn(&Scorecard) -> usize| cards.iter().map(f).sum::<usize>();
    row(
        "vendor accounts observed",
        &|c| format!("{} of {}", c.observed_accounts, c.vendor_accounts),
        format!(
            "{} of {}",
            sum(&|c| c.observed_accounts),
            sum(&|c| c.vendor_accounts)
        ),
    );
    row(
        "linking precision",
        &|c| {
            format!(
                "{} ({}/{})",
                share(c.linking.precision),
                c.linking.correct,
                c.linking.probable
            )
        },
        share(super::score::ratio(
            sum(&|c| c.linking.correct),
            sum(&|c| c.linking.probable),
        )),
    );
    row(
        "linking recall",
        &|c| {
            format!(
                "{} ({}/{})",
                share(c.linking.recall),
                c.linking.correct,
                c.linking.true_pairs
            )
        },
        share(super::score::ratio(
            sum(&|c| c.linking.correct),
            sum(&|c| c.linking.true_pairs),
        )),
    );
    let families: std::collections::BTreeSet<&String> = cards
        .iter()
        .flat_map(|c| c.linking.by_family.keys())
        .collect();
    for family in families {
        let get = |c: &Scorecard| c.linking.by_family.get(family).copied().unwrap_or_default();
        row(
            &format!("recall of {family} pairs"),
            &|c| format!("{}/{}", get(c).found, get(c).of),
            format!("{}/{}", sum(&|c| get(c).found), sum(&|c| get(c).of)),
        );
    }
    row(
        "recall of pairs with a signed key rotation",
        &|c| {
            format!(
                "{}/{}",
                c.linking.signed_rotations.found, c.linking.signed_rotations.of
            )
        },
        format!(
            "{}/{}",
            sum(&|c| c.linking.signed_rotations.found),
            sum(&|c| c.linking.signed_rotations.of)
        ),
    );
    row(
        "recall of pairs where one account publishes no key",
        &|c| {
            format!(
                "{}/{}",
                c.linking.dropped_keys.found, c.linking.dropped_keys.of
            )
        },
        format!(
            "{}/{}",
            sum(&|c| c.linking.dropped_keys.found),
            sum(&|c| c.linking.dropped_keys.of)
        ),
    );
    row(
        "impersonators linked to the vendor they copy",
        &|c| {
            format!(
                "{} of {}",
                c.linking.impersonators_linked, c.linking.impersonators
            )
        },
        format!(
            "{} of {}",
            sum(&|c| c.linking.impersonators_linked),
            sum(&|c| c.linking.impersonators)
        ),
    );
    row(
        "campaigns caught (recall)",
        &|c| format!("{}/{}", c.campaigns.caught, c.campaigns.campaigns),
        share(super::score::ratio(
            sum(&|c| c.campaigns.caught),
            sum(&|c| c.campaigns.campaigns),
        )),
    );
    row(
        "campaign flags right (precision)",
        &|c| {
            format!(
                "{}/{}",
                c.campaigns.flagged_right, c.campaigns.flagged_vendors
            )
        },
        share(super::score::ratio(
            sum(&|c| c.campaigns.flagged_right),
            sum(&|c| c.campaigns.flagged_vendors),
        )),
    );
    row(
        "bought reviews flagged (review recall)",
        &|c| format!("{}/{}", c.campaigns.fake_flagged, c.campaigns.fake_entries),
        share(super::score::ratio(
            sum(&|c| c.campaigns.fake_flagged),
            sum(&|c| c.campaigns.fake_entries),
        )),
    );
    row(
        "flagged reviews bought (review precision)",
        &|c| {
            format!(
                "{}/{}",
                c.campaigns.fake_flagged, c.campaigns.flagged_entries
            )
        },
        share(super::score::ratio(
            sum(&|c| c.campaigns.fake_flagged),
            sum(&|c| c.campaigns.flagged_entries),
        )),
    );
    row(
        "true sales; true review rate",
        &|c| format!("{}; {:.2}", c.sales.true_sales, c.sales.true_review_rate),
        String::new(),
    );
    row(
        "estimated sales [interval]",
        &|c| {
            format!(
                "{:.0} [{:.0}, {:.0}]",
                c.sales.estimate.sales, c.sales.estimate.sales_low, c.sales.estimate.sales_high
            )
        },
        String::new(),
    );
    row(
        "sales error; interval covers the truth",
        &|c| {
            format!(
                "{:.1} %; {}",
                100.0 * c.sales.sales_error,
                if c.sales.covered { "yes" } else { "no" }
            )
        },
        format!(
            "{:.1} %; {} of {}",
            100.0 * mean(cards.iter().map(|c| c.sales.sales_error)),
            cards.iter().filter(|c| c.sales.covered).count(),
            cards.len()
        ),
    );
    row(
        "revenue error; interval covers the truth",
        &|c| {
            format!(
                "{:.1} %; {}",
                100.0 * c.sales.revenue_error,
                if c.sales.revenue_covered { "yes" } else { "no" }
            )
        },
        format!(
            "{:.1} %; {} of {}",
            100.0 * mean(cards.iter().map(|c| c.sales.revenue_error)),
            cards.iter().filter(|c| c.sales.revenue_covered).count(),
            cards.len()
        ),
    );
    row(
        "harm-reduction topics per post: F1 (P, R)",
        &|c| {
            format!(
                "{} ({}, {})",
                share(c.harm.overall.f1),
                share(c.harm.overall.precision),
                share(c.harm.overall.recall)
            )
        },
        share(mean(cards.iter().map(|c| c.harm.overall.f1))),
    );
    let topics: std::collections::BTreeSet<&String> =
        cards.iter().flat_map(|c| c.harm.topics.keys()).collect();
    for topic in topics {
        row(
            &format!("F1 of {topic}"),
            &|c| {
                c.harm
                    .topics
                    .get(topic)
                    .map(|t| share(t.f1))
                    .unwrap_or_default()
            },
            share(mean(
                cards
                    .iter()
                    .filter_map(|c| c.harm.topics.get(topic).map(|t| t.f1)),
            )),
        );
    }
    row(
        "posts scored (of stored)",
        &|c| format!("{} of {}", c.harm.matched, c.harm.posts),
        format!("{} of {}", sum(&|c| c.harm.matched), sum(&|c| c.harm.posts)),
    );
    row(
        "events detected (observable)",
        &|c| {
            let observable = c.events.events.iter().filter(|e| e.observable).count();
            let detected = c.events.events.iter().filter(|e| e.detected).count();
            format!("{detected}/{observable}")
        },
        format!(
            "{}/{}",
            cards
                .iter()
                .flat_map(|c| &c.events.events)
                .filter(|e| e.detected)
                .count(),
            cards
                .iter()
                .flat_map(|c| &c.events.events)
                .filter(|e| e.observable)
                .count()
        ),
    );
    row(
        "false event alarms",
        &|c| c.events.false_alarms.to_string(),
        sum(&|c| c.events.false_alarms).to_string(),
    );
    row(
        "migrations after the seizure: recall (precision)",
        &|c| {
            format!(
                "{}/{} ({})",
                c.events.migrations.found,
                c.events.migrations.of,
                share(c.events.migration_precision)
            )
        },
        format!(
            "{}/{}",
            sum(&|c| c.events.migrations.found),
            sum(&|c| c.events.migrations.of)
        ),
    );
    row(
        "reappearances after the seizure: recall (precision)",
        &|c| {
            format!(
                "{}/{} ({})",
                c.events.reappearances.found,
                c.events.reappearances.of,
                share(c.events.reappearance_precision)
            )
        },
        format!(
            "{}/{}",
            sum(&|c| c.events.reappearances.found),
            sum(&|c| c.events.reappearances.of)
        ),
    );
    row(
        "forbidden requests",
        &|c| c.violations.to_string(),
        sum(&|c| c.violations).to_string(),
    );
    Grid {
        caption,
        header,
        rows,
    }
}

/// Several worlds side by side, each over all its seeds: a row per figure, a column per world.
pub fn summary_table(worlds: &[(String, Vec<Scorecard>)]) -> String {
    summary_grid(worlds).markdown()
}

/// [`summary_table`] as a [`Grid`].
pub fn summary_grid(worlds: &[(String, Vec<Scorecard>)]) -> Grid {
    let mut header = vec!["figure (all seeds)".to_string()];
    header.extend(worlds.iter().map(|(name, _)| format!("`{name}`")));
    let mut grid = Grid {
        caption: String::new(),
        header,
        rows: Vec::new(),
    };
    type Cell<'a> = &'a dyn Fn(&[Scorecard]) -> String;
    let rows: Vec<(&str, Cell)> = vec![
        ("seeds", &|c| {
            c.iter()
                .map(|c| c.seed.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }),
        ("linking precision", &|c| {
            share(super::score::ratio(
                sum_of(c, |c| c.linking.correct),
                sum_of(c, |c| c.linking.probable),
            ))
        }),
        ("linking recall", &|c| {
            share(super::score::ratio(
                sum_of(c, |c| c.linking.correct),
                sum_of(c, |c| c.linking.true_pairs),
            ))
        }),
        ("impersonators linked", &|c| {
            format!(
                "{} of {}",
                sum_of(c, |c| c.linking.impersonators_linked),
                sum_of(c, |c| c.linking.impersonators)
            )
        }),
        ("campaign recall", &|c| {
            format!(
                "{} ({}/{})",
                share(super::score::ratio(
                    sum_of(c, |c| c.campaigns.caught),
                    sum_of(c, |c| c.campaigns.campaigns)
                )),
                sum_of(c, |c| c.campaigns.caught),
                sum_of(c, |c| c.campaigns.campaigns)
            )
        }),
        ("campaign precision", &|c| {
            format!(
                "{} ({}/{})",
                share(super::score::ratio(
                    sum_of(c, |c| c.campaigns.flagged_right),
                    sum_of(c, |c| c.campaigns.flagged_vendors)
                )),
                sum_of(c, |c| c.campaigns.flagged_right),
                sum_of(c, |c| c.campaigns.flagged_vendors)
            )
        }),
        ("bought reviews flagged (review recall)", &|c| {
            share(super::score::ratio(
                sum_of(c, |c| c.campaigns.fake_flagged),
                sum_of(c, |c| c.campaigns.fake_entries),
            ))
        }),
        ("flagged reviews bought (review precision)", &|c| {
            share(super::score::ratio(
                sum_of(c, |c| c.campaigns.fake_flagged),
                sum_of(c, |c| c.campaigns.flagged_entries),
            ))
        }),
        ("sales error (mean); interval covers", &|c| {
            format!(
                "{:.1} %; {} of {}",
                100.0 * mean(c.iter().map(|c| c.sales.sales_error)),
                c.iter().filter(|c| c.sales.covered).count(),
                c.len()
            )
        }),
        ("revenue error (mean); interval covers", &|c| {
            format!(
                "{:.1} %; {} of {}",
                100.0 * mean(c.iter().map(|c| c.sales.revenue_error)),
                c.iter().filter(|c| c.sales.revenue_covered).count(),
                c.len()
            )
        }),
        ("harm-reduction topic F1 per post", &|c| {
            let tp = sum_of(c, |c| c.harm.overall.true_positives) as f64;
            let wrong = sum_of(c, |c| {
                c.harm.overall.false_positives + c.harm.overall.false_negatives
            }) as f64;
            share(if tp + wrong == 0.0 {
                1.0
            } else {
                2.0 * tp / (2.0 * tp + wrong)
            })
        }),
        ("events detected (observable)", &|c| {
            let events = || c.iter().flat_map(|c| &c.events.events);
            format!(
                "{}/{}",
                events().filter(|e| e.detected).count(),
                events().filter(|e| e.observable).count()
            )
        }),
        ("false event alarms", &|c| {
            sum_of(c, |c| c.events.false_alarms).to_string()
        }),
        ("migrations recovered", &|c| {
            format!(
                "{}/{}",
                sum_of(c, |c| c.events.migrations.found),
                sum_of(c, |c| c.events.migrations.of)
            )
        }),
        ("forbidden requests", &|c| {
            sum_of(c, |c| c.violations).to_string()
        }),
    ];
    for (name, cell) in rows {
        let mut row = vec![name.to_string()];
        row.extend(worlds.iter().map(|(_, cards)| cell(cards)));
        grid.rows.push(row);
    }
    grid
}

fn sum_of(cards: &[Scorecard], f: impl Fn(&Scorecard) -> usize) -> usize {
    cards.iter().map(f).sum()
}
