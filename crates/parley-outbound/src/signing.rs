//! Standard Webhooks 1.0 signatures (protocol.md §12): the secret is
//! `whsec_` and the base64 of 24 to 64 random bytes; a delivery carries
//! `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,BASE64`,
//! the HMAC-SHA256 of `id.timestamp.body` keyed with the decoded bytes.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// A webhook's (or the push gateway's) signing secret.
#[derive(Clone)]
pub struct SigningKey {
    bytes: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// `whsec_` and the base64 of 24 to 64 bytes, or `None`.
    pub fn parse(secret: &str) -> Option<SigningKey> {
        let bytes = STANDARD.decode(secret.strip_prefix(PREFIX)?).ok()?;
        (24..=64)
            .contains(&bytes.len())
            .then_some(SigningKey { bytes })
    }

    /// 32 random bytes.
    pub fn generate() -> SigningKey {
        let mut bytes = vec![0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        SigningKey { bytes }
    }

    /// The secret as it is stored and shown once.
    pub fn encoded(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.bytes))
    }

    /// A URL-safe tag for `value` in `purpose` (an unsubscribe link's
    /// token): the HMAC-SHA256 of `purpose:value`, base64url.
    pub fn tag(&self, purpose: &str, value: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.bytes) else {
            return String::new();
        };
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(value.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `tag` is [`tag`](Self::tag)'s for `value`, compared in
    /// constant time.
    pub fn verify_tag(&self, purpose: &str, value: &str, tag: &str) -> bool {
        let Ok(given) = URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.bytes) else {
            return false;
        };
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(value.as_bytes());
        mac.verify_slice(&given).is_ok()
    }

    /// The `webhook-signature` value for one attempt.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes keys of any length; `new_from_slice` cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.bytes) else {
            return String::new();
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }

    /// The three headers of one signed attempt at `timestamp` (Unix seconds).
    pub fn headers(&self, id: &str, timestamp: i64, body: &[u8]) -> [(&'static str, String); 3] {
        [
            ("webhook-id", id.to_string()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", self.sign(id, timestamp, body)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // The example of the Standard Webhooks specification (and of the
        // Svix libraries' tests).
        let key = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid");
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            key.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn tags_verify_only_for_their_value_and_purpose() {
        let key = SigningKey::generate();
        let tag = key.tag("unsubscribe", "usr_1");
        assert!(key.verify_tag("unsubscribe", "usr_1", &tag));
        assert!(!key.verify_tag("unsubscribe", "usr_2", &tag));
        assert!(!key.verify_tag("other", "usr_1", &tag));
        assert!(!SigningKey::generate().verify_tag("unsubscribe", "usr_1", &tag));
        assert!(!key.verify_tag("unsubscribe", "usr_1", "not base64!"));
        assert!(!tag.contains(['+', '/', '=']));
    }

    #[test]
    fn secrets_are_whsec_and_24_to_64_bytes() {
        let b64 = |n: usize| format!("whsec_{}", STANDARD.encode(vec![7u8; n]));
        assert!(SigningKey::parse(&b64(24)).is_some());
        assert!(SigningKey::parse(&b64(64)).is_some());
        assert!(SigningKey::parse(&b64(23)).is_none());
        assert!(SigningKey::parse(&b64(65)).is_none());
        assert!(
            SigningKey::parse(&b64(32)[6..]).is_none(),
            "prefix required"
        );
        assert!(SigningKey::parse("whsec_not base64!").is_none());
        let g = SigningKey::generate();
        assert_eq!(
            SigningKey::parse(&g.encoded()).map(|k| k.bytes.len()),
            Some(32)
        );
    }
}
