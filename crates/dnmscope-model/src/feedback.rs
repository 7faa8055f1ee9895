//! Feedback entries: what buyers wrote about a purchase. The research proxy for a sale.
//!
//! A feedback entry carries no buyer identity at all, not even a masked handle: research ethics
//! keeps buyers out of the data. The same entry is shown on many pages and in many crawls; its
//! content key makes it one row however often it is seen.

use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{MarketName, Money};

/// How a feedback entry rated the purchase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackRating {
    Positive,
    Neutral,
    Negative,
    /// A numeric score as shown (4.5 out of 5, say).
    Score(Decimal),
    /// The page showed a rating the parser could not read (an icon it has no meaning for): the
    /// entry still stands for a sale, so it is kept, with the parser's diagnostic beside it.
    Unknown,
}

impl FeedbackRating {
    /// The form stored in the rating column: `positive`, `neutral`, `negative`, the score, or
    /// `unknown`.
    pub fn as_text(&self) -> String {
        match self {
            FeedbackRating::Positive => "positive".to_string(),
            FeedbackRating::Neutral => "neutral".to_string(),
            FeedbackRating::Negative => "negative".to_string(),
            FeedbackRating::Score(score) => score.normalize().to_string(),
            FeedbackRating::Unknown => "unknown".to_string(),
        }
    }

    pub fn from_text(text: &str) -> Option<FeedbackRating> {
        match text {
            "positive" => Some(FeedbackRating::Positive),
            "neutral" => Some(FeedbackRating::Neutral),
            "negative" => Some(FeedbackRating::Negative),
            "unknown" => Some(FeedbackRating::Unknown),
            other => other.parse::<Decimal>().ok().map(FeedbackRating::Score),
        }
    }
}

/// One feedback entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackEntry {
    /// The vendor the feedback is about.
    pub vendor: Option<String>,
    /// The listing it was left on, when the page says.
    pub listing_key: Option<String>,
    pub rating: FeedbackRating,
    pub text: String,
    /// The date as shown ("2019-03-02", "3 days ago").
    pub date_text: Option<String>,
    /// The date it was left, resolved by the parser against the capture time.
    pub left_on: Option<NaiveDate>,
    /// How many days either side of `left_on` the true day may lie: 0 for a date the page
    /// printed, the printed resolution (at least 1) for an age ("10d", "3 weeks ago").
    #[serde(default)]
    pub left_on_within_days: u32,
    /// The item's name as shown in the entry.
    pub item: Option<String>,
    pub price: Option<Money>,
}

/// The content key of a feedback entry on a market: a hash of what the entry says.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FeedbackKey(pub String);

impl fmt::Display for FeedbackKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FeedbackEntry {
    /// The content key: market, vendor (case-blind), item, rating, text (white space collapsed),
    /// date and price. Not the listing key: the same review is shown on its listing's page (where
    /// the listing is known) and on the vendor's feedback pages (where only the item's title is),
    /// and it must be one entry.
    ///
    /// The resolved date is used when there is one, so "3 days ago" seen on Monday and
    /// "2 days ago" seen on Sunday are the same entry. An age resolves to a date only as exactly
    /// as it is printed ("10d" is ten to eleven days), so a later crawl may resolve it a day (a
    /// resolution) away: [`FeedbackEntry::keys_within_resolution`] names those keys, and the
    /// store takes a stored entry under one of them, not taken by another row of the same page,
    /// as this entry. Two entries
    /// alike in every one of these are one entry: the lower bound on sales that the field's
    /// studies also use; with an age, "alike" includes dates within its resolution (the
    /// false-merge risk: two identical reviews of one item at one price left a day apart, shown
    /// only by age, count once).
    pub fn content_key(&self, market: &MarketName) -> FeedbackKey {
        self.key_on(market, self.left_on)
    }

    /// The keys the same entry had if a crawl read its age a little differently: its date moved
    /// by up to `left_on_within_days` days either way, earliest date first (its own key among
    /// them). An age printed as "10d" on one crawl and "13d" three and a half days later
    /// resolves to dates up to its resolution apart; the store takes the earliest stored entry
    /// under one of these keys that the same page has not already taken. Only its own key for a
    /// printed date.
    pub fn keys_within_resolution(&self, market: &MarketName) -> Vec<FeedbackKey> {
        let Some(day) = self.left_on else {
            return vec![self.content_key(market)];
        };
        let within = i64::from(self.left_on_within_days.min(400));
        (-within..=within)
            .filter_map(|offset| day.checked_add_signed(chrono::Duration::days(offset)))
            .map(|moved| self.key_on(market, Some(moved)))
            .collect()
    }

    fn key_on(&self, market: &MarketName, left_on: Option<NaiveDate>) -> FeedbackKey {
        let collapse = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let date = match (&left_on, &self.date_text) {
            (Some(day), _) => day.to_string(),
            (None, Some(text)) => collapse(text),
            (None, None) => String::new(),
        };
        let mut hasher = blake3::Hasher::new();
        for part in [
            market.as_str().to_string(),
            self.vendor.as_deref().unwrap_or("").trim().to_lowercase(),
            collapse(self.item.as_deref().unwrap_or("")),
            self.rating.as_text(),
            collapse(&self.text),
            date,
            self.price
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default(),
        ] {
            hasher.update(part.as_bytes());
            hasher.update(&[0]);
        }
        FeedbackKey(hasher.finalize().to_hex().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> FeedbackEntry {
        FeedbackEntry {
            vendor: Some("Vendor1".to_string()),
            listing_key: Some("42".to_string()),
            rating: FeedbackRating::Positive,
            text: "fast  shipping,\nstealth good".to_string(),
            date_text: Some("3 days ago".to_string()),
            left_on: NaiveDate::from_ymd_opt(2019, 3, 2),
            left_on_within_days: 0,
            item: None,
            price: Some(Money::new("49.00", "USD").unwrap()),
        }
    }

    #[test]
    fn content_key_ignores_presentation_but_not_content() {
        let market = MarketName::new("dream").unwrap();
        let a = entry();
        let mut b = entry();
        b.text = "fast shipping, stealth good".to_string();
        b.date_text = Some("2 days ago".to_string());
        b.vendor = Some("vendor1".to_string());
        assert_eq!(a.content_key(&market), b.content_key(&market));
        b.rating = FeedbackRating::Negative;
        assert_ne!(a.content_key(&market), b.content_key(&market));
        let empire = MarketName::new("empire").unwrap();
        assert_ne!(a.content_key(&market), a.content_key(&empire));
    }

    #[test]
    fn keys_within_resolution_cover_the_printed_resolution() {
        let market = MarketName::new("dream").unwrap();
        let mut a = entry();
        assert_eq!(a.keys_within_resolution(&market), [a.content_key(&market)]);
        a.left_on_within_days = 1;
        let mut b = a.clone();
        b.left_on = NaiveDate::from_ymd_opt(2019, 3, 3);
        let keys = a.keys_within_resolution(&market);
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[1], a.content_key(&market));
        assert_eq!(keys[2], b.content_key(&market));
        b.left_on = NaiveDate::from_ymd_opt(2019, 3, 4);
        assert!(!keys.contains(&b.content_key(&market)));
    }

    #[test]
    fn ratings_round_trip_as_text() {
        for rating in [
            FeedbackRating::Positive,
            FeedbackRating::Neutral,
            FeedbackRating::Negative,
            FeedbackRating::Score(Decimal::new(45, 1)),
            FeedbackRating::Unknown,
        ] {
            assert_eq!(FeedbackRating::from_text(&rating.as_text()), Some(rating));
        }
    }
}
