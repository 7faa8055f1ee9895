//! The analytics scored against the world's truth: one [`Scorecard`] per crawled world, the
//! same code for the validation test and `dnmscope validate`.
//!
//! Every figure compares what dnmscope computed from its store with what the simulator knows
//! happened, restricted to what a crawl could have seen: the vendor accounts it observed, and
//! on each market the days up to its last crawl while it was up.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use dnmscope_analytics::{
    candidate_links, estimate_sales, event_tables, profiles, review_flags, shown_review_counts,
    topics_of, Dataset, Profile, ReviewRate, SalesEstimate,
};
use dnmscope_sim::{EventKind, MarketState, Topic, VendorAccount, World};
use serde::Serialize;

/// Everything measured on one world and seed.
#[derive(Debug, Clone, Serialize)]
pub struct Scorecard {
    /// The world file's name, or `default`.
    pub world: String,
    pub seed: u64,
    pub days: u32,
    pub crawl_days: Vec<u32>,
    pub vendor_accounts: usize,
    pub observed_accounts: usize,
    pub linking: LinkingScore,
    pub campaigns: CampaignScore,
    pub sales: SalesScore,
    pub harm: HarmScore,
    pub events: EventScore,
    /// Requests the simulator saw that a crawler must never make.
    pub violations: usize,
    /// Wall time of generating, serving, crawling and scoring.
    pub seconds: f64,
    /// The errors behind the figures, one line each (false and missed links, missed
    /// campaigns), for a reader who wants to know why.
    pub details: Vec<String>,
}

/// Found out of a total: recall-like counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Found {
    pub found: usize,
    pub of: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkingScore {
    /// Pairs of observed accounts on different markets run by one person.
    pub true_pairs: usize,
    pub candidates: usize,
    pub probable: usize,
    pub correct: usize,
    pub precision: f64,
    pub recall: f64,
    /// Recall per way the second account's handle differs: `same_handle` or a family of the
    /// world file (`decorations`, `leetspeak`, `separators_case`, `reordered`, `unrelated`).
    pub by_family: BTreeMap<String, Found>,
    /// True pairs where one account's key is certified by the other's (a signed rotation).
    pub signed_rotations: Found,
    /// True pairs where one account publishes no key.
    pub dropped_keys: Found,
    /// Observed impersonator accounts, and probable links from them to the vendor they copy.
    pub impersonators: usize,
    pub impersonators_linked: usize,
}

/// A campaign counts as one to find when at least this many of its bought reviews are dated
/// before its market's last crawl while up (fewer cannot make a pattern).
pub const CAMPAIGN_MIN_VISIBLE: usize = 8;

