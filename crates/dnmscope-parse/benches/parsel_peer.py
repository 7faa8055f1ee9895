#!/usr/bin/env python3
"""Peer benchmark: dnmscope's market definitions applied with parsel (Scrapy's selectors).

What it measures
----------------
`dnmscope bench parse --corpus DIR --rounds N` times dnmscope's Rust parser on the saved pages of a
corpus: parse the page, classify it with the market definition's page-kind rules, extract the
fields listed for that page kind, and list the links. This script does the same work in Python
with parsel (lxml/libxml2 underneath), driven by the very same TOML definitions
(config/markets/<market>.toml), so the Rust engine's speed can be stated as a ratio against a
competent parsel implementation of the same definitions.

Pages are read like `bench parse` reads them: for every market folder of the corpus (`dream`,
`empire`, ...) that has a definition in config/markets/, every file in `<market>/pages/` and
`<market>/unlabelled/`, read as bytes and decoded as UTF-8 with errors='replace' (untimed).

Per page and per round, timed with time.process_time() (CPU seconds of the process):

1. parse: `parsel.Selector(text=html)`;
2. classify: the definition's `[[page_kinds]]` in order (selector [+ text], not_selector, title,
   html); when none holds, the generic recognisers of classify.rs (meta-refresh queue and
   redirect, seizure banner, ban notice, captcha gate, login, not found, PGP key, error), each
   one skippable with the definition's `generic_off`, else "unknown";
3. extract the fields of that page kind, with the pipeline of definition.rs: selector, label
   (+ inner), inner, filter, skip_if_selector, text (collapsed / raw / own_text) or attr, pairs,
   regex, split, null_if, value_map, type, all, dedupe, optional; the shapes records (`fields`),
   record (`record = true`), map (`map_key`/`map_value`) and tree_path, recursively; then, like
   lib.rs, `pgp_fingerprint` from an extracted `pgp_key`;
4. links: every `[[links]]` rule's selector, the trimmed `href`s (empty, `#...` and
   `javascript:` ones skipped), the optional `href` regex, deduplicated per (href, kind).

Round by round in turn with the engine (as `bench parse` alternates with html5ever), it also
times the peer's bare parse, `parsel.Selector(text=html)` with no query, as its baseline.

The field count printed is what `bench parse` prints: the number of top-level fields present in
each page's result, summed over pages and rounds (the Rust engine: 302 per round on
../shared/corpus/real, 6040 over 20 rounds). The number of leaf values (every string, number,
bool or null inside them) and of links are printed too.

Simplifications versus the Rust engine
--------------------------------------
* Tree building is libxml2's HTML parser (through parsel/lxml), not an HTML5 parser
  (html5ever): it does not insert the implied <tbody> into tables, and repairs broken markup
  differently: a selector through `tbody` (Dream's `table.ratingTable > tbody > tr`) finds
  nothing in a table written without one. On ../shared/corpus/real this changes nothing (no
  page has a Dream rating table): with `--compare-golden`, the peer's page kinds, all 302
  fields (values equal after JSON round-tripping) and all 2950 (href, kind) links equal the
  Rust engine's golden outputs.
* Selectors are cssselect's CSS-to-XPath translations, compiled once per definition with the
  prefix `descendant::` and run with parsel's `Selector.xpath` (parsel's `.css()` would use
  `descendant-or-self::`, letting a sub-field's selector match its item itself, which scraper's
  scoped `select` never does). An XPath translation also requires every compound of a selector
  to lie inside the scope, where scraper only requires the matched element to.
* Element text, attributes and own text are read from the lxml element under each parsel
  Selector (`sel.root`): parsel has no "whitespace-collapsed text" helper, and this is the
  fast way a parsel user would write it.
* No resource limits (dnmscope's guard: bytes, depth, nodes, time) and no defusing of the
  page before parsing.
* Links: no hidden-link (honeypot) checks (inline styles, `hidden`/`aria-hidden`, classes and ids
  a page's <style> hides), no state-changing word lists, no `data-method`/`onclick` checks:
  `follow` is only the rule's `follow`.
* Money: the rules of normalize/money.rs (a minimum marker, symbols and milli units, ISO 4217 and
  coin codes, per-unit prices refused, either decimal convention, thousands grouping checked),
  amounts as Python floats rather than decimals. Numbers are the same decimal reading as
  floats; integers as extract.rs's read_integer.
* pgp_fingerprint: only the SHA-1 of the armored block's first (v4) public-key packet; the Rust
  engine parses and checks the whole key (rPGP) and also reads the certifiers.
* Diagnostics are counted (not kept as objects with the field and selector names).
* Regexes are Python `re` with the definitions' patterns as written (the patterns the shipped
  definitions use mean the same in both engines).

How to run
----------
From the workspace root (/work/main), with the CI venv (Python 3.11+, `pip install parsel`):

    .ci/venv/bin/python crates/dnmscope-parse/benches/parsel_peer.py --corpus ../shared/corpus/real --rounds 20

Pin it to one core for figures to compare with `taskset -c 0 dnmscope bench parse ...`:

    taskset -c 1 .ci/venv/bin/python crates/dnmscope-parse/benches/parsel_peer.py --corpus ../shared/corpus/real --rounds 20

`--compare-golden crates/dnmscope-parse/test_data/golden` parses every page once (untimed) and
lists, page by page, where the peer's page kind, fields and links differ from the Rust engine's
golden outputs, before the benchmark.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import sys
import time
import tomllib
from pathlib import Path

import parsel
from cssselect import HTMLTranslator

_TRANSLATOR = HTMLTranslator()

# Rust's `None` (the field is absent) as opposed to JSON null (`None` here).
ABSENT = object()


def css(text: str) -> str:
    """A CSS selector as the XPath parsel runs, matching descendants of the scope only."""
    return _TRANSLATOR.css_to_xpath(text, prefix="descendant::")


def css_self(text: str) -> str:
    """A CSS selector as XPath from the document node: every match anywhere in the page."""
    return _TRANSLATOR.css_to_xpath(text, prefix="descendant-or-self::")


def collapse(text: str) -> str:
    # str.split() splits on Unicode white space, U+00A0 included (as collapse_whitespace).
    return " ".join(text.split())


def element_text(sel: parsel.Selector, raw: bool = False, own: bool = False) -> str:
    el = sel.root
    if own:
        parts = [el.text or ""]
        parts.extend(child.tail or "" for child in el)
        text = "".join(parts)
    else:
        # itertext skips comments (as scraper's text()); <script>/<style> text is kept (as there).
        text = "".join(el.itertext())
    return text.strip() if raw else collapse(text)


def normalise_label(text: str) -> str:
    return collapse(text).rstrip(":").strip().lower()


# ---- money, numbers (normalize/money.rs, extract.rs) ------------------------------------------

SYMBOLS = [
    ("$", "USD", 0), ("US$", "USD", 0), ("€", "EUR", 0), ("£", "GBP", 0), ("฿", "BTC", 0),
    ("Ƀ", "BTC", 0), ("₿", "BTC", 0), ("ɱ", "XMR", 0), ("Ł", "LTC", 0), ("mBTC", "BTC", 3),
    ("mBCH", "BCH", 3), ("bitcoin", "BTC", 0), ("monero", "XMR", 0), ("litecoin", "LTC", 0),
]
CODES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
    GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW
    KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN
    NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK
    SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU
    UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
    BTC XMR LTC BCH ETH ZEC DASH DOGE XRP USDT USDC DCR BSV ETC TRX BNB""".split()
)
PER_UNIT = re.compile(r"(?i)(/\s*[\d.,]*\s*[a-zµ]+\.?$|\bper\s+[\d.,]*\s*[a-zµ]+\.?$|\s/\s*$)")
MINIMUM = re.compile(
    r"(?i)^\s*(from|starting (?:at|from)|as low as|min(?:imum)?\.?|ab|à partir de|a partir de|desde)(?:\s*:\s*|\s+)"
)
INTEGER = re.compile(r"\d+(?:[,.'\u00a0 ]\d{3})*")
_NUMBER_CHARS = frozenset("0123456789.,' ")
_GROUP = frozenset(".,' \u00a0")


