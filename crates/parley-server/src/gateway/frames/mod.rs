//! Client frames, one module per area, each calling its service: the
//! gateway's twin of `http/`. A new capability's frames are a new module
//! here and an arm in [`dispatch`].

mod messages;
mod presence;
mod receipts;
mod sync;
mod typing;

use crate::app::AppState;
use crate::auth::Principal;
use crate::error::AppError;
use crate::fanout::ConnHandle;
use parley_protocol::{ClientFrame, ServerFrame};
use std::sync::Arc;

/// What a frame handler needs: who sent it, on which connection, and the
/// `ref` to answer.
pub struct Request<'a> {
    pub state: &'a AppState,
    pub who: &'a Principal,
    pub handle: &'a Arc<ConnHandle>,
    pub reference: Option<String>,
}

impl Request<'_> {
    /// `ack` with nothing in it, if the frame asked for an answer.
    fn ack(&self) {
        super::connection::ack(self.handle, self.reference.clone());
    }

    fn reply(&self, frame: &ServerFrame) {
        super::connection::reply(self.handle, frame);
    }
}

/// Handles one well-formed frame; an error is answered with an `error`
/// frame by the caller.
pub async fn dispatch(
    state: &AppState,
    who: &Principal,
    handle: &Arc<ConnHandle>,
    frame: ClientFrame,
    reference: Option<String>,
) -> Result<(), AppError> {
    // Anything but a heartbeat or a presence change shows the user active.
    if !matches!(
        frame,
        ClientFrame::Ping { .. } | ClientFrame::PresenceSet { .. }
    ) {
        state.services.presence.active(&who.user_id, handle.id);
    }
    let r = Request {
        state,
        who,
        handle,
        reference,
    };
    match frame {
        ClientFrame::MessageSend {
            conversation_id,
            client_id,
            text,
            attachments,
            reply_to,
            ..
        } => {
            let req = parley_protocol::SendMessageRequest {
                client_id,
                text,
                attachments,
                reply_to,
            };
            messages::send(r, &conversation_id, req).await
        }
        ClientFrame::MessageDelivered {
            conversation_id,
            seq,
            ..
        } => receipts::delivered(r, &conversation_id, seq).await,
        ClientFrame::MessageRead {
            conversation_id,
            seq,
            ..
        } => receipts::read(r, &conversation_id, seq).await,
        ClientFrame::TypingStart {
            conversation_id, ..
        } => typing::start(r, &conversation_id).await,
        ClientFrame::TypingStop {
            conversation_id, ..
        } => typing::stop(r, &conversation_id).await,
        ClientFrame::PresenceSet { state: wanted, .. } => presence::set(r, wanted),
        ClientFrame::Sync { since, .. } => sync::sync(r, since),
        ClientFrame::Ping { .. } => {
            let reference = r.reference.clone();
            r.reply(&ServerFrame::Pong { reference });
            Ok(())
        }
    }
}
