//! Message search (protocol.md §13): how text becomes index tokens, what a
//! query means, and the snippet a hit carries. Both backends index the
//! tokens made here and run the query rendered here, so SQLite FTS5 and
//! PostgreSQL `tsvector` find the same messages for the same query.
//!
//! Tokens are made by us, not by the database's parser: a run of letters
//! and digits is one word (folded to lower case); a run of Han, Kana or
//! Hangul is indexed as its overlapping pairs of characters (bigrams), so
//! any substring of two or more characters is a phrase of pairs that the
//! index finds at adjacent positions (`上海` in `我家在上海东边`).

use crate::error::{DomainError, DomainResult};

/// The longest query (in characters).
pub const MAX_QUERY_CHARS: usize = 512;
/// Hits per page: the default and the most.
pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;
/// The most characters of text a snippet shows.
pub const SNIPPET_CHARS: usize = 200;
/// Characters of context a snippet keeps before its first hit.
const SNIPPET_LEAD: usize = 60;
/// A longer word is indexed by its first characters (PostgreSQL refuses
/// lexemes over 2 KiB; nobody searches for a 64-letter word's tail).
const MAX_TOKEN_CHARS: usize = 64;
/// Tokens indexed per message: under PostgreSQL's 16,383 positions.
const MAX_DOC_TOKENS: usize = 16_000;
/// Tokens a query may use; the rest of a very long query is ignored.
const MAX_QUERY_TOKENS: usize = 128;

const NO_QUERY: &str = "q is required: the words or operators to search for";
const LONG_QUERY: &str = "q must be at most 512 characters";

/// Han, Hiragana, Katakana and Hangul: scripts written without spaces
/// between words, indexed by character pairs.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF          // Hangul Jamo
        | 0x2E80..=0x2FDF        // CJK radicals
        | 0x3040..=0x30FF        // Hiragana, Katakana
        | 0x3130..=0x318F        // Hangul compatibility Jamo
        | 0x31F0..=0x31FF        // Katakana phonetic extensions
        | 0x3400..=0x4DBF        // Han extension A
        | 0x4E00..=0x9FFF        // Han
        | 0xA960..=0xA97F        // Hangul Jamo extended A
        | 0xAC00..=0xD7FF        // Hangul syllables, Jamo extended B
        | 0xF900..=0xFAFF        // Han compatibility
        | 0xFF66..=0xFF9F        // half-width Katakana
        | 0x20000..=0x3FFFF) // Han extensions B..
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Word,
    Cjk,
    Other,
}

fn class(c: char) -> Class {
    if is_cjk(c) {
        Class::Cjk
    } else if c.is_alphanumeric() {
        Class::Word
    } else {
        Class::Other
    }
}

/// A token and the characters of the original text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
    token: String,
}

fn fold(chars: &[char]) -> String {
    let s: String = chars.iter().take(MAX_TOKEN_CHARS).collect();
    s.to_lowercase()
}

/// The tokens of `text` in order, with their character ranges.
fn spans(chars: &[char]) -> Vec<Span> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let kind = class(chars[i]);
        let mut j = i + 1;
        while j < chars.len() && class(chars[j]) == kind {
            j += 1;
        }
        match kind {
            Class::Other => {}
            Class::Word => out.push(Span {
                start: i,
                end: j,
                token: fold(&chars[i..j]),
            }),
            Class::Cjk if j - i == 1 => out.push(Span {
                start: i,
                end: j,
                token: fold(&chars[i..j]),
            }),
            Class::Cjk => {
                for k in i..j - 1 {
                    out.push(Span {
                        start: k,
                        end: k + 2,
                        token: fold(&chars[k..k + 2]),
                    });
                }
            }
        }
        i = j;
    }
    out
}

/// The tokens a message's text is indexed by, in order.
pub fn index_tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    spans(&chars)
        .into_iter()
        .take(MAX_DOC_TOKENS)
        .map(|s| s.token)
        .collect()
}

