//! Group commit for sends: the counterpart of the SQLite writer's batches.
//!
//! One send in its own transaction cost PostgreSQL about a dozen
//! statements, six round trips and a commit; at a few thousand sends a
//! second the backends' per-statement work and the round trips' wake-ups
//! took the machine. Here sends queue for a few batchers (a conversation
//! always for the same one); each takes whatever is waiting (up to
//! [`MAX_BATCH`]) and stores it in one transaction with a fixed number of
//! statements and three round trips, however many sends the batch holds:
//!
//! 1. `BEGIN`, the lock on every conversation of the batch (one statement,
//!    in id order: every batch, in this process or another, locks in the
//!    same order, so two batches wait for each other but never deadlock),
//!    and the reads of members, earlier sends of the same client ids and
//!    the senders' blocks, pipelined: PostgreSQL runs them in that order,
//!    so the reads see what the lock's holder before us committed, as a
//!    single send's reads do;
//! 2. `parley_domain` decides each send in queue order, exactly as for a
//!    single send (`check_send`, then the idempotency answer, then
//!    `created`), with seqs allocated from the locked `last_seq`;
//! 3. one multi-row statement per table writes the accepted sends (one
//!    round trip), then `COMMIT` (the third); each send's hook runs in order, then all deliveries go to
//!    the sink (`commit.rs` orders them against other writers).
//!
//! A rejected send (not a member, blocked) writes nothing, so it fails
//! alone. Sends whose facts need more reads (replies, attachments, support
//! conversations) take the single-send path (`send_alone`), in queue order,
//! right after the batch commits and before the batcher's next batch, so a
//! conversation's sends keep their order. Should a statement fail (which a
//! sound database never makes it do), the batch rolls back and every send
//! is retried in a transaction of its own, so one bad send never fails the
//! others.

use crate::commit::{Committer, Hook};
use crate::messages::{Created, created};
use crate::rows::{self, Params, col, col_parsed, col_u64, execute, seq_param};
use crate::support::ReopenHook;
use crate::views;
use parley_domain::messages::{self as rules, SendFacts};
use parley_domain::search;
use parley_protocol::{ConversationKind, Message};
use parley_store::{AfterCommit, Delivery, NewMessage, StoreError, StoreResult};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

/// The most sends one transaction stores: a bound on how long a batch
/// holds its conversations' locks and on its statements' array sizes.
const MAX_BATCH: usize = 48;

/// Batches in flight at once: while one commits, the other collects or
/// writes. More make smaller batches and cost more CPU per send (W3 on two
/// cores, interleaved: 1 batcher 6.0-6.2k acked/s, 2 6.0-6.5k, 4 5.2-5.3k,
/// 8 4.4-4.6k). Divides `commit::STRIPES`, so each batcher owns whole
/// stripes.
const BATCHERS: usize = 2;

/// Sends waiting for a batcher (callers wait here beyond it).
const QUEUE: usize = 4096;

/// What a send answers: the message, whether it was created now, and
/// whether it reopened a resolved support conversation.
type Sent = ((Message, bool), bool);

struct Job {
    msg: NewMessage,
    after_commit: Option<AfterCommit>,
    answer: oneshot::Sender<StoreResult<(Message, bool)>>,
}

/// What a batch needs besides its jobs.
#[derive(Clone)]
pub(crate) struct Batching {
    pub committer: Arc<Committer>,
    pub support_hook: Arc<OnceLock<ReopenHook>>,
}

/// One queue per batcher. A conversation's sends always go to the same
/// batcher, chosen by its delivery-order stripe (`commit.rs`), so that
/// batches in flight at once never wait for each other in this process:
/// not for a conversation's row lock, and not for a stripe.
pub(crate) struct SendQueue {
    queues: Vec<mpsc::Sender<Job>>,
}

impl SendQueue {
    /// Starts the batchers; they stop when the queue is dropped.
    pub fn start(ctx: Batching) -> SendQueue {
        let queues = (0..BATCHERS)
            .map(|_| {
                let (jobs, rx) = mpsc::channel(QUEUE);
                tokio::spawn(batcher(rx, ctx.clone()));
                jobs
            })
            .collect();
        SendQueue { queues }
    }

