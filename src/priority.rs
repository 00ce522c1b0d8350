//! Background priority for work the supervisor hands to other threads: the commands a
//! completion starts (`git commit`, a command gate's test suite) run at nice 10 so that the
//! loop reading every agent's screen keeps its CPU, while the threads themselves stay at the
//! loop's priority.
//!
//! Why not lower the threads: a thread at nice 10 that holds one of SQLite's process-wide
//! mutexes (the bundled build's unified page cache and memory statistics) or the database's
//! write lock is preempted by everything at nice 0, and the loop then waits for it. Measured
//! with `BENCH_VERBOSE=1 cargo bench --bench supervisor -- 100` and `strace -k -e futex` on
//! the loop's thread: 100 completions at nice 10 held it up to 190 ms per wait in
//! `sqlite3Malloc` and `pcache1Fetch`.

use std::cell::Cell;
use std::process::Command;

/// The nice value of background commands (0 is normal, 19 the lowest).
pub const BACKGROUND_NICE: i32 = 10;

thread_local! {
    static BACKGROUND: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as background work: commands it prepares with [`lower`] run at
/// [`BACKGROUND_NICE`]. The thread's own priority is unchanged.
pub fn enter_background() {
    BACKGROUND.with(|b| b.set(true));
}

/// True when the calling thread was marked with [`enter_background`].
pub fn in_background() -> bool {
    BACKGROUND.with(Cell::get)
}

/// Makes `cmd` start at [`BACKGROUND_NICE`] when the calling thread is background work
/// (see [`enter_background`]); otherwise leaves it alone. The child lowers itself between
/// fork and exec, so nothing else in this process changes priority. A failure to lower is
/// ignored there (the command runs at normal priority).
pub fn lower(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    if in_background() {
        // SAFETY: the closure runs in the forked child before exec and calls only
        // setpriority(2), a plain system call that is async-signal-safe; it allocates
        // nothing and touches no lock. `who` 0 with PRIO_PROCESS is the child itself.
        unsafe {
            cmd.pre_exec(|| {
                libc::setpriority(libc::PRIO_PROCESS, 0, BACKGROUND_NICE);
                Ok(())
            });
        }
    }
    cmd
}

/// Lowers the calling thread itself to [`BACKGROUND_NICE`] (Linux: the nice value is per
/// thread, and processes it starts inherit it). Only for threads that take no lock the
/// supervisor loop waits for (no SQLite): a pane close scanning /proc for the run's processes.
/// Failure is harmless: logged.
pub fn lower_this_thread() {
    // SAFETY: setpriority reads no memory of ours; its arguments are plain integers. `who` 0
    // with PRIO_PROCESS is the calling task, which on Linux is this thread (setpriority(2),
    // NOTES: the nice value is a per-thread attribute).
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, BACKGROUND_NICE) };
    if rc != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "cannot lower this thread's priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nice_of(cmd: &mut Command) -> i32 {
        // Field 19 of /proc/self/stat is the nice value.
        let out = lower(cmd.args(["-c", "cut -d' ' -f19 /proc/self/stat"]))
            .output()
            .expect("sh");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("nice value")
    }

    #[test]
    fn only_commands_of_background_threads_are_lowered() {
        let here = nice_of(&mut Command::new("sh"));
        let background = std::thread::spawn(|| {
            enter_background();
            nice_of(&mut Command::new("sh"))
        })
        .join()
        .expect("thread");
        assert_eq!(background, (here + BACKGROUND_NICE).min(19));
        // The thread that marked itself is unchanged, and so is this one.
        assert_eq!(nice_of(&mut Command::new("sh")), here);
    }
}
