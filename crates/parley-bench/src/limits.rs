//! Open-file limits. Every connection is a file descriptor on both sides
//! of loopback, so the bench raises its own limit first; a server it
//! starts inherits it.

use crate::procfs;

/// Raises RLIMIT_NOFILE to `want` when allowed (root may raise the hard
/// limit too), else to the hard limit. Returns the soft limit now in force.
pub fn raise_nofile(want: u64) -> u64 {
    let Ok((soft, hard)) = rlimit::Resource::NOFILE.get() else {
        return 0;
    };
    if want > hard && rlimit::Resource::NOFILE.set(want, want).is_ok() {
        return want;
    }
    let target = hard.max(soft);
    if rlimit::Resource::NOFILE.set(target, hard).is_ok() {
        target
    } else {
        soft
    }
}

/// A warning when a server cannot hold `connections` more descriptors.
pub fn server_warning(pid: Option<u32>, connections: usize) -> Option<String> {
    let pid = pid?;
    let limit = procfs::nofile_limit(pid)?;
    // Room for the database, listeners and a margin.
    let need = connections as u64 + 256;
    (limit < need).then(|| {
        format!(
            "the server (pid {pid}) may open at most {limit} files but needs about {need}: \
             start it with a higher limit (`ulimit -n {need}` or `prlimit --pid {pid} --nofile={need}`)"
        )
    })
}
