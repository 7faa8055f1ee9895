//! Cross-market vendor linking: candidate links between vendor accounts on different markets,
//! each scored from its evidence, never merged silently. A researcher's decision (stored with
//! `dnmscope links confirm|reject`) overrides the score's verdict and is shown beside it.
//!
//! Evidence and weights (combined as a noisy OR: 1 - Π(1 - w)):
//! - the same PGP fingerprint: 0.97;
//! - handles: equal ignoring case 0.7; equal after dropping decorations (`the`, `real_`,
//!   `_official`, trailing digits, separators) 0.5; otherwise similar (normalised edit
//!   distance ≥ 0.85) 0.4;
//! - a rating imported from the other account's market shown on a profile: 0.6, unless the
//!   numbers it claims (rating, sales) contradict what the other account was observed showing
//!   (a rating more than 0.15 off, or sales more than a quarter plus 10 off, at the observation
//!   nearest the claim): invented figures are no evidence;
//! - overlapping listing titles: 0.25 × their Jaccard similarity.
//!
//! When both accounts show keys and none is shared, and no imported rating vouches for a move
//! (shown, not contradicted, and of an account last seen before the claimer was first seen),
//! the score is multiplied by 0.35: people who move keep their key far more often than not, and
//! an account that copies a live vendor's handle and figures with a key of its own is another
//! person more often than not.
//! A link is `probable` at a score of at least [`LINK_THRESHOLD`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use dnmscope_store::{LinkDecision, VendorRef};

use crate::data::{normalise, Dataset};
use crate::table::{Cell, Column, ColumnType as T, Table};

/// Score at or above which a candidate counts as a probable link.
pub const LINK_THRESHOLD: f64 = 0.6;

/// What is known of one vendor account.
#[derive(Debug, Clone)]
pub struct Profile {
    pub market: String,
    pub vendor_id: i64,
    pub handle: String,
    pub fingerprints: BTreeSet<String>,
    /// Keys that certified the account's keys (third-party signatures on them).
    pub certifiers: BTreeSet<String>,
    /// Imported ratings as shown: the market (normalised) and the text ("4.87/5 (123 sales)").
    pub imported: BTreeSet<(String, String)>,
    /// What the account showed of itself when observed: (when, rating, sales).
    pub stats: Vec<(DateTime<Utc>, Option<f64>, Option<u64>)>,
    pub titles: BTreeSet<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

impl Profile {
    /// The markets (normalised) its imported ratings name.
    pub fn imported_from(&self) -> BTreeSet<&str> {
        self.imported.iter().map(|(m, _)| m.as_str()).collect()
    }
}

/// One candidate link with its evidence.
#[derive(Debug, Clone)]
pub struct Link {
    pub a: usize,
    pub b: usize,
    pub score: f64,
    pub same_pgp: bool,
    /// One account's key carries a certification by the other's key (a signed rotation).
    pub key_certified: bool,
    pub pgp_conflict: bool,
    pub handle_similarity: f64,
    pub handle_evidence: &'static str,
    pub imported_rating: bool,
    /// The imported rating is of an account last seen before the claimer first was: a move,
    /// which is when a vendor may also have changed key.
    pub moved: bool,
    /// A profile claims a rating from the other market that the other account's observed rating
    /// or sales contradict: (claimed text, observed rating, observed sales).
    pub imported_contradicted: Option<(String, Option<f64>, Option<u64>)>,
    pub listing_overlap: f64,
    /// A third account both are probably linked to, when the link is implied through it
    /// rather than scored on its own evidence (the score is then the weaker of the two links).
    pub via: Option<usize>,
    pub decision: Option<LinkDecision>,
}

impl Link {
    /// Probable by score, unless a researcher decided otherwise.
    pub fn accepted(&self) -> bool {
        match self.decision {
            Some(LinkDecision::Confirmed) => true,
            Some(LinkDecision::Rejected) => false,
            None => self.via.is_some() || self.score >= LINK_THRESHOLD,
        }
    }

