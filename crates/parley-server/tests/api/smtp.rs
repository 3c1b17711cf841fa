//! An SMTP server for the tests: a real one on 127.0.0.1 (RFC 5321's
//! commands as a relay sees them: EHLO, MAIL, RCPT, DATA with dot
//! unstuffing, RSET, NOOP, QUIT) that records every message it accepts
//! and answers `RCPT` as the test says, so the digest tests watch what a
//! real relay would get over a real socket.

use mail_parser::{MessageParser, MimeHeaders};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// How the server answers `RCPT TO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcpt {
    Accept,
    /// 451: try again later.
    Transient,
    /// 550: never.
    Permanent,
}

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

impl Mail {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        MessageParser::default()
            .parse(&self.data)
            .expect("an RFC 5322 message")
    }

    pub fn header(&self, name: &str) -> String {
        self.parsed()
            .header_raw(name)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_string()
    }

    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    /// The content types of the message's parts, top first.
    pub fn content_types(&self) -> Vec<String> {
        self.parsed()
            .parts
            .iter()
            .filter_map(|p| p.content_type())
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()))
            .collect()
    }

    /// `List-Unsubscribe`'s URL, without the angle brackets.
    pub fn unsubscribe_url(&self) -> String {
        self.header("List-Unsubscribe")
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string()
    }
}

#[derive(Default)]
struct State {
    mail: Vec<Mail>,
    /// Answers to the next `RCPT`s, then `default`.
    script: VecDeque<Rcpt>,
    default: Option<Rcpt>,
    rcpts_seen: usize,
}

#[derive(Clone)]
pub struct SmtpServer {
    /// `smtp://127.0.0.1:PORT`, for `--smtp-url`.
    pub url: String,
    state: Arc<Mutex<State>>,
    _task: Arc<tokio::task::JoinHandle<()>>,
}

impl SmtpServer {
    pub async fn start(default: Rcpt) -> SmtpServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("smtp://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State {
            default: Some(default),
            ..Default::default()
        }));
        let s = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, s.clone()));
            }
        });
        SmtpServer {
            url,
            state,
            _task: Arc::new(task),
        }
    }

    /// Answers the next `RCPT`s so, in order.
    pub fn script(&self, replies: &[Rcpt]) {
        self.lock().script.extend(replies.iter().copied());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn mail(&self) -> Vec<Mail> {
        self.lock().mail.clone()
    }

    /// Every `RCPT TO` so far, accepted or not.
    pub fn attempts(&self) -> usize {
        self.lock().rcpts_seen
    }

    /// Mail addressed to `to`.
    pub fn mail_to(&self, to: &str) -> Vec<Mail> {
        self.mail()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .collect()
    }

    /// Waits (up to `within`) until `to` has `n` messages.
    pub async fn wait_for(&self, to: &str, n: usize, within: Duration) -> Vec<Mail> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.mail_to(to);
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{n} email(s) to {to} within {within:?}; got {}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn path_arg(line: &str) -> String {
    line.split_once(':')
        .map(|(_, a)| a.trim())
        .unwrap_or_default()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or_default()
        .to_string()
}

async fn session(stream: tokio::net::TcpStream, state: Arc<Mutex<State>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    macro_rules! reply {
        ($s:expr) => {
            if write.write_all($s.as_bytes()).await.is_err() {
                return;
            }
        };
    }
    reply!("220 test.local ESMTP\r\n");
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let upper = line.trim_end().to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            reply!("250-test.local\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n");
        } else if upper.starts_with("HELO") {
            reply!("250 test.local\r\n");
        } else if upper.starts_with("MAIL FROM") {
            from = path_arg(&line);
            to.clear();
            reply!("250 OK\r\n");
        } else if upper.starts_with("RCPT TO") {
            let answer = {
                let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                s.rcpts_seen += 1;
                let default = s.default.unwrap_or(Rcpt::Accept);
                s.script.pop_front().unwrap_or(default)
            };
            match answer {
                Rcpt::Accept => {
                    to.push(path_arg(&line));
                    reply!("250 OK\r\n");
                }
                Rcpt::Transient => reply!("451 4.3.0 try again later\r\n"),
                Rcpt::Permanent => reply!("550 5.1.1 no such user\r\n"),
            }
        } else if upper == "DATA" {
            if to.is_empty() {
                reply!("554 no valid recipients\r\n");
                continue;
            }
            reply!("354 go ahead\r\n");
            let mut data = Vec::new();
            loop {
                line.clear();
                match lines.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                // Dot unstuffing (RFC 5321 4.5.2).
                let l = line.strip_prefix('.').unwrap_or(&line);
                data.extend_from_slice(l.as_bytes());
            }
            state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .mail
                .push(Mail {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                });
            reply!("250 OK queued\r\n");
        } else if upper == "RSET" {
            from.clear();
            to.clear();
            reply!("250 OK\r\n");
        } else if upper == "NOOP" {
            reply!("250 OK\r\n");
        } else if upper == "QUIT" {
            reply!("221 bye\r\n");
            return;
        } else {
            reply!("502 command not implemented\r\n");
        }
    }
}