/// The document SQLite's FTS5 indexes: the tokens separated by spaces
/// (FTS5's `unicode61` tokenizer keeps each of them whole).
pub fn fts5_document(text: &str) -> Option<String> {
    let tokens = index_tokens(text);
    (!tokens.is_empty()).then(|| tokens.join(" "))
}

/// A lexeme as PostgreSQL's `tsvector`/`tsquery` input reads it, quoted.
fn pg_lexeme(token: &str) -> String {
    format!("'{}'", token.replace('\\', "\\\\").replace('\'', "''"))
}

/// The `tsvector` PostgreSQL indexes, in its input form with positions
/// (`'tok':1 'other':2`), cast with `::tsvector` so that PostgreSQL's own
/// parser never re-splits our tokens.
pub fn tsvector(text: &str) -> Option<String> {
    let tokens = index_tokens(text);
    if tokens.is_empty() {
        return None;
    }
    let parts: Vec<String> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{}:{}", pg_lexeme(t), i + 1))
        .collect();
    Some(parts.join(" "))
}

/// Tokens that must appear in order at adjacent positions; `prefix`
/// for a single Han/Kana/Hangul character, which matches the pairs it
/// starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phrase {
    pub tokens: Vec<String>,
    pub prefix: bool,
}

/// `has:` operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Has {
    /// Text with an `http(s)://` URL.
    Link,
    /// An attachment of kind `file`.
    File,
    /// An attachment of kind `image`.
    Image,
}

/// A parsed query: every group must match (a group is one phrase or
/// phrases joined by `OR`), no excluded phrase may, and every operator
/// holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub all: Vec<Vec<Phrase>>,
    pub none: Vec<Phrase>,
    /// `from:` usernames (folded); several mean any of them.
    pub from: Vec<String>,
    pub has: Vec<Has>,
    /// Created before this time (ms), from `before:`.
    pub before_ms: Option<i64>,
    /// Created at or after this time (ms), from `after:`.
    pub after_ms: Option<i64>,
    /// Words of the query, folded, that a snippet marks.
    marks: Vec<Vec<String>>,
}

impl Query {
    /// No term and no operator: no hits, by definition.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
            && self.none.is_empty()
            && self.from.is_empty()
            && self.has.is_empty()
            && self.before_ms.is_none()
            && self.after_ms.is_none()
    }

    /// Whether the query has text that must match (and so a relevance).
    pub fn has_text(&self) -> bool {
        !self.all.is_empty()
    }

    /// The FTS5 `MATCH` expression of the required text and exclusions,
    /// when there is required text. Tokens are letters, digits and CJK
    /// only, so a quoted phrase can never contain FTS5 syntax.
    pub fn fts5_match(&self) -> Option<String> {
        if self.all.is_empty() {
            return None;
        }
        let groups: Vec<String> = self
            .all
            .iter()
            .map(|g| {
                let alts: Vec<String> = g.iter().map(fts5_phrase).collect();
                format!("({})", alts.join(" OR "))
            })
            .collect();
        let mut expr = groups.join(" AND ");
        if let Some(ex) = self.fts5_excluded() {
            expr = format!("{expr} NOT {ex}");
        }
        Some(expr)
    }

    /// The FTS5 expression any excluded phrase matches (for a query with
    /// exclusions only).
    pub fn fts5_excluded(&self) -> Option<String> {
        if self.none.is_empty() {
            return None;
        }
        let alts: Vec<String> = self.none.iter().map(fts5_phrase).collect();
        Some(format!("({})", alts.join(" OR ")))
    }

    /// The `tsquery` (input form, cast with `::tsquery`) of the required
    /// text and exclusions, when there is required text.
    pub fn tsquery(&self) -> Option<String> {
        if self.all.is_empty() {
            return None;
        }
        let groups: Vec<String> = self
            .all
            .iter()
            .map(|g| {
                let alts: Vec<String> = g.iter().map(pg_phrase).collect();
                format!("({})", alts.join(" | "))
            })
            .collect();
        let mut expr = groups.join(" & ");
        if let Some(ex) = self.tsquery_excluded() {
            expr = format!("{expr} & !{ex}");
        }
        Some(expr)
    }

    /// The `tsquery` any excluded phrase matches.
    pub fn tsquery_excluded(&self) -> Option<String> {
        if self.none.is_empty() {
            return None;
        }
        let alts: Vec<String> = self.none.iter().map(pg_phrase).collect();
        Some(format!("({})", alts.join(" | ")))
    }
}

