//! Total sales and revenue with an interval: the feedback entries a crawl saw, less those in
//! suspected review campaigns, scaled by the share of orders that leave a review.
//!
//! That share (the review rate) is not observed anywhere on a market: it is a stated parameter,
//! a range a researcher believes (`ReviewRate`), and the estimate carries both its effect and
//! the sampling noise of reviewing (each sale leaves a review with probability p, so n entries
//! stand for n / p sales with a standard error of sqrt(n (1 - p)) / p). `sales_sensitivity`
//! shows the estimate over the whole range of rates, so a reader can substitute their own.
//!
//! A market that shows only a vendor's latest entries, or a vendor who hides them, still shows
//! how many there are on the profile (positive, neutral, negative): a vendor whose profile
//! counts more reviews than the crawls stored entries has the difference added, priced at the
//! mean of its stored entries (or, with none, at the mean of its listings' prices).
//!
//! What it does not correct: entries removed before a crawl, bought reviews the credibility
//! flags missed (counted as sales), and real reviews inside a flagged window (left out with
//! the fakes).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::credibility::Flag;
use crate::data::{Dataset, Sale};
use crate::indicators::{float, int};
use crate::table::{Column, ColumnType as T, Table};

/// The share of orders that leave a review: a central value and the range believed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReviewRate {
    pub low: f64,
    pub central: f64,
    pub high: f64,
}

impl Default for ReviewRate {
    /// 0.5 to 0.9, central 0.7: a prior, not a measurement. Markets that ask every buyer to
    /// finalise with a review sit at the top; markets where reviewing is optional lower.
    fn default() -> ReviewRate {
        ReviewRate {
            low: 0.5,
            central: 0.7,
            high: 0.9,
        }
    }
}

impl ReviewRate {
    /// A rate range, checked: 0 < low <= central <= high <= 1.
    pub fn new(low: f64, central: f64, high: f64) -> Option<ReviewRate> {
        let ok = low > 0.0 && low <= central && central <= high && high <= 1.0;
        ok.then_some(ReviewRate { low, central, high })
    }
}

/// Sales and revenue over the sales entries given, with their intervals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SalesEstimate {
    /// Feedback entries (one per sale that left one).
    pub entries: usize,
    /// Entries inside a vendor's suspected-campaign window: left out.
    pub excluded: usize,
    /// Reviews the vendors' profiles count beyond the entries stored (hidden or not shown).
    pub unseen: usize,
    /// Reviews counted: `entries - excluded + unseen`.
    pub counted: usize,
    /// USD of the counted entries that have a price.
    pub counted_usd: f64,
    pub rate: ReviewRate,
    /// `counted / rate.central`.
    pub sales: f64,
    /// From the high rate less 1.96 standard errors to the low rate plus 1.96.
    pub sales_low: f64,
    pub sales_high: f64,
    pub revenue_usd: f64,
    pub revenue_low_usd: f64,
    pub revenue_high_usd: f64,
}

/// Whether a sale falls in one of its vendor's suspected-campaign windows.
fn in_campaign(
    sale: &Sale,
    windows: &BTreeMap<(&str, i64), Vec<(chrono::NaiveDate, chrono::NaiveDate)>>,
) -> bool {
    let Some(vendor) = sale.vendor_id else {
        return false;
    };
    windows
        .get(&(sale.market.as_str(), vendor))
        .is_some_and(|w| {
            w.iter()
                .any(|(from, to)| sale.day >= *from && sale.day <= *to)
        })
}

fn campaign_windows(
    flags: &[Flag],
) -> BTreeMap<(&str, i64), Vec<(chrono::NaiveDate, chrono::NaiveDate)>> {
    let mut windows: BTreeMap<(&str, i64), Vec<_>> = BTreeMap::new();
    for f in flags.iter().filter(|f| f.flag == "suspected_campaign") {
        windows
            .entry((f.market.as_str(), f.vendor_id))
            .or_default()
            .push((f.from, f.to));
    }
    windows
}

/// What a vendor's profile says beyond its stored entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ProfileReviews {
    /// The most reviews the profile counted (positive + neutral + negative) in any observation.
    pub reviews: u64,
    /// The mean over the vendor's observed listings of each one's median USD price: the price
    /// of a review the crawls could not see, when the vendor has no priced entries.
    pub listing_usd: Option<f64>,
}

