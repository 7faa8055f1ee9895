//! HTML of the three skins. Every page carries the state-changing links a real
//! market has (logout in the menu, buy and message on listings, votes on
//! posts) and one honeypot link hidden from humans.

use std::fmt::Write;

use rust_decimal::Decimal;

use crate::skin::{Page, SkinKind};
use crate::view::{self, Ctx, FeedbackRow, Price, Summary, Viewer};
use crate::world::{Listing, Thread, VendorAccount};

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A class name; layout 2 renames them all, as markets do when they redesign.
fn c(ctx: &Ctx, name: &str) -> String {
    match ctx.layout {
        1 => name.to_owned(),
        _ => format!("n2-{}", name.replace('-', "_")),
    }
}

fn thousands(value: Decimal) -> String {
    let text = format!("{:.2}", value);
    let (int, frac) = text.split_once('.').unwrap_or((&text, "00"));
    let mut out = String::new();
    for (n, ch) in int.chars().enumerate() {
        if n > 0 && (int.len() - n) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{out}.{frac}")
}

/// The main price as the skin shows it, with the secondary currency.
fn price_html(ctx: &Ctx, price: &Price) -> String {
    match ctx.skin() {
        SkinKind::Table => format!(
            "<span class=\"{}\">USD {}</span> <span class=\"{}\">&#3647;{}</span>",
            c(ctx, "price-usd"),
            price.usd_text(),
            c(ctx, "price-btc"),
            price.btc_text()
        ),
        SkinKind::Cards => format!(
            "<span class=\"{}\">&#3647;{}</span> <small class=\"{}\">(&asymp; ${})</small>",
            c(ctx, "btc"),
            price.btc_text(),
            c(ctx, "fiat"),
            price.usd_text()
        ),
        SkinKind::List => format!(
            "<span class=\"{}\">{} USD</span>",
            c(ctx, "amount"),
            price.usd_text()
        ),
    }
}

/// Page chrome: head, menu (with the logout link), body, footer.
pub fn page(ctx: &Ctx, viewer: Option<&Viewer>, title: &str, body: &str, honeypot: &str) -> String {
    let skin = ctx.skin();
    let market = &ctx.market.name;
    let mut out = String::with_capacity(body.len() + 4096);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} | {}</title>\
         <meta name=\"generator\" content=\"{}-market\"></head>\n<body class=\"{}\">\n",
        esc(title),
        esc(market),
        skin.name(),
        c(ctx, &format!("skin-{}", skin.name()))
    );
    let nav = [
        ("Home", ctx.url(&Page::Home)),
        ("Categories", ctx.url(&Page::CategoryIndex)),
        ("Forum", ctx.url(&Page::Forum { page: 1 })),
    ];
    match skin {
        SkinKind::Table => {
            let _ = write!(
                out,
                "<table class=\"{}\"><tr><td class=\"{}\">{}</td>",
                c(ctx, "topbar"),
                c(ctx, "brand"),
                esc(market)
            );
            for (name, url) in &nav {
                let _ = write!(out, "<td><a href=\"{}\">{name}</a></td>", esc(url));
            }
            let _ = write!(out, "<td><form action=\"/search\" method=\"get\"><input name=\"q\"><button>Search</button></form></td>");
            if let Some(v) = viewer {
                let _ = write!(
                    out,
                    "<td class=\"{}\">{} | <a href=\"{}\">Logout</a></td>",
                    c(ctx, "user"),
                    esc(&v.username),
                    esc(&skin.logout_url(&v.token))
                );
            }
            out.push_str("</tr></table>\n");
        }
        SkinKind::Cards => {
            let _ = write!(
                out,
                "<nav class=\"{}\"><div class=\"{}\">{}</div><ul>",
                c(ctx, "navbar"),
                c(ctx, "logo"),
                esc(market)
            );
            for (name, url) in &nav {
                let _ = write!(out, "<li><a href=\"{}\">{name}</a></li>", esc(url));
            }
            if let Some(v) = viewer {
                let _ = write!(
                    out,
                    "<li class=\"{}\">Hello, {}</li><li><a class=\"{}\" href=\"{}\">Sign out</a></li>",
                    c(ctx, "hello"),
                    esc(&v.username),
                    c(ctx, "signout"),
                    esc(&skin.logout_url(&v.token))
                );
            }
            out.push_str("</ul></nav>\n");
        }
        SkinKind::List => {
            let _ = write!(
                out,
                "<header class=\"{}\"><h1>{}</h1><p>",
                c(ctx, "masthead"),
                esc(market)
            );
            for (name, url) in &nav {
                let _ = write!(out, "<a href=\"{}\">{name}</a> &middot; ", esc(url));
            }
            if let Some(v) = viewer {
                let _ = write!(
                    out,
                    "signed in as <b>{}</b> &middot; <a href=\"{}\">log out</a>",
                    esc(&v.username),
                    esc(&skin.logout_url(&v.token))
                );
            }
            out.push_str("</p></header>\n");
        }
    }
    let _ = write!(
        out,
        "<main class=\"{}\">\n{body}\n</main>\n",
        c(ctx, "content")
    );
    // A link no human sees: following it is a violation. The list skin hides it with a class
    // its stylesheet hides, the others with an inline style.
    match skin {
        SkinKind::List => {
            let _ = writeln!(
                out,
                "<style>.{0} {{ font-size: 90% }}\n.{1}, .{1} a {{ display: none }}</style><div class=\"{1}\"><a href=\"{2}\">admin</a></div>",
                c(ctx, "small"),
                c(ctx, "aux-links"),
                esc(&skin.honeypot_url(honeypot))
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "<div style=\"display:none\"><a href=\"{}\">admin</a></div>",
                esc(&skin.honeypot_url(honeypot))
            );
        }
    }
    let _ = write!(out, "<footer class=\"{}\">", c(ctx, "footer"));
    match skin {
        SkinKind::Table | SkinKind::List => {
            for (code, rate) in ctx.exchange_rates() {
                let _ = write!(
                    out,
                    "<span class=\"{}\" data-code=\"{code}\">1 BTC = {} {code}</span> ",
                    c(ctx, "rate"),
                    if code == "USD" {
                        thousands(rate)
                    } else {
                        rate.to_string()
                    }
                );
            }
        }
        SkinKind::Cards => {
            let _ = write!(
                out,
                "<span class=\"{}\">BTC/USD ${}</span> ",
                c(ctx, "ticker"),
                thousands(ctx.world.btc_rate(ctx.day))
            );
        }
    }
    let _ = write!(
        out,
        "<p>Mirrors: {}</p>",
        ctx.market
            .hosts
            .iter()
            .map(|h| esc(h))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = write!(
        out,
        "<p>&copy; {} {}</p></footer>\n</body></html>\n",
        esc(market),
        ctx.world.date(ctx.day).format("%Y")
    );
    if skin == SkinKind::Table {
        // What some real servers append after the document: a parser must put up with it.
        let _ = write!(
            out,
            "<!-- page cache -->\n<script>var t0 = 31;</script>\n<p class=\"{}\">generated in 31 ms</p>\n",
            c(ctx, "gen-time")
        );
    }
    out
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "Yes"
    } else {
        "No"
    }
}

