//! Runs a market definition's field specs over a parsed page: selectors, labels, regexes,
//! splits and types, into SCHEMA.md's JSON values, with a diagnostic for every field that could
//! not be read.

use scraper::{ElementRef, Node};
use serde_json::{Map, Number, Value};

use crate::definition::{normalise_label, FieldSpec, Shape, ValueType};
use crate::normalize::{collapse_whitespace, parse_decimal, parse_money};
use crate::Diagnostic;

/// Reads every field of `specs` inside `root` into `out`.
pub(crate) fn extract_fields(
    root: ElementRef<'_>,
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
        if let Some(value) = extract_field(root, spec, &field, diagnostics) {
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
fn elements<'a>(root: ElementRef<'a>, spec: &FieldSpec) -> Vec<ElementRef<'a>> {
    let mut found: Vec<ElementRef<'a>> = match &spec.selector {
        Some(selector) => root.select(selector).collect(),
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
            .filter_map(|el| el.select(inner).next())
            .collect();
    }
    if let Some(filter) = &spec.filter {
        found.retain(|el| filter.is_match(&element_text(*el, false, false)));
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

fn extract_field(
    root: ElementRef<'_>,
    spec: &FieldSpec,
    field: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Value> {
    let found = elements(root, spec);
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
            extract_fields(*item, sub_specs, field, &mut row, diagnostics);
            Some(Value::Object(row))
        }
        Shape::Map { key, value } => {
            if found.is_empty() && !spec.optional {
                diagnostics.push(diagnostic(field, spec, "no item matched".into()));
                return None;
            }
            let mut map = Map::new();
            for item in &found {
                let key_value = extract_field(*item, key, &format!("{field}.key"), diagnostics);
                let value_value =
                    extract_field(*item, value, &format!("{field}.value"), diagnostics);
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
                values.extend(read_text(&text, spec, field, diagnostics));
            }
            if spec.all || spec.split.is_some() {
                Some(Value::Array(values))
            } else {
                values.into_iter().next()
            }
        }
    }
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
        ValueType::Money => parse_money(text)
            .map(|money| {
                let mut object = Map::new();
                object.insert("amount".into(), decimal_value(money.amount));
                object.insert("currency".into(), Value::String(money.currency.to_string()));
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