#[derive(Debug, Clone, Serialize)]
pub struct CampaignScore {
    /// Observed vendors with at least `CAMPAIGN_MIN_VISIBLE` bought reviews dated before their
    /// market's last crawl while up.
    pub campaigns: usize,
    /// Vendors with a `suspected_campaign` flag, and those of them with any visible bought
    /// review (right flags).
    pub flagged_right: usize,
    pub flagged_vendors: usize,
    /// Campaigns with a flag.
    pub caught: usize,
    pub precision: f64,
    pub recall: f64,
    /// Stored feedback entries that are bought reviews (by the truth).
    pub fake_entries: usize,
    /// Stored entries inside a suspected-campaign window.
    pub flagged_entries: usize,
    pub fake_flagged: usize,
    pub review_precision: f64,
    pub review_recall: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SalesScore {
    /// Real sales of the observed vendors up to their market's last crawl while up.
    pub true_sales: usize,
    pub true_revenue_usd: f64,
    /// Real reviews left on those sales.
    pub real_reviews: usize,
    /// The truth's share of those sales that left a review (what the estimate must assume).
    pub true_review_rate: f64,
    pub estimate: SalesEstimate,
    /// |estimate - truth| / truth, at the central rate.
    pub sales_error: f64,
    pub revenue_error: f64,
    /// Whether the interval holds the true figure.
    pub covered: bool,
    pub revenue_covered: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TopicScore {
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl TopicScore {
    fn finish(&mut self) {
        let (tp, fp, fn_) = (
            self.true_positives,
            self.false_positives,
            self.false_negatives,
        );
        self.precision = ratio(tp, tp + fp);
        self.recall = ratio(tp, tp + fn_);
        self.f1 = if tp == 0 {
            if fp + fn_ == 0 {
                1.0
            } else {
                0.0
            }
        } else {
            2.0 * self.precision * self.recall / (self.precision + self.recall)
        };
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HarmScore {
    /// Stored forum posts, and those whose text is a post of the truth (scored).
    pub posts: usize,
    pub matched: usize,
    /// Per harm-reduction topic, post by post: the topics the keyword rules give against the
    /// truth's topics of the post.
    pub topics: BTreeMap<String, TopicScore>,
    /// Over all topics (micro-averaged).
    pub overall: TopicScore,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventDetection {
    pub market: String,
    pub kind: String,
    pub day: u32,
    /// A crawl ran while the event was in effect.
    pub observable: bool,
    /// What the crawl recorded for the market on the first such crawl (none: nothing).
    pub recorded: Option<String>,
    /// The recorded kind is the right one (a seizure as `seizure_banner`; an exit scam or an
    /// outage as `outage`: from outside, an exit is an outage that never ends).
    pub detected: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventScore {
    pub events: Vec<EventDetection>,
    /// Events recorded on a market on a crawl day when the truth says it was up.
    pub false_alarms: usize,
    /// Vendors of the seized market who moved to new accounts elsewhere.
    pub migrations: Found,
    pub migration_precision: f64,
    /// Accounts of the seized market's vendors active elsewhere afterwards (new or old).
    pub reappearances: Found,
    pub reappearance_precision: f64,
}

pub(crate) fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

fn normalise(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn topic_name(topic: Topic) -> Option<&'static str> {
    match topic {
        Topic::Dosing => Some("dosing"),
        Topic::ReagentTesting => Some("reagent_testing"),
        Topic::Adulterants => Some("adulterants"),
        Topic::OverdoseNaloxone => Some("overdose_naloxone"),
        Topic::ScamWarning => Some("scam_warning"),
        Topic::Vendors | Topic::General => None,
    }
}

/// Scores the analytics of `data` (a store crawled on `crawl_days` of `world`).
pub fn score(world: &World, world_name: &str, data: &Dataset, crawl_days: &[u32]) -> Scorecard {
    let mut details = Vec::new();
    let market_of: HashMap<&str, u32> = world
        .markets
        .iter()
        .map(|m| (m.slug.as_str(), m.id))
        .collect();
    let profiles = profiles(data);
    // The truth's account behind each observed profile (None: not in the truth, which would be
    // a parser inventing vendors; counted as such).
    let account_of = |market: &str, handle: &str| -> Option<u32> {
        market_of
            .get(market)
            .and_then(|&m| world.vendor_by_handle(m, handle))
            .map(|v| v.id)
    };
    let accounts: Vec<Option<u32>> = profiles
        .iter()
        .map(|p| account_of(&p.market, &p.handle))
        .collect();
    for (p, a) in profiles.iter().zip(&accounts) {
        if a.is_none() {
            details.push(format!(
                "observed vendor {}:{} is not in the truth",
                p.market, p.handle
            ));
        }
    }
    let vendor =
        |i: usize| -> Option<&VendorAccount> { accounts[i].map(|id| &world.vendors[id as usize]) };
    let last_up: HashMap<u32, u32> = world
        .markets
        .iter()
        .map(|m| {
            let day = crawl_days
                .iter()
                .copied()
                .filter(|&d| world.state(m.id, d) == MarketState::Up)
                .max()
                .unwrap_or(0);
            (m.id, day)
        })
        .collect();

    // 1. Linking.
    let links = candidate_links(data, &profiles);
    let mut truth_pairs = BTreeSet::new();
    for a in 0..profiles.len() {
        for b in a + 1..profiles.len() {
            if let (Some(va), Some(vb)) = (vendor(a), vendor(b)) {
                if va.person == vb.person && va.market != vb.market {
                    truth_pairs.insert((a, b));
                }
            }
        }
    }
    let predicted: BTreeSet<(usize, usize)> = links
        .iter()
        .filter(|l| l.accepted())
        .map(|l| (l.a.min(l.b), l.a.max(l.b)))
        .collect();
    let correct = predicted.intersection(&truth_pairs).count();
    let family = |a: usize, b: usize| -> String {
        let (va, vb) = (vendor(a).expect("true pair"), vendor(b).expect("true pair"));
        if va.handle == vb.handle {
            return "same_handle".into();
        }
        let change = vb.handle_change.or(va.handle_change);
        match change {
            Some(f) => serde_json::to_value(f)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("{f:?}")),
            None => "other".into(),
        }
    };
    let mut by_family: BTreeMap<String, Found> = BTreeMap::new();
    let mut signed_rotations = Found::default();
    let mut dropped_keys = Found::default();
    for &(a, b) in &truth_pairs {
        if vendor(a).is_some_and(|v| v.hides_key) || vendor(b).is_some_and(|v| v.hides_key) {
            dropped_keys.of += 1;
            dropped_keys.found += usize::from(predicted.contains(&(a, b)));
        }
        let (ka, kb) = (
            &world.pgp_keys[vendor(a).expect("true pair").pgp_key as usize],
            &world.pgp_keys[vendor(b).expect("true pair").pgp_key as usize],
        );
        if ka.certified_by == Some(kb.id) || kb.certified_by == Some(ka.id) {
            signed_rotations.of += 1;
            signed_rotations.found += usize::from(predicted.contains(&(a, b)));
        }
        let entry = by_family.entry(family(a, b)).or_default();
        entry.of += 1;
        if predicted.contains(&(a, b)) {
            entry.found += 1;
        }
    }
    for l in &links {
        let pair = (l.a.min(l.b), l.a.max(l.b));
        if l.accepted() != truth_pairs.contains(&pair) {
            details.push(format!(
                "{} {}:{} ~ {}:{} ({:.2}): {}",
                if l.accepted() {
                    "false link"
                } else {
                    "missed link"
                },
                profiles[l.a].market,
                profiles[l.a].handle,
                profiles[l.b].market,
                profiles[l.b].handle,
                l.score,
                l.evidence(&profiles),
            ));
        }
    }
    let candidates: BTreeSet<(usize, usize)> =
        links.iter().map(|l| (l.a.min(l.b), l.a.max(l.b))).collect();
    for &(a, b) in truth_pairs.difference(&candidates) {
        details.push(format!(
            "not a candidate: {}:{} ~ {}:{} ({})",
            profiles[a].market,
            profiles[a].handle,
            profiles[b].market,
            profiles[b].handle,
            family(a, b)
        ));
    }
    let impersonators = (0..profiles.len())
        .filter(|&a| vendor(a).is_some_and(|v| v.impersonates.is_some()))
        .count();
    let copies = |x: &VendorAccount, y: &VendorAccount| {
        x.impersonates
            .is_some_and(|c| world.vendors[c as usize].person == y.person)
    };
    let impersonators_linked = predicted
        .iter()
        .filter(|&&(a, b)| match (vendor(a), vendor(b)) {
            (Some(va), Some(vb)) => copies(va, vb) || copies(vb, va),
            _ => false,
        })
        .count();
    let linking = LinkingScore {
        true_pairs: truth_pairs.len(),
        candidates: links.len(),
        probable: predicted.len(),
        correct,
        precision: ratio(correct, predicted.len()),
        recall: ratio(correct, truth_pairs.len()),
        by_family,
        signed_rotations,
        dropped_keys,
        impersonators,
        impersonators_linked,
    };

    // 2. Review campaigns, by vendor and by entry.
    let observed: BTreeSet<u32> = accounts.iter().flatten().copied().collect();
    let flags = review_flags(data);
    let campaign_flags: Vec<_> = flags
        .iter()
        .filter(|f| f.flag == "suspected_campaign")
        .collect();
    let flagged: BTreeSet<u32> = campaign_flags
        .iter()
        .filter_map(|f| account_of(&f.market, &f.vendor))
        .collect();
    // Bought reviews a crawl could have seen, per observed vendor: dated up to its market's
    // last crawl while up.
    let mut visible_fakes: BTreeMap<u32, usize> = BTreeMap::new();
    for f in world.feedback.iter().filter(|f| f.fake) {
        let v = &world.vendors[f.vendor as usize];
        if observed.contains(&v.id) && f.day <= last_up[&v.market] {
            *visible_fakes.entry(v.id).or_default() += 1;
        }
    }
    // A campaign to find: at least `CAMPAIGN_MIN_VISIBLE` of its reviews visible. A flag is
    // right on any vendor with a visible bought review.
    let campaigns: BTreeSet<u32> = visible_fakes
        .iter()
        .filter(|(_, &n)| n >= CAMPAIGN_MIN_VISIBLE)
        .map(|(&v, _)| v)
        .collect();
    let flagged_right = flagged
        .iter()
        .filter(|v| visible_fakes.contains_key(v))
        .count();
    let caught = flagged.intersection(&campaigns).count();
    for &missed in campaigns.difference(&flagged) {
        let v = &world.vendors[missed as usize];
        let (start, end) = v.fake_campaign.expect("a campaign");
        let slug = &world.markets[v.market as usize].slug;
        // The stored entries per simulated day, for a reader to see the campaign (or not).
        let mut per_day: BTreeMap<i64, usize> = BTreeMap::new();
        for f in data
            .feedback
            .iter()
            .filter(|f| &f.market == slug && f.vendor.as_deref() == Some(v.handle.as_str()))
        {
            *per_day
                .entry((Dataset::feedback_day(f) - world.start_date).num_days())
                .or_default() += 1;
        }
        details.push(format!(
            "missed campaign {slug}:{} days {start}..{end}, {} bought reviews; stored entries \
             by day: {per_day:?}",
            v.handle,
            world
                .feedback
                .iter()
                .filter(|f| f.fake && f.vendor == missed)
                .count()
        ));
    }
    for &wrong in flagged.iter().filter(|v| !visible_fakes.contains_key(v)) {
        let v = &world.vendors[wrong as usize];
        let slug = &world.markets[v.market as usize].slug;
        let evidence: Vec<&str> = campaign_flags
            .iter()
            .filter(|f| &f.market == slug && f.vendor == v.handle)
            .map(|f| f.evidence.as_str())
            .collect();
        details.push(format!(
            "campaign flag on {slug}:{}, who bought no reviews the crawls could see: {}",
            v.handle,
            evidence.join("; ")
        ));
    }
    // The truth's entries by (market, vendor, date, text): (bought, real).
    let mut truth_entries: HashMap<(u32, String, chrono::NaiveDate, String), (usize, usize)> =
        HashMap::new();
    for f in &world.feedback {
        let v = &world.vendors[f.vendor as usize];
        let e = truth_entries
            .entry((
                v.market,
                v.handle.clone(),
                world.date(f.day),
                normalise(&f.text),
            ))
            .or_default();
        if f.fake {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    let (mut fake_entries, mut flagged_entries, mut fake_flagged) = (0, 0, 0);
    for f in &data.feedback {
        let (Some(&market), Some(handle)) = (market_of.get(f.market.as_str()), &f.vendor) else {
            continue;
        };
        let day = Dataset::feedback_day(f);
        let fake = truth_entries
            .get(&(market, handle.clone(), day, normalise(&f.text)))
            .is_some_and(|(bought, real)| bought > real);
        let in_window = campaign_flags.iter().any(|c| {
            c.market == f.market
                && Some(&c.vendor) == f.vendor.as_ref()
                && day >= c.from
                && day <= c.to
        });
        fake_entries += usize::from(fake);
        flagged_entries += usize::from(in_window);
        fake_flagged += usize::from(fake && in_window);
    }
    let campaigns_score = CampaignScore {
        campaigns: campaigns.len(),
        flagged_vendors: flagged.len(),
        caught,
        flagged_right,
        precision: ratio(flagged_right, flagged.len()),
        recall: ratio(caught, campaigns.len()),
        fake_entries,
        flagged_entries,
        fake_flagged,
        review_precision: ratio(fake_flagged, flagged_entries),
        review_recall: ratio(fake_flagged, fake_entries),
    };

    // 3. Sales and revenue.
    let (mut true_sales, mut true_revenue) = (0usize, 0f64);
    for l in &world.listings {
        if !observed.contains(&l.vendor) {
            continue;
        }
        let until = last_up[&l.market];
        for s in world
            .sales_of(l.id)
            .iter()
            .filter(|s| s.real && s.day <= until)
        {
            true_sales += 1;
            true_revenue += world
                .price_usd(l, s.day)
                .to_string()
                .parse::<f64>()
                .unwrap_or(0.0);
        }
    }
    let real_reviews = world
        .feedback
        .iter()
        .filter(|f| {
            let v = &world.vendors[f.vendor as usize];
            observed.contains(&f.vendor) && !f.fake && f.day <= last_up[&v.market]
        })
        .count();
    let estimate = estimate_sales(
        &data.sales,
        &shown_review_counts(data),
        &flags,
        ReviewRate::default(),
    );
    let relative = |estimate: f64, truth: f64| {
        if truth == 0.0 {
            0.0
        } else {
            (estimate - truth).abs() / truth
        }
    };
    let sales = SalesScore {
        true_sales,
        true_revenue_usd: true_revenue,
        real_reviews,
        true_review_rate: ratio(real_reviews, true_sales),
        sales_error: relative(estimate.sales, true_sales as f64),
        revenue_error: relative(estimate.revenue_usd, true_revenue),
        covered: estimate.sales_low <= true_sales as f64
            && true_sales as f64 <= estimate.sales_high,
        revenue_covered: estimate.revenue_low_usd <= true_revenue
            && true_revenue <= estimate.revenue_high_usd,
        estimate,
    };

    // 4. Harm-reduction topics, post by post.
    let mut truth_posts: HashMap<(u32, String), BTreeSet<&'static str>> = HashMap::new();
    for post in &world.posts {
        let market = world.threads[post.thread as usize].market;
        truth_posts
            .entry((market, normalise(&post.text)))
            .or_default()
            .extend(post.topics.iter().filter_map(|t| topic_name(*t)));
    }
    let mut topics: BTreeMap<String, TopicScore> = dnmscope_analytics::TOPICS
        .iter()
        .map(|(t, _)| ((*t).to_string(), TopicScore::default()))
        .collect();
    let mut overall = TopicScore::default();
    let mut matched = 0;
    for post in &data.posts {
        let Some(&market) = market_of.get(post.market.as_str()) else {
            continue;
        };
        let Some(truth) = truth_posts.get(&(market, normalise(&post.text))) else {
            continue;
        };
        matched += 1;
        let given: BTreeSet<&str> = topics_of(&post.text).into_iter().collect();
        for (name, score) in topics.iter_mut() {
            let (g, t) = (given.contains(name.as_str()), truth.contains(name.as_str()));
            for s in [&mut *score, &mut overall] {
                match (g, t) {
                    (true, true) => s.true_positives += 1,
                    (true, false) => s.false_positives += 1,
                    (false, true) => s.false_negatives += 1,
                    (false, false) => {}
                }
            }
        }
    }
    for s in topics.values_mut() {
        s.finish();
    }
    overall.finish();
    let harm = HarmScore {
        posts: data.posts.len(),
        matched,
        topics,
        overall,
    };

    // 5. Events and migrations.
    let events = score_events(world, data, crawl_days, &profiles, &links, &accounts);
    for e in events.events.iter().filter(|e| !e.detected) {
        details.push(format!(
            "event {} of {} on day {}: {}",
            e.kind,
            e.market,
            e.day,
            match (&e.recorded, e.observable) {
                (_, false) => "no crawl while it was in effect".to_string(),
                (None, true) => "the first crawl in effect recorded nothing".to_string(),
                (Some(kind), true) => format!("the first crawl in effect recorded {kind}"),
            }
        ));
    }
    Scorecard {
        world: world_name.to_string(),
        seed: world.config.seed,
        days: world.config.days,
        crawl_days: crawl_days.to_vec(),
        vendor_accounts: world.vendors.len(),
        observed_accounts: profiles.len(),
        linking,
        campaigns: campaigns_score,
        sales,
        harm,
        events,
        violations: 0,
        seconds: 0.0,
        details,
    }
}

fn score_events(
    world: &World,
    data: &Dataset,
    crawl_days: &[u32],
    profiles: &[Profile],
    links: &[dnmscope_analytics::Link],
    accounts: &[Option<u32>],
) -> EventScore {
    let day_of = |at: chrono::DateTime<chrono::Utc>| -> Option<u32> {
        let offset = (at.date_naive() - world.start_date).num_days();
        u32::try_from(offset).ok()
    };
    let recorded_on = |market: &str, day: u32| -> Option<String> {
        data.events
            .iter()
            .filter(|e| e.market == market && day_of(e.observed_at) == Some(day))
            .map(|e| e.kind.clone())
            .min_by_key(|k| match k.as_str() {
                "seizure_banner" => 0,
                "takedown" => 1,
                "outage" => 2,
                _ => 3,
            })
    };
    let mut detections = Vec::new();
    for event in &world.events {
        let market = &world.markets[event.market as usize];
        let in_effect = |d: u32| match event.kind {
            EventKind::Outage => d >= event.day && event.until.is_none_or(|u| d < u),
            _ => d >= event.day,
        };
        let first = crawl_days.iter().copied().find(|&d| in_effect(d));
        let recorded = first.and_then(|d| recorded_on(&market.slug, d));
        let expected: &[&str] = match event.kind {
            EventKind::Seizure => &["seizure_banner", "takedown"],
            EventKind::ExitScam | EventKind::Outage => &["outage"],
        };
        detections.push(EventDetection {
            market: market.slug.clone(),
            kind: match event.kind {
                EventKind::Seizure => "seizure",
                EventKind::ExitScam => "exit_scam",
                EventKind::Outage => "outage",
            }
            .into(),
            day: event.day,
            observable: first.is_some(),
            detected: recorded.as_deref().is_some_and(|r| expected.contains(&r)),
            recorded,
        });
    }
    let false_alarms = data
        .events
        .iter()
        .filter(|e| {
            let Some(m) = world.markets.iter().find(|m| m.slug == e.market) else {
                return false;
            };
            day_of(e.observed_at).is_some_and(|d| {
                crawl_days.contains(&d)
                    && world.state(m.id, d) == MarketState::Up
                    && matches!(
                        e.kind.as_str(),
                        "seizure_banner" | "takedown" | "outage" | "exit_scam"
                    )
            })
        })
        .count();

    let (_, migrations) = event_tables(data, profiles, links);
    let vendor = |i: usize| accounts[i].map(|id| &world.vendors[id as usize]);
    let Some(seized) = world.events.iter().find(|e| e.kind == EventKind::Seizure) else {
        return EventScore {
            events: detections,
            false_alarms,
            migrations: Found::default(),
            migration_precision: 1.0,
            reappearances: Found::default(),
            reappearance_precision: 1.0,
        };
    };
    let seized_slug = &world.markets[seized.market as usize].slug;
    let n = profiles.len();
    let true_moves: BTreeSet<(usize, usize)> = (0..n)
        .flat_map(|to| (0..n).map(move |from| (from, to)))
        .filter(|&(from, to)| match (vendor(from), vendor(to)) {
            (Some(f), Some(t)) => t.migrated_from == Some(f.id) && f.market == seized.market,
            _ => false,
        })
        .collect();
    let reported = |new_only: bool| -> BTreeSet<(usize, usize)> {
        migrations
            .iter()
            .filter(|m| &m.event_market == seized_slug && m.event_kind == "seizure_banner")
            .filter(|m| !new_only || m.new_account)
            .map(|m| (m.from, m.to))
            .collect()
    };
    let found = reported(true);
    let recovered = true_moves.intersection(&found).count();
    let seizure_at = data
        .events
        .iter()
        .filter(|e| &e.market == seized_slug && e.kind == "seizure_banner")
        .map(|e| e.observed_at)
        .min();
    let true_reappearances: BTreeSet<(usize, usize)> = match seizure_at {
        None => BTreeSet::new(),
        Some(at) => (0..n)
            .flat_map(|from| (0..n).map(move |to| (from, to)))
            .filter(|&(from, to)| {
                let (a, b) = (&profiles[from], &profiles[to]);
                &a.market == seized_slug
                    && b.market != a.market
                    && b.last_seen >= at
                    && a.last_seen < at
                    && match (vendor(from), vendor(to)) {
                        (Some(x), Some(y)) => x.person == y.person,
                        _ => false,
                    }
            })
            .collect(),
    };
    let all = reported(false);
    let right = all.intersection(&true_reappearances).count();
    EventScore {
        events: detections,
        false_alarms,
        migrations: Found {
            found: recovered,
            of: true_moves.len(),
        },
        migration_precision: ratio(recovered, found.len()),
        reappearances: Found {
            found: right,
            of: true_reappearances.len(),
        },
        reappearance_precision: ratio(right, all.len()),
    }
}