fn results_rows(ctx: &Ctx, listings: &[Summary]) -> String {
    let mut out = String::new();
    match ctx.skin() {
        SkinKind::Table => {
            let _ = write!(out, "<table class=\"{}\"><thead><tr><th>Item</th><th>Vendor</th><th>Ships from</th><th>Price</th></tr></thead><tbody>", c(ctx, "listings"));
            for s in listings {
                let _ = write!(
                    out,
                    "<tr class=\"{}\"><td><a class=\"{}\" href=\"{}\">{}</a></td><td><a class=\"{}\" href=\"{}\">{}</a></td><td>{}</td><td class=\"{}\">{}</td></tr>",
                    c(ctx, "listing-row"), c(ctx, "title"), esc(&s.url), esc(&s.title), c(ctx, "vendor"), esc(&s.vendor_url), esc(&s.vendor), esc(&s.ships_from), c(ctx, "price"), price_html(ctx, &s.price)
                );
            }
            out.push_str("</tbody></table>");
        }
        SkinKind::Cards => {
            let _ = write!(out, "<div class=\"{}\">", c(ctx, "grid"));
            for s in listings {
                let _ = write!(
                    out,
                    "<div class=\"{}\"><div class=\"{}\"><a href=\"{}\">{}</a></div><div class=\"{}\">by <a href=\"{}\">{}</a></div><div class=\"{}\">{}</div><div class=\"{}\">{}</div></div>",
                    c(ctx, "card"), c(ctx, "card-title"), esc(&s.url), esc(&s.title), c(ctx, "card-vendor"), esc(&s.vendor_url), esc(&s.vendor), c(ctx, "card-origin"), esc(&s.ships_from), c(ctx, "card-price"), price_html(ctx, &s.price)
                );
            }
            out.push_str("</div>");
        }
        SkinKind::List => {
            let _ = write!(out, "<ol class=\"{}\">", c(ctx, "results"));
            for s in listings {
                let _ = write!(
                    out,
                    "<li><dl class=\"{}\"><dt>Product</dt><dd class=\"{}\"><a href=\"{}\">{}</a></dd><dt>Seller</dt><dd class=\"{}\"><a href=\"{}\">{}</a></dd><dt>Price</dt><dd class=\"{}\">{}</dd></dl></li>",
                    c(ctx, "result"), c(ctx, "name"), esc(&s.url), esc(&s.title), c(ctx, "seller"), esc(&s.vendor_url), esc(&s.vendor), c(ctx, "cost"), price_html(ctx, &s.price)
                );
            }
            out.push_str("</ol>");
        }
    }
    out
}

fn pager(ctx: &Ctx, page: u32, pages: u32, prev: Option<&str>, next: Option<&str>) -> String {
    let mut out = format!("<div class=\"{}\">", c(ctx, "pagination"));
    if let Some(prev) = prev {
        let _ = write!(
            out,
            "<a class=\"{}\" href=\"{}\">&laquo; Previous</a> ",
            c(ctx, "prev"),
            esc(prev)
        );
    }
    let _ = write!(
        out,
        "<span class=\"{}\">Page {page} of {pages}</span>",
        c(ctx, "page-count")
    );
    if let Some(next) = next {
        let _ = write!(
            out,
            " <a class=\"{}\" rel=\"next\" href=\"{}\">Next &raquo;</a>",
            c(ctx, "next"),
            esc(next)
        );
    }
    out.push_str("</div>");
    out
}

/// The cards skin shows a review's verdict as an icon only, no word.
fn verdict_icon(verdict: &str) -> &'static str {
    match verdict {
        "positive" => "ico-plus",
        "neutral" => "ico-dot",
        _ => "ico-minus",
    }
}

