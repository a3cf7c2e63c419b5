//! Keeps a serving process's memory out of core dumps and away from other processes of the same
//! user. A server holds the root key, vault keys and, for the moment a request takes, secret
//! values; freed buffers keep them until reused. A crash must not write them to a core file
//! (systemd-coredump keeps those for days, readable by the user), and a same-user process must
//! not read them through `ptrace` or `/proc/<pid>/mem`.

use rustix::process::{DumpableBehavior, Resource, Rlimit, set_dumpable_behavior, setrlimit};

/// Turns core dumps off (soft and hard limit 0, so that nothing in the process can turn them
/// back on) and marks the process not dumpable, which also refuses `ptrace` attaches and
/// `/proc/<pid>/mem` to processes without `CAP_SYS_PTRACE`.
///
/// # Errors
/// The kernel refused either setting (a seccomp filter, say); the caller decides whether to go
/// on.
pub fn keep_private() -> std::io::Result<()> {
    setrlimit(Resource::Core, Rlimit { current: Some(0), maximum: Some(0) })?;
    set_dumpable_behavior(DumpableBehavior::NotDumpable)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rustix::process::{DumpableBehavior, Resource, dumpable_behavior, getrlimit};

    #[test]
    fn the_process_leaves_no_core_and_is_not_dumpable() {
        super::keep_private().unwrap();
        let core = getrlimit(Resource::Core);
        assert_eq!((core.current, core.maximum), (Some(0), Some(0)));
        assert_eq!(dumpable_behavior().unwrap(), DumpableBehavior::NotDumpable);
    }
}
