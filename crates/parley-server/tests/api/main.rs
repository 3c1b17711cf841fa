//! API tests: the real server on a random port, driven over real HTTP and
//! WebSocket sockets by the SDK. One binary, one module per area.

mod auth;
mod authz;
mod bad_input;
mod blocking;
mod chat_state;
mod cluster;
mod conversations;
mod digests;
mod export;
mod fuzz;
mod gateway;
mod guarantees;
mod hardening;
mod helpers;
mod hostile;
mod lifecycle;
mod limits;
mod media;
mod media_s3;
mod mentions;
mod message_marks;
mod messages;
mod moderation;
mod notifications;
mod ops;
mod push;
mod realtime;
mod receipts;
mod receiver;
mod retention;
mod search;
mod smtp;
mod support;
mod support_cluster;
mod webhooks;