class Unreadable(ValueError):
    pass


def parse_decimal(text: str) -> float:
    t = text.strip().strip("\u00a0")
    if not any(c.isdigit() and c.isascii() for c in t):
        raise Unreadable(f"cannot read a number from {text!r}: there is no number")
    if not all((c.isascii() and c.isdigit()) or c in _GROUP for c in t):
        raise Unreadable(f"cannot read a number from {text!r}: it is not a plain number")
    dot, comma = t.rfind("."), t.rfind(",")
    if dot >= 0 and comma >= 0:
        mark = max(dot, comma)
    elif comma >= 0:
        mark = comma if t.count(",") == 1 and len(t) - comma - 1 != 3 else -1
    elif dot >= 0:
        mark = dot if t.count(".") == 1 else -1
    else:
        mark = -1
    if mark >= 0:
        integer, frac = t[:mark], t[mark + 1:]
        if not frac or not frac.isdigit():
            raise Unreadable(f"cannot read a number from {text!r}: the decimals are not digits")
    else:
        integer, frac = t, None
    separators = [c for c in integer if c in _GROUP]
    if separators:
        first = separators[0]
        if any(c != first for c in separators):
            raise Unreadable(f"cannot read a number from {text!r}: mixed group separators")
        groups = integer.split(first)
        if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])
                and all(g.isdigit() for g in groups)):
            raise Unreadable(f"cannot read a number from {text!r}: not grouped in thousands")
    elif not integer and frac is None:
        raise Unreadable(f"cannot read a number from {text!r}: there is no number")
    digits = "".join(c for c in integer if c.isdigit())
    return float(f"{digits or '0'}.{frac}" if frac is not None else digits)