fn feedback_rows(ctx: &Ctx, rows: &[FeedbackRow]) -> String {
    let mut out = String::new();
    match ctx.skin() {
        SkinKind::Table => {
            // The header row has the data rows' class, as on real markets: a definition
            // skips it (`skip_if_selector = "th"`), it is not a review.
            let _ = write!(out, "<table class=\"{}\"><tbody><tr class=\"{}\"><th>Rating</th><th>Comment</th><th>Item</th><th>Price</th><th>Buyer</th><th>Date</th></tr>", c(ctx, "feedback"), c(ctx, "fb-row"));
            for f in rows {
                let _ = write!(
                    out,
                    "<tr class=\"{}\"><td class=\"{}\">{}/5</td><td class=\"{}\">{}</td><td class=\"{}\"><a href=\"{}\">{}</a></td><td class=\"{}\">USD {}</td><td class=\"{}\">{} ({})</td><td class=\"{}\">{}</td></tr>",
                    c(ctx, "fb-row"), c(ctx, "stars"), f.stars, c(ctx, "comment"), esc(&f.text), c(ctx, "item"), esc(&f.item_url), esc(&f.item), c(ctx, "paid"), f.price.usd_text(), c(ctx, "buyer"), esc(&f.masked_buyer), f.buyer_orders, c(ctx, "date"), esc(&f.date)
                );
            }
            out.push_str("</tbody></table>");
        }
        SkinKind::Cards => {
            let _ = write!(out, "<div class=\"{}\">", c(ctx, "reviews"));
            for f in rows {
                let _ = write!(
                    out,
                    "<div class=\"{}\"><span class=\"{}\"><i class=\"ico {}\"></i></span><p class=\"{}\">{}</p><div class=\"{}\"><span class=\"{}\">{}</span> &middot; <span class=\"{}\">{}</span> &middot; buyer {} [{} orders]</div></div>",
                    c(ctx, "review"), c(ctx, "verdict"), c(ctx, verdict_icon(f.verdict)), c(ctx, "review-text"), esc(&f.text), c(ctx, "review-meta"), c(ctx, "review-item"), esc(&f.item), c(ctx, "review-age"), esc(&f.date), esc(&f.masked_buyer), f.buyer_orders
                );
            }
            out.push_str("</div>");
        }
        SkinKind::List => {
            let _ = write!(out, "<ul class=\"{}\">", c(ctx, "reviews"));
            for f in rows {
                let _ = write!(
                    out,
                    "<li><dl class=\"{}\"><dt>Stars</dt><dd class=\"{}\" title=\"{} of 5\">{}</dd><dt>Review</dt><dd class=\"{}\">{}</dd><dt>Product</dt><dd class=\"{}\">{}</dd><dt>Paid</dt><dd class=\"{}\">{} USD</dd><dt>Date</dt><dd class=\"{}\">{}</dd><dt>From</dt><dd>{}</dd></dl></li>",
                    c(ctx, "review"), c(ctx, "stars"), f.stars, "&#9733;".repeat(usize::from(f.stars)), c(ctx, "text"), esc(&f.text), c(ctx, "product"), esc(&f.item), c(ctx, "paid"), f.price.usd_text(), c(ctx, "when"), esc(&f.date), esc(&f.masked_buyer)
                );
            }
            out.push_str("</ul>");
        }
    }
    out
}

pub fn home(ctx: &Ctx) -> String {
    let mut out = String::new();
    let _ = write!(out, "<h2>Welcome to {}</h2><p class=\"{}\">Always verify the mirror list with our PGP key. Never finalize early with new vendors.</p>", esc(&ctx.market.name), c(ctx, "news"));
    let featured: Vec<Summary> = view::active_listings(ctx)
        .take(10)
        .map(|l| view::summary(ctx, l))
        .collect();
    let _ = write!(
        out,
        "<h3>Featured listings</h3>{}",
        results_rows(ctx, &featured)
    );
    out
}

pub fn category_index(ctx: &Ctx) -> String {
    let mut out = String::from("<h2>Categories</h2>");
    match ctx.skin() {
        SkinKind::Table => {
            let _ = write!(out, "<table class=\"{}\">", c(ctx, "categories"));
            for (name, url, count) in view::categories(ctx) {
                let _ = write!(out, "<tr><td><a class=\"{}\" href=\"{}\">{}</a></td><td class=\"{}\">{count}</td></tr>", c(ctx, "cat"), esc(&url), esc(&name), c(ctx, "count"));
            }
            out.push_str("</table>");
        }
        SkinKind::Cards => {
            let _ = write!(out, "<ul class=\"{}\">", c(ctx, "cat-list"));
            for (name, url, count) in view::categories(ctx) {
                let _ = write!(
                    out,
                    "<li><a href=\"{}\">{} <span class=\"{}\">({count})</span></a></li>",
                    esc(&url),
                    esc(&name),
                    c(ctx, "badge")
                );
            }
            out.push_str("</ul>");
        }
        SkinKind::List => {
            let _ = write!(out, "<dl class=\"{}\">", c(ctx, "departments"));
            for (name, url, count) in view::categories(ctx) {
                let _ = write!(
                    out,
                    "<div class=\"{}\"><dt><a href=\"{}\">{}</a></dt><dd>{count} products</dd></div>",
                    c(ctx, "dept"),
                    esc(&url),
                    esc(&name)
                );
            }
            out.push_str("</dl>");
        }
    }
    out
}

