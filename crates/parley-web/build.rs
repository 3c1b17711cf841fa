//! `include_dir!` cannot tell cargo about the files it reads on stable
//! Rust: rebuild when they change. The files live in this crate alone, so
//! an edit to the client rebuilds this crate and relinks the server, and
//! nothing else.
fn main() {
    println!("cargo:rerun-if-changed=web");
}
