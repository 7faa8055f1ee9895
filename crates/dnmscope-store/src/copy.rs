//! PostgreSQL's `COPY ... FROM STDIN` for the bulk paths: rows sent as text, one statement for
//! thousands of rows, instead of multi-row `INSERT`s that the server parses, plans and binds
//! parameter by parameter.
//!
//! Only for rows that cannot conflict (`COPY` has no `ON CONFLICT`): a new extraction's
//! observations, one per listing.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use crate::error::Context;
use crate::listing_row::{ObservationInsert, ROW_COLUMNS};
use crate::StoreError;

/// Text-format `COPY` data: fields separated by tabs, rows by newlines, `\N` for null.
#[derive(Default)]
struct CopyText {
    buf: String,
    first: bool,
}

impl CopyText {
    fn start_row(&mut self) {
        self.first = true;
    }

    fn end_row(&mut self) {
        self.buf.push('\n');
    }

    fn separate(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.buf.push('\t');
        }
    }

    fn null(&mut self) {
        self.separate();
        self.buf.push_str("\\N");
    }

    fn text(&mut self, value: Option<&str>) {
        let Some(value) = value else {
            return self.null();
        };
        self.separate();
        for c in value.chars() {
            match c {
                '\\' => self.buf.push_str("\\\\"),
                '\t' => self.buf.push_str("\\t"),
                '\n' => self.buf.push_str("\\n"),
                '\r' => self.buf.push_str("\\r"),
                c => self.buf.push(c),
            }
        }
    }

    fn int(&mut self, value: Option<i64>) {
        match value {
            Some(n) => {
                self.separate();
                self.buf.push_str(&n.to_string());
            }
            None => self.null(),
        }
    }

    fn bool(&mut self, value: Option<bool>) {
        self.text(value.map(|b| if b { "t" } else { "f" }));
    }

    fn json<T: serde::Serialize>(&mut self, value: Option<&Json<T>>) {
        let text = value.and_then(|v| serde_json::to_string(&v.0).ok());
        self.text(text.as_deref());
    }

    /// Microseconds, truncated, as sqlx binds a time (PostgreSQL would round more digits).
    fn time(&mut self, at: DateTime<Utc>) {
        self.text(Some(&at.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()));
    }
}

/// The COPY text of `rows`, columns in the order of [`COPY_STATEMENT`].
fn encode(rows: &[ObservationInsert<'_>]) -> String {
    let mut out = CopyText {
        buf: String::with_capacity(rows.len() * 160),
        first: true,
    };
    for r in rows {
        out.start_row();
        out.int(r.listing_id);
        out.int(Some(r.extraction_id));
        out.int(Some(r.crawl_id));
        out.int(Some(r.capture_id));
        out.time(r.observed_at);
        out.text(Some(r.parser_version));
        out.text(Some(r.page_kind));
        out.int(r.vendor_id);
        let c = &r.row.columns;
        out.text(c.title.as_deref());
        out.text(c.price_amount.as_deref());
        out.text(c.price_currency.as_deref());
        out.json(c.category.as_ref());
        out.int(c.quantity_count);
        out.text(c.quantity_amount.as_deref());
        out.text(c.quantity_unit.as_deref());
        out.text(c.ships_from.as_deref());
        out.json(c.ships_to.as_ref());
        out.int(c.stock);
        out.bool(c.stock_unlimited);
        out.int(c.sales);
        out.bool(c.escrow);
        out.bool(c.finalize_early);
        out.text(c.description.as_deref());
        out.json(Some(&Json(&r.row.data)));
        out.end_row();
    }
    out.buf
}

fn copy_statement() -> String {
    format!(
        "COPY listing_observations (listing_id, extraction_id, crawl_id, capture_id, observed_at,
             parser_version, page_kind, vendor_id, {ROW_COLUMNS}) FROM STDIN"
    )
}

/// Stores `rows` with one `COPY`; the number stored.
pub(crate) async fn copy_listing_rows(
    conn: &mut sqlx::PgConnection,
    rows: &[ObservationInsert<'_>],
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let what = || format!("copying {} listing observations", rows.len());
    let data = encode(rows);
    let mut copy = conn.copy_in_raw(&copy_statement()).await.context(what)?;
    if let Err(err) = copy.send(data.into_bytes()).await {
        // The connection must leave COPY mode before it can be used again (the transaction
        // is rolled back by the caller either way).
        let _ = copy.abort("dnmscope: sending the rows failed").await;
        return Err(err).context(what);
    }
    copy.finish().await.context(what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing_row::ListingRow;
    use chrono::TimeZone;

    #[test]
    fn text_is_escaped_and_nulls_and_times_are_written_as_postgres_reads_them() {
        let at = Utc.timestamp_opt(1_767_614_400, 123_456_789).unwrap();
        let row = ListingRow::split(
            &dnmscope_model::Listing {
                key: "k".to_string(),
                title: Some("tab\there\\ and\nnewline\r".to_string()),
                stock: Some(None),
                escrow: Some(false),
                ..Default::default()
            },
            None,
        );
        let text = encode(&[ObservationInsert {
            listing_id: Some(7),
            extraction_id: 8,
            crawl_id: 9,
            capture_id: 10,
            observed_at: at,
            parser_version: "p@1",
            page_kind: "search",
            vendor_id: None,
            row,
        }]);
        assert_eq!(
            text,
            "7\t8\t9\t10\t2026-01-05 12:00:00.123456+00\tp@1\tsearch\t\\N\t\
             tab\\there\\\\ and\\nnewline\\r\t\\N\t\\N\t[]\t\\N\t\\N\t\\N\t\\N\t[]\t\\N\tt\t\\N\t\
             f\t\\N\t\\N\t{}\n"
        );
        assert_eq!(text.matches('\t').count(), 23, "24 columns");
    }
}