    pub async fn send(
        &self,
        msg: NewMessage,
        after_commit: Option<AfterCommit>,
    ) -> StoreResult<(Message, bool)> {
        let queue = &self.queues[Committer::stripe_of(&msg.conversation_id) % BATCHERS];
        let (answer, answered) = oneshot::channel();
        queue
            .send(Job {
                msg,
                after_commit,
                answer,
            })
            .await
            .map_err(|_| StoreError::Unavailable("the send queue is closed".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Internal("a send batch ended without an answer".into()))?
    }
}

async fn batcher(mut rx: mpsc::Receiver<Job>, ctx: Batching) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        // A task of its own, as a single write runs: a panic loses this
        // batch's answers (their callers see an error), not the batcher.
        let batch = std::mem::replace(&mut jobs, Vec::with_capacity(MAX_BATCH));
        if let Err(e) = tokio::spawn(run_batch(ctx.clone(), batch)).await {
            tracing::error!(error = %e, "send batch failed");
        }
    }
}

async fn run_batch(ctx: Batching, jobs: Vec<Job>) {
    let client = match ctx.committer.client().await {
        Ok(c) => c,
        Err(e) => {
            let text = e.to_string();
            for job in jobs {
                let _ = job.answer.send(Err(StoreError::Unavailable(text.clone())));
            }
            return;
        }
    };
    let mut tx = OpenTx {
        client: Some(client),
        open: false,
    };
    let msgs: Vec<&NewMessage> = jobs.iter().map(|j| &j.msg).collect();
    let mut out = Vec::new();
    let planned = store_batch(&mut tx, &msgs, &mut out).await;
    let batch = match planned {
        Ok(batch) => batch,
        Err(e) => {
            tracing::warn!(error = %e, sends = jobs.len(), "send batch rolled back; sending one by one");
            tx.rollback().await;
            drop(tx);
            for job in jobs {
                let sent = send_alone(&ctx, job.msg, job.after_commit).await;
                let _ = job.answer.send(sent);
            }
            return;
        }
    };
    // The stripe lock spans COMMIT, the hooks and the sink (`commit.rs`).
    let turn = ctx.committer.turn(&batch.keys).await;
    let committed = tx.commit().await;
    drop(tx);
    let mut alone = Vec::new();
    let mut answered = Vec::new();
    for (job, result) in jobs.into_iter().zip(batch.results) {
        match result {
            Decided::Alone => alone.push(job),
            Decided::Done(result) => answered.push((job, *result)),
        }
    }
    match committed {
        Ok(()) => {
            let mut answers = Vec::with_capacity(answered.len());
            for (job, result) in answered {
                if let (Some(h), Ok((message, created))) = (job.after_commit, &result) {
                    h(message, *created);
                }
                answers.push((job.answer, result));
            }
            ctx.committer.deliver(out);
            drop(turn);
            for (answer, result) in answers {
                let _ = answer.send(result);
            }
        }
        Err(e) => {
            drop(turn);
            // A failed COMMIT may or may not have committed: every send of
            // the batch hears so, and none is retried here.
            let text = e.to_string();
            for (job, _) in answered {
                let _ = job.answer.send(Err(StoreError::Unavailable(text.clone())));
            }
        }
    }
    for job in alone {
        let sent = send_alone(&ctx, job.msg, job.after_commit).await;
        let _ = job.answer.send(sent);
    }
}

/// A pooled connection inside a transaction opened by a pipelined `BEGIN`
/// (tokio-postgres' `Transaction` waits for its `BEGIN` alone). Never goes
/// back to the pool mid-transaction: if it is dropped still open (an
/// error before `ROLLBACK` was answered, a panic), the connection is taken
/// out of the pool and closed, which aborts the transaction.
struct OpenTx {
    client: Option<deadpool_postgres::Client>,
    open: bool,
}

impl OpenTx {
    fn client(&self) -> StoreResult<&deadpool_postgres::Client> {
        self.client
            .as_ref()
            .ok_or_else(|| StoreError::Internal("send batch without a connection".into()))
    }

    async fn commit(&mut self) -> StoreResult<()> {
        self.client()?
            .batch_execute("COMMIT")
            .await
            .map_err(|e| StoreError::Unavailable(format!("commit failed: {e}")))?;
        self.open = false;
        Ok(())
    }

    async fn rollback(&mut self) {
        if let Ok(c) = self.client()
            && c.batch_execute("ROLLBACK").await.is_ok()
        {
            self.open = false;
        }
    }
}

