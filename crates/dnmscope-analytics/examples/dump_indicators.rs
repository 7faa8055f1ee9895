//! Prints every indicator table of `compute_all` for several filters as JSON (equivalence check).
use dnmscope_analytics::{compute_all, Filter, Period};
use dnmscope_store::{Location, Store, StoreOptions};

#[tokio::main]
async fn main() {
    let path = std::env::args().nth(1).expect("store path");
    let options = StoreOptions::new(Location::SqliteFile(path.into()));
    let store = Store::open(&options).await.expect("open");
    let filters = [
        Filter::default(),
        Filter {
            period: Period::Day,
            ..Filter::default()
        },
        Filter {
            origin: Some("NL".into()),
            ..Filter::default()
        },
        Filter {
            category: Some("Cannabis".into()),
            ..Filter::default()
        },
        Filter {
            substance: Some("MDMA".into()),
            ..Filter::default()
        },
        Filter {
            markets: vec!["cobalt".into()],
            ..Filter::default()
        },
        Filter {
            destination: Some("US".into()),
            period: Period::Day,
            ..Filter::default()
        },
    ];
    for (i, filter) in filters.iter().enumerate() {
        let all = compute_all(&store, filter).await.expect("compute_all");
        for table in &all.tables {
            println!("filter {i} table {} rows {}", table.name, table.rows.len());
            for row in &table.rows {
                println!("{}", serde_json::to_string(row).unwrap());
            }
        }
        for a in &all.assumptions {
            println!("assumption {a}");
        }
    }
}
