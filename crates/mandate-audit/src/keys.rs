//! Ed25519 key helpers. Keys are 32-byte seeds (the RFC 8032 secret key) in hex.

use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::canonical::{from_hex, to_hex};

/// Errors of the key helpers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not 64 hex digits.
    #[error("an Ed25519 key is 64 hex digits (32 bytes)")]
    InvalidHex,
    /// The bytes are not a valid Ed25519 public key.
    #[error("not a valid Ed25519 public key")]
    InvalidPublicKey,
    /// The operating system's random source failed.
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(String),
}

/// Parses a signing key (32-byte seed) from 64 hex digits; surrounding whitespace (such as the
/// newline at the end of a key file) is ignored.
///
/// # Errors
///
/// [`KeyError::InvalidHex`].
pub fn signing_key_from_hex(text: &str) -> Result<[u8; 32], KeyError> {
    from_hex::<32>(text.trim(), true).ok_or(KeyError::InvalidHex)
}

/// Parses a public key from 64 hex digits (surrounding whitespace ignored) and checks that it is
/// a valid Ed25519 point.
///
/// # Errors
///
/// [`KeyError::InvalidHex`], [`KeyError::InvalidPublicKey`].
pub fn public_key_from_hex(text: &str) -> Result<[u8; 32], KeyError> {
    let bytes = from_hex::<32>(text.trim(), true).ok_or(KeyError::InvalidHex)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::InvalidPublicKey)?;
    Ok(bytes)
}

/// The public key of a signing key seed.
pub fn public_key(seed: &[u8; 32]) -> [u8; 32] {
    SigningKey::from_bytes(seed).verifying_key().to_bytes()
}

/// The public key of a signing key seed, as 64 lowercase hex digits.
pub fn public_key_hex(seed: &[u8; 32]) -> String {
    to_hex(&public_key(seed))
}

/// Lowercase hex of a key (seed or public key), the form the `*_from_hex` functions read.
pub fn key_to_hex(key: &[u8; 32]) -> String {
    to_hex(key)
}

/// A new random signing key seed from the operating system's random source.
///
/// # Errors
///
/// [`KeyError::Random`] when the random source fails.
pub fn generate_key() -> Result<[u8; 32], KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|err| KeyError::Random(err.to_string()))?;
    Ok(seed)
}