def currency_of(marker: str):
    marker = marker.strip().strip(":").strip()
    low = marker.lower()
    for symbol, code, milli in SYMBOLS:
        if symbol.lower() == low:
            return code, milli
    code = marker.strip("$ \t\r\n").upper()
    if code in CODES:
        return code, 0
    return None


def parse_money(text: str):
    cleaned = collapse(text)
    if not cleaned:
        raise Unreadable(f"cannot read money from {text!r}: it is empty")
    start = next((i for i, c in enumerate(cleaned) if c.isascii() and c.isdigit()), -1)
    if start < 0:
        raise Unreadable(f"cannot read money from {text!r}: there is no number")
    if start > 0 and cleaned[start - 1] == ".":
        start -= 1
    end = start
    while end < len(cleaned) and cleaned[end] in _NUMBER_CHARS:
        end += 1
    number = cleaned[start:end].strip()
    before, after = cleaned[:start].strip(), cleaned[end:].strip()
    if "-" in before:
        raise Unreadable(f"cannot read money from {text!r}: prices are never negative")
    if PER_UNIT.search(after):
        raise Unreadable(f"cannot read money from {text!r}: a price per unit")
    if before and not after:
        marker = before
    elif after and not before:
        marker = after
    elif before and after:
        a, b = currency_of(before), currency_of(after)
        if a is None or b is None:
            raise Unreadable(f"cannot read money from {text!r}: unknown currency")
        if a[0] != b[0]:
            raise Unreadable(f"cannot read money from {text!r}: two different currencies")
        marker = before
    else:
        raise Unreadable(f"cannot read money from {text!r}: no currency is given")
    found = currency_of(marker)
    if found is None:
        raise Unreadable(f"cannot read money from {text!r}: unknown currency {marker!r}")
    code, milli = found
    amount = parse_decimal(number)
    if milli:
        amount /= 10 ** milli
    return amount, code


def parse_price(text: str) -> dict:
    marker = MINIMUM.search(text)
    amount, code = parse_money(text[marker.end():] if marker else text)
    value = {"amount": amount, "currency": code}
    if marker:
        value["minimum"] = True
    return value


def read_integer(text: str) -> int:
    numbers = list(INTEGER.finditer(text))
    if len(numbers) != 1:
        raise Unreadable(f"cannot read an integer from {text[:120]!r}: {len(numbers)} numbers")
    m = numbers[0]
    after = text[m.end():m.end() + 1]
    before = text[m.start() - 1:m.start()] if m.start() > 0 else ""
    if after.isalpha() or before.isalpha():
        raise Unreadable(f"cannot read an integer from {text[:120]!r}: runs into a word")
    return int("".join(c for c in m.group(0) if c.isdigit()))


def url_path(url: str) -> str:
    at = url.find("://")
    if at < 0:
        return url
    rest = url[at + 3:]
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else "/"


