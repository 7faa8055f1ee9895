//! Runs a market definition's field specs over a parsed page: selectors, labels, regexes,
//! splits and types, into SCHEMA.md's JSON values, with a diagnostic for every field that could
//! not be read.

use scraper::{ElementRef, Node};
use serde_json::{Map, Number, Value};

use crate::definition::{normalise_label, FieldSpec, Shape, ValueType};
use crate::normalize::{collapse_whitespace, parse_decimal, parse_price};
use crate::select::Page;
use crate::Diagnostic;

/// Reads every field of `specs` inside `root` into `out`.
pub(crate) fn extract_fields<'a>(
    page: &Page<'a>,
    root: ElementRef<'a>,
    specs: &[(String, FieldSpec)],
    path: &str,
    out: &mut Map<String, Value>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for (name, spec) in specs {
        let field = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        if let Some(value) = extract_field(page, root, spec, &field, diagnostics) {
            out.insert(name.clone(), value);
        }
    }
}

fn diagnostic(field: &str, spec: &FieldSpec, message: String) -> Diagnostic {
    Diagnostic {
        field: Some(field.to_string()),
        selector: (!spec.selector_text.is_empty()).then(|| spec.selector_text.clone()),
        message,
    }
}

/// The elements a spec reads: selector, then label and inner, then filter.
fn elements<'a>(page: &Page<'a>, root: ElementRef<'a>, spec: &FieldSpec) -> Vec<ElementRef<'a>> {
    let mut found: Vec<ElementRef<'a>> = match &spec.selector {
        Some(selector) => page.select(Some(root), selector).collect(),
        None => vec![root],
    };
    if let Some(label) = &spec.label {
        found = found
            .into_iter()
            .filter(|el| normalise_label(&element_text(*el, false, false)) == *label)
            .filter_map(next_element_sibling)
            .collect();
    }
    if let Some(inner) = &spec.inner {
        found = found
            .into_iter()
            .filter_map(|el| page.select(Some(el), inner).next())
            .collect();
    }
    if let Some(filter) = &spec.filter {
        found.retain(|el| filter.is_match(&element_text(*el, false, false)));
    }
    if let Some(skip) = &spec.skip_if {
        found.retain(|el| !skip.matches(el) && page.select(Some(*el), skip).next().is_none());
    }
    found
}

