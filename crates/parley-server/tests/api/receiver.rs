//! A webhook receiver for the tests: a real HTTP server on 127.0.0.1 that
//! records every request it gets and answers as the test says (a status,
//! one with `Retry-After`, or never). The Web Push tests use it as the
//! push service.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Status(u16),
    /// A status with `Retry-After: SECS`.
    Later(u16, u64),
    /// A status with a JSON body.
    Json(u16, &'static str),
    /// Holds the request open without an answer.
    Hang,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// What it was answered.
    pub reply: Reply,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn delivered(&self) -> bool {
        matches!(self.reply, Reply::Status(s) if (200..300).contains(&s))
    }
}

#[derive(Default)]
struct State {
    got: Vec<Received>,
    /// Answers for the next requests, then `default`.
    script: VecDeque<Reply>,
    default: Option<Reply>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
    _server: Arc<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    /// Answers `default` to every request unless scripted otherwise.
    pub async fn start(default: Reply) -> Receiver {
        let state = Arc::new(Mutex::new(State {
            default: Some(default),
            ..Default::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let s = state.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let s = s.clone();
            async move {
                let reply = {
                    let mut st = s.lock().expect("lock");
                    let reply = st
                        .script
                        .pop_front()
                        .or(st.default)
                        .unwrap_or(Reply::Status(200));
                    st.got.push(Received {
                        headers,
                        body,
                        reply,
                        at: Instant::now(),
                    });
                    reply
                };
                let status = |code| StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
                match reply {
                    Reply::Status(code) => status(code).into_response(),
                    Reply::Later(code, secs) => {
                        (status(code), [("retry-after", secs.to_string())]).into_response()
                    }
                    Reply::Json(code, body) => {
                        (status(code), [("content-type", "application/json")], body).into_response()
                    }
                    Reply::Hang => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        StatusCode::OK.into_response()
                    }
                }
            }
        });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            state,
            _server: Arc::new(server),
        }
    }

    pub fn script(&self, replies: &[Reply]) {
        self.state.lock().expect("lock").script.extend(replies);
    }

    pub fn set_default(&self, reply: Reply) {
        self.state.lock().expect("lock").default = Some(reply);
    }

    pub fn got(&self) -> Vec<Received> {
        self.state.lock().expect("lock").got.clone()
    }

    /// Waits until `done(requests so far)` holds, or panics after `within`.
    pub async fn wait_until(
        &self,
        within: Duration,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.got();
            if done(&got) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; got {} requests",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
