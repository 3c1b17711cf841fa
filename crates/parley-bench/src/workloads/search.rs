//! Message search (protocol.md §13, issue 16's figures): `--messages`
//! messages of eight words each, drawn from a 2,000-word vocabulary with a
//! Zipf-like (log-uniform rank) distribution, sent through REST into
//! `--groups` groups that one searcher belongs to; one planted rare word
//! is in exactly ten of them. Then `--queries` searches of each kind, one
//! at a time, by that searcher over all of their conversations: the most
//! common word (in about half the messages), a middling one, the rare
//! word, a phrase, two words ANDed, a word found nowhere, and the common
//! word within one conversation. Reported: each kind's p50 and p99, the
//! seeding's send rate with the index, and the index's share of the
//! database (SQLite: `dbstat`; PostgreSQL: `pg_total_relation_size`
//! through `psql` when `--postgres-url` is given).

use crate::backend::Backend;
use crate::progress::note;
use crate::report::Report;
use anyhow::bail;
use futures_util::{StreamExt as _, stream};
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct SearchOpts {
    pub messages: usize,
    pub groups: usize,
    pub queries: usize,
    pub concurrency: usize,
    /// The server's PostgreSQL database, for the index's size.
    pub postgres_url: Option<String>,
}

const VOCABULARY: usize = 2000;
const RARE: &str = "zyzzyva";
const RARE_COUNT: usize = 10;

/// A deterministic generator (xorshift64*), so every run indexes the same text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A rank in 1..=VOCABULARY, log-uniform (rank r about as likely as
    /// 1/r: a few words everywhere, most words rare).
    fn rank(&mut self) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((VOCABULARY as f64).powf(u) as usize).clamp(1, VOCABULARY)
    }
}

fn word(rank: usize) -> String {
    // Letters only, so every backend sees one word: rank in base 26.
    let mut n = rank;
    let mut w = String::from("w");
    while n > 0 {
        w.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
    }
    w
}

