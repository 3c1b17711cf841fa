//! `message.send`: the same send as REST, answered with an `ack`.

use super::Request;
use crate::error::AppError;
use parley_protocol::{SendMessageRequest, ServerFrame};
use parley_store::AfterCommit;

pub async fn send(r: Request<'_>, conv: &str, req: SendMessageRequest) -> Result<(), AppError> {
    // The ack is queued right after the commit and before the event is
    // fanned out, so this connection sees the ack first and then its own
    // event.
    let hook = r.reference.clone().map(|reference| {
        let h = r.handle.clone();
        Box::new(move |m: &parley_protocol::Message, _created: bool| {
            super::super::connection::reply(
                &h,
                &ServerFrame::Ack {
                    reference,
                    message: Some(m.clone()),
                    read_seq: None,
                    delivered_seq: None,
                    unread_count: None,
                },
            );
        }) as AfterCommit
    });
    r.state
        .services
        .messages
        .send(&r.who.user_id, conv, req, hook)
        .await?;
    Ok(())
}