def pgp_fingerprint(text: str) -> str:
    """SHA-1 fingerprint of the armored block's first (v4) public-key packet."""
    begin, end = "-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----END PGP PUBLIC KEY BLOCK-----"
    start = text.find(begin)
    stop = text.find(end, start) if start >= 0 else -1
    if start < 0 or stop < 0:
        raise Unreadable("there is no public key block")
    lines = [line.strip() for line in text[start + len(begin):stop].splitlines()]
    lines = [line for line in lines if line]
    while lines and ": " in lines[0]:
        lines.pop(0)
    if lines and lines[-1].startswith("="):
        lines.pop()
    data = base64.b64decode("".join(lines))
    tag = data[0]
    if tag & 0x40:  # new format
        first = data[1]
        if first < 192:
            length, at = first, 2
        elif first < 224:
            length, at = ((first - 192) << 8) + data[2] + 192, 3
        else:
            length, at = int.from_bytes(data[2:6], "big"), 6
    else:  # old format
        size = {0: 1, 1: 2, 2: 4}[tag & 3]
        length, at = int.from_bytes(data[1:1 + size], "big"), 1 + size
    body = data[at:at + length]
    if not body or body[0] != 4:
        raise Unreadable("not a version 4 key")
    return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest()


# ---- definitions -----------------------------------------------------------------------------

class Condition:
    __slots__ = ("selector", "not_selector", "title", "html", "text")

    def __init__(self, raw: dict):
        self.selector = css(raw["selector"]) if "selector" in raw else None
        self.not_selector = css(raw["not_selector"]) if "not_selector" in raw else None
        self.title = re.compile(raw["title"]) if "title" in raw else None
        self.html = re.compile(raw["html"]) if "html" in raw else None
        self.text = re.compile(raw["text"]) if "text" in raw else None


class Spec:
    """One compiled field spec (definition.rs's FieldSpec)."""

    def __init__(self, raw: dict):
        self.selector_css = raw.get("selector")
        self.selector = css(raw["selector"]) if "selector" in raw else None
        self.label = normalise_label(raw["label"]) if "label" in raw else None
        self.inner = css(raw["inner"]) if "inner" in raw else None
        self.attr = raw.get("attr")
        self.raw = raw.get("raw", False)
        self.own_text = raw.get("own_text", False)
        self.regex = re.compile(raw["regex"]) if "regex" in raw else None
        self.split = raw.get("split")
        self.type = raw.get("type", "text")
        self.true_if = re.compile(raw["true_if"]) if "true_if" in raw else None
        self.null_if = re.compile(raw["null_if"]) if "null_if" in raw else None
        self.all = raw.get("all", False)
        self.optional = raw.get("optional", False)
        self.filter = re.compile(raw["filter"]) if "filter" in raw else None
        self.value_map = [(re.compile(e["match"]), e["value"]) for e in raw.get("value_map", [])]
        self.skip_if = (css(raw["skip_if_selector"]), css_self(raw["skip_if_selector"])) \
            if "skip_if_selector" in raw else None
        self.dedupe = raw.get("dedupe", False)
        self.pairs = re.compile(raw["pairs"]) if "pairs" in raw else None
        if "fields" in raw:
            # Sub-fields in name order, as the BTreeMap the Rust engine iterates.
            self.fields = [(name, Spec(raw["fields"][name])) for name in sorted(raw["fields"])]
            self.shape = "record" if raw.get("record", False) else "records"
        elif "map_key" in raw:
            self.shape = "map"
            self.key, self.value = Spec(raw["map_key"]), Spec(raw["map_value"])
        elif self.type == "tree_path":
            self.shape = "tree"
            self.depth = re.compile(raw["depth"])
            self.selected = raw["selected"]
        else:
            self.shape = "value"


class Market:
    def __init__(self, path: Path):
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        self.name = raw["name"]
        self.page_rules = [(rule["kind"], Condition(rule)) for rule in raw.get("page_kinds", [])]
        # Fields in name order, as the BTreeMap the Rust engine iterates.
        self.fields = {
            kind: [(name, Spec(specs[name])) for name in sorted(specs)]
            for kind, specs in raw.get("fields", {}).items()
        }
        self.links = [
            (link["kind"], css(link["selector"]),
             re.compile(link["href"]) if "href" in link else None, link.get("follow", True))
            for link in raw.get("links", [])
        ]
        self.generic_off = frozenset(raw.get("generic_off", []))


# ---- classification (classify.rs) ------------------------------------------------------------