pub fn results(ctx: &Ctx, v: &view::ResultsView) -> String {
    format!(
        "<h2 class=\"{}\">{}</h2><p>{} listings</p>{}{}",
        c(ctx, "heading"),
        esc(&v.heading),
        v.total,
        results_rows(ctx, &v.listings),
        pager(ctx, v.page, v.pages, v.prev.as_deref(), v.next.as_deref())
    )
}

pub fn listing(ctx: &Ctx, l: &Listing, v: &view::ListingView) -> String {
    let skin = ctx.skin();
    let s = &v.summary;
    let mut out = String::new();
    let stock = match v.stock {
        None => "Unlimited".to_owned(),
        Some(0) => "0 (sold out)".to_owned(),
        Some(n) => n.to_string(),
    };
    let crumbs: Vec<String> = v
        .category
        .iter()
        .map(|(n, u)| format!("<a href=\"{}\">{}</a>", esc(u), esc(n)))
        .collect();
    let buy = skin.buy_url(&l.public_id);
    let message = skin.message_url(&s.vendor);
    match skin {
        SkinKind::Table => {
            let _ = write!(
                out,
                "<div class=\"{}\">{}</div>",
                c(ctx, "breadcrumb"),
                crumbs.join(" &gt; ")
            );
            let _ = write!(
                out,
                "<h1 class=\"{}\">{}</h1><table class=\"{}\">",
                c(ctx, "listing-title"),
                esc(&s.title),
                c(ctx, "details")
            );
            let rows: Vec<(&str, String)> = vec![
                (
                    "Vendor",
                    format!("<a href=\"{}\">{}</a>", esc(&s.vendor_url), esc(&s.vendor)),
                ),
                ("Price", price_html(ctx, &s.price)),
                ("Ships from", esc(&s.ships_from)),
                ("Ships to", esc(&v.ships_to.join(", "))),
                ("Payment", esc(&v.currencies.join(" "))),
                ("Escrow", yes_no(v.escrow).to_owned()),
                ("Finalize early", yes_no(v.finalize_early).to_owned()),
                ("Unit", v.unit.to_owned()),
                ("In stock", stock),
                ("Sold", format!("{} times", v.sales)),
            ];
            for (label, value) in rows {
                let _ = write!(
                    out,
                    "<tr><th>{label}</th><td class=\"{}\">{value}</td></tr>",
                    c(
                        ctx,
                        &format!("f-{}", label.to_lowercase().replace(' ', "-"))
                    )
                );
            }
            out.push_str("</table>");
            let _ = write!(
                out,
                "<h3>Shipping</h3><select class=\"{}\" name=\"shipping\">",
                c(ctx, "shipping")
            );
            for (name, price) in &v.shipping {
                let _ = write!(
                    out,
                    "<option>{} (+ USD {})</option>",
                    esc(name),
                    price.usd_text()
                );
            }
            out.push_str("</select>");
            if !v.tiers.is_empty() {
                let _ = write!(
                    out,
                    "<h3>Bulk prices</h3><table class=\"{}\">",
                    c(ctx, "tiers")
                );
                for (q, price) in &v.tiers {
                    let _ = write!(
                        out,
                        "<tr><td class=\"{}\">{q}</td><td>USD {} each</td></tr>",
                        c(ctx, "tier-qty"),
                        price.usd_text()
                    );
                }
                out.push_str("</table>");
            }
            let _ = write!(
                out,
                "<div class=\"{}\"><h3>Description</h3><p>{}</p></div>",
                c(ctx, "description"),
                esc(&v.description)
            );
            let _ = write!(
                out,
                "<p><a class=\"{}\" href=\"{}\">Buy now</a> <a href=\"{}\">Message vendor</a></p>",
                c(ctx, "btn"),
                esc(&buy),
                esc(&message)
            );
        }
        SkinKind::Cards => {
            let _ = write!(
                out,
                "<ol class=\"{}\">{}</ol>",
                c(ctx, "crumbs"),
                crumbs
                    .iter()
                    .map(|a| format!("<li>{a}</li>"))
                    .collect::<String>()
            );
            let _ = write!(
                out,
                "<div class=\"{}\"><div class=\"{}\"><h2 class=\"{}\">{}</h2>",
                c(ctx, "item"),
                c(ctx, "item-head"),
                c(ctx, "item-title"),
                esc(&s.title)
            );
            let _ = write!(
                out,
                "<div class=\"{}\">{}</div>",
                c(ctx, "item-price"),
                price_html(ctx, &s.price)
            );
            let _ = write!(
                out,
                "<p class=\"{}\">Sold by <a href=\"{}\">{}</a></p></div>",
                c(ctx, "seller"),
                esc(&s.vendor_url),
                esc(&s.vendor)
            );
            let _ = write!(
                out,
                "<div class=\"{}\"><span class=\"{}\">{}</span>",
                c(ctx, "badges"),
                c(ctx, if v.escrow { "escrow-on" } else { "escrow-off" }),
                if v.escrow { "Escrow" } else { "No escrow" }
            );
            if v.finalize_early {
                let _ = write!(out, "<span class=\"{}\">FE allowed</span>", c(ctx, "fe-on"));
            }
            for coin in &v.currencies {
                let _ = write!(
                    out,
                    "<span class=\"{}\">{}</span>",
                    c(ctx, "coin"),
                    esc(coin)
                );
            }
            out.push_str("</div>");
            let _ = write!(
                out,
                "<ul class=\"{}\"><li>Origin: <b class=\"{}\">{}</b></li><li>Destinations: <b class=\"{}\">{}</b></li><li>Unit: <b class=\"{}\">{}</b></li><li>Stock: <b class=\"{}\">{}</b></li><li>Orders: <b class=\"{}\">{}</b></li></ul>",
                c(ctx, "facts"), c(ctx, "origin"), esc(&s.ships_from), c(ctx, "destinations"), esc(&v.ships_to.join(", ")), c(ctx, "unit"), v.unit, c(ctx, "stock"), stock, c(ctx, "orders"), v.sales
            );
            let _ = write!(
                out,
                "<form class=\"{}\" action=\"{}\" method=\"post\"><select name=\"ship\">",
                c(ctx, "order"),
                esc(&buy)
            );
            for (name, price) in &v.shipping {
                let _ = write!(
                    out,
                    "<option data-btc=\"{}\">{} - &#3647;{}</option>",
                    price.btc_text(),
                    esc(name),
                    price.btc_text()
                );
            }
            out.push_str("</select>");
            for (q, price) in &v.tiers {
                let _ = write!(
                    out,
                    "<label class=\"{}\" data-qty=\"{q}\">{q}+ pcs: &#3647;{} each</label>",
                    c(ctx, "tier"),
                    price.btc_text()
                );
            }
            let _ = write!(
                out,
                "<button>Order</button></form><a href=\"{}\">Contact seller</a>",
                esc(&message)
            );
            let _ = write!(
                out,
                "<div class=\"{}\">{}</div></div>",
                c(ctx, "item-desc"),
                esc(&v.description)
            );
        }
        SkinKind::List => {
            let _ = write!(
                out,
                "<h2 class=\"{}\">{}</h2><p class=\"{}\">{}</p><dl class=\"{}\">",
                c(ctx, "product-name"),
                esc(&s.title),
                c(ctx, "path"),
                crumbs.join(" / "),
                c(ctx, "product")
            );
            let rows: Vec<(&str, String)> = vec![
                (
                    "Seller",
                    format!("<a href=\"{}\">{}</a>", esc(&s.vendor_url), esc(&s.vendor)),
                ),
                ("Price", price_html(ctx, &s.price)),
                ("Stock", stock),
                ("Sold per", v.unit.to_owned()),
                ("Sales", v.sales.to_string()),
                ("Coins", esc(&v.currencies.join(", "))),
                ("Escrow", yes_no(v.escrow).to_owned()),
                ("Early finalization", yes_no(v.finalize_early).to_owned()),
            ];
            for (label, value) in rows {
                let _ = write!(
                    out,
                    "<dt>{label}</dt><dd class=\"{}\">{value}</dd>",
                    c(
                        ctx,
                        &format!("p-{}", label.to_lowercase().replace(' ', "-"))
                    )
                );
            }
            out.push_str("</dl>");
            let _ = write!(out, "<section class=\"{}\"><h3>Shipping</h3><dl><dt>From</dt><dd class=\"{}\">{}</dd><dt>To</dt>", c(ctx, "shipping"), c(ctx, "from"), esc(&s.ships_from));
            for to in &v.ships_to {
                let _ = write!(out, "<dd class=\"{}\">{}</dd>", c(ctx, "to"), esc(to));
            }
            out.push_str("</dl><ul>");
            for (name, price) in &v.shipping {
                let _ = write!(
                    out,
                    "<li class=\"{}\"><span>{}</span> <span class=\"{}\">{} USD</span></li>",
                    c(ctx, "method"),
                    esc(name),
                    c(ctx, "method-price"),
                    price.usd_text()
                );
            }
            out.push_str("</ul></section>");
            if !v.tiers.is_empty() {
                let _ = write!(out, "<dl class=\"{}\">", c(ctx, "bulk"));
                for (q, price) in &v.tiers {
                    let _ = write!(
                        out,
                        "<div class=\"{}\"><dt>{q} or more</dt><dd>{} USD</dd></div>",
                        c(ctx, "tier"),
                        price.usd_text()
                    );
                }
                out.push_str("</dl>");
            }
            let _ = write!(
                out,
                "<article class=\"{}\">{}</article>",
                c(ctx, "about-product"),
                esc(&v.description)
            );
            let _ = write!(
                out,
                "<p><a href=\"{}\">Add to cart</a> | <a href=\"{}\">Ask the seller</a></p>",
                esc(&buy),
                esc(&message)
            );
        }
    }
    let _ = write!(
        out,
        "<h3>Recent feedback</h3>{}",
        feedback_rows(ctx, &v.feedback)
    );
    out
}

