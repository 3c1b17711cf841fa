//! External identity: JWTs signed by the embedding platform. The algorithm
//! comes from configuration, never from the token's header, so `alg: none`
//! and algorithm confusion are refused by construction.

use crate::config::{ExternalJwt, ExternalKey};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Debug, Deserialize)]
pub struct ExternalClaims {
    pub sub: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub picture: Option<String>,
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    /// Where email digests go (protocol.md §12); an invalid one is
    /// ignored.
    #[serde(default)]
    pub email: Option<String>,
    /// Seconds; a token issued before the user's latest ban is refused.
    #[serde(default)]
    pub iat: Option<i64>,
}

pub struct ExternalVerifier {
    validation: Validation,
    /// Keys by `kid`; `None` is the key used when the token names none.
    keys: HashMap<Option<String>, DecodingKey>,
}

#[derive(Debug, thiserror::Error)]
#[error("external JWT configuration: {0}")]
pub struct ExternalConfigError(String);

impl ExternalVerifier {
    pub fn new(cfg: &ExternalJwt) -> Result<ExternalVerifier, ExternalConfigError> {
        let err = |e: &dyn std::fmt::Display| ExternalConfigError(e.to_string());
        let alg = match cfg.algorithm.as_str() {
            "HS256" => Algorithm::HS256,
            "RS256" => Algorithm::RS256,
            "ES256" => Algorithm::ES256,
            "EdDSA" => Algorithm::EdDSA,
            other => {
                return Err(ExternalConfigError(format!(
                    "unsupported algorithm {other}"
                )));
            }
        };
        let mut keys = HashMap::new();
        match &cfg.key {
            ExternalKey::Secret(s) => {
                keys.insert(None, DecodingKey::from_secret(s.0.as_bytes()));
            }
            ExternalKey::PemFile(path) => {
                let pem = std::fs::read(path).map_err(|e| err(&e))?;
                let key = match alg {
                    Algorithm::RS256 => DecodingKey::from_rsa_pem(&pem),
                    Algorithm::ES256 => DecodingKey::from_ec_pem(&pem),
                    _ => DecodingKey::from_ed_pem(&pem),
                }
                .map_err(|e| err(&e))?;
                keys.insert(None, key);
            }
            ExternalKey::JwksFile(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| err(&e))?;
                let set: JwkSet = serde_json::from_str(&text).map_err(|e| err(&e))?;
                for jwk in &set.keys {
                    let key = DecodingKey::from_jwk(jwk).map_err(|e| err(&e))?;
                    if keys.is_empty() {
                        keys.insert(None, key.clone());
                    }
                    keys.insert(jwk.common.key_id.clone(), key);
                }
                if keys.is_empty() {
                    return Err(ExternalConfigError("the JWKS file holds no keys".into()));
                }
            }
        }
        let mut validation = Validation::new(alg);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        if let Some(iss) = &cfg.issuer {
            validation.set_issuer(&[iss])
        }
        match &cfg.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        Ok(ExternalVerifier { validation, keys })
    }

    pub fn verify(&self, token: &str) -> Option<ExternalClaims> {
        let header = decode_header(token).ok()?;
        let key = self
            .keys
            .get(&header.kid)
            .or_else(|| self.keys.get(&None))?;
        let data = decode::<ExternalClaims>(token, key, &self.validation).ok()?;
        let sub = &data.claims.sub;
        if sub.is_empty() || sub.len() > 255 {
            return None;
        }
        Some(data.claims)
    }
}