fn fts5_phrase(p: &Phrase) -> String {
    let star = if p.prefix { " *" } else { "" };
    format!("\"{}\"{star}", p.tokens.join(" "))
}

fn pg_phrase(p: &Phrase) -> String {
    let lexemes: Vec<String> = p
        .tokens
        .iter()
        .map(|t| {
            let l = pg_lexeme(t);
            if p.prefix { format!("{l}:*") } else { l }
        })
        .collect();
    format!("({})", lexemes.join(" <-> "))
}

/// One lexical item of a query.
#[derive(Debug)]
struct Item {
    negated: bool,
    quoted: bool,
    text: String,
}

fn lex(q: &str) -> Vec<Item> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let mut negated = false;
        if chars[i] == '-' && chars.get(i + 1).is_some_and(|c| !c.is_whitespace()) {
            negated = true;
            i += 1;
        }
        if chars[i] == '"' {
            // An unbalanced quote ends at the end of the query.
            let start = i + 1;
            let mut j = start;
            while j < chars.len() && chars[j] != '"' {
                j += 1;
            }
            out.push(Item {
                negated,
                quoted: true,
                text: chars[start..j].iter().collect(),
            });
            i = j + 1;
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
            out.push(Item {
                negated,
                quoted: false,
                text: chars[start..i].iter().collect(),
            });
        }
    }
    out
}

/// The day `YYYY-MM-DD` at 00:00 UTC, in ms.
fn day_start(value: &str) -> Option<i64> {
    if value.len() != 10 {
        return None;
    }
    let date: jiff::civil::Date = value.parse().ok()?;
    let ts = date.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    Some(ts.as_millisecond())
}

/// An operator item (`from:`, `has:`, `before:`, `after:`) applied to `q`;
/// false when the item is not one (or has a bad value: then it is text).
fn apply_operator(q: &mut Query, text: &str) -> bool {
    let Some((key, value)) = text.split_once(':') else {
        return false;
    };
    match key.to_ascii_lowercase().as_str() {
        "from" => match crate::input::username(value) {
            Ok(name) => {
                if !q.from.contains(&name) {
                    q.from.push(name);
                }
                true
            }
            Err(_) => false,
        },
        "has" => {
            let has = match value.to_ascii_lowercase().as_str() {
                "link" => Has::Link,
                "file" => Has::File,
                "image" => Has::Image,
                _ => return false,
            };
            if !q.has.contains(&has) {
                q.has.push(has);
            }
            true
        }
        "before" => match day_start(value) {
            Some(ms) => {
                q.before_ms = Some(q.before_ms.map_or(ms, |b| b.min(ms)));
                true
            }
            None => false,
        },
        "after" => match day_start(value) {
            Some(ms) => {
                q.after_ms = Some(q.after_ms.map_or(ms, |a| a.max(ms)));
                true
            }
            None => false,
        },
        _ => false,
    }
}

fn phrase_of(text: &str) -> Option<Phrase> {
    let tokens = index_tokens(text);
    if tokens.is_empty() {
        return None;
    }
    let prefix = tokens.len() == 1 && {
        let mut cs = tokens[0].chars();
        matches!((cs.next(), cs.next()), (Some(c), None) if is_cjk(c))
    };
    Some(Phrase { tokens, prefix })
}