pub fn vendor(ctx: &Ctx, v: &VendorAccount, view: &view::VendorView) -> String {
    let skin = ctx.skin();
    let st = &view.stats;
    let mut out = String::new();
    let feedback_url = ctx.url(&Page::Feedback {
        handle: v.handle.clone(),
        page: 1,
    });
    let pgp_url = ctx.url(&Page::Pgp {
        handle: v.handle.clone(),
    });
    let message = skin.message_url(&v.handle);
    match skin {
        SkinKind::Table => {
            let _ = write!(
                out,
                "<h1 class=\"{}\">{}</h1><table class=\"{}\">",
                c(ctx, "vendor-name"),
                esc(&view.handle),
                c(ctx, "profile")
            );
            let rows: Vec<(&str, String)> = vec![
                ("Rating", format!("{:.2}/5", st.rating)),
                ("Positive", format!("{:.1}%", st.positive_percent)),
                ("Sales", st.sales.to_string()),
                ("Feedback", format!("<span class=\"{}\">{}</span> / <span class=\"{}\">{}</span> / <span class=\"{}\">{}</span>", c(ctx, "pos"), st.positive, c(ctx, "neu"), st.neutral, c(ctx, "neg"), st.negative)),
                ("Level", view.level.clone()),
                ("Member since", view.registered.clone()),
                ("Last seen", view.last_seen.clone()),
                ("Disputes", format!("won <span class=\"{}\">{}</span>, lost <span class=\"{}\">{}</span>", c(ctx, "won"), view.disputes.0, c(ctx, "lost"), view.disputes.1)),
            ];
            for (label, value) in rows {
                let _ = write!(
                    out,
                    "<tr><th>{label}</th><td class=\"{}\">{value}</td></tr>",
                    c(
                        ctx,
                        &format!("v-{}", label.to_lowercase().replace(' ', "-"))
                    )
                );
            }
            out.push_str("</table>");
            if !view.external.is_empty() {
                let _ = write!(
                    out,
                    "<h3>Ratings on other markets</h3><table class=\"{}\">",
                    c(ctx, "external")
                );
                for (market, text) in &view.external {
                    let _ = write!(
                        out,
                        "<tr><td class=\"{}\">{}</td><td class=\"{}\">{}</td></tr>",
                        c(ctx, "ext-market"),
                        esc(market),
                        c(ctx, "ext-text"),
                        esc(text)
                    );
                }
                out.push_str("</table>");
            }
            let _ = write!(
                out,
                "<h3>About</h3><div class=\"{}\">{}</div><h3>Terms</h3><div class=\"{}\">{}</div>",
                c(ctx, "about"),
                esc(&view.about),
                c(ctx, "terms"),
                esc(&view.terms)
            );
            let _ = write!(
                out,
                "<h3>PGP key</h3><pre class=\"{}\">{}</pre>",
                c(ctx, "pgp"),
                esc(view.pgp_key.trim())
            );
        }
        SkinKind::Cards => {
            let _ = write!(
                out,
                "<div class=\"{}\"><h2 class=\"{}\">{}</h2><span class=\"{}\">{}</span></div>",
                c(ctx, "user-head"),
                c(ctx, "username"),
                esc(&view.handle),
                c(ctx, "trust"),
                esc(&view.level)
            );
            let _ = write!(
                out,
                "<div class=\"{}\"><div class=\"{}\"><b>{:.2}</b> rating</div><div class=\"{}\"><b>{:.1}%</b> positive</div><div class=\"{}\"><b>{}</b> sales</div><div class=\"{}\">+{} / ={} / -{}</div></div>",
                c(ctx, "stat-cards"), c(ctx, "stat-rating"), st.rating, c(ctx, "stat-positive"), st.positive_percent, c(ctx, "stat-sales"), st.sales, c(ctx, "stat-feedback"), st.positive, st.neutral, st.negative
            );
            let _ = write!(
                out,
                "<p>Joined <span class=\"{}\">{}</span>, last online <span class=\"{}\">{}</span>. Disputes: <span class=\"{}\">{}</span> won, <span class=\"{}\">{}</span> lost.</p>",
                c(ctx, "joined"), esc(&view.registered), c(ctx, "online"), esc(&view.last_seen), c(ctx, "won"), view.disputes.0, c(ctx, "lost"), view.disputes.1
            );
            for (market, text) in &view.external {
                let _ = write!(out, "<div class=\"{}\"><span class=\"{}\">{}</span>: <span class=\"{}\">{}</span></div>", c(ctx, "imported"), c(ctx, "imported-market"), esc(market), c(ctx, "imported-text"), esc(text));
            }
            let _ = write!(out, "<div class=\"{}\"><h3>Profile</h3><p>{}</p></div><div class=\"{}\"><h3>Refund policy</h3><p>{}</p></div>", c(ctx, "profile-about"), esc(&view.about), c(ctx, "profile-terms"), esc(&view.terms));
            let _ = write!(out, "<p><a href=\"{}\">View PGP key</a></p>", esc(&pgp_url));
        }
        SkinKind::List => {
            let _ = write!(
                out,
                "<h2 class=\"{}\">{}</h2><dl class=\"{}\">",
                c(ctx, "seller-name"),
                esc(&view.handle),
                c(ctx, "seller")
            );
            let rows: Vec<(&str, String)> = vec![
                ("Score", format!("{:.2} &#9733;", st.rating)),
                ("Positive feedback", format!("{:.1}%", st.positive_percent)),
                ("Orders", st.sales.to_string()),
                ("Positive", st.positive.to_string()),
                ("Neutral", st.neutral.to_string()),
                ("Negative", st.negative.to_string()),
                ("Vendor level", view.level.clone()),
                ("Registered", view.registered.clone()),
                ("Last active", view.last_seen.clone()),
                ("Disputes won", view.disputes.0.to_string()),
                ("Disputes lost", view.disputes.1.to_string()),
            ];
            for (label, value) in rows {
                let _ = write!(
                    out,
                    "<dt>{label}</dt><dd class=\"{}\">{value}</dd>",
                    c(
                        ctx,
                        &format!("s-{}", label.to_lowercase().replace(' ', "-"))
                    )
                );
            }
            for (market, text) in &view.external {
                let _ = write!(
                    out,
                    "<div class=\"{}\"><dt class=\"{}\">{}</dt><dd class=\"{}\">{}</dd></div>",
                    c(ctx, "ext"),
                    c(ctx, "s-external-market"),
                    esc(market),
                    c(ctx, "s-external"),
                    esc(text)
                );
            }
            out.push_str("</dl>");
            let _ = write!(
                out,
                "<section class=\"{}\">{}</section><section class=\"{}\">{}</section>",
                c(ctx, "bio"),
                esc(&view.about),
                c(ctx, "rules"),
                esc(&view.terms)
            );
            let _ = write!(out, "<p><a href=\"{}\">Public key</a></p>", esc(&pgp_url));
        }
    }
    let _ = write!(out, "<p><a href=\"{}\">Send message</a></p>", esc(&message));
    let _ = write!(
        out,
        "<h3>Listings</h3>{}",
        results_rows(ctx, &view.listings)
    );
    let _ = write!(
        out,
        "<h3>Latest feedback</h3>{}<p><a class=\"{}\" href=\"{}\">All feedback ({} pages)</a></p>",
        feedback_rows(ctx, &view.feedback),
        c(ctx, "all-feedback"),
        esc(&feedback_url),
        view.feedback_pages
    );
    out
}

