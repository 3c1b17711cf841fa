//! Web Push requests (protocol.md §12; RFC 8030, RFC 8291, RFC 8292): the
//! server's VAPID key, the checks of a subscription's keys, the
//! `aes128gcm` body (one record, by `web-push-native`) and the
//! `Authorization: vapid` header. Sending is [`crate::Outbound::post`]'s,
//! like every other outbound call.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand::RngCore;
use sha2::{Digest, Sha256};
use url::Url;

/// How long a VAPID token is valid (RFC 8292 allows at most 24 h).
pub const VAPID_VALIDITY_SECS: i64 = 12 * 3600;

/// Base64url, with or without padding (browsers send it without; some
/// libraries add it).
fn decode(raw: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')).ok()
}

/// The server's VAPID key pair (P-256).
#[derive(Clone)]
pub struct VapidKey {
    signing: SigningKey,
}

impl std::fmt::Debug for VapidKey {
    /// The private half never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VapidKey({})", self.public_key())
    }
}

impl VapidKey {
    pub fn generate() -> VapidKey {
        loop {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            // Out of range (about 2^-32 of the time): draw again.
            if let Ok(signing) = SigningKey::from_slice(&bytes) {
                return VapidKey { signing };
            }
        }
    }

    /// The stored form: base64url of the 32-byte private scalar.
    pub fn encoded(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.signing.to_bytes())
    }

    pub fn from_encoded(raw: &str) -> Option<VapidKey> {
        let bytes = decode(raw)?;
        SigningKey::from_slice(&bytes)
            .ok()
            .map(|signing| VapidKey { signing })
    }

    /// The public key, uncompressed (65 bytes), base64url without padding:
    /// the browser's `applicationServerKey` and the header's `k`.
    pub fn public_key(&self) -> String {
        let point = self.signing.verifying_key().to_encoded_point(false);
        URL_SAFE_NO_PAD.encode(point.as_bytes())
    }

    /// `vapid t=JWT, k=KEY` for a request to `endpoint`: an ES256 JWT with
    /// `aud` the endpoint's origin, `exp` [`VAPID_VALIDITY_SECS`] after
    /// `now_secs` and `sub` the operator's contact.
    pub fn authorization(&self, endpoint: &Url, subject: &str, now_secs: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": origin(endpoint),
            "exp": now_secs + VAPID_VALIDITY_SECS,
            "sub": subject,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let signature: Signature = self.signing.sign(signed.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(signature.to_bytes());
        format!("vapid t={signed}.{signature}, k={}", self.public_key())
    }
}

/// `scheme://host[:port]` (the port only when it is not the scheme's
/// default), as RFC 8292 wants for `aud`.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// A subscription's `p256dh`: an uncompressed point on P-256.
pub fn parse_p256dh(raw: &str) -> Option<p256::PublicKey> {
    let bytes = decode(raw)?;
    if bytes.len() != 65 || bytes[0] != 4 {
        return None;
    }
    p256::PublicKey::from_sec1_bytes(&bytes).ok()
}

/// A subscription's `auth`: exactly 16 bytes.
pub fn parse_auth(raw: &str) -> Option<[u8; 16]> {
    decode(raw)?.try_into().ok()
}

#[derive(Debug, thiserror::Error)]
pub enum WebPushError {
    #[error("the subscription's keys are not valid")]
    BadKeys,
    #[error("encryption failed: {0}")]
    Encrypt(String),
}

/// The `aes128gcm` body of `plaintext` for the subscription's keys (RFC
/// 8291: one record, a fresh salt and sender key each time).
pub fn encrypt(plaintext: &[u8], p256dh: &str, auth: &str) -> Result<Vec<u8>, WebPushError> {
    let key = parse_p256dh(p256dh).ok_or(WebPushError::BadKeys)?;
    let auth = parse_auth(auth).ok_or(WebPushError::BadKeys)?;
    let auth = web_push_native::Auth::from(auth);
    web_push_native::encrypt(plaintext.to_vec(), &key, &auth)
        .map_err(|e| WebPushError::Encrypt(e.to_string()))
}

