//! Webhook signatures, checked against the raw body before anything of it is parsed, in
//! constant time (`hmac`'s `verify_slice`), as each tracker signs:
//!
//! - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>` (GitHub docs,
//!   "Validating webhook deliveries"); delivery id `X-GitHub-Delivery`, event
//!   `X-GitHub-Event`.
//! - Gitea: `X-Gitea-Signature: <hex>`; `X-Gitea-Delivery`, `X-Gitea-Event` (Gitea docs,
//!   "Webhooks").
//! - Forgejo: `X-Forgejo-Signature` (it sends the `X-Gitea-*` ones too); `X-Forgejo-Delivery`,
//!   `X-Forgejo-Event`.
//! - Plane: `X-Plane-Signature: <hex>`; `X-Plane-Delivery`, `X-Plane-Event` (Plane developer
//!   docs, "Webhooks").

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::intake::SourceKind;

/// The headers a tracker's delivery is read by: signature, delivery id, event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headers {
    /// The signature's header.
    pub signature: &'static str,
    /// The delivery id's header.
    pub delivery: &'static str,
    /// The event name's header.
    pub event: &'static str,
}

/// `kind`'s headers, in the lower case HTTP/2 and axum use.
pub fn headers(kind: SourceKind) -> &'static [Headers] {
    match kind {
        SourceKind::Github => &[Headers {
            signature: "x-hub-signature-256",
            delivery: "x-github-delivery",
            event: "x-github-event",
        }],
        SourceKind::Gitea => &[Headers {
            signature: "x-gitea-signature",
            delivery: "x-gitea-delivery",
            event: "x-gitea-event",
        }],
        SourceKind::Forgejo => &[
            Headers {
                signature: "x-forgejo-signature",
                delivery: "x-forgejo-delivery",
                event: "x-forgejo-event",
            },
            Headers {
                signature: "x-gitea-signature",
                delivery: "x-gitea-delivery",
                event: "x-gitea-event",
            },
        ],
        SourceKind::Plane => &[Headers {
            signature: "x-plane-signature",
            delivery: "x-plane-delivery",
            event: "x-plane-event",
        }],
    }
}

/// Whether `signature` (the header's value as sent) signs `body` with `secret`, as `kind`
/// signs. A malformed value is no signature.
pub fn verify(kind: SourceKind, signature: &str, body: &[u8], secret: &[u8]) -> bool {
    let hex = match kind {
        SourceKind::Github => match signature.trim().strip_prefix("sha256=") {
            Some(h) => h,
            None => return false,
        },
        _ => signature.trim(),
    };
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// `body` signed with `secret` as `kind` signs it: the signature header's value.
pub fn sign(kind: SourceKind, body: &[u8], secret: &[u8]) -> String {
    let hex = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            mac.finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        }
        Err(_) => String::new(),
    };
    match kind {
        SourceKind::Github => format!("sha256={hex}"),
        _ => hex,
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn githubs_documented_example_and_tampering() {
        // GitHub docs, "Validating webhook deliveries": secret "It's a Secret to Everybody",
        // payload "Hello, World!".
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let secret = b"It's a Secret to Everybody";
        assert!(verify(SourceKind::Github, sig, b"Hello, World!", secret));
        assert_eq!(sign(SourceKind::Github, b"Hello, World!", secret), sig);
        assert!(!verify(SourceKind::Github, sig, b"Hello, World?", secret));
        assert!(!verify(SourceKind::Github, sig, b"Hello, World!", b"guess"));
        assert!(!verify(
            SourceKind::Github,
            &sig[7..],
            b"Hello, World!",
            secret
        ));
        assert!(!verify(SourceKind::Github, "sha256=zz", b"x", secret));
        let plain = &sig[7..];
        for kind in [SourceKind::Gitea, SourceKind::Forgejo, SourceKind::Plane] {
            assert!(verify(kind, plain, b"Hello, World!", secret), "{kind:?}");
            assert!(!verify(kind, sig, b"Hello, World!", secret), "{kind:?}");
        }
    }
}