/// Parses `q` (protocol.md §13). Missing, blank or over-long is
/// `invalid_request`; anything else parses (odd input is text).
pub fn parse(raw: Option<&str>) -> DomainResult<Query> {
    let q = raw.unwrap_or("");
    if q.trim().is_empty() {
        return Err(DomainError::invalid("q", NO_QUERY));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(DomainError::invalid("q", LONG_QUERY));
    }
    let items = lex(q);
    let mut query = Query::default();
    let mut budget = MAX_QUERY_TOKENS;
    let mut pending_or = false;
    for (n, item) in items.iter().enumerate() {
        let or_here = !item.quoted && !item.negated && item.text == "OR";
        if or_here && !query.all.is_empty() && n + 1 < items.len() {
            pending_or = true;
            continue;
        }
        let joins_or = std::mem::take(&mut pending_or);
        if !item.quoted && !item.negated && apply_operator(&mut query, &item.text) {
            continue;
        }
        let Some(mut phrase) = phrase_of(&item.text) else {
            continue;
        };
        if budget == 0 {
            break;
        }
        phrase.tokens.truncate(budget);
        budget -= phrase.tokens.len();
        if item.negated {
            query.none.push(phrase);
            continue;
        }
        query.marks.push(phrase.tokens.clone());
        match query.all.last_mut() {
            Some(group) if joins_or => group.push(phrase),
            _ => query.all.push(vec![phrase]),
        }
    }
    Ok(query)
}