X_META_REFRESH = css("meta[http-equiv]")
X_TITLE = css("title")
X_HEADINGS = css("title, h1, h2, h3")
X_BANNER_HEADINGS = css("title, h1, h2")
X_LINKS = css("a[href]")
X_PASSWORD = css("input[type=password i]")
X_CAPTCHA_INPUT = css(
    "input[name*=captcha i], img[src*=captcha i], img[alt*=captcha i], input[name*=challenge i]"
)
SEIZURE = re.compile(
    r"(?i)(this (hidden )?(site|service|marketplace|domain) has been seized|has been seized by|seized (by|pursuant to)|seizure warrant)")
GATE_WORDS = re.compile(
    r"(?i)(ddos|captcha|are you (a )?human|verify (that )?you are|anti-?bot|checking your browser|you are in (the )?queue|queue position|please wait.*(redirect|queue)|security check|solve the (following )?challenge)")
QUEUE_WORDS = re.compile(
    r"(?i)(you are in (the )?queue|queue position|position in (the )?queue|ddos protection|anti-?ddos)")
BANNED = re.compile(
    r"(?i)(you (have been|are|were) banned|your (account|ip|session) (has been|is) (banned|suspended|blocked)|account (banned|suspended))")
NOT_FOUND = re.compile(r"(?i)(\b404\b|not found|does not exist|no longer (exists|available))")
ERROR_WORDS = re.compile(
    r"(?i)(\berror\b|\b50[0234]\b|bad gateway|service unavailable|maintenance|internal server)")
PARCEL_WORDS = re.compile(
    r"(?i)(customs|package|parcel|order|shipment|reship|refund|letter|post(al)?\b|mail)")


def holds(cond: Condition, doc: parsel.Selector, source: str) -> bool:
    if cond.selector is not None:
        found = doc.xpath(cond.selector)
        if cond.text is not None:
            if not any(cond.text.search(element_text(el)) for el in found):
                return False
        elif not found:
            return False
    if cond.not_selector is not None and doc.xpath(cond.not_selector):
        return False
    if cond.title is not None:
        titles = doc.xpath(X_TITLE)
        if not cond.title.search(element_text(titles[0]) if titles else ""):
            return False
    if cond.html is not None and not cond.html.search(source):
        return False
    return True


def classify(doc: parsel.Selector, source: str, market: Market) -> str:
    root_text = "".join(doc.root.itertext())
    text_len = len(root_text.encode("utf-8"))  # bytes, as the Rust engine counts
    if not source.strip():
        return "error"
    for kind, cond in market.page_rules:
        if holds(cond, doc, source):
            return kind
    off = market.generic_off
    is_refresh = any(
        (m.root.get("http-equiv") or "").lower() == "refresh" for m in doc.xpath(X_META_REFRESH)
    )
    if "queue" not in off and is_refresh and text_len < 2000 and QUEUE_WORDS.search(root_text):
        return "captcha"
    if "redirect" not in off and is_refresh and text_len < 2000:
        return "redirect"
    headings = " | ".join(element_text(h) for h in doc.xpath(X_HEADINGS))
    if "seizure" not in off and text_len <= 20_000 and any(
        SEIZURE.search(t) and not PARCEL_WORDS.search(t)
        for t in (element_text(h) for h in doc.xpath(X_BANNER_HEADINGS))
    ) and len(doc.xpath(X_LINKS)) <= 25:
        return "seizure"
    has_password = bool(doc.xpath(X_PASSWORD))
    has_captcha = bool(doc.xpath(X_CAPTCHA_INPUT))
    ban_notice = bool(BANNED.search(headings)) or (text_len < 5000 and bool(BANNED.search(source)))
    if "banned" not in off and ban_notice and not has_captcha and not has_password:
        return "banned"
    if "captcha" not in off and not has_password and (
        GATE_WORDS.search(headings) or (has_captcha and text_len < 5000)
    ):
        return "captcha"
    if "login" not in off and has_password:
        return "login"
    if "banned" not in off and ban_notice:
        return "banned"
    if "not_found" not in off and NOT_FOUND.search(headings):
        return "not_found"
    if ("pgp_key" not in off and "-----BEGIN PGP PUBLIC KEY BLOCK-----" in source
            and text_len < 10_000):
        return "pgp_key"
    if "error" not in off and ERROR_WORDS.search(headings):
        return "error"
    return "unknown"


# ---- extraction (extract.rs) -----------------------------------------------------------------

class Run:
    """Counters of one page's extraction."""
    __slots__ = ("diagnostics",)

    def __init__(self):
        self.diagnostics = 0