/// The profile of a vendor the market banned (table skin): the handle and the mark, nothing
/// else. The vendor's status is a field of the vendor, not a ban of the visitor.
pub fn banned_vendor(ctx: &Ctx, v: &VendorAccount) -> String {
    format!(
        "<h1 class=\"{}\">{}</h1><p>Status: <b class=\"{}\">BANNED</b></p>\
         <p>This account was banned by the staff. Do not send it money.</p>",
        c(ctx, "vendor-name"),
        esc(&v.handle),
        c(ctx, "v-status"),
    )
}

pub fn feedback(ctx: &Ctx, v: &view::FeedbackPageView) -> String {
    let prev = (v.page > 1).then(|| {
        ctx.url(&Page::Feedback {
            handle: v.handle.clone(),
            page: v.page - 1,
        })
    });
    format!(
        "<h2 class=\"{}\">Feedback for {}</h2>{}{}",
        c(ctx, "fb-heading"),
        esc(&v.handle),
        feedback_rows(ctx, &v.rows),
        pager(ctx, v.page, v.pages, prev.as_deref(), v.next.as_deref())
    )
}

pub fn pgp(ctx: &Ctx, v: &VendorAccount) -> String {
    let key = &ctx.world.pgp_keys[v.pgp_key as usize];
    let armored = if v.hides_key { "" } else { key.armored.trim() };
    format!(
        "<h2>PGP public key of <span class=\"{}\">{}</span></h2><pre class=\"{}\">{}</pre>",
        c(ctx, "key-owner"),
        esc(&v.handle),
        c(ctx, "pgp-block"),
        esc(armored)
    )
}