/// The `Topic` of every push about one conversation: 32 base64url
/// characters (RFC 8030 allows at most 32), derived from its id.
pub fn topic(conversation_id: &str) -> String {
    let digest = Sha256::digest(conversation_id.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..24])
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;
    use p256::elliptic_curve::sec1::ToEncodedPoint;

    #[test]
    fn key_round_trips_and_public_key_is_an_uncompressed_point() {
        let k = VapidKey::generate();
        let again = VapidKey::from_encoded(&k.encoded()).expect("parses");
        assert_eq!(k.public_key(), again.public_key());
        let public = decode(&k.public_key()).expect("base64url");
        assert_eq!(public.len(), 65);
        assert!(parse_p256dh(&k.public_key()).is_some());
        assert!(VapidKey::from_encoded("nope!").is_none());
    }

    #[test]
    fn authorization_is_a_verifiable_es256_jwt_for_the_origin() {
        let k = VapidKey::generate();
        let url = Url::parse("https://push.example:8443/send/abc?x=1").expect("url");
        let header = k.authorization(&url, "mailto:ops@example.com", 1_000);
        let rest = header.strip_prefix("vapid t=").expect("scheme");
        let (token, key) = rest.split_once(", k=").expect("k");
        assert_eq!(key, k.public_key());
        let (signed, sig) = token.rsplit_once('.').expect("three parts");
        let (_, claims) = signed.split_once('.').expect("header.claims");
        let claims: serde_json::Value =
            serde_json::from_slice(&decode(claims).expect("b64")).expect("json");
        assert_eq!(claims["aud"], "https://push.example:8443");
        assert_eq!(claims["exp"], 1_000 + VAPID_VALIDITY_SECS);
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        let verifying = VerifyingKey::from_sec1_bytes(&decode(key).expect("b64")).expect("point");
        let sig = Signature::from_slice(&decode(sig).expect("b64")).expect("64 bytes");
        verifying.verify(signed.as_bytes(), &sig).expect("verifies");
        let mut forged = signed.to_string();
        forged.push('x');
        assert!(verifying.verify(forged.as_bytes(), &sig).is_err());
    }

    #[test]
    fn origin_keeps_only_a_non_default_port() {
        let a = Url::parse("https://fcm.googleapis.com/fcm/send/x").expect("url");
        assert_eq!(origin(&a), "https://fcm.googleapis.com");
        let b = Url::parse("http://127.0.0.1:4000/p").expect("url");
        assert_eq!(origin(&b), "http://127.0.0.1:4000");
    }

    #[test]
    fn keys_are_checked() {
        assert!(parse_auth(&URL_SAFE_NO_PAD.encode([7u8; 16])).is_some());
        assert!(parse_auth(&URL_SAFE_NO_PAD.encode([7u8; 15])).is_none());
        assert!(parse_auth("***").is_none());
        // A compressed point, and 65 bytes that are not on the curve.
        let k = VapidKey::generate();
        let compressed = k.signing.verifying_key().to_encoded_point(true);
        assert!(parse_p256dh(&URL_SAFE_NO_PAD.encode(compressed.as_bytes())).is_none());
        let mut off = vec![4u8];
        off.extend([1u8; 64]);
        assert!(parse_p256dh(&URL_SAFE_NO_PAD.encode(off)).is_none());
    }

    #[test]
    fn body_decrypts_with_the_subscribers_keys() {
        let ua = p256::SecretKey::from_slice(&[9u8; 32]).expect("scalar");
        let p256dh = URL_SAFE_NO_PAD.encode(ua.public_key().to_encoded_point(false).as_bytes());
        let auth = URL_SAFE_NO_PAD.encode([3u8; 16]);
        let body = encrypt(b"{\"hello\":1}", &p256dh, &auth).expect("encrypts");
        let plain = web_push_native::decrypt(body, &ua, &web_push_native::Auth::from([3u8; 16]))
            .expect("decrypts");
        assert_eq!(plain, b"{\"hello\":1}");
    }

    #[test]
    fn topic_is_32_url_safe_characters_and_stable() {
        let t = topic("conv-1");
        assert_eq!(t.len(), 32);
        assert!(
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(t, topic("conv-1"));
        assert_ne!(t, topic("conv-2"));
    }
}