fn next_element_sibling(el: ElementRef<'_>) -> Option<ElementRef<'_>> {
    el.next_siblings().find_map(ElementRef::wrap)
}

/// An element's text: its descendants' text nodes (or only its own with `own`), with white
/// space collapsed unless `raw`.
pub(crate) fn element_text(el: ElementRef<'_>, raw: bool, own: bool) -> String {
    let text: String = if own {
        el.children()
            .filter_map(|child| match child.value() {
                Node::Text(text) => Some(&**text),
                _ => None,
            })
            .collect()
    } else {
        el.text().collect()
    };
    if raw {
        text.trim().to_string()
    } else {
        collapse_whitespace(&text)
    }
}

fn extract_field<'a>(
    page: &Page<'a>,
    root: ElementRef<'a>,
    spec: &FieldSpec,
    field: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Value> {
    let found = elements(page, root, spec);
    match &spec.shape {
        Shape::Records(sub_specs) => {
            if found.is_empty() && !spec.optional {
                diagnostics.push(diagnostic(field, spec, "no item matched".into()));
                return None;
            }
            let rows = found
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    let mut row = Map::new();
                    extract_fields(
                        page,
                        *item,
                        sub_specs,
                        &format!("{field}[{index}]"),
                        &mut row,
                        diagnostics,
                    );
                    Value::Object(row)
                })
                .collect();
            Some(Value::Array(rows))
        }
        Shape::Record(sub_specs) => {
            let Some(item) = found.first() else {
                if !spec.optional {
                    diagnostics.push(diagnostic(field, spec, "no element matched".into()));
                }
                return None;
            };
            let mut row = Map::new();
            extract_fields(page, *item, sub_specs, field, &mut row, diagnostics);
            Some(Value::Object(row))
        }
        Shape::Map { key, value } => {
            if found.is_empty() && !spec.optional {
                diagnostics.push(diagnostic(field, spec, "no item matched".into()));
                return None;
            }
            let mut map = Map::new();
            for item in &found {
                let key_value =
                    extract_field(page, *item, key, &format!("{field}.key"), diagnostics);
                let value_value =
                    extract_field(page, *item, value, &format!("{field}.value"), diagnostics);
                if let (Some(Value::String(k)), Some(v)) = (key_value, value_value) {
                    map.insert(k, v);
                }
            }
            Some(Value::Object(map))
        }
        Shape::Tree { depth, selected } => {
            tree_path(&found, spec, depth, selected, field, diagnostics)
        }
        Shape::Value => {
            if spec.value_type == ValueType::Count {
                return Some(Value::Number(Number::from(found.len() as u64)));
            }
            if found.is_empty() {
                if spec.optional {
                    // Absence is normal: an empty list, or null ("no next page").
                    return Some(if spec.all || spec.split.is_some() {
                        Value::Array(Vec::new())
                    } else {
                        Value::Null
                    });
                }
                diagnostics.push(diagnostic(
                    field,
                    spec,
                    "the selector matched nothing".into(),
                ));
                return None;
            }
            let chosen = if spec.all { &found[..] } else { &found[..1] };
            let mut values = Vec::new();
            for el in chosen {
                let text = match &spec.attr {
                    Some(attr) => match el.value().attr(attr) {
                        Some(v) => collapse_whitespace(v),
                        None => {
                            diagnostics.push(diagnostic(
                                field,
                                spec,
                                format!("the element has no attribute {attr:?}"),
                            ));
                            continue;
                        }
                    },
                    None => element_text(*el, spec.raw, spec.own_text),
                };
                if let Some(pairs) = &spec.pairs {
                    return read_pairs(&text, pairs, spec, field, diagnostics);
                }
                values.extend(read_text(&text, spec, field, diagnostics));
            }
            if spec.dedupe {
                let mut kept: Vec<Value> = Vec::with_capacity(values.len());
                for value in values {
                    if !kept.contains(&value) {
                        kept.push(value);
                    }
                }
                values = kept;
            }
            if spec.all || spec.split.is_some() {
                Some(Value::Array(values))
            } else {
                values.into_iter().next()
            }
        }
    }
}