impl Drop for OpenTx {
    fn drop(&mut self) {
        if self.open
            && let Some(client) = self.client.take()
        {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

/// One send in a transaction of its own.
pub(crate) async fn send_alone(
    ctx: &Batching,
    msg: NewMessage,
    after_commit: Option<AfterCommit>,
) -> StoreResult<(Message, bool)> {
    let reopened_hook = ctx.support_hook.clone();
    let conv = msg.conversation_id.clone();
    let hook: Hook<Sent> = Box::new(move |r: &Sent| {
        if let Some(h) = after_commit {
            h(&r.0.0, r.0.1);
        }
        if r.1
            && let Some(h) = reopened_hook.get()
        {
            h(&conv);
        }
    });
    let (sent, _) = crate::in_tx!(ctx, Some(hook), move |w, out| async {
        let sent = w.send_message(&msg, out).await?;
        Ok((sent, w.reopened_support))
    })?;
    Ok(sent)
}

/// A locked conversation: its kind and the seq the next event takes.
struct Locked {
    kind: ConversationKind,
    next_seq: u64,
    /// Its sends need reads the batch does not make (support conversations,
    /// replies, attachments): they take the single-send path.
    alone: bool,
}

/// A conversation the batch writes to: its `last_seq` before the batch,
/// after it, and its last activity.
struct Moved {
    id: String,
    before: i64,
    last: i64,
    at: i64,
}

/// The multi-row writes of a batch, one vector per column.
#[derive(Default)]
struct Rows {
    msg_id: Vec<String>,
    msg_conv: Vec<String>,
    msg_seq: Vec<i64>,
    msg_sender: Vec<String>,
    msg_client: Vec<Option<String>>,
    msg_kind: Vec<&'static str>,
    msg_text: Vec<Option<String>>,
    msg_attachments: Vec<String>,
    msg_mentions: Vec<String>,
    msg_at: Vec<i64>,
    ev_type: Vec<&'static str>,
    ev_body: Vec<String>,
    search_conv: Vec<String>,
    search_seq: Vec<i64>,
    search_doc: Vec<String>,
    link_conv: Vec<String>,
    link_seq: Vec<i64>,
    link_pos: Vec<i32>,
    link_msg: Vec<String>,
    link_url: Vec<String>,
}

/// What became of each send of a batch, in queue order.
enum Decided {
    /// For the single-send path, after the batch commits.
    Alone,
    Done(Box<StoreResult<(Message, bool)>>),
}

struct Batch {
    /// The conversations locked (the stripes to take before `COMMIT`).
    keys: Vec<String>,
    results: Vec<Decided>,
}

const LOCK: &str =
    "SELECT id, kind, last_seq FROM conversations WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE";
const MEMBERS: &str = "SELECT conversation_id, user_id FROM members WHERE conversation_id = ANY($1) AND active = TRUE";
const BLOCKS: &str =
    "SELECT blocker_id, blocked_id FROM blocks WHERE blocker_id = ANY($1) OR blocked_id = ANY($1)";

/// Opens the transaction and stores the batch in it (not committed);
/// `Err` only when a statement failed (the transaction is then unusable).
async fn store_batch(
    tx: &mut OpenTx,
    msgs: &[&NewMessage],
    out: &mut Vec<Delivery>,
) -> StoreResult<Batch> {
    let mut conv_ids: Vec<&str> = msgs.iter().map(|m| m.conversation_id.as_str()).collect();
    conv_ids.sort_unstable();
    conv_ids.dedup();
    let mut senders: Vec<&str> = msgs.iter().map(|m| m.sender_id.as_str()).collect();
    senders.sort_unstable();
    senders.dedup();
    let (mut keyed_conv, mut keyed_sender, mut keyed_client) = (Vec::new(), Vec::new(), Vec::new());
    for m in msgs {
        if let Some(c) = &m.client_id {
            keyed_conv.push(m.conversation_id.as_str());
            keyed_sender.push(m.sender_id.as_str());
            keyed_client.push(c.as_str());
        }
    }
    // LATERAL ... LIMIT 1 keeps the planner from turning this into a hash
    // join over the whole table: one probe of the idempotency index per key.
    let earlier_sql = format!(
        "SELECT m.* FROM unnest($1::text[], $2::text[], $3::text[]) AS k(c, s, cl)
         CROSS JOIN LATERAL (SELECT {} FROM messages
           WHERE conversation_id = k.c AND sender_id = k.s AND client_id = k.cl LIMIT 1) m",
        rows::MESSAGE_COLS
    );
    tx.open = true;
    let c = tx.client()?;
    // Prepared (a round trip only on a connection's first batch) before
    // anything is sent, so that the statements below go out in the order
    // they are written: each is sent when first polled.
    let (lock, member_stmt, block_stmt, earlier_stmt) = tokio::try_join!(
        c.prepare_cached(LOCK),
        c.prepare_cached(MEMBERS),
        c.prepare_cached(BLOCKS),
        c.prepare_cached(&earlier_sql),
    )
    .map_err(rows::db_err)?;
    let lock_params: Params<'_> = &[&conv_ids];
    let member_params: Params<'_> = &[&conv_ids];
    let block_params: Params<'_> = &[&senders];
    let earlier_params: Params<'_> = &[&keyed_conv, &keyed_sender, &keyed_client];
    let (_, locked_rows, member_rows, block_rows, earlier_rows) = tokio::try_join!(
        c.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED"),
        c.query(&lock, lock_params),
        c.query(&member_stmt, member_params),
        c.query(&block_stmt, block_params),
        async {
            if keyed_conv.is_empty() {
                Ok(Vec::new())
            } else {
                c.query(&earlier_stmt, earlier_params).await
            }
        },
    )
    .map_err(rows::db_err)?;

    let mut locked: HashMap<String, Locked> = HashMap::with_capacity(locked_rows.len());
    let mut keys = Vec::with_capacity(locked_rows.len());
    for r in &locked_rows {
        let id: String = col(r, 0)?;
        let kind = col_parsed(r, 1, "conversation kind", ConversationKind::parse)?;
        keys.push(id.clone());
        locked.insert(
            id,
            Locked {
                alone: kind == ConversationKind::Support,
                kind,
                next_seq: col_u64(r, 2)? + 1,
            },
        );
    }
    for m in msgs {
        if (m.reply_to.is_some() || !m.attachments.is_empty())
            && let Some(l) = locked.get_mut(&m.conversation_id)
        {
            l.alone = true;
        }
    }
    let mut members: HashMap<String, Vec<String>> = HashMap::new();
    for r in &member_rows {
        members
            .entry(col(r, 0)?)
            .or_default()
            .push(col::<String>(r, 1)?);
    }
    let members: HashMap<String, Arc<[String]>> = members
        .into_iter()
        .map(|(conv, ids)| (conv, Arc::from(ids)))
        .collect();
    // Each sender's block partners, either direction (rows::block_partners).
    let mut partners: HashMap<&str, Vec<String>> = HashMap::new();
    for r in &block_rows {
        let (blocker, blocked): (String, String) = (col(r, 0)?, col(r, 1)?);
        for (me, other) in [(&blocker, &blocked), (&blocked, &blocker)] {
            if let Ok(i) = senders.binary_search(&me.as_str()) {
                partners.entry(senders[i]).or_default().push(other.clone());
            }
        }
    }
    for p in partners.values_mut() {
        p.sort_unstable();
        p.dedup();
    }
    let mut earlier: HashMap<(String, String, String), rules::MessageRow> = HashMap::new();
    for r in &earlier_rows {
        let row = rows::message_row(r)?;
        if let Some(c) = row.client_id.clone() {
            earlier.insert((row.conversation_id.clone(), row.sender_id.clone(), c), row);
        }
    }

    // The domain's answer for each send, in queue order.
    let no_partners = Vec::new();
    let no_members: Arc<[String]> = Arc::from(Vec::new());
    let mut results: Vec<Decided> = Vec::with_capacity(msgs.len());
    let mut new_in_batch: HashMap<(&str, &str, &str), Message> = HashMap::new();
    let mut rows_out = Rows::default();
    let mut moved: Vec<Moved> = Vec::new();
    let mut watermarks: HashMap<(&str, &str), i64> = HashMap::new();
    for m in msgs {
        let conv = locked.get_mut(&m.conversation_id);
        if conv.as_ref().is_some_and(|l| l.alone) {
            results.push(Decided::Alone);
            continue;
        }
        let room = members
            .get(&m.conversation_id)
            .cloned()
            .unwrap_or_else(|| no_members.clone());
        let hidden = partners.get(m.sender_id.as_str()).unwrap_or(&no_partners);
        let kind = conv.as_ref().map(|l| l.kind);
        let facts = SendFacts {
            is_member: room.contains(&m.sender_id),
            kind,
            blocked: kind.is_some_and(rules::blocks_apply)
                && room
                    .iter()
                    .any(|p| *p != m.sender_id && hidden.binary_search(p).is_ok()),
            reply: None,
            media: Vec::new(),
        };
        let checked = rules::check_send(m, &facts);
        let (Ok(_), Some(conv)) = (&checked, conv) else {
            // check_send refuses a conversation that does not exist.
            let e = checked
                .err()
                .map_or_else(|| StoreError::not_found("conversation"), StoreError::from);
            results.push(Decided::Done(Box::new(Err(e))));
            continue;
        };
        // A retry of a stored send (or of one earlier in this batch): the
        // original, and nothing written.
        if let Some(client_id) = &m.client_id {
            let key = (
                m.conversation_id.clone(),
                m.sender_id.clone(),
                client_id.clone(),
            );
            if let Some(row) = earlier.get(&key) {
                let view = views::message_view(c, &m.sender_id, row, None).await?;
                results.push(Decided::Done(Box::new(Ok((view, false)))));
                continue;
            }
            let key = (
                m.conversation_id.as_str(),
                m.sender_id.as_str(),
                client_id.as_str(),
            );
            if let Some(first) = new_in_batch.get(&key) {
                results.push(Decided::Done(Box::new(Ok((first.clone(), false)))));
                continue;
            }
        }
        let seq = conv.next_seq;
        conv.next_seq += 1;
        let Created {
            row,
            answer,
            body,
            event_kind,
            event,
            receipt,
        } = created(m, seq, &[], room, hidden)?;
        out.push(event);
        out.extend(receipt);
        let (attachments, mentions) = row.lists_json();
        let seq_p = seq_param(seq);
        if let Some(doc) = row.text.as_deref().and_then(search::tsvector) {
            rows_out.search_conv.push(row.conversation_id.clone());
            rows_out.search_seq.push(seq_p);
            rows_out.search_doc.push(doc);
        }
        for (pos, url) in parley_domain::media::links_of(row.text.as_deref())
            .into_iter()
            .enumerate()
        {
            rows_out.link_conv.push(row.conversation_id.clone());
            rows_out.link_seq.push(seq_p);
            rows_out
                .link_pos
                .push(i32::try_from(pos).unwrap_or(i32::MAX));
            rows_out.link_msg.push(row.id.clone());
            rows_out.link_url.push(url);
        }
        match moved.iter_mut().find(|c| c.id == m.conversation_id) {
            Some(c) => {
                c.last = seq_p;
                c.at = c.at.max(m.at.millis());
            }
            None => moved.push(Moved {
                id: m.conversation_id.clone(),
                before: seq_p - 1,
                last: seq_p,
                at: m.at.millis(),
            }),
        }
        watermarks.insert((m.conversation_id.as_str(), m.sender_id.as_str()), seq_p);
        rows_out.ev_type.push(event_kind);
        rows_out.ev_body.push(body);
        rows_out.msg_id.push(row.id);
        rows_out.msg_conv.push(row.conversation_id);
        rows_out.msg_seq.push(seq_p);
        rows_out.msg_sender.push(row.sender_id);
        rows_out.msg_client.push(row.client_id);
        rows_out.msg_kind.push(row.kind.as_str());
        rows_out.msg_text.push(row.text);
        rows_out.msg_attachments.push(attachments);
        rows_out.msg_mentions.push(mentions);
        rows_out.msg_at.push(m.at.millis());
        if let Some(client_id) = &m.client_id {
            new_in_batch.insert(
                (
                    m.conversation_id.as_str(),
                    m.sender_id.as_str(),
                    client_id.as_str(),
                ),
                answer.clone(),
            );
        }
        results.push(Decided::Done(Box::new(Ok((answer, true)))));
    }
    if !rows_out.msg_id.is_empty() {
        write_rows(c, &rows_out, &moved, &watermarks).await?;
    }
    Ok(Batch { keys, results })
}

/// The batch's rows, one statement per table, in one round trip. Counts
/// are checked: a conversation whose `last_seq` moved under the lock (it
/// cannot) fails the batch rather than leaving a gap or a reused seq.
async fn write_rows(
    c: &deadpool_postgres::Client,
    r: &Rows,
    moved: &[Moved],
    watermarks: &HashMap<(&str, &str), i64>,
) -> StoreResult<()> {
    let c_id: Vec<&str> = moved.iter().map(|c| c.id.as_str()).collect();
    let c_last: Vec<i64> = moved.iter().map(|c| c.last).collect();
    let c_first: Vec<i64> = moved.iter().map(|c| c.before).collect();
    let c_at: Vec<i64> = moved.iter().map(|c| c.at).collect();
    let (mut wm_conv, mut wm_user, mut wm_seq) = (Vec::new(), Vec::new(), Vec::new());
    for ((conv, user), seq) in watermarks {
        wm_conv.push(*conv);
        wm_user.push(*user);
        wm_seq.push(*seq);
    }
    let message_params: Params<'_> = &[
        &r.msg_id,
        &r.msg_conv,
        &r.msg_seq,
        &r.msg_sender,
        &r.msg_client,
        &r.msg_kind,
        &r.msg_text,
        &r.msg_attachments,
        &r.msg_mentions,
        &r.msg_at,
    ];
    let conversation_params: Params<'_> = &[&c_id, &c_last, &c_first, &c_at];
    let event_params: Params<'_> = &[
        &r.msg_conv,
        &r.msg_seq,
        &r.ev_type,
        &r.ev_body,
        &r.msg_at,
        &r.msg_sender,
    ];
    let member_params: Params<'_> = &[&wm_conv, &wm_user, &wm_seq];
    let search_params: Params<'_> = &[&r.search_conv, &r.search_seq, &r.search_doc];
    let link_params: Params<'_> = &[
        &r.link_conv,
        &r.link_seq,
        &r.link_pos,
        &r.link_msg,
        &r.link_url,
    ];
    let (inserted, moved, _, marked, _, _) = tokio::try_join!(
        execute(
            c,
            "INSERT INTO messages (id, conversation_id, seq, sender_id, client_id, kind, text, attachments, mentions, created_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[])",
            message_params,
        ),
        execute(
            c,
            "UPDATE conversations c SET last_seq = v.last, last_message_seq = v.last, last_activity_at = v.at
             FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS v(id, last, first, at)
             WHERE c.id = v.id AND c.last_seq = v.first",
            conversation_params,
        ),
        execute(c, INSERT_EVENTS, event_params),
        execute(
            c,
            "UPDATE members m SET read_seq = v.seq, delivered_seq = v.seq
             FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(conv, usr, seq)
             WHERE m.conversation_id = v.conv AND m.user_id = v.usr",
            member_params,
        ),
        async {
            if r.search_conv.is_empty() {
                return Ok(0);
            }
            execute(
                c,
                "INSERT INTO message_search (conversation_id, seq, doc)
                 SELECT c, s, d::tsvector FROM unnest($1::text[], $2::bigint[], $3::text[]) AS t(c, s, d)",
                search_params,
            )
            .await
        },
        async {
            if r.link_conv.is_empty() {
                return Ok(0);
            }
            execute(
                c,
                "INSERT INTO message_links (conversation_id, seq, position, message_id, url)
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[], $4::text[], $5::text[])",
                link_params,
            )
            .await
        },
    )?;
    let expect = |what: &str, got: u64, want: usize| {
        if got == want as u64 {
            Ok(())
        } else {
            Err(StoreError::Internal(format!(
                "send batch: {what} wrote {got} rows, expected {want}"
            )))
        }
    };
    expect("messages", inserted, r.msg_id.len())?;
    expect("conversations", moved, c_id.len())?;
    expect("members", marked, wm_conv.len())?;
    Ok(())
}

