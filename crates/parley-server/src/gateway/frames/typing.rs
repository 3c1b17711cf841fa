//! `typing.start` and `typing.stop`.

use super::Request;
use crate::error::AppError;

pub async fn start(r: Request<'_>, conv: &str) -> Result<(), AppError> {
    r.state.services.typing.start(conv, &r.who.user_id).await?;
    r.ack();
    Ok(())
}

pub async fn stop(r: Request<'_>, conv: &str) -> Result<(), AppError> {
    r.state.services.typing.stop(conv, &r.who.user_id).await?;
    r.ack();
    Ok(())
}