/// `pairs` on one text: every match gives `key` -> `value` (the value read by the field's type).
fn read_pairs(
    text: &str,
    pairs: &regex::Regex,
    spec: &FieldSpec,
    field: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Value> {
    let mut map = Map::new();
    for caps in pairs.captures_iter(text) {
        let (Some(key), Some(value)) = (caps.name("key"), caps.name("value")) else {
            continue;
        };
        match convert(value.as_str().trim(), spec) {
            Ok(converted) => {
                map.insert(key.as_str().trim().to_string(), converted);
            }
            Err(message) => diagnostics.push(diagnostic(field, spec, message)),
        }
    }
    if map.is_empty() {
        diagnostics.push(diagnostic(
            field,
            spec,
            format!(
                "pairs {:?} match nothing in {:?}",
                pairs.as_str(),
                clip(text)
            ),
        ));
        return None;
    }
    Some(Value::Object(map))
}

/// Regex, split, null and type on one text; several values when split.
fn read_text(
    text: &str,
    spec: &FieldSpec,
    field: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Value> {
    let captured = match &spec.regex {
        Some(regex) => match regex.captures(text) {
            Some(caps) if caps.len() > 1 => caps
                .iter()
                .skip(1)
                .flatten()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            Some(caps) => caps[0].to_string(),
            None => {
                diagnostics.push(diagnostic(
                    field,
                    spec,
                    format!("regex {:?} does not match {:?}", regex.as_str(), clip(text)),
                ));
                return Vec::new();
            }
        },
        None => text.to_string(),
    };
    let parts: Vec<String> = match &spec.split {
        Some(separator) => captured
            .split(separator.as_str())
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        None => vec![captured],
    };
    let mut values = Vec::new();
    for part in parts {
        if spec.null_if.as_ref().is_some_and(|r| r.is_match(&part)) {
            values.push(Value::Null);
            continue;
        }
        let part = if spec.value_map.is_empty() {
            part
        } else {
            match spec
                .value_map
                .iter()
                .find(|(pattern, _)| pattern.is_match(&part))
            {
                Some((_, value)) => value.clone(),
                None => {
                    diagnostics.push(diagnostic(
                        field,
                        spec,
                        format!("no value_map entry matches {:?}", clip(&part)),
                    ));
                    continue;
                }
            }
        };
        match convert(&part, spec) {
            Ok(value) => values.push(value),
            Err(message) => diagnostics.push(diagnostic(field, spec, message)),
        }
    }
    values
}

fn clip(text: &str) -> String {
    text.chars().take(120).collect()
}

/// A decimal as a JSON number (SCHEMA.md's numbers are JSON numbers).
pub(crate) fn decimal_value(decimal: rust_decimal::Decimal) -> Value {
    decimal
        .to_string()
        .parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn convert(text: &str, spec: &FieldSpec) -> Result<Value, String> {
    match spec.value_type {
        ValueType::Text | ValueType::TreePath | ValueType::Count => {
            Ok(Value::String(text.to_string()))
        }
        ValueType::Number => parse_decimal(text.trim())
            .map(decimal_value)
            .map_err(|e| e.to_string()),
        ValueType::Integer => read_integer(text).map(|n| Value::Number(n.into())),
        ValueType::Money => parse_price(text)
            .map(|(money, minimum)| {
                let mut object = Map::new();
                object.insert("amount".into(), decimal_value(money.amount));
                object.insert("currency".into(), Value::String(money.currency.to_string()));
                if minimum {
                    // "From: 25 $": the lowest of several prices, not one offer's.
                    object.insert("minimum".into(), Value::Bool(true));
                }
                Value::Object(object)
            })
            .map_err(|e| e.to_string()),
        ValueType::Bool => Ok(Value::Bool(
            spec.true_if.as_ref().is_some_and(|r| r.is_match(text)),
        )),
        ValueType::Currency => {
            let code = text.trim().to_ascii_uppercase();
            if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
                Err(format!("{:?} is not a currency code", clip(text)))
            } else {
                Ok(Value::String(code))
            }
        }
        ValueType::UrlPath => Ok(Value::String(url_path(text.trim()))),
    }
}

static INTEGER: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"\d+(?:[,.'\x{a0} ]\d{3})*").expect("a valid pattern")
});

/// The one whole number in a text ("1,234", "(120)", "120 sold"), or why there is none: two
/// numbers ("17 112g"), a number run into a unit ("112g"), or a fraction ("4.5") are refused,
/// never joined into one.
fn read_integer(text: &str) -> Result<u64, String> {
    let numbers: Vec<regex::Match<'_>> = INTEGER.find_iter(text).collect();
    let [number] = numbers.as_slice() else {
        return Err(if numbers.is_empty() {
            format!(
                "cannot read an integer from {:?}: there is no number",
                clip(text)
            )
        } else {
            format!(
                "cannot read an integer from {:?}: it holds {} numbers",
                clip(text),
                numbers.len()
            )
        });
    };
    let touches_letter = |c: Option<char>| c.is_some_and(char::is_alphabetic);
    if touches_letter(text[number.end()..].chars().next())
        || touches_letter(text[..number.start()].chars().next_back())
    {
        return Err(format!(
            "cannot read an integer from {:?}: the number runs into a word (a unit?)",
            clip(text)
        ));
    }
    let digits: String = number
        .as_str()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    digits
        .parse::<u64>()
        .map_err(|_| format!("cannot read an integer from {:?}: too large", clip(text)))
}

/// The path and query of a URL (`http://x.onion/a/b?c` -> `/a/b?c`); relative URLs as they are.
pub(crate) fn url_path(url: &str) -> String {
    match url.find("://") {
        Some(scheme_end) => {
            let rest = &url[scheme_end + 3..];
            match rest.find('/') {
                Some(slash) => rest[slash..].to_string(),
                None => "/".to_string(),
            }
        }
        None => url.to_string(),
    }
}

