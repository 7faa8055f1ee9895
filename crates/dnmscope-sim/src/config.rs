//! The knobs of a simulated world. Same configuration and seed, same world.
//!
//! A world file (`dnmscope sim ... --world FILE`, [`WorldConfig::from_toml`]) sets any of them;
//! `config/worlds/default.toml` lists every knob with today's default and what it means.

use serde::{Deserialize, Serialize};

use crate::world::{Day, EventKind};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorldConfig {
    pub seed: u64,
    /// Number of markets (skins are assigned in turn: table, cards, list).
    pub markets: u32,
    /// Days simulated (day 0 up to `days - 1`).
    pub days: u32,
    /// Real people selling at the start and joining later (each has one or
    /// more vendor accounts).
    pub vendors: u32,
    /// Mean number of listings a vendor account has at any time.
    pub listings_per_vendor: f64,
    /// Mean days a listing stays up before the vendor replaces it.
    pub listing_lifetime_days: f64,
    /// Share of real sales that leave a review.
    pub feedback_rate: f64,
    /// Share of vendor accounts running a fake-review campaign.
    pub fake_review_share: f64,
    /// Share of vendors on a closed market who move to a surviving one.
    pub migration_share: f64,
    /// Forum threads per market.
    pub threads_per_market: u32,
    /// Scripted events; `None` picks the default script for the world's size.
    pub events: Option<Vec<ScriptedEvent>>,
    /// How vendors behave across markets: handles, keys, imported ratings, impersonators.
    pub behaviour: Behaviour,
}

/// How vendors present themselves across markets. The defaults are the world the estimators
/// were first written against; a world file changes them to make worlds they were not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Behaviour {
    pub accounts: AccountBehaviour,
    pub migration: MigrationBehaviour,
    pub impersonators: Impersonators,
    pub fake_reviews: FakeReviews,
    pub feedback: FeedbackBehaviour,
}

/// How buyers review and how markets show reviews.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FeedbackBehaviour {
    /// The share of real sales that leave a review on each market, in market order (a market
    /// not listed uses `feedback_rate`).
    pub rate_by_market: Vec<f64>,
    /// How that share changes over the run: added per 30 days (-0.2: buyers review less and
    /// less), the result kept between 0 and 1.
    pub rate_change_per_30_days: f64,
    /// Share of vendor accounts that hide their feedback: their pages show the rating and
    /// counts but no entries.
    pub hidden_share: f64,
    /// Markets show only a vendor's latest this many entries (0: all of them).
    pub show_last: u32,
}

/// How the vendors who buy reviews (`fake_review_share` of them) run their campaigns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FakeReviews {
    /// A campaign lasts this many days at least and at most.
    pub campaign_days_min: u32,
    pub campaign_days_max: u32,
    /// Reviews a campaign buys, at least and at most.
    pub reviews_min: u32,
    pub reviews_max: u32,
    /// What the reviews say: `short` generic praise ("A+++", "legit"), or `like_real`, drawn
    /// from the texts real five-star reviews use.
    pub text: FakeText,
    /// Share of the reviews left by aged buyer accounts (existing buyers with orders behind
    /// them) rather than accounts made for the review.
    pub aged_buyers: f64,
    /// Share of campaigns that are negative: one- and two-star reviews a competitor buys
    /// against the vendor.
    pub negative_share: f64,
}

impl Default for FakeReviews {
    fn default() -> Self {
        FakeReviews {
            campaign_days_min: 2,
            campaign_days_max: 3,
            reviews_min: 15,
            reviews_max: 40,
            text: FakeText::Short,
            aged_buyers: 0.0,
            negative_share: 0.0,
        }
    }
}

/// What fake reviews say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FakeText {
    Short,
    LikeReal,
}

/// Vendors who sell on several markets from the start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountBehaviour {
    /// Share of a person's second and third accounts that use the person's handle unchanged
    /// (the others change it, drawn from `handle_changes`).
    pub same_handle: f64,
    /// Share of accounts showing a rating imported from a market outside the simulation.
    pub outside_rating_share: f64,
    /// How a changed handle changes.
    pub handle_changes: HandleFamilies,
}

