//! The domain's refusals. Each carries the text the client reads; the
//! server maps the variant to the protocol's error code once
//! (`parley_server::error`). No rule's text is written anywhere else.

use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The thing does not exist, or the caller may not see it.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// `not_found` for what a field of the request names
    /// (`details.field`).
    #[error("{what} not found")]
    NotFoundIn {
        what: &'static str,
        field: &'static str,
    },
    /// A block in either direction between the two users.
    #[error("one of you has blocked the other")]
    Blocked,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    /// Longer than the protocol allows (`payload_too_large`).
    #[error("{0}")]
    TooLarge(Cow<'static, str>),
    /// A well-formed request the rules refuse, or input of the wrong shape.
    #[error("{message}")]
    Invalid {
        field: Cow<'static, str>,
        message: Cow<'static, str>,
    },
}

impl DomainError {
    pub fn invalid(
        field: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        DomainError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
