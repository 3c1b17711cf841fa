//! `message.delivered` and `message.read`: watermarks, answered with the
//! new values.

use super::Request;
use crate::error::AppError;
use parley_protocol::ServerFrame;

pub async fn delivered(r: Request<'_>, conv: &str, seq: i64) -> Result<(), AppError> {
    let delivered = r
        .state
        .services
        .receipts
        .mark_delivered(&r.who.user_id, conv, seq)
        .await?;
    if let Some(reference) = r.reference.clone() {
        r.reply(&ServerFrame::Ack {
            reference,
            message: None,
            read_seq: None,
            delivered_seq: Some(delivered),
            unread_count: None,
        });
    }
    Ok(())
}

pub async fn read(r: Request<'_>, conv: &str, seq: i64) -> Result<(), AppError> {
    let read = r
        .state
        .services
        .receipts
        .mark_read(&r.who.user_id, conv, seq)
        .await?;
    if let Some(reference) = r.reference.clone() {
        r.reply(&ServerFrame::Ack {
            reference,
            message: None,
            read_seq: Some(read.read_seq),
            delivered_seq: None,
            unread_count: Some(read.unread_count),
        });
    }
    Ok(())
}