impl Default for AccountBehaviour {
    fn default() -> Self {
        AccountBehaviour {
            same_handle: 0.8,
            outside_rating_share: 0.15,
            handle_changes: HandleFamilies::default(),
        }
    }
}

/// Vendors who move after their market closes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MigrationBehaviour {
    /// Share of movers who keep their handle unchanged.
    pub keep_handle: f64,
    /// Share of movers who keep their PGP key (the others make a new one).
    pub keep_key: f64,
    /// Share of the movers with a new key who certify it with their old one (a third-party
    /// signature on the new key's user id, as vendors announce a rotation).
    pub sign_new_key: f64,
    /// Share of movers who publish no PGP key at all on their new market.
    pub drop_key: f64,
    /// Share of movers whose new profile shows the closed market's rating.
    pub import_rating: f64,
    /// How a changed handle changes.
    pub handle_changes: HandleFamilies,
}

impl Default for MigrationBehaviour {
    fn default() -> Self {
        MigrationBehaviour {
            keep_handle: 0.65,
            keep_key: 0.9,
            sign_new_key: 0.0,
            drop_key: 0.0,
            import_rating: 1.0,
            handle_changes: HandleFamilies::default(),
        }
    }
}

/// A mixture of the ways a vendor changes a handle: relative weights (at least one above 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HandleFamilies {
    /// `greendragon_official`, `thegreendragon`, `greendragon17`, `real_greendragon`.
    pub decorations: f64,
    /// Letters written as digits or look-alikes: `gr33ndrag0n`, `GreenDragon` as `GreenDrag0n`.
    pub leetspeak: f64,
    /// Separators and case: `green.dragon`, `Green-Dragon`, `GREEN_DRAGON`.
    pub separators_case: f64,
    /// The words swapped or cut short: `dragongreen`, `grndrgn`, `gdragon`.
    pub reordered: f64,
    /// A new handle with nothing in common (the same person, often the same key).
    pub unrelated: f64,
}

impl Default for HandleFamilies {
    fn default() -> Self {
        HandleFamilies {
            decorations: 1.0,
            leetspeak: 0.0,
            separators_case: 0.0,
            reordered: 0.0,
            unrelated: 0.0,
        }
    }
}

/// How a handle was changed (recorded on the account in the truth).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandleFamily {
    Decorations,
    Leetspeak,
    SeparatorsCase,
    Reordered,
    Unrelated,
}

impl HandleFamilies {
    pub(crate) fn weights(&self) -> [(HandleFamily, f64); 5] {
        [
            (HandleFamily::Decorations, self.decorations),
            (HandleFamily::Leetspeak, self.leetspeak),
            (HandleFamily::SeparatorsCase, self.separators_case),
            (HandleFamily::Reordered, self.reordered),
            (HandleFamily::Unrelated, self.unrelated),
        ]
    }

    fn check(&self, place: &str) -> Option<String> {
        let weights = self.weights();
        if weights
            .iter()
            .any(|(_, w)| !w.is_finite() || *w < 0.0 || *w > 1e6)
        {
            return Some(format!(
                "{place}: each weight must be between 0 and 1000000"
            ));
        }
        if weights.iter().all(|(_, w)| *w == 0.0) {
            return Some(format!("{place}: at least one weight must be above 0"));
        }
        None
    }
}

/// Accounts that copy a famous vendor's handle with a key of their own: other people, whom a
/// linker must not link to the vendor they copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Impersonators {
    /// How many (each copies one of the most popular vendors, on a market that vendor is not on
    /// when there is one).
    pub count: u32,
    /// Share of impersonators whose profile claims the copied vendor's rating from the copied
    /// vendor's market (a forged imported rating, with the figures the copied vendor shows).
    pub forged_rating_share: f64,
}

