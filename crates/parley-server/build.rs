//! The web client is embedded with `include_dir!`, which cannot tell cargo
//! about the files it reads on stable Rust: rebuild when they change.
fn main() {
    println!("cargo:rerun-if-changed=web");
    println!("cargo:rerun-if-changed=migrations");
}
