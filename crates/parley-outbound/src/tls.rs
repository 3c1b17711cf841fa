//! The process's one TLS crypto provider.
//!
//! The binary carries one provider, ring, the one lettre signs with: a
//! second (reqwest's and object_store's default, aws-lc-rs) doubled the
//! crypto code in the binary (performance.md W7). reqwest is built without
//! a bundled provider and takes the process default, so every constructor
//! of an HTTP client (webhooks and push here, S3 in parley-media) calls
//! [`install_crypto_provider`] first.

/// Makes ring the process-wide rustls provider. Idempotent; a provider
/// already installed (by an embedding program, say) is kept.
pub fn install_crypto_provider() {
    // `Err` means one is installed already: nothing to do.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