/// A world file: any of [`WorldConfig`]'s knobs; the ones it leaves out keep their defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorldFile {
    markets: Option<u32>,
    days: Option<u32>,
    vendors: Option<u32>,
    listings_per_vendor: Option<f64>,
    listing_lifetime_days: Option<f64>,
    feedback_rate: Option<f64>,
    fake_review_share: Option<f64>,
    migration_share: Option<f64>,
    threads_per_market: Option<u32>,
    events: Option<Vec<ScriptedEvent>>,
    #[serde(default)]
    accounts: Option<AccountBehaviour>,
    #[serde(default)]
    migration: Option<MigrationBehaviour>,
    #[serde(default)]
    impersonators: Option<Impersonators>,
    #[serde(default)]
    fake_reviews: Option<FakeReviews>,
    #[serde(default)]
    feedback: Option<FeedbackBehaviour>,
}

/// One scripted event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedEvent {
    pub market: u32,
    pub kind: EventKind,
    pub day: Day,
    /// Days an outage lasts.
    #[serde(default)]
    pub length: u32,
}

impl WorldConfig {
    /// The benchmark-sized world: 3 markets, 60 days, ~500 vendor accounts,
    /// ~20,000 listings.
    pub fn new(seed: u64) -> WorldConfig {
        WorldConfig {
            seed,
            markets: 3,
            days: 60,
            vendors: 300,
            listings_per_vendor: 24.0,
            listing_lifetime_days: 28.0,
            feedback_rate: 0.7,
            fake_review_share: 0.03,
            migration_share: 0.7,
            threads_per_market: 120,
            events: None,
            behaviour: Behaviour::default(),
        }
    }

    /// `base` changed by a world file's text (TOML; see `config/worlds/default.toml`). An
    /// unknown key, a value of the wrong type or out of range is an error naming it.
    pub fn from_toml(text: &str, base: WorldConfig) -> Result<WorldConfig, crate::SimError> {
        let file: WorldFile =
            toml::from_str(text).map_err(|e| crate::SimError::Config(e.to_string()))?;
        let mut config = base;
        macro_rules! set {
            ($($field:ident),*) => {
                $(if let Some(value) = file.$field { config.$field = value; })*
            };
        }
        set!(
            markets,
            days,
            vendors,
            listings_per_vendor,
            listing_lifetime_days,
            feedback_rate,
            fake_review_share,
            migration_share,
            threads_per_market
        );
        if let Some(events) = file.events {
            config.events = Some(events);
        }
        if let Some(accounts) = file.accounts {
            config.behaviour.accounts = accounts;
        }
        if let Some(migration) = file.migration {
            config.behaviour.migration = migration;
        }
        if let Some(impersonators) = file.impersonators {
            config.behaviour.impersonators = impersonators;
        }
        if let Some(fake_reviews) = file.fake_reviews {
            config.behaviour.fake_reviews = fake_reviews;
        }
        if let Some(feedback) = file.feedback {
            config.behaviour.feedback = feedback;
        }
        crate::generate::validate(&config)?;
        Ok(config)
    }

