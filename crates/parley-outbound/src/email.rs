//! Email over SMTP (protocol.md §12, "Email digests") with `lettre`: one
//! pooled transport per process, TLS as the operator's `--smtp-url` says
//! (`smtps://` implicit TLS, `smtp://…?tls=required` STARTTLS), a timeout
//! on every command, and the RFC 8058 one-click unsubscribe headers.
//!
//! The SMTP server is the operator's own relay, named in configuration,
//! so the private-address policy of [`crate::policy`] does not apply to it
//! (a relay on localhost is the common case).

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// One email to hand to the relay.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The `Message-ID` local part (stable across retries, so a receiver
    /// can drop a repeat).
    pub id: String,
    /// The one-click unsubscribe URL (`List-Unsubscribe`, RFC 8058).
    pub unsubscribe: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// The configuration cannot work (a bad URL or From address).
    #[error("email configuration: {0}")]
    Config(String),
    /// This email cannot be built (a recipient address the relay's
    /// grammar refuses).
    #[error("email refused before sending: {0}")]
    Invalid(String),
    /// The relay answered or failed; `transient` when a later attempt may
    /// succeed (4xx, a timeout, a broken connection), not for 5xx.
    #[error("SMTP: {message}")]
    Smtp { transient: bool, message: String },
}

#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

#[derive(Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".into())
    }
}

/// Sends email through the configured relay.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The domain of `Message-ID`s (the From address's).
    domain: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold credentials: never printed.
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

impl Mailer {
    /// A pooled transport to `url` (`smtp://` or `smtps://`, credentials
    /// in the URL) sending as `from` (`Name <address>` or an address).
    pub fn new(url: &str, from: &str, timeout: Duration) -> Result<Mailer, EmailError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| EmailError::Config(format!("--smtp-from {from:?}: {e}")))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| EmailError::Config(format!("--smtp-url: {e}")))?
            .timeout(Some(timeout))
            .build();
        Ok(Mailer {
            domain: from.email.domain().to_string(),
            transport,
            from,
        })
    }

    pub async fn send(&self, email: Email) -> Result<(), EmailError> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|e| EmailError::Invalid(format!("recipient: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject)
            .message_id(Some(format!("<{}@{}>", email.id, self.domain)))
            .header(ListUnsubscribe(email.unsubscribe))
            .header(ListUnsubscribePost)
            .multipart(MultiPart::alternative_plain_html(email.text, email.html))
            .map_err(|e| EmailError::Invalid(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| EmailError::Smtp {
                transient: !e.is_permanent(),
                message: e.to_string(),
            })
    }
}
