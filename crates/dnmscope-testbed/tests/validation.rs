//! The estimators against worlds they were not built for, with fixed targets.
//!
//! Each test crawls a world over several seeds through the test bed (world → serve on loopback
//! → the real fetcher and pipeline → SQLite → analytics) and scores every estimator against the
//! simulator's truth with the code `dnmscope validate` uses. The targets are written here, not
//! derived from a run. Where an estimator cannot meet the target on a world, the test
//! asserts what it achieves and README's accuracy section says so with the numbers.
//!
//! Short form (CI): three seeds of the default world and two of each adversarial world. Long form:
//! `DNMSCOPE_VALIDATION_SEEDS=71,72,5,6,7` (any list) runs every world over those seeds. The
//! tables are printed (`cargo test -p dnmscope-testbed --test validation -- --nocapture`).

use std::path::PathBuf;

use dnmscope_testbed::{
    markdown_table, validate_world, validation_world, world_from_file, Scorecard,
};

fn seeds(short: &[u64]) -> Vec<u64> {
    match std::env::var("DNMSCOPE_VALIDATION_SEEDS") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("DNMSCOPE_VALIDATION_SEEDS: {s:?} is not a seed"))
            })
            .collect(),
        _ => short.to_vec(),
    }
}

fn world_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../config/worlds")
        .join(format!("{name}.toml"))
}

/// Crawls and scores `world` (a file in config/worlds, or `default`: the validation world as
/// it is) for each seed.
async fn run(world: &str, short: &[u64]) -> Vec<Scorecard> {
    let dir = tempfile::tempdir().unwrap();
    let mut cards = Vec::new();
    for seed in seeds(short) {
        let config = if world == "default" {
            validation_world(seed)
        } else {
            let path = world_file(world);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            world_from_file(&text, seed).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        };
        let card = validate_world(&config, world, dir.path()).await.unwrap();
        for line in &card.details {
            println!("  {world} seed {seed}: {line}");
        }
        cards.push(card);
    }
    println!("{}", markdown_table(&cards));
    for c in &cards {
        assert_eq!(
            c.violations, 0,
            "{world} seed {}: forbidden requests",
            c.seed
        );
        assert!(
            c.observed_accounts * 10 >= c.vendor_accounts * 8,
            "{world} seed {}: the crawls saw {} of {} vendor accounts",
            c.seed,
            c.observed_accounts,
            c.vendor_accounts
        );
    }
    cards
}

/// Totals over seeds.
struct Totals<'a>(&'a [Scorecard]);