pub fn forum(ctx: &Ctx, page: u32) -> String {
    let threads = view::forum_threads(ctx);
    let pages = threads.len().div_ceil(view::THREADS_PER_PAGE).max(1) as u32;
    let mut out = format!(
        "<h2>Forum</h2><table class=\"{}\"><tr><th>Board</th><th>Thread</th><th>Started</th></tr>",
        c(ctx, "threads")
    );
    for t in threads
        .iter()
        .skip((page as usize - 1) * view::THREADS_PER_PAGE)
        .take(view::THREADS_PER_PAGE)
    {
        let _ = write!(
            out,
            "<tr><td>{}</td><td><a class=\"{}\" href=\"{}\">{}</a></td><td>{}</td></tr>",
            esc(&t.board),
            c(ctx, "thread-link"),
            esc(&ctx.url(&Page::Thread { id: t.id, page: 1 })),
            esc(&t.title),
            esc(&ctx.date(t.day))
        );
    }
    out.push_str("</table>");
    let prev = (page > 1).then(|| ctx.url(&Page::Forum { page: page - 1 }));
    let next = (page < pages).then(|| ctx.url(&Page::Forum { page: page + 1 }));
    out.push_str(&pager(ctx, page, pages, prev.as_deref(), next.as_deref()));
    out
}

