//! The web client's files, embedded at build time.
//!
//! `web/` holds the client exactly as browsers load it: `index.html`,
//! `app.css` and ES modules under `js/` (see `web/js/parley/README.md` for
//! the protocol module). There is no build step; the server serves these
//! bytes (or a folder given with `--web-dir`) under a strict CSP.
#![forbid(unsafe_code)]

use include_dir::{Dir, include_dir};

/// Every file of `web/`, by its path relative to that folder.
pub static ASSETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/web");