/// [`crate::events::INSERT_EVENT`] for many events at once (`$1`..`$6`
/// arrays of the same columns): each event, its push fan-out row and its
/// webhook deliveries.
const INSERT_EVENTS: &str = "WITH ev AS (
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[])
         WITH ORDINALITY AS e(conversation_id, seq, type, body, at, actor, n)),
     stored AS (
       INSERT INTO events (conversation_id, seq, type, body)
       SELECT conversation_id, seq, type, body FROM ev ORDER BY n),
     pushes AS (
       INSERT INTO outbox (id, channel, target, event_type, body, status, attempts, created_at, next_attempt_at, topic, seq)
       SELECT 'pfo_' || replace(gen_random_uuid()::text, '-', ''), 'push_fanout', actor, type, body, 'pending', 0, at, at, conversation_id, seq
       FROM ev WHERE type = 'message.created' AND EXISTS (SELECT 1 FROM push_subscriptions))
     INSERT INTO outbox (id, channel, target, event_type, body, status, attempts, created_at, next_attempt_at)
     SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), 'webhook', w.id, ev.type, ev.body, 'pending', 0, ev.at, ev.at
     FROM ev JOIN webhook_events e ON e.event_type = ev.type JOIN webhooks w ON w.id = e.webhook_id
     WHERE w.active";

const _: () = assert!(crate::commit::STRIPES.is_multiple_of(BATCHERS));
