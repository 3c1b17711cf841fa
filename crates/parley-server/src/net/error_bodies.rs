//! hyper answers a request head it cannot parse by itself, with an empty
//! body: 414 for a URI over its 64 KiB, 431 for a head over its read
//! buffer or more than 100 headers, 400 for a malformed head. This wrapper
//! of the connection's socket replaces those answers, as they are written,
//! with the same status in the protocol's error shape (protocol.md §1).
//! Smaller limits of our own are checked in the router (`http::bounded_head`)
//! with the ordinary error type; this is only for what never reaches it.
//!
//! It recognises hyper's answer exactly (the status line at the start of a
//! write, `content-length: 0`, the whole head in that write): nothing the
//! router answers looks like it, since every error of ours has a body. After
//! a `101 Switching Protocols` it steps aside for good.

use parley_protocol::{ApiError, ErrorBody, ErrorCode};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub struct ErrorBodies<T> {
    inner: T,
    state: State,
}

enum State {
    /// Looking at the start of each write.
    Watching,
    /// Upgraded (a WebSocket): every write goes straight through.
    Passthrough,
    /// Writing our answer in place of hyper's.
    Replacing { out: Vec<u8>, written: usize },
}

impl<T> ErrorBodies<T> {
    pub fn new(inner: T) -> Self {
        ErrorBodies {
            inner,
            state: State::Watching,
        }
    }
}

/// The answer in the error shape for hyper's automatic `head`, if it is one.
fn replacement(head: &[u8]) -> Option<Vec<u8>> {
    let (status, code, message) = if head.starts_with(b"HTTP/1.1 414 ") {
        (
            "414 URI Too Long",
            ErrorCode::PayloadTooLarge,
            "the request URI is too long",
        )
    } else if head.starts_with(b"HTTP/1.1 431 ") {
        (
            "431 Request Header Fields Too Large",
            ErrorCode::PayloadTooLarge,
            "the request headers are too large or too many",
        )
    } else if head.starts_with(b"HTTP/1.1 400 ") {
        (
            "400 Bad Request",
            ErrorCode::InvalidRequest,
            "malformed HTTP request",
        )
    } else {
        return None;
    };
    let whole_and_empty = head.ends_with(b"\r\n\r\n")
        && head
            .windows(b"\r\ncontent-length: 0\r\n".len())
            .any(|w| w == b"\r\ncontent-length: 0\r\n");
    if !whole_and_empty {
        return None;
    }
    Some(error_response(status, code, message, &[]))
}

/// A complete `Connection: close` HTTP/1.1 response with the error shape as
/// its body and a fresh `x-request-id`; `extra` are more header lines.
pub fn error_response(
    status: &str,
    code: ErrorCode,
    message: &str,
    extra: &[(&str, String)],
) -> Vec<u8> {
    let mut api = ApiError::new(code, message);
    if code == ErrorCode::RateLimited {
        api = api.with_details(serde_json::json!({ "retry_after_ms": 1000 }));
    }
    let body = serde_json::to_vec(&ErrorBody { error: api }).unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\nx-content-type-options: nosniff\r\nx-request-id: {}\r\n",
        body.len(),
        uuid::Uuid::new_v4()
    );
    for (name, value) in extra {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(&body);
    out
}

impl<T: AsyncWrite + Unpin> ErrorBodies<T> {
    /// Writes what is left of a replacement; ready once all of it is out.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let State::Replacing { out, written } = &mut self.state {
            if *written == out.len() {
                self.state = State::Watching;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &out[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Looks at the start of a write: swaps in our answer for hyper's, or
    /// steps aside after an upgrade. True if `buf` was taken over.
    fn inspect(&mut self, buf: &[u8]) -> bool {
        if !matches!(self.state, State::Watching) {
            return false;
        }
        if buf.starts_with(b"HTTP/1.1 101 ") {
            self.state = State::Passthrough;
            return false;
        }
        match replacement(buf) {
            Some(out) => {
                self.state = State::Replacing { out, written: 0 };
                true
            }
            None => false,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ErrorBodies<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ErrorBodies<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        if this.inspect(buf) {
            // hyper's bytes count as written; ours go out now or on flush.
            let _ = this.poll_drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        if let Some(first) = bufs.iter().find(|b| !b.is_empty())
            && this.inspect(first)
        {
            let _ = this.poll_drain(cx)?;
            return Poll::Ready(Ok(first.len()));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    async fn through(writes: &[&[u8]]) -> String {
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let mut w = ErrorBodies::new(a);
        for chunk in writes {
            w.write_all(chunk).await.expect("write");
        }
        w.shutdown().await.expect("shutdown");
        drop(w);
        let mut out = String::new();
        b.read_to_string(&mut out).await.expect("read");
        out
    }

    #[tokio::test]
    async fn hypers_empty_answers_get_the_error_shape() {
        let hyper_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n";
        let out = through(&[hyper_431]).await;
        let (head, body) = out.split_once("\r\n\r\n").expect("head");
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        assert!(head.contains("content-type: application/json; charset=utf-8"));
        let v: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(v["error"]["code"], "payload_too_large");
    }

    #[tokio::test]
    async fn other_writes_pass_through() {
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(through(&[ours]).await.as_bytes(), ours);
        let upgraded: &[&[u8]] = &[
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
            b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n",
        ];
        assert_eq!(through(upgraded).await.as_bytes(), upgraded.concat());
    }
}
