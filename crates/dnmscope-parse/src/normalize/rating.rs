//! Rating forms: "98.7%", "4.93/5", "4.96", "(120)", "[+512|-3]" and vendor levels.

use std::sync::LazyLock;

use regex::Regex;

use super::{parse_decimal, Unreadable};

/// What a rating text says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RatingForm {
    /// "98.7%".
    Percent(f64),
    /// "4.93/5", "4.96" (a bare score has no stated scale: `out_of` is `None`).
    Score { value: f64, out_of: Option<f64> },
    /// "(120)": a count, usually of ratings or sales.
    Count(u64),
}

static PERCENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d+(?:[.,]\d+)?)\s*%$").expect("a valid pattern"));
static SCORE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d+(?:[.,]\d+)?)(?:\s*(?:/|out of)\s*(\d+(?:[.,]\d+)?))?$")
        .expect("a valid pattern")
});
static COUNT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[(\[]\s*(\d[\d,]*)\s*[)\]]$").expect("a valid pattern"));

pub fn parse_rating(text: &str) -> Result<RatingForm, Unreadable> {
    let unreadable = |reason: &str| Unreadable::new("rating", text, reason);
    let cleaned = text.trim();
    let number = |s: &str| -> Result<f64, Unreadable> {
        let value = parse_decimal(s).map_err(|e| unreadable(&e.reason))?;
        value
            .to_string()
            .parse::<f64>()
            .map_err(|e| unreadable(&e.to_string()))
    };
    if let Some(found) = PERCENT.captures(cleaned) {
        let value = number(&found[1])?;
        if value > 100.0 {
            return Err(unreadable("a percentage over 100"));
        }
        return Ok(RatingForm::Percent(value));
    }
    if let Some(found) = COUNT.captures(cleaned) {
        let digits: String = found[1].chars().filter(char::is_ascii_digit).collect();
        let count = digits
            .parse()
            .map_err(|_| unreadable("the count is too large"))?;
        return Ok(RatingForm::Count(count));
    }
    if let Some(found) = SCORE.captures(cleaned) {
        let value = number(&found[1])?;
        let out_of = match found.get(2) {
            Some(scale) => Some(number(scale.as_str())?),
            None => None,
        };
        if out_of.is_some_and(|scale| scale <= 0.0 || value > scale) {
            return Err(unreadable("the score is above its scale"));
        }
        return Ok(RatingForm::Score { value, out_of });
    }
    Err(unreadable("not a percentage, score or count"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rating_forms() {
        assert_eq!(parse_rating("98.7%").unwrap(), RatingForm::Percent(98.7));
        assert_eq!(parse_rating("100 %").unwrap(), RatingForm::Percent(100.0));
        assert_eq!(
            parse_rating("4.93/5").unwrap(),
            RatingForm::Score {
                value: 4.93,
                out_of: Some(5.0)
            }
        );
        assert_eq!(
            parse_rating("4.96").unwrap(),
            RatingForm::Score {
                value: 4.96,
                out_of: None
            }
        );
        assert_eq!(
            parse_rating("9.5 out of 10").unwrap(),
            RatingForm::Score {
                value: 9.5,
                out_of: Some(10.0)
            }
        );
        assert_eq!(parse_rating("(120)").unwrap(), RatingForm::Count(120));
        assert_eq!(parse_rating("[1,200]").unwrap(), RatingForm::Count(1200));
    }

    #[test]
    fn unreadable_ratings() {
        for text in ["", "great", "120.5%", "6/5", "4.9/0"] {
            assert!(parse_rating(text).is_err(), "{text}");
        }
    }
}
