//! A labelled corpus of simulated pages in the layout of
//! `../shared/corpus/SCHEMA.md`: `<market>/pages/<name>.html` and
//! `<market>/expected/<name>.json`, so `dnmscope eval` scores parsers on every
//! skin exactly as it scores them on real pages.
//!
//! Pages are rendered as the server renders them for a logged-in account;
//! expected values come from the same views (see `view.rs`).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Value};

use crate::error::SimError;
use crate::server::render_page;
use crate::skin::{render, slug, Page};
use crate::view::{self, Ctx, Viewer};
use crate::world::{Day, MarketState, World};

/// One labelled page.
#[derive(Debug)]
pub struct CorpusPage {
    /// The market's slug (the corpus directory).
    pub market: String,
    /// File stem, e.g. `listing_10004`.
    pub name: String,
    /// The page's URL path on the market.
    pub url: String,
    pub html: String,
    pub page_kind: &'static str,
    pub fields: Value,
}

/// The viewer the corpus pages are rendered for.
pub fn corpus_viewer() -> Viewer {
    Viewer {
        username: "researcher1".to_owned(),
        token: "c0ffee".to_owned(),
    }
}

/// Pages of every kind of every market on a day: `per_kind` of each kind with
/// many instances (listings, vendors, threads, ...), one of the others.
pub fn pages(world: &World, day: Day, per_kind: usize) -> Vec<CorpusPage> {
    let viewer = corpus_viewer();
    let none = BTreeSet::new();
    let mut out = Vec::new();
    for market in &world.markets {
        let ctx = Ctx {
            world,
            market,
            day,
            layout: 1,
        };
        let mut push =
            |name: String, url: String, html: String, kind: &'static str, fields: Value| {
                out.push(CorpusPage {
                    market: market.slug.clone(),
                    name,
                    url,
                    html,
                    page_kind: kind,
                    fields,
                });
            };
        match world.state(market.id, day) {
            MarketState::Seized => {
                push(
                    "seizure".into(),
                    "/".into(),
                    render::seizure(&market.name),
                    "seizure",
                    json!({}),
                );
                continue;
            }
            MarketState::Down | MarketState::Gone => {
                push(
                    "error_503".into(),
                    "/".into(),
                    render::unavailable(&market.name),
                    "error",
                    json!({}),
                );
                continue;
            }
            MarketState::Up => {}
        }
        let mut wanted: Vec<(String, Page)> = vec![
            ("home".into(), Page::Home),
            ("forum_index".into(), Page::Forum { page: 1 }),
            ("category_index".into(), Page::CategoryIndex),
        ];
        for (name, _, count) in view::categories(&ctx)
            .into_iter()
            .filter(|c| c.2 > 0)
            .take(per_kind.max(1))
        {
            wanted.push((
                format!("category_{}", slug(&name)),
                Page::Category {
                    slug: slug(&name),
                    page: 1,
                },
            ));
            if count > view::LISTINGS_PER_PAGE {
                wanted.push((
                    format!("category_{}_2", slug(&name)),
                    Page::Category {
                        slug: slug(&name),
                        page: 2,
                    },
                ));
            }
        }
        wanted.push((
            "search_g".into(),
            Page::Search {
                query: "g".into(),
                page: 1,
            },
        ));
        let listings: Vec<_> = view::active_listings(&ctx).collect();
        for l in spread(&listings, per_kind) {
            wanted.push((
                format!("listing_{}", l.public_id),
                Page::Listing {
                    id: l.public_id.clone(),
                },
            ));
        }
        let vendors: Vec<_> = world
            .vendors_of_market(market.id)
            .iter()
            .map(|&v| &world.vendors[v as usize])
            .filter(|v| world.vendor_active(v, day))
            .collect();
        for (n, v) in spread(&vendors, per_kind).into_iter().enumerate() {
            wanted.push((
                format!("vendor_{n}"),
                Page::Vendor {
                    handle: v.handle.clone(),
                },
            ));
            wanted.push((
                format!("feedback_{n}"),
                Page::Feedback {
                    handle: v.handle.clone(),
                    page: 1,
                },
            ));
            wanted.push((
                format!("feedback_{n}_2"),
                Page::Feedback {
                    handle: v.handle.clone(),
                    page: 2,
                },
            ));
            wanted.push((
                format!("pgp_{n}"),
                Page::Pgp {
                    handle: v.handle.clone(),
                },
            ));
        }
        let threads = view::forum_threads(&ctx);
        for t in spread(&threads, per_kind) {
            wanted.push((
                format!("thread_{}", t.id),
                Page::Thread { id: t.id, page: 1 },
            ));
        }
        for (name, page) in wanted {
            let Some((kind, html)) = render_page(&ctx, &page, Some(&viewer), "corpus", &none)
            else {
                continue;
            };
            let Some((expected_kind, fields)) = view::expected(&ctx, &page) else {
                continue;
            };
            debug_assert_eq!(kind, expected_kind);
            push(name, ctx.url(&page), html, expected_kind, fields);
        }
        let login = render::page(
            &ctx,
            None,
            "Login",
            &render::login(
                &ctx,
                "corpus",
                &world.captcha_answer(market.id, "corpus"),
                None,
            ),
            "corpus",
        );
        push(
            "login".into(),
            ctx.url(&Page::Login),
            login,
            "login",
            json!({}),
        );
        push(
            "queue".into(),
            "/".into(),
            render::queue(&market.name, 5, 42),
            "captcha",
            json!({}),
        );
        push(
            "banned".into(),
            "/".into(),
            render::banned(&market.name, 10),
            "banned",
            json!({}),
        );
        push(
            "not_found".into(),
            "/nope".into(),
            render::not_found(&ctx, Some(&viewer), "corpus"),
            "not_found",
            json!({}),
        );
        push(
            "redirect".into(),
            "/".into(),
            render::redirect(&ctx.url(&Page::Home)),
            "redirect",
            json!({}),
        );
    }
    out
}