/// [`ProfileReviews`] per vendor: (market, vendor id) -> what its profile counts.
pub fn shown_review_counts(data: &Dataset) -> BTreeMap<(String, i64), ProfileReviews> {
    let mut counts: BTreeMap<(String, i64), ProfileReviews> = BTreeMap::new();
    for row in &data.vendors {
        if let Some(c) = row.vendor.feedback_counts {
            let total = c
                .positive
                .saturating_add(c.neutral)
                .saturating_add(c.negative);
            let entry = counts
                .entry((row.market.clone(), row.vendor_id))
                .or_default();
            entry.reviews = entry.reviews.max(total);
        }
    }
    // Each listing's median USD price, per vendor.
    for (key, medians) in &data.listings.vendor_listing_usd {
        if let Some(entry) = counts.get_mut(key) {
            entry.listing_usd = Some(medians.iter().sum::<f64>() / medians.len() as f64);
        }
    }
    counts
}

/// The estimate for `sales` (from [`crate::Dataset::sales`], filtered as the caller likes),
/// adding the reviews `shown` (from [`shown_review_counts`]) counts beyond them and leaving out
/// entries in the `flags`' suspected campaigns.
pub fn estimate_sales(
    sales: &[Sale],
    shown: &BTreeMap<(String, i64), ProfileReviews>,
    flags: &[Flag],
    rate: ReviewRate,
) -> SalesEstimate {
    let windows = campaign_windows(flags);
    let (mut excluded, mut counted, mut counted_usd) = (0usize, 0usize, 0f64);
    // Per vendor: entries stored, and the USD of its priced ones.
    let mut per_vendor: BTreeMap<(&str, i64), (u64, usize, f64)> = BTreeMap::new();
    for sale in sales {
        if let Some(v) = sale.vendor_id {
            let e = per_vendor.entry((sale.market.as_str(), v)).or_default();
            e.0 += 1;
            if let Some(usd) = sale.usd {
                e.1 += 1;
                e.2 += usd;
            }
        }
        if in_campaign(sale, &windows) {
            excluded += 1;
        } else {
            counted += 1;
            counted_usd += sale.usd.unwrap_or(0.0);
        }
    }
    let mut unseen = 0usize;
    for ((market, vendor), profile) in shown {
        let (stored, priced, usd) = per_vendor
            .get(&(market.as_str(), *vendor))
            .copied()
            .unwrap_or_default();
        let extra = profile.reviews.saturating_sub(stored);
        if extra == 0 {
            continue;
        }
        unseen += extra as usize;
        counted += extra as usize;
        if priced > 0 {
            counted_usd += extra as f64 * usd / priced as f64;
        } else if let Some(price) = profile.listing_usd {
            counted_usd += extra as f64 * price;
        }
    }
    let n = counted as f64;
    let scaled = |p: f64| n / p;
    let noise = |p: f64| 1.96 * (n * (1.0 - p)).sqrt() / p;
    let sales_low = (scaled(rate.high) - noise(rate.high)).max(n);
    let sales_high = scaled(rate.low) + noise(rate.low);
    let per_sale = if counted == 0 { 0.0 } else { counted_usd / n };
    SalesEstimate {
        entries: sales.len(),
        excluded,
        unseen,
        counted,
        counted_usd,
        rate,
        sales: scaled(rate.central),
        sales_low,
        sales_high,
        revenue_usd: counted_usd / rate.central,
        revenue_low_usd: sales_low * per_sale,
        revenue_high_usd: sales_high * per_sale,
    }
}