def elements(root: parsel.Selector, spec: Spec) -> list:
    found = root.xpath(spec.selector) if spec.selector is not None else [root]
    if spec.label is not None:
        found = [
            sibling[0]
            for el in found
            if normalise_label(element_text(el)) == spec.label
            for sibling in (el.xpath("following-sibling::*[1]"),)
            if sibling
        ]
    if spec.inner is not None:
        found = [hit[0] for el in found for hit in (el.xpath(spec.inner),) if hit]
    if spec.filter is not None:
        found = [el for el in found if spec.filter.search(element_text(el))]
    if spec.skip_if is not None:
        descendant, anywhere = spec.skip_if
        matches = set(found[0].root.getroottree().xpath(anywhere)) if found else set()
        found = [el for el in found if el.root not in matches and not el.xpath(descendant)]
    return found


def convert(text: str, spec: Spec):
    t = spec.type
    if t in ("text", "tree_path", "count"):
        return text
    if t == "number":
        return parse_decimal(text.strip())
    if t == "integer":
        return read_integer(text)
    if t == "money":
        return parse_price(text)
    if t == "bool":
        return bool(spec.true_if.search(text))
    if t == "currency":
        code = text.strip().upper()
        if not code or not code.isascii() or not code.isalnum():
            raise Unreadable(f"{text[:120]!r} is not a currency code")
        return code
    if t == "url_path":
        return url_path(text.strip())
    raise ValueError(f"unknown type {t!r}")


def read_text(text: str, spec: Spec, run: Run) -> list:
    if spec.regex is not None:
        m = spec.regex.search(text)
        if m is None:
            run.diagnostics += 1
            return []
        captured = " ".join(g for g in m.groups() if g is not None) if m.re.groups else m.group(0)
    else:
        captured = text
    if spec.split is not None:
        parts = [p.strip() for p in captured.split(spec.split)]
        parts = [p for p in parts if p]
    else:
        parts = [captured]
    values = []
    for part in parts:
        if spec.null_if is not None and spec.null_if.search(part):
            values.append(None)
            continue
        if spec.value_map:
            for pattern, value in spec.value_map:
                if pattern.search(part):
                    part = value
                    break
            else:
                run.diagnostics += 1
                continue
        try:
            values.append(convert(part, spec))
        except Unreadable:
            run.diagnostics += 1
    return values


def read_pairs(text: str, spec: Spec, run: Run):
    out = {}
    for m in spec.pairs.finditer(text):
        key, value = m.group("key"), m.group("value")
        if key is None or value is None:
            continue
        try:
            out[key.strip()] = convert(value.strip(), spec)
        except Unreadable:
            run.diagnostics += 1
    if not out:
        run.diagnostics += 1
        return ABSENT
    return out


def tree_path(items: list, spec: Spec, run: Run):
    def depth_of(el):
        cls = el.root.get("class")
        if cls is None:
            return None
        m = spec.depth.search(cls)
        if m is None or m.group(1) is None:
            return None
        try:
            return int(m.group(1))
        except ValueError:
            return None

    current = next(
        (i for i, el in enumerate(items) if spec.selected in (el.root.get("class") or "").split()),
        None,
    )
    if current is None:
        if not spec.optional:
            run.diagnostics += 1
        return ABSENT
    want = depth_of(items[current])
    if want is None:
        run.diagnostics += 1
        return ABSENT
    chain = [items[current]]
    for el in reversed(items[:current]):
        if want == 0:
            break
        if depth_of(el) == want - 1:
            chain.append(el)
            want -= 1
    chain.reverse()
    names = []
    for el in chain:
        names.extend(read_text(element_text(el, False, spec.own_text), spec, run))
    return names