impl Totals<'_> {
    fn sum(&self, f: impl Fn(&Scorecard) -> usize) -> usize {
        self.0.iter().map(f).sum()
    }
    fn share(
        &self,
        part: impl Fn(&Scorecard) -> usize,
        whole: impl Fn(&Scorecard) -> usize,
    ) -> f64 {
        let whole = self.sum(whole);
        if whole == 0 {
            1.0
        } else {
            self.sum(part) as f64 / whole as f64
        }
    }
    fn linking_precision(&self) -> f64 {
        self.share(|c| c.linking.correct, |c| c.linking.probable)
    }
    fn linking_recall(&self) -> f64 {
        self.share(|c| c.linking.correct, |c| c.linking.true_pairs)
    }
    fn campaign_recall(&self) -> f64 {
        self.share(|c| c.campaigns.caught, |c| c.campaigns.campaigns)
    }
    fn campaign_precision(&self) -> f64 {
        self.share(
            |c| c.campaigns.flagged_right,
            |c| c.campaigns.flagged_vendors,
        )
    }
    fn covered(&self) -> f64 {
        self.share(|c| usize::from(c.sales.covered), |_| 1)
    }
    fn harm_f1(&self) -> f64 {
        let tp = self.sum(|c| c.harm.overall.true_positives) as f64;
        let fp = self.sum(|c| c.harm.overall.false_positives) as f64;
        let fn_ = self.sum(|c| c.harm.overall.false_negatives) as f64;
        2.0 * tp / (2.0 * tp + fp + fn_)
    }
    fn impersonators_linked(&self) -> usize {
        self.sum(|c| c.linking.impersonators_linked)
    }
    fn events(&self) -> (usize, usize) {
        let all = || self.0.iter().flat_map(|c| &c.events.events);
        (
            all().filter(|e| e.detected).count(),
            all().filter(|e| e.observable).count(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_world() {
    let cards = run("default", &[71, 72, 5]).await;
    let t = Totals(&cards);
    assert!(
        t.sum(|c| c.linking.true_pairs) >= 10,
        "cross-market vendors to link"
    );
    assert!(
        t.linking_precision() >= 0.95,
        "linking precision {:.3}",
        t.linking_precision()
    );
    assert!(
        t.linking_recall() >= 0.90,
        "linking recall {:.3}",
        t.linking_recall()
    );
    assert!(t.sum(|c| c.campaigns.campaigns) >= 2, "campaigns to find");
    assert!(
        t.campaign_recall() >= 0.85,
        "campaign recall {:.3}",
        t.campaign_recall()
    );
    assert!(
        t.campaign_precision() >= 0.85,
        "campaign precision {:.3}",
        t.campaign_precision()
    );
    assert!(
        t.covered() >= 0.9,
        "the sales interval covers the truth in {:.0} % of seeds",
        100.0 * t.covered()
    );
    assert!(
        t.harm_f1() >= 0.8,
        "harm-reduction topic F1 per post {:.3}",
        t.harm_f1()
    );
    assert!(
        t.sum(|c| c.harm.matched) * 10 >= t.sum(|c| c.harm.posts) * 9,
        "posts matched to the truth"
    );
    let (detected, observable) = t.events();
    assert!(
        observable >= 4 && detected == observable,
        "events detected {detected} of {observable}"
    );
    assert_eq!(t.sum(|c| c.events.false_alarms), 0, "false event alarms");
    assert!(
        t.share(|c| c.events.migrations.found, |c| c.events.migrations.of) >= 0.9,
        "migrations recovered"
    );
}

/// Handles changed in every way the world file knows, keys dropped and ratings not imported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_world() {
    let cards = run("handles", &[71, 72]).await;
    let t = Totals(&cards);
    assert!(t.sum(|c| c.linking.true_pairs) >= 5);
    assert!(
        t.linking_precision() >= 0.95,
        "linking precision {:.3}",
        t.linking_precision()
    );
    // Below the 0.90: accounts with an unrelated handle and a new key share nothing a
    // linker can see but their listings. README says so.
    assert!(
        t.linking_recall() >= 0.80,
        "linking recall {:.3}",
        t.linking_recall()
    );
}

/// Impersonators copying popular vendors' handles with their own keys, half of them forging
/// the copied vendor's rating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impersonators_world() {
    let cards = run("impersonators", &[71, 72]).await;
    let t = Totals(&cards);
    assert!(
        t.sum(|c| c.linking.impersonators) >= 3,
        "impersonators observed"
    );
    assert_eq!(t.impersonators_linked(), 0, "no impersonator linked");
    assert!(
        t.linking_precision() >= 0.95,
        "linking precision {:.3}",
        t.linking_precision()
    );
    assert!(
        t.linking_recall() >= 0.90,
        "linking recall {:.3}",
        t.linking_recall()
    );
}

/// Bought reviews that read like real ones, spread over two to four weeks, half from aged
/// buyer accounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_reviews_world() {
    let cards = run("fake_reviews", &[71, 72]).await;
    let t = Totals(&cards);
    assert!(t.sum(|c| c.campaigns.campaigns) >= 5, "campaigns to find");
    // Far below the 0.85 (README says so): 15 to 40 reviews written like real ones,
    // spread over two to four weeks of a young account's life, add too little to the vendor's
    // own rate to stand out, and nothing else about them is stored. What holds: the flags
    // raised are right, and the sales interval still covers the truth.
    assert!(
        t.campaign_recall() >= 0.1,
        "campaign recall {:.3}",
        t.campaign_recall()
    );
    assert!(
        t.campaign_precision() >= 0.9,
        "campaign precision {:.3}",
        t.campaign_precision()
    );
    assert!(t.covered() >= 0.9, "the sales interval covers the truth");
}