    pub fn evidence(&self, profiles: &[Profile]) -> String {
        let mut parts = Vec::new();
        if self.same_pgp {
            parts.push("same PGP fingerprint".to_string());
        }
        if self.key_certified {
            parts.push("one account's PGP key is certified by the other's".to_string());
        }
        if self.pgp_conflict {
            parts.push("different PGP keys".to_string());
        }
        if self.handle_similarity > 0.0 {
            parts.push(format!(
                "handles {:?} and {:?}: {} ({:.2})",
                profiles[self.a].handle,
                profiles[self.b].handle,
                self.handle_evidence,
                self.handle_similarity
            ));
        }
        if self.imported_rating {
            parts.push(format!(
                "a profile shows a rating imported from the other market{}",
                if self.moved {
                    ", whose account was gone when it appeared"
                } else {
                    ", whose account was still seen after it appeared"
                }
            ));
        }
        if let Some((claimed, rating, sales)) = &self.imported_contradicted {
            parts.push(format!(
                "a profile claims {claimed:?} from the other market, which showed rating {} and {} sales",
                rating.map_or("?".to_string(), |r| format!("{r:.2}")),
                sales.map_or("?".to_string(), |s| s.to_string())
            ));
        }
        if self.listing_overlap > 0.0 {
            parts.push(format!(
                "listing titles overlap {:.2}",
                self.listing_overlap
            ));
        }
        if let Some(via) = self.via {
            parts.push(format!(
                "both probably linked to {}:{}",
                profiles[via].market, profiles[via].handle
            ));
        }
        parts.join("; ")
    }
}

/// The accounts of a dataset, one profile per market and vendor.
pub fn profiles(data: &Dataset) -> Vec<Profile> {
    let mut map: BTreeMap<(String, i64), Profile> = BTreeMap::new();
    let mut touch = |market: &str, id: i64, handle: &str, at: DateTime<Utc>| {
        let p = map
            .entry((market.to_string(), id))
            .or_insert_with(|| Profile {
                market: market.to_string(),
                vendor_id: id,
                handle: handle.to_string(),
                fingerprints: BTreeSet::new(),
                certifiers: BTreeSet::new(),
                imported: BTreeSet::new(),
                stats: Vec::new(),
                titles: BTreeSet::new(),
                first_seen: at,
                last_seen: at,
            });
        p.first_seen = p.first_seen.min(at);
        p.last_seen = p.last_seen.max(at);
        (market.to_string(), id)
    };
    // (account, fingerprint, imported ratings (market, text), listing title, observed stats)
    type Stats = (DateTime<Utc>, Option<f64>, Option<u64>);
    type Extra = (
        (String, i64),
        Option<String>,
        Vec<(String, String)>,
        Option<String>,
        Option<Stats>,
    );
    let mut certifiers: Vec<((String, i64), Vec<String>)> = Vec::new();
    let mut extra: Vec<Extra> = Vec::new();
    for v in &data.vendors {
        let key = touch(&v.market, v.vendor_id, &v.handle, v.observed_at);
        if !v.vendor.pgp_certified_by.is_empty() {
            certifiers.push((
                key.clone(),
                v.vendor
                    .pgp_certified_by
                    .iter()
                    .map(|f| f.as_str().to_string())
                    .collect(),
            ));
        }
        extra.push((
            key,
            v.vendor
                .pgp_fingerprint
                .as_ref()
                .map(|f| f.as_str().to_string()),
            v.vendor
                .external_ratings
                .iter()
                .map(|r| (normalise(&r.market).replace(' ', ""), r.text.clone()))
                .collect(),
            None,
            Some((v.observed_at, v.vendor.rating, v.vendor.sales)),
        ));
    }
    for ((market, id), account) in &data.listings.accounts {
        touch(market, *id, &account.handle, account.first_seen);
        let key = touch(market, *id, &account.handle, account.last_seen);
        for title in &account.titles {
            extra.push((key.clone(), None, Vec::new(), Some(title.clone()), None));
        }
    }
    for (key, fingerprint, imported, title, stats) in extra {
        if let Some(p) = map.get_mut(&key) {
            p.fingerprints.extend(fingerprint);
            p.imported.extend(imported);
            if let Some(title) = title {
                p.titles.insert(title_core(&title));
            }
            p.stats.extend(stats);
        }
    }
    for (key, by) in certifiers {
        if let Some(p) = map.get_mut(&key) {
            p.certifiers.extend(by);
        }
    }
    map.into_values().collect()
}

/// A title without its quantity: words that are not numbers or units.
fn title_core(title: &str) -> String {
    normalise(title)
        .split(' ')
        .filter(|w| !w.chars().any(|c| c.is_ascii_digit()))
        .filter(|w| !matches!(*w, "g" | "mg" | "ug" | "ml" | "x" | "oz" | "kg"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The handle stripped of common decorations, for blocking and comparison.
pub fn handle_core(handle: &str) -> String {
    let mut h: String = handle
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    for prefix in ["real", "the", "official"] {
        if h.len() > prefix.len() + 3 {
            if let Some(rest) = h.strip_prefix(prefix) {
                h = rest.to_string();
            }
        }
    }
    for suffix in ["official", "shop", "store"] {
        if h.len() > suffix.len() + 3 {
            if let Some(rest) = h.strip_suffix(suffix) {
                h = rest.to_string();
            }
        }
    }
    let trimmed = h.trim_end_matches(|c: char| c.is_ascii_digit());
    if trimmed.len() >= 4 {
        trimmed.to_string()
    } else {
        h
    }
}

/// 1 - Levenshtein distance / longer length.
fn similarity(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            current[j + 1] = (previous[j] + cost)
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
        }
        previous = current;
    }
    1.0 - previous[b.len()] as f64 / a.len().max(b.len()) as f64
}

fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// The rating and sales an imported rating's text claims ("4.87/5 (123 sales)", "98.5% 1,204
/// orders"): the first number up to 5 (a 5-point rating), and the number before a word for
/// sales.
fn claimed(text: &str) -> (Option<f64>, Option<u64>) {
    let mut rating = None;
    let mut sales = None;
    // Thousands separators go first: "1,204 orders".
    let text = text.replace(',', "");
    let tokens: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '/')
        .filter(|t| !t.is_empty())
        .collect();
    for (n, token) in tokens.iter().enumerate() {
        if let Ok(value) = token.parse::<f64>() {
            let next = tokens
                .get(n + 1)
                .map(|t| t.to_lowercase())
                .unwrap_or_default();
            if ["sales", "orders", "transactions", "deals", "sold"]
                .iter()
                .any(|w| next.starts_with(w))
                && value.fract() == 0.0
                && value >= 0.0
            {
                sales = sales.or(Some(value as u64));
            } else if rating.is_none() && (0.0..=5.0).contains(&value) && sales.is_none() {
                rating = Some(value);
            }
        }
    }
    (rating, sales)
}

/// Whether an imported rating's claim contradicts what `other` was observed showing at the
/// observation nearest `when` (the claimer's first sighting): the observed (rating, sales) if
/// it does. A claim with nothing to check, or an account never observed with figures, does not.
fn contradiction(
    text: &str,
    when: DateTime<Utc>,
    other: &Profile,
) -> Option<(Option<f64>, Option<u64>)> {
    let (rating, sales) = claimed(text);
    let &(_, observed_rating, observed_sales) = other
        .stats
        .iter()
        .filter(|(_, r, s)| r.is_some() || s.is_some())
        .min_by_key(|(at, _, _)| (*at - when).num_seconds().abs())?;
    let rating_off = matches!(
        (rating, observed_rating),
        (Some(c), Some(o)) if o <= 5.0 && (c - o).abs() > 0.15
    );
    let sales_off = match (sales, observed_sales) {
        (Some(c), Some(o)) => {
            let (c, o) = (c as f64, o as f64);
            (c - o).abs() > 0.25 * c.max(o) + 10.0
        }
        _ => false,
    };
    (rating_off || sales_off).then_some((observed_rating, observed_sales))
}

/// Scores one pair of accounts on different markets.
fn score_pair(profiles: &[Profile], a: usize, b: usize) -> Link {
    let (pa, pb) = (&profiles[a], &profiles[b]);
    let same_pgp = pa
        .fingerprints
        .intersection(&pb.fingerprints)
        .next()
        .is_some();
    // One account's key certified by the other's: a rotation signed by the old key.
    let key_certified = !same_pgp
        && (pa
            .certifiers
            .intersection(&pb.fingerprints)
            .next()
            .is_some()
            || pb
                .certifiers
                .intersection(&pa.fingerprints)
                .next()
                .is_some());
    let pgp_conflict =
        !same_pgp && !key_certified && !pa.fingerprints.is_empty() && !pb.fingerprints.is_empty();
    let (ha, hb) = (pa.handle.to_lowercase(), pb.handle.to_lowercase());
    let (handle_similarity, handle_evidence, handle_weight) = if ha == hb {
        (1.0, "equal", 0.7)
    } else if handle_core(&ha) == handle_core(&hb) {
        (similarity(&ha, &hb), "equal after decorations", 0.5)
    } else {
        let s = similarity(&handle_core(&ha), &handle_core(&hb));
        if s >= 0.85 {
            (s, "similar", 0.4)
        } else {
            (0.0, "", 0.0)
        }
    };
    let names = |market: &str| normalise(market).replace(' ', "");
    // Imports from the other account's market, each checked against what it showed.
    let mut shown = false;
    let mut moved = false;
    let mut imported_contradicted = None;
    for (claimer, other) in [(pa, pb), (pb, pa)] {
        let market = names(&other.market);
        for (_, text) in claimer.imported.iter().filter(|(m, _)| *m == market) {
            shown = true;
            match contradiction(text, claimer.first_seen, other) {
                Some(observed) => {
                    imported_contradicted.get_or_insert((text.clone(), observed.0, observed.1));
                }
                // A move: the claimed account was gone when the claimer appeared (seen by an
                // earlier crawl than the claimer; seen together, both were selling).
                None => moved |= other.last_seen < claimer.first_seen,
            }
        }
    }
    let imported_rating = shown && imported_contradicted.is_none();
    let moved = imported_rating && moved;
    let listing_overlap = jaccard(&pa.titles, &pb.titles);
    let mut weights = vec![handle_weight, 0.25 * listing_overlap];
    if same_pgp {
        weights.push(0.97);
    }
    if key_certified {
        weights.push(0.9);
    }
    if imported_rating {
        weights.push(0.6);
    }
    let mut score = 1.0 - weights.iter().map(|w| 1.0 - w).product::<f64>();
    if pgp_conflict && !moved {
        score *= 0.35;
    }
    Link {
        a,
        b,
        score,
        same_pgp,
        key_certified,
        pgp_conflict,
        handle_similarity,
        handle_evidence,
        imported_rating,
        moved,
        imported_contradicted,
        listing_overlap,
        via: None,
        decision: None,
    }
}

/// Accounts sharing a handle core (or a key) with more accounts than this are compared by their
/// whole handle (or not by the key): a core such as `vendor` in `vendor17`, `vendor18`, ... or a
/// key shown by hundreds of accounts says nothing about who holds them, and comparing every pair
/// of such a block would take hours on an archive (a market can make it so on purpose).
pub const MAX_BLOCK: usize = 100;

/// The pairs of accounts on different markets worth scoring: those that share a PGP key (or one
/// certifies the other's) or a handle core ([`handle_core`]), in blocks of at most [`MAX_BLOCK`]
/// accounts; a larger handle block is split by the whole handle (lower case, letters and digits),
/// and a block still larger than that (or a larger key block) pairs none of its accounts.
pub fn candidate_pairs(profiles: &[Profile]) -> BTreeSet<(usize, usize)> {
    let mut blocks: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, p) in profiles.iter().enumerate() {
        for f in p.fingerprints.iter().chain(&p.certifiers) {
            blocks.entry(format!("pgp:{f}")).or_default().push(i);
        }
        blocks
            .entry(format!("handle:{}", handle_core(&p.handle)))
            .or_default()
            .push(i);
    }
    let mut split: HashMap<String, Vec<usize>> = HashMap::new();
    blocks.retain(|key, members| {
        if members.len() <= MAX_BLOCK {
            return true;
        }
        if key.starts_with("handle:") {
            for &i in members.iter() {
                let whole: String = profiles[i]
                    .handle
                    .to_lowercase()
                    .chars()
                    .filter(|c| c.is_alphanumeric())
                    .collect();
                split.entry(format!("whole:{whole}")).or_default().push(i);
            }
        }
        false
    });
    let mut pairs: BTreeSet<(usize, usize)> = BTreeSet::new();
    for members in blocks.values().chain(split.values()) {
        if members.len() > MAX_BLOCK {
            continue;
        }
        for (n, &a) in members.iter().enumerate() {
            for &b in &members[n + 1..] {
                if profiles[a].market != profiles[b].market {
                    pairs.insert((a.min(b), a.max(b)));
                }
            }
        }
    }
    pairs
}

