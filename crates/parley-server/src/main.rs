//! `parley`: the command line lives in the library (`parley_server::cli`).

fn main() -> anyhow::Result<()> {
    parley_server::cli::main()
}
