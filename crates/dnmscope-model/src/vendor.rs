//! Vendors: a seller's profile on one market.

use serde::{Deserialize, Serialize};

use crate::PgpFingerprint;

/// What one vendor profile showed when it was seen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Vendor {
    /// The handle, the vendor's identity on its market.
    pub handle: String,
    pub url: Option<String>,
    /// The market's rating score as shown (4.93 on a 5 scale, 98.7 on a percent one).
    pub rating: Option<f64>,
    pub positive_percent: Option<f64>,
    pub sales: Option<u64>,
    pub feedback_counts: Option<FeedbackCounts>,
    /// Vendor or trust level as shown.
    pub level: Option<String>,
    pub pgp_fingerprint: Option<PgpFingerprint>,
    /// Keys that certified this key's user id (third-party signatures in the armored block):
    /// a vendor who rotates keys often signs the new one with the old.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pgp_certified_by: Vec<PgpFingerprint>,
    /// The armored public key block, verbatim.
    pub pgp_key: Option<String>,
    /// Registration date as shown.
    pub registered: Option<String>,
    /// Last seen or last login as shown.
    pub last_seen: Option<String>,
    /// Ratings imported from other markets, as shown.
    pub external_ratings: Vec<ExternalRating>,
    pub about: Option<String>,
    pub terms: Option<String>,
    pub disputes: Option<DisputeCounts>,
    /// The account's status as the market marks it ("banned", "vacation", "new"), lower case:
    /// the vendor's own state, not the crawler's (a profile marked banned is still a profile).
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackCounts {
    pub positive: u64,
    pub neutral: u64,
    pub negative: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeCounts {
    pub won: u64,
    pub lost: u64,
}

/// A rating from another market shown on a profile ("Dream 4.9 (1200)"): evidence for linking
/// accounts across markets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalRating {
    pub market: String,
    pub text: String,
}