/// Candidate links between accounts on different markets: pairs that share a fingerprint or a
/// handle core (blocking), scored, with the researchers' decisions attached. Pairs a researcher
/// confirmed are included even without other evidence.
pub fn candidate_links(data: &Dataset, profiles: &[Profile]) -> Vec<Link> {
    let mut pairs = candidate_pairs(profiles);
    let index: HashMap<VendorRef, usize> = profiles
        .iter()
        .enumerate()
        .map(|(i, p)| (VendorRef::new(&p.market, &p.handle), i))
        .collect();
    let mut decided: HashMap<(usize, usize), LinkDecision> = HashMap::new();
    for d in &data.decisions {
        if let (Some(&a), Some(&b)) = (index.get(&d.a), index.get(&d.b)) {
            decided.insert((a.min(b), a.max(b)), d.decision);
            pairs.insert((a.min(b), a.max(b)));
        }
    }
    let mut links: Vec<Link> = pairs
        .into_iter()
        .map(|(a, b)| {
            let mut link = score_pair(profiles, a, b);
            link.decision = decided.get(&(a, b)).copied();
            link
        })
        .collect();
    // One step of transitivity: accounts both probably linked to a third account on another
    // market are linked through it (a person with accounts on three markets may have changed
    // key on one and handle on another), unless a researcher rejected the pair.
    let accepted: HashMap<(usize, usize), f64> = links
        .iter()
        .filter(|l| l.accepted())
        .map(|l| ((l.a, l.b), l.score))
        .collect();
    let mut neighbours: HashMap<usize, Vec<(usize, f64)>> = HashMap::new();
    for (&(a, b), &score) in &accepted {
        neighbours.entry(a).or_default().push((b, score));
        neighbours.entry(b).or_default().push((a, score));
    }
    let mut implied: BTreeMap<(usize, usize), (usize, f64)> = BTreeMap::new();
    for (&via, list) in &neighbours {
        for (i, &(a, sa)) in list.iter().enumerate() {
            for &(b, sb) in &list[i + 1..] {
                let pair = (a.min(b), a.max(b));
                if profiles[a].market == profiles[b].market
                    || accepted.contains_key(&pair)
                    || decided.contains_key(&pair)
                {
                    continue;
                }
                let score = sa.min(sb);
                let slot = implied.entry(pair).or_insert((via, score));
                if score > slot.1 {
                    *slot = (via, score);
                }
            }
        }
    }
    let position: HashMap<(usize, usize), usize> = links
        .iter()
        .enumerate()
        .map(|(i, l)| ((l.a, l.b), i))
        .collect();
    for ((a, b), (via, score)) in implied {
        match position.get(&(a, b)).map(|&i| &mut links[i]) {
            Some(link) => {
                link.via = Some(via);
                link.score = link.score.max(score);
            }
            None => {
                let mut link = score_pair(profiles, a, b);
                link.via = Some(via);
                link.score = link.score.max(score);
                links.push(link);
            }
        }
    }
    links.sort_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then((x.a, x.b).cmp(&(y.a, y.b)))
    });
    links
}