/// `&`, `<`, `>`, `"` and `'` escaped.
fn escape_into(out: &mut String, chars: &[char]) {
    for &c in chars {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// At most [`SNIPPET_CHARS`] characters of `text` around the first hit of
/// `query`, each hit in `<mark>`…`</mark>`, the rest HTML-escaped, `…`
/// where the text was cut.
pub fn snippet(text: &str, query: &Query) -> String {
    let chars: Vec<char> = text.chars().collect();
    let spans = spans(&chars);
    // A hit: a run of the text's tokens equal to one of the query's
    // phrases (a single CJK character marks the pairs it starts).
    let mut hits: Vec<(usize, usize)> = Vec::new();
    for phrase in &query.marks {
        let n = phrase.len();
        if n == 0 || n > spans.len() {
            continue;
        }
        for w in 0..=spans.len() - n {
            let matched = phrase.iter().enumerate().all(|(k, t)| {
                let s = &spans[w + k].token;
                s == t || (n == 1 && t.chars().count() == 1 && s.starts_with(t.as_str()))
            });
            if matched {
                let (start, end) = (spans[w].start, spans[w + n - 1].end);
                // A single character matching a pair marks that character.
                let end = if n == 1 && phrase[0].chars().count() == 1 {
                    start + 1
                } else {
                    end
                };
                hits.push((start, end));
            }
        }
    }
    hits.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (s, e) in hits {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    let first = merged.first().map_or(0, |h| h.0);
    let mut start = first.saturating_sub(SNIPPET_LEAD);
    let end = (start + SNIPPET_CHARS).min(chars.len());
    if end - start < SNIPPET_CHARS {
        start = end.saturating_sub(SNIPPET_CHARS);
    }
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    for (s, e) in merged {
        let (s, e) = (s.max(start), e.min(end));
        if s >= e {
            continue;
        }
        escape_into(&mut out, &chars[at..s]);
        out.push_str("<mark>");
        escape_into(&mut out, &chars[s..e]);
        out.push_str("</mark>");
        at = e;
    }
    escape_into(&mut out, &chars[at..end]);
    if end < chars.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Query {
        parse(Some(s)).expect("parses")
    }

    fn words(p: &[&str]) -> Phrase {
        Phrase {
            tokens: p.iter().map(|s| s.to_string()).collect(),
            prefix: false,
        }
    }

    #[test]
    fn text_is_folded_words_and_cjk_pairs() {
        assert_eq!(
            index_tokens("Hello, WORLD! Straße-42"),
            ["hello", "world", "straße", "42"]
        );
        assert_eq!(
            index_tokens("我家在上海东边。"),
            ["我家", "家在", "在上", "上海", "海东", "东边"]
        );
        assert_eq!(index_tokens("iPhone上x"), ["iphone", "上", "x"]);
        assert_eq!(index_tokens("  ...  "), Vec::<String>::new());
        assert_eq!(fts5_document("!!"), None);
        assert_eq!(
            tsvector("it's O'Neil").as_deref(),
            Some("'it':1 's':2 'o':3 'neil':4")
        );
    }

    #[test]
    fn blank_and_long_queries_are_refused() {
        for bad in [None, Some(""), Some("  \t ")] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(Some(&"a".repeat(513))).is_err());
        assert!(parse(Some(&"a".repeat(512))).is_ok());
    }

    #[test]
    fn the_grammar() {
        let got = q(r#"lunch "next friday" -pizza -"too late" tea OR coffee"#);
        assert_eq!(
            got.all,
            vec![
                vec![words(&["lunch"])],
                vec![words(&["next", "friday"])],
                vec![words(&["tea"]), words(&["coffee"])],
            ]
        );
        assert_eq!(got.none, vec![words(&["pizza"]), words(&["too", "late"])]);
        let ops = q("from:Alice from:bob has:link HAS:image before:2026-02-01 after:2026-01-01 x");
        assert_eq!(ops.from, ["alice", "bob"]);
        assert_eq!(ops.has, [Has::Link, Has::Image]);
        assert_eq!(ops.before_ms, Some(1_769_904_000_000));
        assert_eq!(ops.after_ms, Some(1_767_225_600_000));
        // Bad values are text; odd syntax is text.
        let odd = q("has:video before:2026-13-01 from:");
        assert!(odd.has.is_empty() && odd.before_ms.is_none() && odd.from.is_empty());
        assert_eq!(odd.all.len(), 3);
        assert_eq!(
            q(r#"NOT (a AND b*) NEAR title:x "unbalanced"#).all.len(),
            7,
            "NOT, a, AND, b, NEAR, \"title x\", unbalanced"
        );
        assert!(q("* ( ) ! ---").is_empty());
        assert_eq!(q("OR").all, vec![vec![words(&["or"])]]);
        assert_eq!(q("a OR").all.len(), 2, "a dangling OR is a word");
    }

    #[test]
    fn cjk_queries_are_pairs_in_a_row() {
        assert_eq!(q("上海").all, vec![vec![words(&["上海"])]]);
        assert_eq!(q("上海东").all, vec![vec![words(&["上海", "海东"])]]);
        let one = q("上");
        assert!(one.all[0][0].prefix);
        assert_eq!(one.fts5_match().as_deref(), Some(r#"("上" *)"#));
    }

    #[test]
    fn renderings() {
        let got = q(r#"a "b c" x OR y -z"#);
        assert_eq!(
            got.fts5_match().as_deref(),
            Some(r#"("a") AND ("b c") AND ("x" OR "y") NOT ("z")"#)
        );
        assert_eq!(
            got.tsquery().as_deref(),
            Some("(('a')) & (('b' <-> 'c')) & (('x') | ('y')) & !(('z'))")
        );
        let only_not = q("-z");
        assert_eq!(only_not.fts5_match(), None);
        assert_eq!(only_not.fts5_excluded().as_deref(), Some(r#"("z")"#));
        assert!(!only_not.is_empty());
    }

    #[test]
    fn snippets_mark_escape_and_cut() {
        let s = snippet("Tom & <Jerry> said \"hi\"", &q("jerry"));
        assert_eq!(
            s,
            "Tom &amp; &lt;<mark>Jerry</mark>&gt; said &quot;hi&quot;"
        );
        let long = format!("{} needle {}", "x ".repeat(200), "y ".repeat(200));
        let s = snippet(&long, &q("needle"));
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>needle</mark>"));
        let plain = s.replace("<mark>", "").replace("</mark>", "");
        assert!(plain.trim_matches('…').chars().count() <= SNIPPET_CHARS);
        assert_eq!(
            snippet("我家在上海东边。", &q("上海")),
            "我家在<mark>上海</mark>东边。"
        );
        assert_eq!(
            snippet("我家在上海东边。", &q("在上海东")),
            "我家<mark>在上海东</mark>边。"
        );
        assert_eq!(snippet("a b", &q("from:x")), "a b");
    }
}
