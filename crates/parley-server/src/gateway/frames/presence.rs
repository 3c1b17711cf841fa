//! `presence.set`: a hidden tab is away, a visible one online.

use super::Request;
use crate::error::AppError;
use parley_protocol::PresenceState;

pub fn set(r: Request<'_>, wanted: PresenceState) -> Result<(), AppError> {
    let hidden = match wanted {
        PresenceState::Online => false,
        PresenceState::Away => true,
        PresenceState::Offline => {
            return Err(AppError::invalid("state", "state must be online or away"));
        }
    };
    r.state
        .services
        .presence
        .set_hidden(&r.who.user_id, r.handle.id, hidden);
    r.ack();
    Ok(())
}
