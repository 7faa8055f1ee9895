//! Plain renderings of a [`Table`] for the command line: an aligned text table for a terminal,
//! CSV (RFC 4180, the columns in their documented order) and JSON (an array of objects).

use crate::table::{Cell, Table};

/// A cell as text: dates `YYYY-MM-DD`, times RFC 3339, null empty.
pub fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::Text(t) => t.clone(),
        Cell::Integer(n) => n.to_string(),
        Cell::Float(f) => f.to_string(),
        Cell::Date(d) => d.to_string(),
        Cell::Timestamp(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        Cell::Boolean(b) => b.to_string(),
    }
}

/// An aligned table with a header line; long text cells are cut at 60 characters.
pub fn to_text(table: &Table) -> String {
    let cut = |s: String| -> String {
        if s.chars().count() > 60 {
            let mut short: String = s.chars().take(59).collect();
            short.push('…');
            short
        } else {
            s
        }
    };
    let rows: Vec<Vec<String>> = table
        .rows
        .iter()
        .map(|r| r.iter().map(|c| cut(cell_text(c))).collect())
        .collect();
    let mut widths: Vec<usize> = table.columns.iter().map(|c| c.name.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let numeric: Vec<bool> = table
        .columns
        .iter()
        .map(|c| {
            matches!(
                c.ty,
                crate::table::ColumnType::Integer | crate::table::ColumnType::Float
            )
        })
        .collect();
    let line = |cells: Vec<String>| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = widths[i].saturating_sub(c.chars().count());
                if numeric[i] {
                    format!("{}{c}", " ".repeat(pad))
                } else {
                    format!("{c}{}", " ".repeat(pad))
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = String::new();
    out.push_str(&line(
        table.columns.iter().map(|c| c.name.to_string()).collect(),
    ));
    out.push('\n');
    out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect()));
    out.push('\n');
    for row in rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    if table.rows.is_empty() {
        out.push_str("(no rows)\n");
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// CSV with a header line.
pub fn to_csv(table: &Table) -> String {
    let mut out = table
        .columns
        .iter()
        .map(|c| csv_field(c.name))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for row in &table.rows {
        out.push_str(
            &row.iter()
                .map(|c| csv_field(&cell_text(c)))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

/// A JSON array with one object per row, keys in column order.
pub fn to_json(table: &Table) -> String {
    let rows: Vec<String> = table
        .rows
        .iter()
        .map(|row| {
            let fields: Vec<String> = table
                .columns
                .iter()
                .zip(row)
                .map(|(column, cell)| {
                    format!(
                        "{}:{}",
                        serde_json::Value::from(column.name),
                        serde_json::to_string(cell).unwrap_or_else(|_| "null".to_string())
                    )
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        })
        .collect();
    format!("[{}]", rows.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Column, ColumnType};

    #[test]
    fn tables_render_as_text_csv_and_json() {
        let mut table = Table::new(
            "t",
            "a test",
            vec![
                Column::new("name", ColumnType::Text, "a name"),
                Column::new("n", ColumnType::Integer, "a count"),
            ],
        );
        table.push(vec![Cell::Text("a, \"b\"".into()), Cell::Integer(12)]);
        table.push(vec![Cell::Null, Cell::Integer(3)]);
        assert_eq!(
            to_text(&table),
            "name     n\n------  --\na, \"b\"  12\n         3\n"
        );
        assert_eq!(to_csv(&table), "name,n\n\"a, \"\"b\"\"\",12\n,3\n");
        assert_eq!(
            to_json(&table),
            r#"[{"name":"a, \"b\"","n":12},{"name":null,"n":3}]"#
        );
    }
}