/// The selected item of a flat, depth-marked list and its ancestors, top first.
fn tree_path(
    items: &[ElementRef<'_>],
    spec: &FieldSpec,
    depth: &regex::Regex,
    selected: &str,
    field: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Value> {
    let depth_of = |el: &ElementRef<'_>| -> Option<usize> {
        let class = el.value().attr("class")?;
        depth.captures(class)?.get(1)?.as_str().parse().ok()
    };
    let Some(current) = items
        .iter()
        .position(|el| el.value().classes().any(|c| c == selected))
    else {
        if !spec.optional {
            diagnostics.push(diagnostic(
                field,
                spec,
                format!("no item has the class {selected:?}"),
            ));
        }
        return None;
    };
    let Some(mut want) = depth_of(&items[current]) else {
        diagnostics.push(diagnostic(
            field,
            spec,
            "the selected item has no depth".into(),
        ));
        return None;
    };
    let mut chain = vec![items[current]];
    for el in items[..current].iter().rev() {
        if want == 0 {
            break;
        }
        if depth_of(el) == Some(want - 1) {
            chain.push(*el);
            want -= 1;
        }
    }
    chain.reverse();
    let mut names = Vec::new();
    for el in chain {
        names.extend(read_text(
            &element_text(el, false, spec.own_text),
            spec,
            field,
            diagnostics,
        ));
    }
    Some(Value::Array(names))
}

#[cfg(test)]
mod tests {
    use super::read_integer;
    use crate::{parse_page, parse_page_auto, Limits, Market};
    use serde_json::json;

    fn market(text: &str) -> Market {
        Market::from_toml("t.toml", text).unwrap()
    }

    #[test]
    fn header_rows_with_the_data_rows_classes_are_skipped() {
        let m = market(
            "name = \"t\"\n[[page_kinds]]\nkind = \"feedback\"\nselector = \"table.fb\"\n\
             [fields.feedback.feedback]\nselector = \"table.fb tr.row\"\nskip_if_selector = \"th\"\n\
             fields.rating = { selector = \"td.r\", type = \"integer\" }\n\
             fields.text = { selector = \"td.t\" }\n",
        );
        let page = parse_page(
            "<table class=fb><tr class=row><th>Rating</th><th>Text</th></tr>\
             <tr class=row><td class=r>5</td><td class=t>good</td></tr>\
             <tr class=row><td class=r>1</td><td class=t>bad</td></tr></table>",
            Some(&m),
            Limits::default(),
        );
        assert_eq!(
            page.fields["feedback"],
            json!([{"rating": 5, "text": "good"}, {"rating": 1, "text": "bad"}])
        );
        assert!(page.diagnostics.is_empty(), "{:?}", page.diagnostics);
    }

    #[test]
    fn icons_map_to_values_and_lists_dedupe() {
        let m = market(
            "name = \"t\"\n[[page_kinds]]\nkind = \"listing\"\nselector = \"h1\"\n\
             [fields.listing.accepted_currencies]\nselector = \"img.coin\"\nattr = \"src\"\nall = true\ndedupe = true\n\
             type = \"currency\"\nvalue_map = [{ match = \"btc\", value = \"BTC\" }, { match = \"xmr\", value = \"XMR\" }]\n",
        );
        let page = parse_page(
            "<h1>x</h1><img class=coin src=/i/btc.png><img class=coin src=/i/btc-2.png><img class=coin src=/i/xmr.png>",
            Some(&m),
            Limits::default(),
        );
        assert_eq!(page.fields["accepted_currencies"], json!(["BTC", "XMR"]));
    }

    #[test]
    fn one_text_splits_into_a_map_of_rates() {
        let m = market(
            "name = \"t\"\n[[page_kinds]]\nkind = \"listing\"\nselector = \"h1\"\n\
             [fields.listing.exchange_rates]\nselector = \"p.rates\"\ntype = \"number\"\n\
             pairs = '=\\s*(?P<value>[0-9.,]+)\\s*(?P<key>[A-Z]{3,4})'\n",
        );
        let page = parse_page(
            "<h1>x</h1><p class=rates>1 BTC = 7374.63 EUR = 8211.52 USD</p>",
            Some(&m),
            Limits::default(),
        );
        assert_eq!(
            page.fields["exchange_rates"],
            json!({"EUR": 7374.63, "USD": 8211.52})
        );
        let page = parse_page(
            "<h1>x</h1><p class=rates>rates unavailable</p>",
            Some(&m),
            Limits::default(),
        );
        assert!(page.fields.get("exchange_rates").is_none());
        assert!(
            page.diagnostics
                .iter()
                .any(|d| d.field.as_deref() == Some("exchange_rates")),
            "{:?}",
            page.diagnostics
        );
    }

    #[test]
    fn a_ddos_front_ban_is_a_ban_and_a_challenge_is_a_captcha() {
        use dnmscope_model::PageKind;
        let m = market("name = \"t\"\n");
        let kind = |html: &str| parse_page(html, Some(&m), Limits::default()).page_kind;
        assert_eq!(
            kind(
                "<html><head><title>403 Forbidden</title></head><body><h1>DDoS protection</h1>\
                  <p>Your IP has been banned for 24 hours.</p></body></html>"
            ),
            PageKind::Banned
        );
        assert_eq!(
            kind(
                "<html><head><title>DDoS protection</title></head><body><h1>Security check</h1>\
                  <img src=/captcha.png><input name=captcha></body></html>"
            ),
            PageKind::Captcha
        );
    }

    #[test]
    fn a_market_can_turn_a_generic_recogniser_off() {
        let banner = "<html><head><title>This site has been seized</title></head><body>\
                      <h1>This hidden site has been seized by the FBI</h1></body></html>";
        let on = market("name = \"t\"\n");
        let off = market("name = \"t\"\ngeneric_off = [\"seizure\"]\n");
        assert_eq!(
            parse_page(banner, Some(&on), Limits::default()).page_kind,
            dnmscope_model::PageKind::Seizure
        );
        assert_ne!(
            parse_page(banner, Some(&off), Limits::default()).page_kind,
            dnmscope_model::PageKind::Seizure
        );
    }

    #[test]
    fn auto_takes_the_most_specific_market_not_the_first() {
        // Empire-like recognition by a phrase anywhere, listed first; the page is X's, and a
        // vendor's text on it mentions "Empire Market".
        let empire = market(
            "name = \"empireish\"\n[recognise]\nhtml = \"Empire Market\"\n\
             [[page_kinds]]\nkind = \"listing\"\nselector = \"div.empire-listing\"\n",
        );
        let x = market(
            "name = \"x\"\n[recognise]\ntitle = \"^X Market\"\n\
             [[page_kinds]]\nkind = \"vendor\"\nselector = \"h1.vendor\"\n",
        );
        let page =
            "<html><head><title>X Market - vendor</title></head><body><h1 class=vendor>v</h1>\
                    <p>Formerly top seller on Empire Market</p></body></html>";
        let markets = [empire, x];
        let parsed = parse_page_auto(page, &markets, Limits::default());
        assert_eq!(parsed.market.as_deref(), Some("x"));
        assert_eq!(parsed.page_kind, dnmscope_model::PageKind::Vendor);
        // A page only the phrase recognises still goes to the first market.
        let parsed = parse_page_auto(
            "<div class=empire-listing>Empire Market</div>",
            &markets,
            Limits::default(),
        );
        assert_eq!(parsed.market.as_deref(), Some("empireish"));
    }

    #[test]
    fn links_hidden_by_a_stylesheet_class_are_not_followed() {
        let m = market("name = \"t\"\n[[links]]\nkind = \"page\"\nselector = \"a\"\n");
        let page = parse_page(
            "<html><head><style>.x { color: red }\n div.footer .aux, #trap { display : none; }</style></head>\
             <body><a href=/seen>seen</a><div class=aux><a href=/trap1>a</a></div>\
             <a id=trap href=/trap2>b</a><p class=x><a href=/red>red</a></p></body></html>",
            Some(&m),
            Limits::default(),
        );
        let follow: Vec<(&str, bool)> = page
            .links
            .iter()
            .map(|l| (l.url.as_str(), l.follow))
            .collect();
        assert_eq!(
            follow,
            [
                ("/seen", true),
                ("/trap1", false),
                ("/trap2", false),
                ("/red", true)
            ]
        );
    }

    #[test]
    fn honeypots_and_disguised_actions_are_not_followed() {
        let m = market("name = \"t\"\n[[links]]\nkind = \"page\"\nselector = \"a\"\n");
        let page = parse_page(
            "<html><head><style>a.hp.deep { opacity: 0 } .pair { color: red } \
             ul > li.gone { visibility : collapse !important }</style></head><body>\
             <a href=/seen>seen</a>\
             <a class=\"hp deep\" href=/t1>1</a>\
             <a class=hp href=/only-one-class>shown</a>\
             <ul><li class=gone><a href=/t2>2</a></li></ul>\
             <a style=\"position:absolute; left:-9999px\" href=/t3>3</a>\
             <a style=\"opacity:0.0\" href=/t4>4</a>\
             <a aria-hidden=\"true\" href=/t5>5</a>\
             <div hidden><a href=/t6>6</a></div>\
             <span style=\"width:0;height:0;overflow:hidden\"><a href=/t7>7</a></span>\
             <a style=\"font-size:0\" href=/t8>8</a>\
             <a href=/log%6Fut>out</a><a href=/BUY%2F2>b</a><a href=/%62uy/1>b</a>\
             <a href=/purchase/3>p</a><a href=/account/logoff>o</a><a href=/escrow/finalize/3>f</a>\
             <a href=/feedback/leave/3>l</a><a href=/dispute/open/3>d</a>\
             <a href=/favorite/add/3>fav</a><a href=/setview/list>v</a>\
             <a data-method=post href=/listing/9>post</a>\
             <a onclick=\"document.forms[0].submit()\" href=/listing/10>js</a>\
             <a href=/listing/11>listing</a></body></html>",
            Some(&m),
            Limits::default(),
        );
        let followed: Vec<&str> = page
            .links
            .iter()
            .filter(|l| l.follow)
            .map(|l| l.url.as_str())
            .collect();
        assert_eq!(followed, ["/seen", "/only-one-class", "/listing/11"]);
        assert_eq!(page.links.len(), 23, "refused links are still listed");
    }

    /// Property: over generated counts in the forms markets print them, the integer reader is
    /// exact, and it refuses every damaged form (a unit stuck on, a second number, a decimal).
    #[test]
    fn generated_counts_are_read_exactly_or_refused() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
        for case in 0..3_000 {
            let n: u64 = if rng.gen_bool(0.5) {
                rng.gen_range(0..1_000)
            } else {
                rng.gen_range(1_000..10_000_000)
            };
            let grouped = {
                let digits = n.to_string();
                let mut out = String::new();
                for (i, c) in digits.chars().enumerate() {
                    if i > 0 && (digits.len() - i).is_multiple_of(3) {
                        out.push(',');
                    }
                    out.push(c);
                }
                out
            };
            let shown = if rng.gen_bool(0.5) {
                grouped
            } else {
                n.to_string()
            };
            let text = match rng.gen_range(0..5) {
                0 => shown.clone(),
                1 => format!("({shown})"),
                2 => format!("{shown} sold"),
                3 => format!("Sales: {shown}"),
                _ => format!("  {shown} "),
            };
            assert_eq!(read_integer(&text), Ok(n), "case {case}: {text:?}");
            let unit = ["g", "mg", "x", "pcs"][rng.gen_range(0..4)];
            for bad in [
                format!("{shown}{unit}"),
                format!("{shown} {}", rng.gen_range(1..99)),
                format!("{shown}.5"),
                format!("{} of {shown}", rng.gen_range(1..99)),
            ] {
                assert!(
                    read_integer(&bad).is_err(),
                    "case {case}: {bad:?} was read as {:?}",
                    read_integer(&bad)
                );
            }
        }
    }

    #[test]
    fn integers_are_read_whole_or_refused() {
        for (text, expected) in [
            ("17", 17),
            ("1,234", 1234),
            ("1 234", 1234),
            ("(120)", 120),
            ("120 sold", 120),
            ("Sales: 12", 12),
        ] {
            assert_eq!(read_integer(text), Ok(expected), "{text}");
        }
        for text in [
            "17 112g",
            "112g",
            "4.5",
            "",
            "none",
            "3 of 5",
            "99999999999999999999999",
        ] {
            assert!(read_integer(text).is_err(), "{text}");
        }
    }
}
