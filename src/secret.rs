//! Run tokens: made from the kernel's CSPRNG, given to the agent through its environment
//! only, and stored as a SHA-256 hash, never in clear (ARCHITECTURE.md, Invariants: "everything an agent writes is hostile").

use sha2::{Digest, Sha256};

/// A fresh run token: 16 bytes from the kernel's CSPRNG, as 32 hex digits.
///
/// # Errors
/// The I/O error if `/dev/urandom` cannot be read.
pub fn new_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(hex(&bytes))
}

/// The hash bosun stores and compares for `token`: SHA-256, as 64 hex digits.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// True when `token` hashes to `stored` (a [`token_hash`]), compared in time independent of
/// where the hashes differ.
pub fn token_matches(token: &str, stored: &str) -> bool {
    same(&token_hash(token), stored)
}

/// Compares two strings in time independent of where they differ (not of their lengths).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_checked_by_hash() {
        let a = new_token().expect("token");
        let b = new_token().expect("token");
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        let h = token_hash(&a);
        assert_eq!(h.len(), 64);
        assert!(!h.contains(&a));
        assert!(token_matches(&a, &h));
        assert!(!token_matches(&b, &h));
        assert!(!token_matches("", &h));
        assert!(!same(&h, &h[..63]));
    }
}
