//! PGP public key blocks to fingerprints, as gpg prints them (lower-case hex).

use dnmscope_model::PgpFingerprint;
use pgp::composed::{Deserializable, SignedPublicKey};
use pgp::types::KeyDetails;

use super::Unreadable;

/// The fingerprint of the primary key of the first armored public key block in `text`.
///
/// Text around the block (a profile's prose, HTML entities already decoded) is ignored.
pub fn pgp_fingerprint(text: &str) -> Result<PgpFingerprint, Unreadable> {
    pgp_key_facts(text).map(|(fingerprint, _)| fingerprint)
}

/// The key's fingerprint and the fingerprints of the other keys that certified its user ids
/// (issuer fingerprints of third-party signatures; a signature naming only a key id, or the key
/// itself, is not counted), sorted and without repeats.
pub fn pgp_key_facts(text: &str) -> Result<(PgpFingerprint, Vec<PgpFingerprint>), Unreadable> {
    let unreadable = |reason: String| Unreadable::new("PGP key", clip(text), reason);
    const BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
    const END: &str = "-----END PGP PUBLIC KEY BLOCK-----";
    let start = text
        .find(BEGIN)
        .ok_or_else(|| unreadable("there is no public key block".into()))?;
    let end = text[start..]
        .find(END)
        .map(|i| start + i + END.len())
        .ok_or_else(|| unreadable("the key block has no end line".into()))?;
    // Markets often lose the blank line after the headers or indent lines; rebuild the armor.
    let block = rebuild_armor(&text[start..end]);
    let (key, _headers) = SignedPublicKey::from_string(&block)
        .map_err(|err| unreadable(format!("the key block does not parse: {err}")))?;
    let own = key.fingerprint();
    let fingerprint =
        PgpFingerprint::new(&hex(own.as_bytes())).map_err(|err| unreadable(err.to_string()))?;
    let mut certifiers: Vec<PgpFingerprint> = key
        .details
        .users
        .iter()
        .flat_map(|user| &user.signatures)
        .flat_map(|signature| signature.issuer_fingerprint())
        .filter(|issuer| **issuer != own)
        .filter_map(|issuer| PgpFingerprint::new(&hex(issuer.as_bytes())).ok())
        .collect();
    certifiers.sort();
    certifiers.dedup();
    Ok((fingerprint, certifiers))
}

fn clip(text: &str) -> &str {
    let mut end = text.len().min(80);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The armor with trimmed lines, headers kept, and the blank line after them restored.
fn rebuild_armor(block: &str) -> String {
    let lines: Vec<&str> = block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut out = String::new();
    let mut rest = lines.iter().peekable();
    if let Some(begin) = rest.next() {
        out.push_str(begin);
        out.push('\n');
    }
    while let Some(header) = rest.next_if(|l| l.contains(": ")) {
        out.push_str(header);
        out.push('\n');
    }
    out.push('\n');
    for line in rest {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{expect, Expect};

    fn check(text: &str, expect: Expect) {
        let actual = match pgp_fingerprint(text) {
            Ok(fingerprint) => fingerprint.to_string(),
            Err(err) => err.to_string(),
        };
        expect.assert_eq(&actual);
    }

    /// A real vendor key from the corpus (Empire's `saved_empire_pgp_0` page), public data.
    const KEY: &str = include_str!("../../test_data/pgp/vendor_key.asc");

    #[test]
    fn fingerprints_match_gpg() {
        // `gpg --show-keys` prints 2BB2515C0C6EA79F307A1DD5BA14BEA457B5C180 for this key.
        check(KEY, expect!["2bb2515c0c6ea79f307a1dd5ba14bea457b5c180"]);
        // Indented, as it sits in a profile's <pre>, and without the blank line.
        let indented: String = KEY
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("   {l}\n"))
            .collect();
        check(
            &format!("My key:\n{indented}\nthanks"),
            expect!["2bb2515c0c6ea79f307a1dd5ba14bea457b5c180"],
        );
        check(
            "no key here",
            expect![[r#"cannot read PGP key from "no key here": there is no public key block"#]],
        );
        check(
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot base64\n-----END PGP PUBLIC KEY BLOCK-----",
            expect![[r#"cannot read PGP key from "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot base64\n-----END PGP PUBLIC KEY BLOCK--": the key block does not parse: IO error: failed reading: armor footer Error(Error { input: [110, 111, 116, 32, 98, 97, 115, 101, 54, 52, 10, 45, 45, 45, 45, 45, 69, 78, 68, 32, 80, 71, 80, 32, 80, 85, 66, 76, 73, 67, 32, 75, 69, 89, 32, 66, 76, 79, 67, 75, 45, 45, 45, 45, 45, 10], code: Tag })"#]],
        );
    }
}
