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

/// A generated public key: fingerprint (lower-case hex) and armored block.
pub struct GeneratedKey {
    pub fingerprint: String,
    pub armored: String,
}

/// Generates a key for `user_id` created at `created` (seconds since 1970).
pub fn generate<R: Rng + CryptoRng>(
    rng: &mut R,
    user_id: &str,
    created: u32,
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
    let key = SignedPublicKey::new(
        public,
        SignedKeyDetails::new(
            vec![],
            vec![],
            vec![SignedUser::new(user, vec![signature])],
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
            generate(&mut rng, "greenleaf <greenleaf@nightshade>", 1_550_000_000).unwrap()
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
}