fn text(rng: &mut Rng, i: usize, every: usize) -> String {
    let mut words: Vec<String> = (0..8).map(|_| word(rng.rank())).collect();
    if i.is_multiple_of(every) {
        words[3] = RARE.to_string();
    }
    words.join(" ")
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

fn escape(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Refreshes PostgreSQL's planner statistics before the timed queries: a
/// server with autovacuum off (or one that has not reached the table yet)
/// plans a common word against a million messages from stale row counts and
/// is ten times slower than it will be in steady state.
fn analyze(o: &SearchOpts) {
    if let Some(url) = &o.postgres_url {
        let done = std::process::Command::new("psql")
            .arg(url)
            .args(["-qAtc", "ANALYZE"])
            .status();
        if !matches!(done, Ok(s) if s.success()) {
            note(
                "search: ANALYZE through psql failed; PostgreSQL figures may use stale statistics",
            );
        }
    }
}

/// The index's bytes and the database's, when they can be read.
fn sizes(backend: &Backend<'_>, o: &SearchOpts) -> Option<(f64, f64)> {
    if let Some(url) = &o.postgres_url {
        let out = std::process::Command::new("psql")
            .arg(url)
            .args([
                "-Atc",
                "SELECT pg_total_relation_size('message_search'), pg_database_size(current_database())",
            ])
            .output()
            .ok()?;
        let line = String::from_utf8_lossy(&out.stdout);
        let (a, b) = line.trim().split_once('|')?;
        return Some((a.parse().ok()?, b.parse().ok()?));
    }
    let Backend::Parley(server) = backend else {
        return None;
    };
    let db = server.data_dir()?.join("parley.db");
    let c = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .ok()?;
    let index: f64 = c
        .query_row(
            "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'message_search%'",
            [],
            |r| r.get(0),
        )
        .ok()?;
    let total: f64 = c
        .query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |r| r.get(0),
        )
        .ok()?;
    Some((index, total))
}

pub async fn run(backend: &Backend<'_>, o: &SearchOpts) -> anyhow::Result<Report> {
    let Backend::Parley(server) = backend else {
        bail!("the search workload needs a Parley server");
    };
    anyhow::ensure!(o.groups >= 1 && o.messages >= RARE_COUNT);
    let people = backend.people("search", 1 + 2 * o.groups).await?;
    let searcher = &people[0];
    let mut convs = Vec::with_capacity(o.groups);
    for g in 0..o.groups {
        let others = [&people[1 + 2 * g], &people[2 + 2 * g]];
        convs.push(backend.group(searcher, &others).await?.0);
    }
    let mut r = Report::new(
        format!(
            "search {} ({} messages in {} groups)",
            backend.name(),
            o.messages,
            o.groups
        ),
        "one search, all conversations, limit 20",
    );

    note(&format!("search: sending {} messages", o.messages));
    let mut rng = Rng(0x5EED_0F5E_A4C4);
    let every = o.messages / RARE_COUNT;
    let jobs: Vec<(usize, String)> = (0..o.messages)
        .map(|i| (i, text(&mut rng, i, every)))
        .collect();
    let started = Instant::now();
    let failed = stream::iter(jobs)
        .map(|(i, body)| {
            let g = i % o.groups;
            let sender = &people[1 + 2 * g + (i / o.groups) % 2];
            let c = server.http.with_token(&sender.token);
            let conv = convs[g].clone();
            async move { u64::from(c.send_text(&conv, &body).await.is_err()) }
        })
        .buffer_unordered(o.concurrency.max(1))
        .fold(0u64, |n, f| async move { n + f })
        .await;
    let seeding = started.elapsed().as_secs_f64();
    r.errors += failed;
    r.messages = o.messages as u64 - failed;
    r.figure(
        "seeding sends/s (index on)",
        r.messages as f64 / seeding,
        "/s",
    );

    analyze(o);
    let client = server.http.with_token(&searcher.token);
    let one = convs[0].clone();
    let kinds: Vec<(&str, String)> = vec![
        ("common word", word(1)),
        ("middling word", word(40)),
        ("rare word", RARE.to_string()),
        ("phrase", format!("\"{} {}\"", word(1), word(2))),
        ("two words", format!("{} {}", word(3), word(7))),
        ("no match", "qqqqqq".to_string()),
    ];
    let measured = Instant::now();
    let mut all = Vec::new();
    let mut scoped = false;
    for (name, q) in kinds
        .iter()
        .map(|(n, q)| (*n, q.clone()))
        .chain(std::iter::once(("common word, one conversation", word(1))))
    {
        let mut lat = Vec::with_capacity(o.queries);
        let mut hits = 0;
        for _ in 0..o.queries {
            let mut path = format!("/search/messages?q={}&limit=20", escape(&q));
            if scoped {
                path.push_str(&format!("&conversation_id={one}"));
            }
            let t0 = Instant::now();
            match client.raw("GET", &path, None).await {
                Ok(a) if a.status == 200 => {
                    lat.push(t0.elapsed().as_micros() as u64);
                    hits = a.json["hits"].as_array().map_or(0, Vec::len);
                }
                Ok(a) => {
                    note(&format!("search: {} {}", a.status, a.json));
                    r.errors += 1;
                }
                Err(e) => {
                    note(&format!("search failed: {e:#}"));
                    r.errors += 1;
                }
            }
        }
        lat.sort_unstable();
        r.figure(format!("{name} p50"), percentile(&lat, 0.5), "ms");
        r.figure(format!("{name} p99"), percentile(&lat, 0.99), "ms");
        r.figure(format!("{name} hits on page 1"), hits as f64, "");
        all.extend(lat);
        if name == "no match" {
            scoped = true;
        }
    }
    all.sort_unstable();
    r.latencies_us = all;
    r.seconds = measured.elapsed().as_secs_f64();
    match sizes(backend, o) {
        Some((index, total)) => {
            r.figure("index MiB", index / 1048576.0, "MiB");
            r.figure("database MiB", total / 1048576.0, "MiB");
            r.figure(
                "index share of the database",
                100.0 * index / total.max(1.0),
                "%",
            );
        }
        None => r
            .notes
            .push("index size not read (no dbstat, or no --postgres-url)".into()),
    }
    Ok(r.finish())
}
