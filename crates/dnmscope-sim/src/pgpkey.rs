//! Real OpenPGP keys for simulated vendors, generated deterministically.
//!
//! Each key is an ed25519 (EdDSA legacy, as GnuPG makes them) primary key with
//! one user ID and a positive self-certification, so gpg and the `pgp` crate
//! accept it and compute the same fingerprint. The `pgp` crate stamps
//! signatures with the wall clock, so the self-signature is built here with
//! the key's own creation time instead: same seed, same armored block.

use pgp::composed::{
    ArmorOptions, KeyType, SecretKeyParamsBuilder, SignedKeyDetails, SignedPublicKey,
};
use pgp::packet::{KeyFlags, SignatureConfig, SignatureType, Subpacket, SubpacketData, UserId};
use pgp::types::{KeyDetails, Password, SignedUser, SigningKey, Tag, Timestamp};
use rand::{CryptoRng, Rng};

use crate::error::SimError;

/// A generated key: fingerprint (lower-case hex), armored public block, and the secret primary
/// key (kept by the generator only, to certify a later key with it).
pub struct GeneratedKey {
    pub fingerprint: String,
    pub armored: String,
    pub secret: pgp::packet::SecretKey,
}

/// Generates a key for `user_id` created at `created` (seconds since 1970), its user id also
/// certified by `certifier` when given (a rotation signed by the old key).
pub fn generate<R: Rng + CryptoRng>(
    rng: &mut R,
    user_id: &str,
    created: u32,
    certifier: Option<&pgp::packet::SecretKey>,
) -> Result<GeneratedKey, SimError> {
    let context = |what: &'static str| {
        move |source: pgp::errors::Error| SimError::Pgp {
            what,
            user_id: user_id.to_owned(),
            message: source.to_string(),
        }
    };
    let created = Timestamp::from_secs(created);
    let params = SecretKeyParamsBuilder::default()
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(true)
        .primary_user_id(user_id.to_owned())
        .created_at(created)
        .build()
        .map_err(|source| SimError::Pgp {
            what: "describing the key",
            user_id: user_id.to_owned(),
            message: source.to_string(),
        })?;
    let secret = params
        .generate(&mut *rng)
        .map_err(context("generating the key"))?;
    let signer = &secret.primary_key;
    let public = signer.public_key().clone();

    let user =
        UserId::from_str(Default::default(), user_id).map_err(context("writing the user id"))?;
    let mut flags = KeyFlags::default();
    flags.set_certify(true);
    flags.set_sign(true);
    let mut config = SignatureConfig::v4(
        SignatureType::CertPositive,
        public.algorithm(),
        signer.hash_alg(),
    );
    config.hashed_subpackets = vec![
        Subpacket::regular(SubpacketData::SignatureCreationTime(created))
            .map_err(context("stamping the signature"))?,
        Subpacket::regular(SubpacketData::IssuerFingerprint(public.fingerprint()))
            .map_err(context("naming the issuer"))?,
        Subpacket::regular(SubpacketData::KeyFlags(flags)).map_err(context("setting key flags"))?,
    ];
    config.unhashed_subpackets =
        vec![
            Subpacket::regular(SubpacketData::IssuerKeyId(public.legacy_key_id()))
                .map_err(context("naming the issuer key id"))?,
        ];
    let signature = config
        .sign_certification(signer, &public, &Password::empty(), Tag::UserId, &user)
        .map_err(context("self-certifying the user id"))?;
    let mut signatures = vec![signature];
    if let Some(old) = certifier {
        let old_public = old.public_key();
        let mut config = SignatureConfig::v4(
            SignatureType::CertGeneric,
            old_public.algorithm(),
            old.hash_alg(),
        );
        config.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::SignatureCreationTime(created))
                .map_err(context("stamping the certification"))?,
            Subpacket::regular(SubpacketData::IssuerFingerprint(old_public.fingerprint()))
                .map_err(context("naming the certifier"))?,
        ];
        config.unhashed_subpackets =
            vec![
                Subpacket::regular(SubpacketData::IssuerKeyId(old_public.legacy_key_id()))
                    .map_err(context("naming the certifier's key id"))?,
            ];
        signatures.push(
            config
                .sign_certification(old, &public, &Password::empty(), Tag::UserId, &user)
                .map_err(context("certifying the user id with the old key"))?,
        );
    }
    let key = SignedPublicKey::new(
        public,
        SignedKeyDetails::new(
            vec![],
            vec![],
            vec![SignedUser::new(user, signatures)],
            vec![],
        ),
        vec![],
    );
    let armored = key
        .to_armored_string(ArmorOptions::default())
        .map_err(context("armoring the key"))?;
    Ok(GeneratedKey {
        fingerprint: hex::encode(key.fingerprint().as_bytes()),
        armored,
        secret: signer.clone(),
    })
}

#[cfg(test)]
mod tests {
    use pgp::composed::Deserializable;
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn keys_are_real_and_deterministic() {
        let make = || {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
            generate(
                &mut rng,
                "greenleaf <greenleaf@nightshade>",
                1_550_000_000,
                None,
            )
            .unwrap()
        };
        let first = make();
        let second = make();
        assert_eq!(first.armored, second.armored);
        assert!(first
            .armored
            .starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"));
        assert_eq!(first.fingerprint.len(), 40);

        let (parsed, _) = SignedPublicKey::from_string(&first.armored).unwrap();
        parsed.verify_bindings().unwrap();
        assert_eq!(
            hex::encode(parsed.fingerprint().as_bytes()),
            first.fingerprint
        );
    }

    #[test]
    fn a_new_key_can_carry_the_old_keys_certification() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let old = generate(&mut rng, "greenleaf", 1_550_000_000, None).unwrap();
        let new = generate(&mut rng, "gr33nleaf", 1_560_000_000, Some(&old.secret)).unwrap();
        let (parsed, _) = SignedPublicKey::from_string(&new.armored).unwrap();
        let signatures = &parsed.details.users[0].signatures;
        // The self-certification verifies with the new key (`verify_bindings` would take every
        // signature on the user id for a self-certification).
        signatures[0]
            .verify_certification(
                &parsed.primary_key,
                Tag::UserId,
                &parsed.details.users[0].id,
            )
            .unwrap();
        assert_eq!(signatures.len(), 2);
        let issuers: Vec<String> = signatures
            .iter()
            .flat_map(|s| s.issuer_fingerprint())
            .map(|f| hex::encode(f.as_bytes()))
            .collect();
        assert_eq!(
            issuers,
            vec![new.fingerprint.clone(), old.fingerprint.clone()]
        );
        // The certification verifies with the old key.
        let (old_parsed, _) = SignedPublicKey::from_string(&old.armored).unwrap();
        signatures[1]
            .verify_third_party_certification(
                &parsed.primary_key,
                &old_parsed.primary_key,
                Tag::UserId,
                &parsed.details.users[0].id,
            )
            .unwrap();
    }
}
