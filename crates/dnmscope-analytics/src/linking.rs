//! Cross-market vendor linking: candidate links between vendor accounts on different markets,
//! each scored from its evidence, never merged silently. A researcher's decision (stored with
//! `dnmscope links confirm|reject`) overrides the score's verdict and is shown beside it.
//!
//! Evidence and weights (combined as a noisy OR: 1 - Π(1 - w)):
//! - the same PGP fingerprint: 0.97;
//! - handles: equal ignoring case 0.7; equal after dropping decorations (`the`, `real_`,
//!   `_official`, trailing digits, separators) 0.5; otherwise similar (normalised edit
//!   distance ≥ 0.85) 0.4;
//! - a rating imported from the other account's market shown on a profile: 0.6;
//! - overlapping listing titles: 0.25 × their Jaccard similarity.
//!
//! When both accounts show keys and none is shared, and no imported rating vouches for a move,
//! the score is multiplied by 0.35: people who move keep their key far more often than not.
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
    /// Markets named by imported ratings, normalised.
    pub imported_from: BTreeSet<String>,
    pub titles: BTreeSet<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// One candidate link with its evidence.
#[derive(Debug, Clone)]
pub struct Link {
    pub a: usize,
    pub b: usize,
    pub score: f64,
    pub same_pgp: bool,
    pub pgp_conflict: bool,
    pub handle_similarity: f64,
    pub handle_evidence: &'static str,
    pub imported_rating: bool,
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
            parts.push("a profile shows a rating imported from the other market".to_string());
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
                imported_from: BTreeSet::new(),
                titles: BTreeSet::new(),
                first_seen: at,
                last_seen: at,
            });
        p.first_seen = p.first_seen.min(at);
        p.last_seen = p.last_seen.max(at);
        (market.to_string(), id)
    };
    // (account, fingerprint, markets named by imported ratings, listing title)
    type Extra = ((String, i64), Option<String>, Vec<String>, Option<String>);
    let mut extra: Vec<Extra> = Vec::new();
    for v in &data.vendors {
        let key = touch(&v.market, v.vendor_id, &v.handle, v.observed_at);
        extra.push((
            key,
            v.vendor
                .pgp_fingerprint
                .as_ref()
                .map(|f| f.as_str().to_string()),
            v.vendor
                .external_ratings
                .iter()
                .map(|r| normalise(&r.market).replace(' ', ""))
                .collect(),
            None,
        ));
    }
    for l in &data.listings {
        if let (Some(id), Some(handle)) = (l.vendor_id, &l.vendor) {
            let key = touch(&l.market, id, handle, l.observed_at);
            extra.push((key, None, Vec::new(), l.listing.title.clone()));
        }
    }
    for (key, fingerprint, imported, title) in extra {
        if let Some(p) = map.get_mut(&key) {
            p.fingerprints.extend(fingerprint);
            p.imported_from.extend(imported);
            if let Some(title) = title {
                p.titles.insert(title_core(&title));
            }
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

/// Scores one pair of accounts on different markets.
fn score_pair(profiles: &[Profile], a: usize, b: usize) -> Link {
    let (pa, pb) = (&profiles[a], &profiles[b]);
    let same_pgp = pa
        .fingerprints
        .intersection(&pb.fingerprints)
        .next()
        .is_some();
    let pgp_conflict = !same_pgp && !pa.fingerprints.is_empty() && !pb.fingerprints.is_empty();
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
    let imported_rating = pa.imported_from.contains(&names(&pb.market))
        || pb.imported_from.contains(&names(&pa.market));
    let listing_overlap = jaccard(&pa.titles, &pb.titles);
    let mut weights = vec![handle_weight, 0.25 * listing_overlap];
    if same_pgp {
        weights.push(0.97);
    }
    if imported_rating {
        weights.push(0.6);
    }
    let mut score = 1.0 - weights.iter().map(|w| 1.0 - w).product::<f64>();
    if pgp_conflict && !imported_rating {
        score *= 0.35;
    }
    Link {
        a,
        b,
        score,
        same_pgp,
        pgp_conflict,
        handle_similarity,
        handle_evidence,
        imported_rating,
        listing_overlap,
        via: None,
        decision: None,
    }
}

/// Candidate links between accounts on different markets: pairs that share a fingerprint or a
/// handle core (blocking), scored, with the researchers' decisions attached. Pairs a researcher
/// confirmed are included even without other evidence.
pub fn candidate_links(data: &Dataset, profiles: &[Profile]) -> Vec<Link> {
    let mut blocks: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, p) in profiles.iter().enumerate() {
        for f in &p.fingerprints {
            blocks.entry(format!("pgp:{f}")).or_default().push(i);
        }
        blocks
            .entry(format!("handle:{}", handle_core(&p.handle)))
            .or_default()
            .push(i);
    }
    let mut pairs: BTreeSet<(usize, usize)> = BTreeSet::new();
    for members in blocks.values() {
        for (n, &a) in members.iter().enumerate() {
            for &b in &members[n + 1..] {
                if profiles[a].market != profiles[b].market {
                    pairs.insert((a.min(b), a.max(b)));
                }
            }
        }
    }
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
    for ((a, b), (via, score)) in implied {
        match links.iter_mut().find(|l| l.a == a && l.b == b) {
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
            Column::new("imported_rating", T::Boolean, "a profile shows a rating imported from the other market"),
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
