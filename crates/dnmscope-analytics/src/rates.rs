//! Exchange rates from a CSV file, for `dnmscope rates import`.
//!
//! The file has a header line naming the columns `date`, `currency` and `usd` (in any order;
//! other columns are ignored): one row per day and currency, `usd` being the USD value of one
//! unit (`2019-03-04,BTC,3862.25`). Dates are `YYYY-MM-DD` (UTC). A bad row is refused with its
//! line number and the reason; nothing is imported from a file with a bad row.

use chrono::NaiveDate;
use dnmscope_model::Currency;
use dnmscope_store::RateRow;

use crate::error::AnalyticsError;

/// Parses a rates CSV; `name` names the file in errors, `source` is stored with each rate.
pub fn parse_rates_csv(
    text: &str,
    name: &str,
    source: &str,
) -> Result<Vec<RateRow>, AnalyticsError> {
    let bad = |line: usize, reason: String| AnalyticsError::Input {
        what: format!("{name}, line {line}"),
        reason,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let Some((header_line, header)) = lines.next() else {
        return Err(bad(
            1,
            "the file is empty (expected a header: date,currency,usd)".to_string(),
        ));
    };
    let columns: Vec<String> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_lowercase())
        .collect();
    let find = |name: &str| columns.iter().position(|c| c == name);
    let (Some(date), Some(currency), Some(usd)) = (find("date"), find("currency"), find("usd"))
    else {
        return Err(bad(
            header_line,
            format!("the header {header:?} must name the columns date, currency and usd"),
        ));
    };
    let mut rates = Vec::new();
    for (line, row) in lines {
        let cells: Vec<&str> = row.split(',').map(|c| c.trim().trim_matches('"')).collect();
        let cell = |i: usize| -> Result<&str, AnalyticsError> {
            cells.get(i).copied().ok_or_else(|| {
                bad(
                    line,
                    format!("{} cells, expected {}", cells.len(), columns.len()),
                )
            })
        };
        let day = NaiveDate::parse_from_str(cell(date)?, "%Y-%m-%d").map_err(|e| {
            bad(
                line,
                format!("date {:?} is not YYYY-MM-DD: {e}", cells[date]),
            )
        })?;
        let code =
            Currency::new(cell(currency)?).map_err(|e| bad(line, format!("currency: {e}")))?;
        let value = cell(usd)?;
        let parsed: f64 = value
            .parse()
            .map_err(|_| bad(line, format!("usd {value:?} is not a number")))?;
        if !(parsed.is_finite() && parsed > 0.0) {
            return Err(bad(line, format!("usd {value:?} is not a positive amount")));
        }
        rates.push(RateRow {
            day,
            currency: code.as_str().to_string(),
            usd: value.to_string(),
            source: source.to_string(),
        });
    }
    if rates.is_empty() {
        return Err(bad(
            header_line,
            "the file has a header but no rates".to_string(),
        ));
    }
    Ok(rates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_files_are_read_or_refused_with_the_line() {
        let rates = parse_rates_csv(
            "# BTC in USD\ncurrency,date,usd\nBTC,2019-03-04,3862.25\nxmr,2019-03-04,50.1\n",
            "r.csv",
            "test",
        )
        .unwrap();
        assert_eq!(rates.len(), 2);
        assert_eq!(rates[1].currency, "XMR");
        assert_eq!(rates[0].usd, "3862.25");
        for (text, expected) in [
            ("", "r.csv, line 1: the file is empty"),
            ("day,currency,usd\n", "must name the columns"),
            (
                "date,currency,usd\n2019-13-01,BTC,1\n",
                "r.csv, line 2: date \"2019-13-01\"",
            ),
            ("date,currency,usd\n2019-03-01,B$C,1\n", "line 2: currency"),
            (
                "date,currency,usd\n2019-03-01,BTC,-3\n",
                "not a positive amount",
            ),
            ("date,currency,usd\n2019-03-01,BTC\n", "2 cells, expected 3"),
            ("date,currency,usd\n", "no rates"),
        ] {
            let err = parse_rates_csv(text, "r.csv", "test")
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }
}