/// Up to `n` items spread evenly over a slice.
fn spread<T: Copy>(items: &[T], n: usize) -> Vec<T> {
    if items.is_empty() || n == 0 {
        return Vec::new();
    }
    let n = n.min(items.len());
    (0..n).map(|i| items[i * items.len() / n]).collect()
}

/// Writes a corpus of a day into `dir`; returns the number of pages.
pub fn write_corpus(
    world: &World,
    day: Day,
    per_kind: usize,
    dir: &Path,
) -> Result<usize, SimError> {
    let pages = pages(world, day, per_kind);
    let context = |path: &Path| {
        let path = path.to_owned();
        move |source: std::io::Error| SimError::Write { path, source }
    };
    for page in &pages {
        let market_dir = dir.join(&page.market);
        for sub in ["pages", "expected"] {
            let d = market_dir.join(sub);
            std::fs::create_dir_all(&d).map_err(context(&d))?;
        }
        let html_path = market_dir.join("pages").join(format!("{}.html", page.name));
        std::fs::write(&html_path, &page.html).map_err(context(&html_path))?;
        let expected = json!({
            "source": {"repo": "dnmscope-sim", "path": page.url, "commit": format!("seed {} day {day}", world.config.seed), "license": "generated"},
            "market": page.market,
            "page": format!("pages/{}.html", page.name),
            "page_kind": page.page_kind,
            "fields": page.fields,
        });
        let json_path = market_dir
            .join("expected")
            .join(format!("{}.json", page.name));
        let text = serde_json::to_string_pretty(&expected)
            .map_err(|e| context(&json_path)(std::io::Error::other(e)))?;
        std::fs::write(&json_path, text + "\n").map_err(context(&json_path))?;
    }
    Ok(pages.len())
}