    /// What is wrong with the behaviour knobs, if anything.
    pub(crate) fn problem(&self) -> Option<String> {
        let b = &self.behaviour;
        let shares = [
            ("accounts.same_handle", b.accounts.same_handle),
            (
                "accounts.outside_rating_share",
                b.accounts.outside_rating_share,
            ),
            ("migration.keep_handle", b.migration.keep_handle),
            ("migration.keep_key", b.migration.keep_key),
            ("migration.sign_new_key", b.migration.sign_new_key),
            ("migration.drop_key", b.migration.drop_key),
            ("migration.import_rating", b.migration.import_rating),
            (
                "impersonators.forged_rating_share",
                b.impersonators.forged_rating_share,
            ),
            ("fake_reviews.aged_buyers", b.fake_reviews.aged_buyers),
            ("fake_reviews.negative_share", b.fake_reviews.negative_share),
            ("feedback.hidden_share", b.feedback.hidden_share),
        ];
        for (name, value) in shares {
            if !(0.0..=1.0).contains(&value) {
                return Some(format!("{name} must be between 0 and 1, not {value}"));
            }
        }
        if let Some(problem) = b
            .accounts
            .handle_changes
            .check("accounts.handle_changes")
            .or_else(|| b.migration.handle_changes.check("migration.handle_changes"))
        {
            return Some(problem);
        }
        for (n, rate) in b.feedback.rate_by_market.iter().enumerate() {
            if !(0.0..=1.0).contains(rate) {
                return Some(format!(
                    "feedback.rate_by_market[{n}] must be between 0 and 1, not {rate}"
                ));
            }
        }
        if b.feedback.rate_by_market.len() > self.markets as usize {
            return Some(format!(
                "feedback.rate_by_market has {} rates for {} markets",
                b.feedback.rate_by_market.len(),
                self.markets
            ));
        }
        if !(-1.0..=1.0).contains(&b.feedback.rate_change_per_30_days) {
            return Some(format!(
                "feedback.rate_change_per_30_days must be between -1 and 1, not {}",
                b.feedback.rate_change_per_30_days
            ));
        }
        let f = &b.fake_reviews;
        if f.campaign_days_min == 0
            || f.campaign_days_min > f.campaign_days_max
            || f.campaign_days_max > 365
        {
            return Some(format!(
                "fake_reviews.campaign_days_min and campaign_days_max must satisfy 1 <= min <= max <= 365, not {} and {}",
                f.campaign_days_min, f.campaign_days_max
            ));
        }
        if f.reviews_min == 0 || f.reviews_min > f.reviews_max || f.reviews_max > 1_000 {
            return Some(format!(
                "fake_reviews.reviews_min and reviews_max must satisfy 1 <= min <= max <= 1000, not {} and {}",
                f.reviews_min, f.reviews_max
            ));
        }
        if b.impersonators.count > self.vendors {
            return Some(format!(
                "impersonators.count must be at most vendors ({}), not {}",
                self.vendors, b.impersonators.count
            ));
        }
        for (n, event) in self.events.iter().flatten().enumerate() {
            if event.day >= self.days {
                return Some(format!(
                    "events[{n}].day must be below days ({}), not {}",
                    self.days, event.day
                ));
            }
        }
        None
    }

    /// A small world for tests and the demo: the same machinery, fewer rows.
    pub fn small(seed: u64) -> WorldConfig {
        WorldConfig {
            vendors: 40,
            listings_per_vendor: 5.0,
            threads_per_market: 12,
            ..WorldConfig::new(seed)
        }
    }

