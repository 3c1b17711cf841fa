//! `sync`: checked here, run by the connection's writer task (so catch-up
//! and live events cannot overtake each other).

use super::Request;
use crate::error::AppError;
use crate::fanout::{Outbound, SyncRequest};
use parley_protocol::SinceMap;

/// Most conversations one `sync` may name.
const MAX_SINCE_ENTRIES: usize = 10_000;

pub fn sync(r: Request<'_>, since: SinceMap) -> Result<(), AppError> {
    if since.len() > MAX_SINCE_ENTRIES {
        return Err(AppError::invalid(
            "since",
            "since lists too many conversations",
        ));
    }
    if since.values().any(|s| *s < 0) {
        return Err(AppError::invalid("since", "seqs must not be negative"));
    }
    r.handle.push(Outbound::Sync(Box::new(SyncRequest {
        reference: r.reference,
        since,
    })));
    Ok(())
}