/// `vendor_links`: every candidate with its score, evidence and status.
pub fn links_table(profiles: &[Profile], links: &[Link]) -> Table {
    let mut table = Table::new(
        "vendor_links",
        format!(
            "Candidate links between vendor accounts on different markets, scored from their \
             evidence (probable at a score of {LINK_THRESHOLD} or more). Never merged: a \
             researcher confirms or rejects a link with `dnmscope links confirm|reject`."
        ),
        vec![
            Column::new("market_a", T::Text, "market of the first account"),
            Column::new("handle_a", T::Text, "handle of the first account"),
            Column::new("market_b", T::Text, "market of the second account"),
            Column::new("handle_b", T::Text, "handle of the second account"),
            Column::new("score", T::Float, "0-1, noisy OR of the evidence weights"),
            Column::new("status", T::Text, "probable, probable_through_third (both linked to a third account), unlikely, confirmed or rejected"),
            Column::new("same_pgp", T::Boolean, "the accounts showed the same PGP fingerprint"),
            Column::new("pgp_conflict", T::Boolean, "both showed keys and none is shared"),
            Column::new("handle_similarity", T::Float, "0-1, edit similarity of the handles"),
            Column::new("imported_rating", T::Boolean, "a profile shows a rating imported from the other market, which the other account's observed rating and sales do not contradict"),
            Column::new("listing_overlap", T::Float, "Jaccard similarity of listing titles without quantities"),
            Column::new("evidence", T::Text, "the evidence in words"),
        ],
    );
    for link in links {
        let (a, b) = (&profiles[link.a], &profiles[link.b]);
        let status = match link.decision {
            Some(LinkDecision::Confirmed) => "confirmed",
            Some(LinkDecision::Rejected) => "rejected",
            None if link.via.is_some() => "probable_through_third",
            None if link.score >= LINK_THRESHOLD => "probable",
            None => "unlikely",
        };
        table.push(vec![
            Cell::Text(a.market.clone()),
            Cell::Text(a.handle.clone()),
            Cell::Text(b.market.clone()),
            Cell::Text(b.handle.clone()),
            Cell::Float((link.score * 1000.0).round() / 1000.0),
            Cell::Text(status.to_string()),
            Cell::Boolean(link.same_pgp),
            Cell::Boolean(link.pgp_conflict),
            Cell::Float((link.handle_similarity * 1000.0).round() / 1000.0),
            Cell::Boolean(link.imported_rating),
            Cell::Float((link.listing_overlap * 1000.0).round() / 1000.0),
            Cell::Text(link.evidence(profiles)),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generic_handle_core_is_compared_by_whole_handles_and_a_shared_key_by_none() {
        let at = DateTime::<Utc>::from_timestamp(0, 0).unwrap();
        let profile = |market: &str, handle: String, key: Option<&str>| Profile {
            market: market.into(),
            vendor_id: 1,
            handle,
            fingerprints: key.into_iter().map(str::to_string).collect(),
            certifiers: BTreeSet::new(),
            imported: BTreeSet::new(),
            stats: Vec::new(),
            titles: BTreeSet::new(),
            first_seen: at,
            last_seen: at,
        };
        // 3 x 200 accounts whose handles all have the core `vendor`; one handle on two markets.
        let mut profiles = Vec::new();
        for (market, from) in [("a", 0), ("b", 1000), ("c", 2000)] {
            for n in from..from + 200 {
                profiles.push(profile(market, format!("Vendor{n}"), None));
            }
        }
        // The same whole handle on two markets: still compared.
        profiles.push(profile("c", "vendor-150".into(), None));
        profiles.push(profile("b", "VENDOR_2150".into(), None));
        // A small block still pairs every account across markets.
        profiles.push(profile("a", "crystalqueen".into(), None));
        profiles.push(profile("c", "CrystalQueen2".into(), None));
        let pairs = candidate_pairs(&profiles);
        let n = profiles.len();
        assert_eq!(
            pairs,
            BTreeSet::from([(150, n - 4), (400 + 150, n - 3), (n - 2, n - 1)]),
            "only the whole-handle matches and the small block's pair"
        );
        // A key shown by more accounts than a block holds pairs none of them; a key of two does.
        let mut shared: Vec<Profile> = (0..=MAX_BLOCK)
            .map(|n| profile(["a", "b"][n % 2], format!("h{n}xyzw{n}q"), Some("KEY")))
            .collect();
        assert!(candidate_pairs(&shared).is_empty());
        shared.truncate(2);
        assert_eq!(candidate_pairs(&shared), BTreeSet::from([(0, 1)]));
    }

    #[test]
    fn imported_claims_are_read_and_checked() {
        assert_eq!(claimed("4.87/5 (123 sales)"), (Some(4.87), Some(123)));
        assert_eq!(claimed("98.5% 1,204 orders"), (None, Some(1204)));
        assert_eq!(claimed("5.00/5 (0 sales)"), (Some(5.0), Some(0)));
        assert_eq!(claimed("level 7"), (None, None));
        let at = |day: i64| DateTime::<Utc>::from_timestamp(day * 86_400, 0).unwrap();
        let other = Profile {
            market: "m".into(),
            vendor_id: 1,
            handle: "h".into(),
            fingerprints: BTreeSet::new(),
            certifiers: BTreeSet::new(),
            imported: BTreeSet::new(),
            stats: vec![
                (at(10), Some(4.9), Some(100)),
                (at(20), Some(4.8), Some(180)),
            ],
            titles: BTreeSet::new(),
            first_seen: at(10),
            last_seen: at(20),
        };
        // The nearest observation: day 20's.
        assert_eq!(contradiction("4.81/5 (190 sales)", at(22), &other), None);
        assert_eq!(
            contradiction("4.95/5 (2400 sales)", at(22), &other),
            Some((Some(4.8), Some(180)))
        );
        assert!(contradiction("4.30/5 (180 sales)", at(22), &other).is_some());
        // Nothing to check against: no contradiction.
        assert_eq!(contradiction("trusted vendor", at(22), &other), None);
    }

    #[test]
    fn an_imported_rating_outweighs_a_key_conflict_only_for_a_move() {
        let at = |day: i64| DateTime::<Utc>::from_timestamp(day * 86_400, 0).unwrap();
        let profile = |market: &str, key: &str, seen: (i64, i64)| Profile {
            market: market.into(),
            vendor_id: 1,
            handle: "GreenDragon".into(),
            fingerprints: BTreeSet::from([key.to_string()]),
            certifiers: BTreeSet::new(),
            imported: BTreeSet::new(),
            stats: vec![(at(seen.1), Some(4.9), Some(100))],
            titles: BTreeSet::new(),
            first_seen: at(seen.0),
            last_seen: at(seen.1),
        };
        let claim = || BTreeSet::from([("alpha".to_string(), "4.90/5 (100 sales)".to_string())]);
        // The original account, last seen on day 20.
        let original = profile("alpha", "k1", (0, 20));
        // A new key on another market from day 22 with the original's figures: a move.
        let mut mover = profile("beta", "k2", (22, 40));
        mover.imported = claim();
        // The same from day 10, while the original still sells: a copy.
        let mut copy = profile("beta", "k3", (10, 40));
        copy.imported = claim();
        let moved = score_pair(&[original.clone(), mover], 0, 1);
        assert!(moved.moved && moved.imported_rating && moved.pgp_conflict);
        assert!(moved.score >= LINK_THRESHOLD, "{}", moved.score);
        // Seen first by the crawl that saw the original last: both were selling then.
        let mut same_crawl = profile("beta", "k4", (20, 40));
        same_crawl.imported = claim();
        let together = score_pair(&[original.clone(), same_crawl], 0, 1);
        assert!(together.imported_rating && !together.moved);
        assert!(together.score < LINK_THRESHOLD, "{}", together.score);
        // A new key certified by the original's, under an unrelated handle and with no rating:
        // a signed rotation links on its own; the same key uncertified does not.
        let mut signed = profile("beta", "k5", (22, 40));
        signed.handle = "depotmister374".into();
        signed.certifiers = BTreeSet::from(["k1".to_string()]);
        let rotation = score_pair(&[original.clone(), signed.clone()], 0, 1);
        assert!(rotation.key_certified && !rotation.pgp_conflict);
        assert!(rotation.score >= LINK_THRESHOLD, "{}", rotation.score);
        signed.certifiers.clear();
        let unsigned = score_pair(&[original.clone(), signed], 0, 1);
        assert!(!unsigned.key_certified && unsigned.pgp_conflict);
        assert!(unsigned.score < LINK_THRESHOLD, "{}", unsigned.score);
        let copied = score_pair(&[original.clone(), copy], 0, 1);
        assert!(copied.imported_rating && !copied.moved);
        assert!(copied.score < LINK_THRESHOLD, "{}", copied.score);
        // Invented figures are no evidence, whenever they appear.
        let mut liar = profile("beta", "k4", (22, 40));
        liar.imported = BTreeSet::from([("alpha".to_string(), "4.95/5 (2400 sales)".to_string())]);
        let lied = score_pair(&[original, liar], 0, 1);
        assert!(!lied.imported_rating && lied.imported_contradicted.is_some());
        assert!(lied.score < LINK_THRESHOLD, "{}", lied.score);
    }

    #[test]
    fn handle_cores_drop_decorations() {
        assert_eq!(handle_core("TheFrostyPanda"), "frostypanda");
        assert_eq!(handle_core("frosty_panda_official"), "frostypanda");
        assert_eq!(handle_core("real_frostypanda"), "frostypanda");
        assert_eq!(handle_core("frostypanda17"), "frostypanda");
        assert_eq!(handle_core("abc12"), "abc12");
        assert!(similarity("frostypanda", "frostpanda") > 0.85);
        assert!(similarity("frostypanda", "calmotter") < 0.5);
    }
}