    /// The events of the world: the configured ones, or the default script (on
    /// worlds of two or more markets): the first market is seized at 60 % of
    /// the run, the second has a three-day outage at 25 % and (with three or
    /// more markets) exits with its buyers' money at 80 %.
    pub fn script(&self) -> Vec<ScriptedEvent> {
        if let Some(events) = &self.events {
            return events.clone();
        }
        let at = |share: f64| ((f64::from(self.days) * share).round() as Day).max(1);
        let mut events = Vec::new();
        if self.markets >= 2 {
            events.push(ScriptedEvent {
                market: 0,
                kind: EventKind::Seizure,
                day: at(0.6),
                length: 0,
            });
            events.push(ScriptedEvent {
                market: 1,
                kind: EventKind::Outage,
                day: at(0.25),
                length: 3,
            });
        }
        if self.markets >= 3 {
            events.push(ScriptedEvent {
                market: 1,
                kind: EventKind::ExitScam,
                day: at(0.8),
                length: 0,
            });
        }
        events.retain(|e| e.day < self.days);
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = include_str!("../../../config/worlds/default.toml");

    /// Every key path of a TOML value (`migration.handle_changes.leetspeak`).
    fn keys(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
        if let toml::Value::Table(table) = value {
            for (key, value) in table {
                let path = format!("{prefix}{key}");
                match value {
                    toml::Value::Table(_) => keys(value, &format!("{path}."), out),
                    _ => out.push(path),
                }
            }
        }
    }

    #[test]
    fn the_default_world_file_is_the_default_world_and_names_every_knob() {
        let config = WorldConfig::from_toml(DEFAULT, WorldConfig::new(5)).unwrap();
        assert_eq!(config, WorldConfig::new(5));
        // Every knob is in the file: the scalar fields and every behaviour key.
        let mut written = Vec::new();
        keys(&DEFAULT.parse::<toml::Value>().unwrap(), "", &mut written);
        written.sort();
        let mut knobs = Vec::new();
        keys(
            &toml::Value::try_from(&WorldConfig::new(5).behaviour).unwrap(),
            "",
            &mut knobs,
        );
        knobs.extend(
            [
                "markets",
                "days",
                "vendors",
                "listings_per_vendor",
                "listing_lifetime_days",
                "threads_per_market",
                "feedback_rate",
                "fake_review_share",
                "migration_share",
            ]
            .map(String::from),
        );
        knobs.sort();
        assert_eq!(written, knobs);
        // The shipped adversarial worlds read.
        for text in [
            include_str!("../../../config/worlds/handles.toml"),
            include_str!("../../../config/worlds/impersonators.toml"),
            include_str!("../../../config/worlds/fake_reviews.toml"),
            include_str!("../../../config/worlds/feedback.toml"),
            include_str!("../../../config/worlds/negative_reviews.toml"),
            include_str!("../../../config/worlds/keys.toml"),
        ] {
            let config = WorldConfig::from_toml(text, WorldConfig::new(5)).unwrap();
            assert_ne!(config, WorldConfig::new(5));
        }
    }

    fn error(text: &str) -> String {
        WorldConfig::from_toml(text, WorldConfig::small(1))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_bad_world_file_is_refused_naming_the_key() {
        let unknown = error("[migration]\nkeep_handles = 0.5\n");
        assert!(
            unknown.contains("unknown field `keep_handles`") && unknown.contains("line 2"),
            "{unknown}"
        );
        let share = error("[migration]\nkeep_key = 1.5\n");
        assert!(
            share.contains("migration.keep_key must be between 0 and 1, not 1.5"),
            "{share}"
        );
        let none = error("[accounts.handle_changes]\ndecorations = 0.0\n");
        assert!(
            none.contains("accounts.handle_changes: at least one weight must be above 0"),
            "{none}"
        );
        let negative = error("[migration.handle_changes]\nleetspeak = -1\n");
        assert!(negative.contains("migration.handle_changes"), "{negative}");
        let too_many = error("vendors = 5\n[impersonators]\ncount = 6\n");
        assert!(
            too_many.contains("impersonators.count must be at most vendors (5), not 6"),
            "{too_many}"
        );
        let event = error("[[events]]\nmarket = 3\nkind = \"seizure\"\nday = 4\n");
        assert!(
            event.contains("an event names market 3 but the world has 3 markets"),
            "{event}"
        );
        let late = error("days = 10\n[[events]]\nmarket = 0\nkind = \"seizure\"\nday = 10\n");
        assert!(
            late.contains("events[0].day must be below days (10), not 10"),
            "{late}"
        );
        let kind = error("[[events]]\nmarket = 0\nkind = \"raid\"\nday = 4\n");
        assert!(kind.contains("unknown variant `raid`"), "{kind}");
        let spread = error("[fake_reviews]\ncampaign_days_min = 5\ncampaign_days_max = 4\n");
        assert!(
            spread.contains("fake_reviews.campaign_days_min"),
            "{spread}"
        );
        let text = error("[fake_reviews]\ntext = \"long\"\n");
        assert!(text.contains("unknown variant `long`"), "{text}");
        let rate = error("[feedback]\nrate_by_market = [0.5, 1.2]\n");
        assert!(
            rate.contains("feedback.rate_by_market[1] must be between 0 and 1, not 1.2"),
            "{rate}"
        );
        let rates = error("[feedback]\nrate_by_market = [0.5, 0.5, 0.5, 0.5]\n");
        assert!(
            rates.contains("feedback.rate_by_market has 4 rates for 3 markets"),
            "{rates}"
        );
        let hidden = error("[feedback]\nhidden_share = -0.1\n");
        assert!(hidden.contains("feedback.hidden_share"), "{hidden}");
        let typed = error("days = \"many\"\n");
        assert!(typed.contains("invalid type"), "{typed}");
    }

    #[test]
    fn feedback_knobs_change_what_is_reviewed_and_shown() {
        let base = WorldConfig {
            days: 20,
            vendors: 12,
            ..WorldConfig::small(3)
        };
        let plain = crate::generate(&base).unwrap();
        let world = |text: &str| {
            crate::generate(&WorldConfig::from_toml(text, base.clone()).unwrap()).unwrap()
        };
        let real = |w: &crate::World, market: u32| {
            let reviews = w
                .feedback
                .iter()
                .filter(|f| !f.fake && w.vendors[f.vendor as usize].market == market)
                .count();
            let sales = w
                .sales
                .iter()
                .filter(|s| s.real && w.listings[s.listing as usize].market == market)
                .count();
            reviews as f64 / sales as f64
        };
        // Review rates per market: none on the first, all on the second.
        let rated = world("[feedback]\nrate_by_market = [0.0, 1.0]\n");
        assert_eq!(real(&rated, 0), 0.0);
        assert!(real(&rated, 1) > 0.9, "{}", real(&rated, 1));
        // Hidden and truncated feedback: the counts stay, the entries go.
        let hidden = world("[feedback]\nhidden_share = 1.0\n");
        let shown_last = world("[feedback]\nshow_last = 3\n");
        for v in 0..plain.vendors.len() as u32 {
            let day = base.days - 1;
            assert!(hidden.shown_feedback(v, day).is_empty());
            assert_eq!(
                hidden.vendor_stats(v, day).positive,
                plain.vendor_stats(v, day).positive
            );
            let all = shown_last.feedback_until(v, day).len();
            assert_eq!(shown_last.shown_feedback(v, day).len(), all.min(3));
            assert_eq!(plain.shown_feedback(v, day).len(), all);
        }
        // Dropped keys: the movers who publish none show none.
        let dropped = world(
            "[migration]\ndrop_key = 1.0\n[[events]]\nmarket = 0\nkind = \"seizure\"\nday = 8\n",
        );
        let movers: Vec<_> = dropped
            .vendors
            .iter()
            .filter(|v| v.migrated_from.is_some())
            .collect();
        assert!(!movers.is_empty());
        assert!(movers.iter().all(|v| v.hides_key));
        assert!(dropped
            .vendors
            .iter()
            .filter(|v| v.migrated_from.is_none())
            .all(|v| !v.hides_key));
        // Negative campaigns: every bought review is one or two stars.
        let negative = world("fake_review_share = 0.3\n[fake_reviews]\nnegative_share = 1.0\n");
        let bought: Vec<_> = negative.feedback.iter().filter(|f| f.fake).collect();
        assert!(!bought.is_empty());
        assert!(bought.iter().all(|f| f.stars <= 2));
    }

    #[test]
    fn a_world_file_sets_events_and_sizes() {
        let config = WorldConfig::from_toml(
            "days = 20\nvendors = 10\n[[events]]\nmarket = 1\nkind = \"outage\"\nday = 5\nlength = 2\n",
            WorldConfig::small(1),
        )
        .unwrap();
        assert_eq!((config.days, config.vendors), (20, 10));
        assert_eq!(
            config.script(),
            vec![ScriptedEvent {
                market: 1,
                kind: EventKind::Outage,
                day: 5,
                length: 2
            }]
        );
    }
}