/// `sales_sensitivity`: the estimate under review rates from 0.3 to 1.0.
pub fn sales_sensitivity(
    sales: &[Sale],
    shown: &BTreeMap<(String, i64), ProfileReviews>,
    flags: &[Flag],
) -> Table {
    let mut table = Table::new(
        "sales_sensitivity",
        "Estimated total sales and revenue under different shares of orders that leave a \
         review (the review rate, which no market shows). Entries in suspected review campaigns \
         are left out; reviews vendors' profiles count beyond the entries stored are added. \
         The interval is the sampling noise of reviewing at that rate (1.96 \
         standard errors).",
        vec![
            Column::new(
                "review_rate",
                T::Float,
                "share of orders assumed to leave a review",
            ),
            Column::new(
                "reviews_counted",
                T::Integer,
                "feedback entries outside suspected campaigns plus the reviews profiles count beyond them",
            ),
            Column::new(
                "entries_excluded",
                T::Integer,
                "entries in suspected campaigns, left out",
            ),
            Column::new(
                "reviews_unseen",
                T::Integer,
                "reviews profiles count beyond the entries stored (added)",
            ),
            Column::new("estimated_sales", T::Float, "reviews counted / review rate"),
            Column::new("sales_low", T::Float, "lower end of the interval"),
            Column::new("sales_high", T::Float, "upper end of the interval"),
            Column::new(
                "estimated_revenue_usd",
                T::Float,
                "USD of the reviews counted / review rate",
            ),
        ],
    );
    if sales.is_empty() && shown.is_empty() {
        return table;
    }
    for tenth in 3..=10 {
        let p = f64::from(tenth) / 10.0;
        let e = estimate_sales(
            sales,
            shown,
            flags,
            ReviewRate {
                low: p,
                central: p,
                high: p,
            },
        );
        table.push(vec![
            float(Some(p)),
            int(e.counted as i64),
            int(e.excluded as i64),
            int(e.unseen as i64),
            float(Some(e.sales)),
            float(Some(e.sales_low)),
            float(Some(e.sales_high)),
            float(Some(e.revenue_usd)),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Cell;
    use chrono::NaiveDate;

    fn sale(day: u32, usd: f64) -> Sale {
        Sale {
            market: "m".into(),
            vendor_id: Some(1),
            vendor: Some("v".into()),
            listing_id: Some(1),
            day: NaiveDate::from_ymd_opt(2024, 1, day).unwrap(),
            usd: Some(usd),
            priced_from: None,
            category: None,
            origin: None,
        }
    }

    #[test]
    fn scales_by_the_rate_and_leaves_out_campaigns() {
        let sales: Vec<Sale> = (1..=20).map(|d| sale(d, 10.0)).collect();
        let flags = vec![Flag {
            market: "m".into(),
            vendor_id: 1,
            vendor: "v".into(),
            flag: "suspected_campaign",
            from: NaiveDate::from_ymd_opt(2024, 1, 5).unwrap(),
            to: NaiveDate::from_ymd_opt(2024, 1, 9).unwrap(),
            entries: 5,
            evidence: String::new(),
        }];
        let e = estimate_sales(
            &sales,
            &BTreeMap::new(),
            &flags,
            ReviewRate::new(0.5, 0.75, 1.0).unwrap(),
        );
        assert_eq!((e.entries, e.excluded, e.counted), (20, 5, 15));
        assert!((e.sales - 20.0).abs() < 1e-9);
        assert!((e.revenue_usd - 200.0).abs() < 1e-9);
        // At a rate of 1.0 there is no noise: the low end is what was seen.
        assert!((e.sales_low - 15.0).abs() < 1e-9);
        // At 0.5: 30 sales, standard error sqrt(15 * 0.5) / 0.5.
        let expected_high = 30.0 + 1.96 * (7.5f64).sqrt() / 0.5;
        assert!((e.sales_high - expected_high).abs() < 1e-9);
        assert!((e.revenue_high_usd - expected_high * 10.0).abs() < 1e-9);
    }

    #[test]
    fn reviews_a_profile_counts_beyond_the_entries_are_added_at_the_vendors_mean_price() {
        let sales: Vec<Sale> = (1..=10).map(|d| sale(d, f64::from(d))).collect();
        let profile = |reviews, listing_usd| ProfileReviews {
            reviews,
            listing_usd,
        };
        let shown = BTreeMap::from([
            (("m".to_string(), 1), profile(25, Some(1000.0))),
            // A vendor that hides its entries: priced at its listings' mean.
            (("m".to_string(), 2), profile(4, Some(7.0))),
            // Hidden and no priced listing: counted, unpriced.
            (("m".to_string(), 3), profile(2, None)),
            // A profile counting fewer than stored changes nothing.
            (("n".to_string(), 1), profile(0, None)),
        ]);
        let rate = ReviewRate::new(1.0, 1.0, 1.0).unwrap();
        let e = estimate_sales(&sales, &shown, &[], rate);
        assert_eq!((e.entries, e.unseen, e.counted), (10, 21, 31));
        // 55 USD stored, mean 5.5, 15 more at 5.5 (not the listings' 1000), 4 at 7.
        assert!((e.counted_usd - (55.0 + 15.0 * 5.5 + 4.0 * 7.0)).abs() < 1e-9);
    }

    #[test]
    fn the_sensitivity_table_has_a_row_per_rate_and_none_for_no_data() {
        let sales: Vec<Sale> = (1..=10).map(|d| sale(d, 2.0)).collect();
        let table = sales_sensitivity(&sales, &BTreeMap::new(), &[]);
        assert_eq!(table.rows.len(), 8);
        for row in &table.rows {
            assert_eq!(row.len(), table.columns.len());
        }
        // At a rate of 0.5, ten entries are twenty sales.
        assert_eq!(table.rows[2][0], Cell::Float(0.5));
        assert_eq!(table.rows[2][4], Cell::Float(20.0));
        assert!(sales_sensitivity(&[], &BTreeMap::new(), &[])
            .rows
            .is_empty());
    }

    #[test]
    fn rates_outside_zero_to_one_are_refused() {
        assert!(ReviewRate::new(0.0, 0.5, 0.9).is_none());
        assert!(ReviewRate::new(0.6, 0.5, 0.9).is_none());
        assert!(ReviewRate::new(0.5, 0.7, 1.1).is_none());
        assert!(ReviewRate::new(0.5, 0.7, 0.9).is_some());
    }
}
