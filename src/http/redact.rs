//! Keeps secrets out of error text: every secret an account's requests carry (and
//! the forms it takes on the wire: Basic base64, form encoding, access tokens as
//! they are issued) is registered here, and error text is scrubbed before anyone
//! logs or stores it, even when a vendor echoes a request back.

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use std::sync::RwLock;

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";
/// Stored error text is cut to about this many bytes.
pub const MAX_ERROR_BYTES: usize = 2048;
/// Shorter strings are not secrets worth scrubbing: replacing them would garble
/// every message (no vendor issues credentials this short).
const MIN_SECRET_LEN: usize = 6;
/// Issued tokens kept for scrubbing (a daemon renews one a day or so).
const MAX_TOKENS: usize = 64;

/// The secrets of one account.
#[derive(Default)]
pub struct Redactor {
    fixed: RwLock<Vec<SecretString>>,
    tokens: RwLock<Vec<SecretString>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor([redacted])")
    }
}

fn forms(secret: &str) -> Vec<String> {
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json.trim_matches('"').to_owned();
    // Some encoders also escape `/`.
    let slashed = json.replace('/', "\\/");
    let mut out = vec![secret.to_owned(), encoded, b64, json, slashed];
    out.sort();
    out.dedup();
    // A secret inside the marker itself would be "found" again after scrubbing.
    out.retain(|s| s.len() >= MIN_SECRET_LEN && !REDACTED.contains(s.as_str()));
    out
}

impl Redactor {
    /// Registers a credential (and its encoded forms) for the account's lifetime.
    pub fn add(&self, secret: &str) {
        let mut fixed = self.fixed.write().unwrap_or_else(|p| p.into_inner());
        for f in forms(secret) {
            if !fixed.iter().any(|k| k.expose_secret() == f) {
                fixed.push(f.into());
            }
        }
    }

    /// Registers a `user:password` pair sent as HTTP Basic: each half and the
    /// base64 of the pair.
    pub fn add_basic(&self, user: &str, password: &str) {
        self.add(user);
        self.add(password);
        self.add(&format!("{user}:{password}"));
    }

    /// Registers an access token the vendor issued (the newest few are kept).
    pub fn add_token(&self, token: &str) {
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        for f in forms(token) {
            if !tokens.iter().any(|k| k.expose_secret() == f) {
                tokens.push(f.into());
            }
        }
        let extra = tokens.len().saturating_sub(MAX_TOKENS * 4);
        tokens.drain(..extra);
    }

    /// `text` with every registered secret replaced by `[redacted]`, longest first
    /// (so a secret inside another's base64 never leaves a fragment).
    pub fn scrub(&self, text: &str) -> String {
        let fixed = self.fixed.read().unwrap_or_else(|p| p.into_inner());
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<&str> = fixed
            .iter()
            .chain(tokens.iter())
            .map(|s| s.expose_secret())
            .collect();
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut out = text.to_owned();
        for s in all {
            if out.contains(s) {
                out = out.replace(s, REDACTED);
            }
        }
        out
    }

    /// [`Redactor::scrub`], then cut to [`MAX_ERROR_BYTES`]: the form in which
    /// error text is logged and stored.
    pub fn for_the_record(&self, text: &str) -> String {
        cap(&self.scrub(text), MAX_ERROR_BYTES)
    }
}

/// `text` cut at a character boundary to at most about `max` bytes, saying how
/// much was left out.
pub fn cap(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &text[..end], text.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn secrets_and_their_wire_forms_are_scrubbed() {
        let r = Redactor::default();
        r.add_basic("key-123456", "s3cr3t/+=value");
        r.add_token("tok_ABCDEFGH");
        let basic = base64::engine::general_purpose::STANDARD.encode("key-123456:s3cr3t/+=value");
        let text = format!(
            "500: echo Authorization: Basic {basic}; body client_secret=s3cr3t%2F%2B%3Dvalue; Bearer tok_ABCDEFGH; raw s3cr3t/+=value; json \"s3cr3t\\/+=value\""
        );
        let out = r.scrub(&text);
        for leak in [
            basic.as_str(),
            "s3cr3t",
            "tok_ABCDEFGH",
            "key-123456",
            "%2F%2B",
        ] {
            assert!(!out.contains(leak), "{leak} in {out}");
        }
        assert!(out.contains("Basic [redacted]"), "{out}");
    }

    #[test]
    fn short_strings_are_not_treated_as_secrets() {
        let r = Redactor::default();
        r.add("ab");
        assert_eq!(r.scrub("ab cab"), "ab cab");
    }

    #[test]
    fn only_the_newest_tokens_are_kept() {
        let r = Redactor::default();
        for i in 0..1000 {
            r.add_token(&format!("token-number-{i:04}"));
        }
        assert!(r.tokens.read().unwrap().len() <= MAX_TOKENS * 4);
        assert_eq!(r.scrub("token-number-0999"), REDACTED);
    }

    #[test]
    fn debug_shows_nothing() {
        let r = Redactor::default();
        r.add("supersecret");
        assert!(!format!("{r:?}").contains("supersecret"));
    }

    proptest! {
        #[test]
        fn cap_keeps_a_prefix_at_a_char_boundary(s in "\\PC{0,3000}", max in 0usize..2500) {
            let out = cap(&s, max);
            if s.len() <= max {
                prop_assert_eq!(out, s);
            } else {
                let kept = out.split("… (").next().unwrap();
                prop_assert!(s.starts_with(kept) && kept.len() <= max);
            }
        }

        #[test]
        fn a_registered_secret_never_survives(secret in "[A-Za-z0-9_.-]{6,40}", pad in "[ -~]{0,40}") {
            let r = Redactor::default();
            r.add(&secret);
            let out = r.scrub(&format!("{pad}{secret}{pad}"));
            prop_assert!(!out.contains(&secret), "{}", out);
        }
    }
}