/// Reviews that are not the steady share of sales the estimate assumes: review rates that
/// differ by market and fall over the run, vendors hiding their feedback, markets showing only
/// the latest 10 entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_world() {
    let cards = run("feedback", &[71, 72]).await;
    let t = Totals(&cards);
    // The profiles' review counts stand in for the entries no page shows.
    assert!(
        t.sum(|c| c.sales.estimate.unseen) > 100,
        "reviews counted beyond the stored entries"
    );
    assert!(
        t.covered() >= 0.9,
        "the sales interval covers the truth in {:.0} % of seeds",
        100.0 * t.covered()
    );
    // The revenue of unseen reviews is a guess at the vendor's mean price: it misses by up to
    // a third here, and its interval covers the truth in one seed of two (README says so).
    for c in &cards {
        assert!(
            c.sales.revenue_error <= 0.4,
            "seed {}: revenue error {:.3}",
            c.seed,
            c.sales.revenue_error
        );
    }
    assert!(t.linking_precision() >= 0.95);
}

/// Competitors' bought one- and two-star reviews against one vendor in ten, over one to three
/// weeks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_reviews_world() {
    let cards = run("negative_reviews", &[71, 72]).await;
    let t = Totals(&cards);
    assert!(t.sum(|c| c.campaigns.campaigns) >= 5, "campaigns to find");
    // Below the 0.85 (README says so): a wave of negatives on a young account, with no
    // history of its own to stand out from and a market full of other waves, can pass.
    assert!(
        t.campaign_recall() >= 0.7,
        "campaign recall {:.3}",
        t.campaign_recall()
    );
    assert!(
        t.campaign_precision() >= 0.9,
        "campaign precision {:.3}",
        t.campaign_precision()
    );
    assert!(t.covered() >= 0.9, "the sales interval covers the truth");
}

/// Movers who mostly make a new key, half certifying it with the old one, show no rating and
/// change their handle in any way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_world() {
    let cards = run("keys", &[71, 72]).await;
    let t = Totals(&cards);
    assert!(
        t.linking_precision() >= 0.95,
        "linking precision {:.3}",
        t.linking_precision()
    );
    // Every signed rotation is linked, whatever the handle.
    let signed = t.sum(|c| c.linking.signed_rotations.of);
    assert!(signed >= 2, "signed rotations to link: {signed}");
    assert_eq!(t.sum(|c| c.linking.signed_rotations.found), signed);
    // Below the 0.90 (README says so): a mover with a new unsigned key, no rating and
    // an unrelated or abbreviated handle shares nothing the linker uses.
    assert!(
        t.linking_recall() >= 0.75,
        "linking recall {:.3}",
        t.linking_recall()
    );
}

/// A signed rotation as the parser reads it: the simulator's vendor page for a mover whose new
/// key carries the old key's certification yields both fingerprints.
#[test]
fn the_parser_reads_a_new_keys_certification_by_the_old_key() {
    let text = std::fs::read_to_string(world_file("keys")).unwrap();
    let world = dnmscope_sim::generate(&world_from_file(&text, 71).unwrap()).unwrap();
    let (mover, certifier) = world
        .vendors
        .iter()
        .find_map(|v| {
            let key = &world.pgp_keys[v.pgp_key as usize];
            key.certified_by
                .map(|old| (v, &world.pgp_keys[old as usize]))
        })
        .expect("the keys world has a signed rotation");
    let key = &world.pgp_keys[mover.pgp_key as usize];
    let (fingerprint, certified_by) =
        dnmscope_parse::normalize::pgp_key_facts(&key.armored).unwrap();
    assert_eq!(fingerprint.as_str(), key.fingerprint);
    let certified_by: Vec<&str> = certified_by.iter().map(|f| f.as_str()).collect();
    assert_eq!(certified_by, vec![certifier.fingerprint.as_str()]);
    // An unsigned key names no certifier.
    let plain = world
        .pgp_keys
        .iter()
        .find(|k| k.certified_by.is_none())
        .unwrap();
    assert!(dnmscope_parse::normalize::pgp_key_facts(&plain.armored)
        .unwrap()
        .1
        .is_empty());
}