def extract_field(root: parsel.Selector, spec: Spec, run: Run):
    found = elements(root, spec)
    shape = spec.shape
    if shape == "records":
        if not found and not spec.optional:
            run.diagnostics += 1
            return ABSENT
        return [extract_fields(item, spec.fields, run) for item in found]
    if shape == "record":
        if not found:
            if not spec.optional:
                run.diagnostics += 1
            return ABSENT
        return extract_fields(found[0], spec.fields, run)
    if shape == "map":
        if not found and not spec.optional:
            run.diagnostics += 1
            return ABSENT
        out = {}
        for item in found:
            key = extract_field(item, spec.key, run)
            value = extract_field(item, spec.value, run)
            if isinstance(key, str) and value is not ABSENT:
                out[key] = value
        return out
    if shape == "tree":
        return tree_path(found, spec, run)
    # A single value, or a list of them.
    if spec.type == "count":
        return len(found)
    if not found:
        if spec.optional:
            return [] if spec.all or spec.split is not None else None
        run.diagnostics += 1
        return ABSENT
    values = []
    for el in (found if spec.all else found[:1]):
        if spec.attr is not None:
            value = el.root.get(spec.attr)
            if value is None:
                run.diagnostics += 1
                continue
            text = collapse(value)
        else:
            text = element_text(el, spec.raw, spec.own_text)
        if spec.pairs is not None:
            return read_pairs(text, spec, run)
        values.extend(read_text(text, spec, run))
    if spec.dedupe:
        kept = []
        for value in values:
            if value not in kept:
                kept.append(value)
        values = kept
    if spec.all or spec.split is not None:
        return values
    return values[0] if values else ABSENT


def extract_fields(root: parsel.Selector, specs: list, run: Run) -> dict:
    out = {}
    for name, spec in specs:
        value = extract_field(root, spec, run)
        if value is not ABSENT:
            out[name] = value
    return out


def find_links(doc: parsel.Selector, market: Market) -> list:
    seen = set()
    links = []
    for kind, xpath, href_re, follow in market.links:
        for el in doc.xpath(xpath):
            href = el.root.get("href")
            if href is None:
                continue
            href = href.strip()
            if not href or href.startswith("#") or href.startswith("javascript:"):
                continue
            if href_re is not None and not href_re.search(href):
                continue
            if (href, kind) in seen:
                continue
            seen.add((href, kind))
            links.append({"url": href, "kind": kind, "follow": follow})
    return links


def parse_page(html: str, market: Market) -> dict:
    """The whole engine on one page: parse, classify, extract, links."""
    doc = parsel.Selector(text=html)
    kind = classify(doc, html, market)
    run = Run()
    fields = {}
    specs = market.fields.get(kind)
    if specs:
        fields = extract_fields(doc, specs, run)
    links = find_links(doc, market)
    key = fields.get("pgp_key")
    if isinstance(key, str):
        try:
            fields["pgp_fingerprint"] = pgp_fingerprint(key)
        except (Unreadable, ValueError, IndexError, KeyError):
            run.diagnostics += 1
    return {"page_kind": kind, "fields": fields, "links": links, "diagnostics": run.diagnostics}


def bare_parse(html: str) -> parsel.Selector:
    return parsel.Selector(text=html)


# ---- corpus, benchmark -----------------------------------------------------------------------

def leaf_values(value) -> int:
    if isinstance(value, dict):
        return sum(leaf_values(v) for v in value.values())
    if isinstance(value, list):
        return sum(leaf_values(v) for v in value)
    return 1


def corpus_pages(corpus: Path, markets_dir: Path):
    """(market, name, html) for every page of every market folder with a definition."""
    markets = {}
    pages = []
    for market_dir in sorted(p for p in corpus.iterdir() if p.is_dir()):
        definition = markets_dir / f"{market_dir.name}.toml"
        if not definition.is_file():
            continue
        market = markets.setdefault(market_dir.name, Market(definition))
        for sub in ("pages", "unlabelled"):
            folder = market_dir / sub
            if not folder.is_dir():
                continue
            for path in sorted(p for p in folder.iterdir() if p.is_file()):
                html = path.read_bytes().decode("utf-8", errors="replace")
                pages.append((market, path.stem, html))
    return pages