pub fn thread(ctx: &Ctx, t: &Thread, v: &view::ThreadView) -> String {
    let skin = ctx.skin();
    let mut out = format!(
        "<p class=\"{}\">{}</p><h2 class=\"{}\">{}</h2>",
        c(ctx, "board"),
        esc(&v.board),
        c(ctx, "thread-title"),
        esc(&v.title)
    );
    for p in &v.posts {
        let author = match &p.author_url {
            Some(url) => format!(
                "<a class=\"{}\" href=\"{}\">{}</a> <span class=\"{}\">Vendor</span>",
                c(ctx, "author"),
                esc(url),
                esc(&p.author),
                c(ctx, "tag")
            ),
            None => format!(
                "<span class=\"{}\">{}</span>",
                c(ctx, "author"),
                esc(&p.author)
            ),
        };
        match skin {
            SkinKind::Table => {
                let _ = write!(out, "<table class=\"{}\" id=\"p{}\"><tr><td class=\"{}\">{author}<br><span class=\"{}\">{}</span></td><td class=\"{}\">{}</td></tr></table>", c(ctx, "post"), p.id, c(ctx, "post-side"), c(ctx, "post-date"), esc(&p.date), c(ctx, "post-body"), esc(&p.text));
            }
            SkinKind::Cards => {
                let _ = write!(out, "<div class=\"{}\" id=\"p{}\"><div class=\"{}\">{author} &middot; <time class=\"{}\">{}</time></div><div class=\"{}\">{}</div></div>", c(ctx, "post"), p.id, c(ctx, "post-head"), c(ctx, "post-date"), esc(&p.date), c(ctx, "post-body"), esc(&p.text));
            }
            SkinKind::List => {
                let _ = write!(out, "<article class=\"{}\" id=\"p{}\"><dl><dt>Author</dt><dd>{author}</dd><dt>Posted</dt><dd class=\"{}\">{}</dd></dl><p class=\"{}\">{}</p></article>", c(ctx, "post"), p.id, c(ctx, "post-date"), esc(&p.date), c(ctx, "post-body"), esc(&p.text));
            }
        }
        let _ = write!(
            out,
            "<a class=\"{}\" href=\"{}\">&#9650; upvote</a>",
            c(ctx, "vote"),
            esc(&skin.vote_url(p.id))
        );
    }
    let prev = (v.page > 1).then(|| {
        ctx.url(&Page::Thread {
            id: t.id,
            page: v.page - 1,
        })
    });
    out.push_str(&pager(
        ctx,
        v.page,
        v.pages,
        prev.as_deref(),
        v.next.as_deref(),
    ));
    out
}

/// The login form with its captcha image (an SVG of the answer's letters,
/// rotated and crossed out as captchas are).
pub fn login(ctx: &Ctx, challenge: &str, answer: &str, message: Option<&str>) -> String {
    let mut svg =
        String::from("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"180\" height=\"50\">");
    for (n, ch) in answer.chars().enumerate() {
        let rotate = (n as i32 * 37 % 50) - 25;
        let _ = write!(svg, "<text x=\"{}\" y=\"35\" transform=\"rotate({rotate} {} 30)\" font-size=\"28\">{ch}</text>", 10 + n * 27, 20 + n * 27);
    }
    svg.push_str("<line x1=\"0\" y1=\"10\" x2=\"180\" y2=\"40\" stroke=\"black\"/></svg>");
    let login_url = ctx.url(&Page::Login);
    format!(
        "<h2>Login</h2>{}<form class=\"{}\" method=\"post\" action=\"{}\"><label>Username <input name=\"username\"></label>\
         <label>Password <input type=\"password\" name=\"password\"></label>\
         <div class=\"{}\">{svg}</div><input type=\"hidden\" name=\"challenge\" value=\"{}\"><label>Captcha <input name=\"captcha\"></label>\
         <button type=\"submit\">Login</button></form>",
        message.map(|m| format!("<p class=\"{}\">{}</p>", c(ctx, "alert"), esc(m))).unwrap_or_default(),
        c(ctx, "login"),
        esc(&login_url),
        c(ctx, "captcha"),
        esc(challenge)
    )
}

/// The anti-DDoS queue: HTTP 200 and a meta refresh, like EndGame's.
pub fn queue(market: &str, wait_seconds: u64, position: u32) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"{wait_seconds}\">\
         <title>{0} - DDoS protection</title></head><body><div class=\"queue\"><h1>{0}</h1>\
         <p>You are in the queue. Position: {position}.</p><p>Please wait {wait_seconds} seconds, this page will refresh automatically. \
         Do not refresh the page yourself or you will be sent to the back of the queue.</p></div></body></html>\n",
        esc(market)
    )
}

pub fn banned(market: &str, minutes: u64) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0} - Banned</title></head><body><h1>Access denied</h1>\
         <p>Your session has been banned for {minutes} minutes because of too many requests. \
         Slow down: automated access is not allowed.</p></body></html>\n",
        esc(market)
    )
}

pub fn seizure(market: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>This Hidden Site Has Been Seized</title></head><body>\
         <div class=\"seizure\"><h1>THIS HIDDEN SITE HAS BEEN SEIZED</h1>\
         <p>The {} marketplace has been seized by the Federal Bureau of Investigation and the Drug Enforcement Administration \
         in coordination with Europol, the Bundeskriminalamt and the Dutch National Police \
         as part of a joint law enforcement operation.</p></div></body></html>\n",
        esc(market)
    )
}

pub fn unavailable(market: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>503 Service Unavailable</title></head><body>\
         <h1>503 Service Unavailable</h1><p>{} is temporarily unavailable. Please try again later.</p></body></html>\n",
        esc(market)
    )
}

pub fn not_found(ctx: &Ctx, viewer: Option<&Viewer>, honeypot: &str) -> String {
    page(
        ctx,
        viewer,
        "Not found",
        "<h2>404 - Page not found</h2><p>The page you requested does not exist or was removed.</p>",
        honeypot,
    )
}

pub fn refused(ctx: &Ctx, viewer: Option<&Viewer>, honeypot: &str) -> String {
    page(ctx, viewer, "Not allowed", "<h2>Action not available</h2><p>This action is disabled in the simulator and has been recorded.</p>", honeypot)
}

/// A meta-refresh interstitial (the list skin sends one after login).
pub fn redirect(to: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta http-equiv=\"refresh\" content=\"0; url={0}\"><title>Redirecting</title></head>\
         <body><p>Redirecting to <a href=\"{0}\">{0}</a></p></body></html>\n",
        esc(to)
    )
}