def compare_golden(pages, golden: Path) -> None:
    """Where the peer's result differs from the Rust engine's golden output, page by page."""
    def norm(value):
        return json.loads(json.dumps(value))

    total = {"pages": 0, "kinds": 0, "fields": 0, "fields_rust": 0, "same": 0, "links": 0,
             "links_rust": 0}
    for market, name, html in pages:
        path = golden / market.name / f"{name}.json"
        if not path.is_file():
            print(f"  {market.name}/{name}: no golden file")
            continue
        want = json.loads(path.read_text(encoding="utf-8"))
        got = parse_page(html, market)
        total["pages"] += 1
        notes = []
        if got["page_kind"] != want["page_kind"]:
            notes.append(f"page kind {got['page_kind']} (Rust: {want['page_kind']})")
        else:
            total["kinds"] += 1
        got_fields, want_fields = norm(got["fields"]), want["fields"]
        total["fields"] += len(got_fields)
        total["fields_rust"] += len(want_fields)
        for field in sorted(set(got_fields) | set(want_fields)):
            if field not in got_fields:
                notes.append(f"{field}: missing")
            elif field not in want_fields:
                notes.append(f"{field}: extra")
            elif got_fields[field] != want_fields[field]:
                a, b = json.dumps(got_fields[field]), json.dumps(want_fields[field])
                notes.append(f"{field}: differs: {a[:100]} (Rust: {b[:100]})")
            else:
                total["same"] += 1
        got_links = {(l["url"], l["kind"]) for l in got["links"]}
        want_links = {(l["url"], l["kind"]) for l in want["links"]}
        total["links"] += len(got_links)
        total["links_rust"] += len(want_links)
        if got_links != want_links:
            notes.append(f"links: {len(got_links - want_links)} extra, "
                         f"{len(want_links - got_links)} missing of {len(want_links)}")
        status = "same" if not notes else "; ".join(notes)
        print(f"  {market.name}/{name}: {status}")
    print(f"compared with the golden outputs: page kinds {total['kinds']}/{total['pages']}, "
          f"fields {total['fields']} (Rust: {total['fields_rust']}), equal values "
          f"{total['same']}, links {total['links']} (Rust: {total['links_rust']})")


def main() -> int:
    here = Path(__file__).resolve().parents[3]  # the workspace: crates/dnmscope-parse/benches/..
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True,
                        help="a corpus in SCHEMA.md's layout (<market>/pages, <market>/unlabelled)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--markets", type=Path, default=here / "config" / "markets",
                        help="the folder of market definitions (default: config/markets)")
    parser.add_argument("--compare-golden", type=Path, metavar="DIR",
                        help="first compare one pass with the Rust engine's golden outputs "
                             "(crates/dnmscope-parse/test_data/golden)")
    args = parser.parse_args()

    pages = corpus_pages(args.corpus, args.markets)
    if not pages:
        print(f"no pages under {args.corpus} for the definitions in {args.markets}",
              file=sys.stderr)
        return 1
    if args.compare_golden:
        compare_golden(pages, args.compare_golden)

    megabytes = sum(len(html.encode("utf-8")) for _, _, html in pages) / 1e6
    engine_seconds = bare_seconds = 0.0
    fields = values = links = diagnostics = elements_built = 0
    kinds: dict[str, int] = {}
    clock = time.process_time
    for _ in range(args.rounds):
        for market, _name, html in pages:
            start = clock()
            result = parse_page(html, market)
            engine_seconds += clock() - start
            fields += len(result["fields"])
            values += leaf_values(result["fields"])
            links += len(result["links"])
            diagnostics += result["diagnostics"]
            kinds[result["page_kind"]] = kinds.get(result["page_kind"], 0) + 1
        for _market, _name, html in pages:
            start = clock()
            doc = bare_parse(html)
            bare_seconds += clock() - start
            elements_built += sum(1 for _ in doc.root.iter())  # untimed
    parsed = len(pages) * args.rounds
    print(
        f"parsel peer: parsed {len(pages)} pages ({megabytes:.1f} MB) x {args.rounds} rounds in "
        f"{engine_seconds:.2f} CPU seconds: {parsed / max(engine_seconds, 1e-9):.0f} pages per "
        f"CPU second, {megabytes * args.rounds / max(engine_seconds, 1e-9):.1f} MB/s "
        f"({fields} fields, {values} values, {links} links, {diagnostics} diagnostics)"
    )
    print(
        f"parsel peer, tree building alone (parsel.Selector(text=html), lxml/libxml2, no query): "
        f"{len(pages)} pages x {args.rounds} rounds in {bare_seconds:.2f} CPU seconds: "
        f"{parsed / max(bare_seconds, 1e-9):.0f} pages per CPU second ({elements_built} "
        f"elements); the peer engine takes {engine_seconds / max(bare_seconds, 1e-9):.2f}x its time"
    )
    per_kind = ", ".join(f"{kind} {count // args.rounds}" for kind, count in sorted(kinds.items()))
    print(f"page kinds per round: {per_kind}")
    print(f"parsel {parsel.__version__}, Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
