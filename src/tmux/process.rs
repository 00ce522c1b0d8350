//! Stopping a pane's whole process tree (ARCHITECTURE.md, `tmux/`).
//!
//! A pane's command is launched as the pane's own command, so it leads its own session and
//! process group: signalling the group reaches the children that stayed in it. Children that
//! moved to another group are found through `/proc` (as descendants, and by session id once
//! their parent died and they were re-parented). Linux only: everything here reads `/proc`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::TmuxError;

/// How often `terminate` looks at `/proc` while it waits.
const POLL: Duration = Duration::from_millis(20);
/// How long `terminate` waits for SIGKILLed processes to disappear.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// One process as `/proc/<pid>/stat` describes it.
#[derive(Debug, Clone, Copy)]
struct ProcInfo {
    ppid: u32,
    pgrp: u32,
    sid: u32,
    zombie: bool,
    /// Start time in clock ticks since boot: tells a process from a later one reusing its pid.
    start: u64,
}

/// Stops the process tree of `pid` (normally a pane's pid from `PaneState::pid`): SIGTERM to
/// its process group and to every process of the tree (`pid`, its descendants, and every
/// process still in its session or process group), then waits up to `grace`, polling every
/// 20 ms (children that appear meanwhile are signalled too), then SIGKILL to whatever is
/// left, then waits up to 2 s for those to go.
///
/// Returns the pids still alive afterwards, sorted; normally empty. Zombies (dead, waiting
/// to be reaped by tmux or init) do not count as alive. Processes that cannot be signalled
/// (EPERM) are logged and show up as survivors. A `pid` that no longer exists, with no
/// process left in its session or group, is `Ok(vec![])`.
///
/// Call it for a live pane, or right after one died: a long-dead pid may have been reused.
///
/// Errors: [`TmuxError::Proc`] when `/proc` cannot be read.
pub fn terminate(pid: u32, grace: Duration) -> Result<Vec<u32>, TmuxError> {
    terminate_marked(pid, &[], grace)
}

/// [`terminate`], also reaching every process (and its descendants) whose environment holds
/// every entry of one of `marks` (each a set of `NAME=value` entries that together are unique
/// to the run, such as `BOSUN_RUN_ID=7` with `BOSUN_DB=/path/bosun.db`, or the run's
/// `BOSUN_HOOK_TOKEN`). A `pid` of 0 (the pane is gone) stops only the marked processes.
/// Only processes of this user can be read, and so signalled. Empty `marks` (or an empty
/// mark) reach nothing beyond the tree of `pid`.
///
/// Returns the pids still alive afterwards (see [`terminate`]).
///
/// Errors: [`TmuxError::Proc`] when `/proc` cannot be read.
pub fn terminate_marked(
    pid: u32,
    marks: &[Vec<String>],
    grace: Duration,
) -> Result<Vec<u32>, TmuxError> {
    let marks: Vec<&Vec<String>> = marks.iter().filter(|m| !m.is_empty()).collect();
    let identity = (!marks.is_empty()).then_some(marks.as_slice());
    let mut targets: HashMap<u32, u64> = HashMap::new();
    let mut signalled: HashSet<u32> = HashSet::new();
    // Processes whose environment was read already (pid → start time): each is read once, not
    // once per 20 ms poll (a read of `/proc/<pid>/environ` takes the target's memory lock).
    let mut read_env: HashMap<u32, u64> = HashMap::new();
    let mut collect =
        |root: u32, procs: &HashMap<u32, ProcInfo>, targets: &mut HashMap<u32, u64>| {
            collect(root, procs, targets);
            if let Some(identity) = identity {
                carrying(identity, procs, targets, &mut read_env);
            }
        };

    let procs = snapshot()?;
    collect(pid, &procs, &mut targets);
    targets.retain(|p, start| alive(&procs, *p, *start));
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    send(pid, &targets, &mut signalled, Signal::SIGTERM);

    let deadline = Instant::now() + grace;
    loop {
        let procs = snapshot()?;
        collect(pid, &procs, &mut targets);
        targets.retain(|p, start| alive(&procs, *p, *start));
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        if Instant::now() >= deadline {
            break;
        }
        // Late children (forked after the first signal) get their SIGTERM too.
        send_new(&targets, &mut signalled, Signal::SIGTERM);
        std::thread::sleep(POLL);
    }

    tracing::debug!(
        pid,
        left = targets.len(),
        "grace period over; sending SIGKILL"
    );
    signalled.clear();
    send(pid, &targets, &mut signalled, Signal::SIGKILL);
    let deadline = Instant::now() + KILL_WAIT;
    loop {
        let procs = snapshot()?;
        collect(pid, &procs, &mut targets);
        targets.retain(|p, start| alive(&procs, *p, *start));
        send_new(&targets, &mut signalled, Signal::SIGKILL);
        if targets.is_empty() || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(POLL);
    }
    let mut left: Vec<u32> = targets.into_keys().collect();
    left.sort_unstable();
    if !left.is_empty() {
        tracing::warn!(pid, survivors = ?left, "processes survived SIGKILL");
    }
    Ok(left)
}

/// [`super::Tmux::stop_server`] for a server known only by its socket name (`tmux -L
/// socket`), with the default tmux binary and no config file: for guards that clean up after
/// a test or a scratch session. Waits (up to 2 s) until the server no longer answers, as
/// [`super::Tmux::kill_server`] does. Failures are ignored: there is nothing left to do about
/// them.
pub fn stop_server_on(socket: &str, grace: Duration) {
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .arg("-L")
            .arg(socket)
            .args(args)
            .env_remove("TMUX")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
    };
    let pids = tmux(&["list-panes", "-a", "-F", "#{pane_pid}"])
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for pid in pids.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
        let _ = terminate(pid, grace);
    }
    let _ = tmux(&["kill-server"]);
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && tmux(&["has-session"]).is_ok_and(|o| o.status.success()) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The pids of every live descendant of `pid` (children, their children, …), sorted; not
/// `pid` itself. Zombies are included (they are still in the tree). Empty when `pid` has no
/// children or `/proc` cannot be read.
pub fn descendants(pid: u32) -> Vec<u32> {
    let Ok(procs) = snapshot() else {
        return Vec::new();
    };
    let mut out: Vec<u32> = tree(&procs, &[pid]).into_iter().collect();
    out.retain(|p| *p != pid);
    out.sort_unstable();
    out
}

/// True when process `pid` is alive (not a zombie: a killed daemon its parent has not
/// reaped yet still answers `kill(pid, 0)`) and started no later than `since_ms` (ms since the
/// epoch, with a second of slack), so it can be the process that took a lease then rather than
/// a later one reusing the pid. Start times come from `/proc/<pid>/stat` (ticks of USER_HZ,
/// which Linux fixes at 100 for `/proc`) and the boot time in `/proc/stat`.
pub fn holder_alive(pid: i64, since_ms: i64) -> bool {
    let Ok(pid) = u32::try_from(pid) else {
        return false;
    };
    let Some(info) = read_stat(&PathBuf::from(format!("/proc/{pid}/stat"))) else {
        return false;
    };
    if info.zombie {
        return false;
    }
    let Some(boot_secs) = std::fs::read_to_string("/proc/stat").ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<i64>().ok())
    }) else {
        return true;
    };
    /// USER_HZ: the unit of `/proc/<pid>/stat` times on Linux.
    const TICKS_PER_SEC: i64 = 100;
    let started_ms =
        boot_secs * 1000 + i64::try_from(info.start).unwrap_or(0) * 1000 / TICKS_PER_SEC;
    started_ms <= since_ms + 1000
}

/// Adds to `targets` (pid → start time) `root`, the processes in its session or process
/// group, and the descendants of all of them. A `root` of 0 or 1 (no pane pid, or init) is
/// no root at all: only the descendants of the targets already found are added.
fn collect(root: u32, procs: &HashMap<u32, ProcInfo>, targets: &mut HashMap<u32, u64>) {
    let me = std::process::id();
    let mut roots: Vec<u32> = targets.keys().copied().collect();
    if root > 1 {
        roots.push(root);
        roots.extend(
            procs
                .iter()
                .filter(|(_, i)| i.sid == root || i.pgrp == root)
                .map(|(p, _)| *p),
        );
    }
    for p in tree(procs, &roots) {
        // Never ourselves or init, whatever /proc says.
        if p == me || p <= 1 {
            continue;
        }
        if let Some(info) = procs.get(&p) {
            targets.entry(p).or_insert(info.start);
        }
    }
}

/// Adds to `targets` every process (and its descendants) whose environment holds every entry
/// of one of `marks`; never this process or init. `read_env` (pid → start time) remembers
/// whose environment was read: those are not read again (a process that gains the entry later
/// got it from a marked parent, so it is a descendant and found through the tree).
fn carrying(
    marks: &[&Vec<String>],
    procs: &HashMap<u32, ProcInfo>,
    targets: &mut HashMap<u32, u64>,
    read_env: &mut HashMap<u32, u64>,
) {
    let me = std::process::id();
    let marked: Vec<u32> = procs
        .iter()
        .filter(|(p, _)| **p != me && **p > 1 && !targets.contains_key(p))
        .filter(|(p, info)| read_env.insert(**p, info.start) != Some(info.start))
        .map(|(p, _)| *p)
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/environ")).is_ok_and(|env| {
                marks.iter().any(|mark| {
                    mark.iter().all(|needle| {
                        env.split(|b| *b == 0)
                            .any(|entry| entry == needle.as_bytes())
                    })
                })
            })
        })
        .collect();
    for p in tree(procs, &marked) {
        if p == me || p <= 1 {
            continue;
        }
        if let Some(info) = procs.get(&p) {
            targets.entry(p).or_insert(info.start);
        }
    }
}

/// Every live process (not this one, not init) whose environment holds the entry `entry`
/// (`NAME=value`), with the value of its `key` variable (empty when it has none), sorted by
/// pid: how a starting supervisor finds the processes its database's runs left behind
/// (`entry` = `BOSUN_DB=<path>`, `key` = `BOSUN_RUN_ID`). Processes whose environment cannot be
/// read (another user's, or gone meanwhile) are skipped.
///
/// Errors: [`TmuxError::Proc`] when `/proc` cannot be read.
pub fn carriers(entry: &str, key: &str) -> Result<Vec<(u32, String)>, TmuxError> {
    let me = std::process::id();
    let prefix = format!("{key}=");
    let mut out: Vec<(u32, String)> = snapshot()?
        .into_iter()
        .filter(|(p, info)| *p != me && *p > 1 && !info.zombie)
        .filter_map(|(p, _)| {
            let env = std::fs::read(format!("/proc/{p}/environ")).ok()?;
            let mut found = false;
            let mut value = String::new();
            for e in env.split(|b| *b == 0) {
                if e == entry.as_bytes() {
                    found = true;
                } else if let Some(v) = e.strip_prefix(prefix.as_bytes()) {
                    value = String::from_utf8_lossy(v).into_owned();
                }
            }
            found.then_some((p, value))
        })
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// `roots` and all their descendants.
fn tree(procs: &HashMap<u32, ProcInfo>, roots: &[u32]) -> HashSet<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (p, i) in procs {
        children.entry(i.ppid).or_default().push(*p);
    }
    let mut seen: HashSet<u32> = HashSet::new();
    let mut stack: Vec<u32> = roots.to_vec();
    while let Some(p) = stack.pop() {
        if seen.insert(p)
            && let Some(kids) = children.get(&p)
        {
            stack.extend(kids.iter().copied());
        }
    }
    seen
}

/// Live (not a zombie) and still the same process (same start time).
fn alive(procs: &HashMap<u32, ProcInfo>, pid: u32, start: u64) -> bool {
    procs
        .get(&pid)
        .is_some_and(|i| !i.zombie && i.start == start)
}

/// `sig` to the process group of `root` and to every target.
fn send(root: u32, targets: &HashMap<u32, u64>, signalled: &mut HashSet<u32>, sig: Signal) {
    if let Ok(group) = i32::try_from(root)
        && group > 1
    {
        match killpg(Pid::from_raw(group), sig) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => tracing::warn!(pgrp = root, ?sig, error = %e, "cannot signal process group"),
        }
    }
    send_new(targets, signalled, sig);
}

/// `sig` to every target not signalled yet.
fn send_new(targets: &HashMap<u32, u64>, signalled: &mut HashSet<u32>, sig: Signal) {
    for &p in targets.keys() {
        if !signalled.insert(p) {
            continue;
        }
        let Ok(raw) = i32::try_from(p) else {
            continue;
        };
        match kill(Pid::from_raw(raw), sig) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => tracing::warn!(pid = p, ?sig, error = %e, "cannot signal process"),
        }
    }
}

/// Every process in `/proc`.
fn snapshot() -> Result<HashMap<u32, ProcInfo>, TmuxError> {
    let dir = Path::new("/proc");
    let entries = std::fs::read_dir(dir).map_err(|source| TmuxError::Proc {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out = HashMap::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may vanish between read_dir and the read: skip it.
        if let Some(info) = read_stat(&PathBuf::from(format!("/proc/{pid}/stat"))) {
            out.insert(pid, info);
        }
    }
    Ok(out)
}

/// Parses `/proc/<pid>/stat`: `pid (comm) state ppid pgrp session … starttime(22nd) …`.
/// `comm` may hold spaces and parentheses, so fields are counted after the last `)`.
fn read_stat(path: &Path) -> Option<ProcInfo> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<ProcInfo> {
    let after = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // f[0] is field 3 (state), so field n is f[n - 3].
    Some(ProcInfo {
        zombie: matches!(*f.first()?, "Z" | "X" | "x"),
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        sid: f.get(3)?.parse().ok()?,
        start: f.get(19)?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zombie_or_a_later_process_with_the_pid_does_not_hold_a_lease() {
        let now = crate::store::now_ms();
        let me = i64::from(std::process::id());
        assert!(holder_alive(me, now), "this process, started before now");
        assert!(
            !holder_alive(me, 0),
            "a process started after the lease was taken: reused pid"
        );
        // A child that exited but was not reaped: a zombie.
        let child = std::process::Command::new("true").spawn().expect("true");
        let pid = i64::from(child.id());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while read_stat(&PathBuf::from(format!("/proc/{pid}/stat"))).is_some_and(|i| !i.zombie) {
            assert!(std::time::Instant::now() < deadline, "child did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            nix::sys::signal::kill(Pid::from_raw(i32::try_from(pid).expect("pid")), None).is_ok(),
            "kill(pid, 0) succeeds on a zombie"
        );
        assert!(!holder_alive(pid, now + 10_000), "a zombie holds nothing");
        drop(child);
        assert!(!holder_alive(i64::from(u32::MAX), now));
    }

    #[test]
    fn stat_with_odd_comm_parses() {
        let line = "42 (a) b (c) ) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 9999 1 1";
        let i = parse_stat(line).expect("parses");
        assert_eq!((i.ppid, i.pgrp, i.sid, i.start), (7, 42, 42, 9999));
        assert!(!i.zombie);
        let z = "43 (z) Z 1 43 43 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0";
        assert!(parse_stat(z).expect("parses").zombie);
    }

    #[test]
    fn without_a_pane_pid_only_the_marked_processes_are_stopped() {
        let (name, value) = ("BOSUN_TEST_MARK", std::process::id().to_string());
        let marks = vec![vec![format!("{name}={value}")]];
        let mut marked = std::process::Command::new("sleep")
            .arg("30")
            .env(name, &value)
            .spawn()
            .expect("sleep");
        // Long enough to outlive any slow machine: only a signal may end it during the test.
        let mut bystander = std::process::Command::new("sleep")
            .arg("3600")
            .spawn()
            .expect("sleep");
        let started = std::time::Instant::now();
        let left = terminate_marked(0, &marks, Duration::from_secs(2)).expect("/proc");
        let took = started.elapsed();
        let status = bystander.try_wait().expect("wait");
        let _ = bystander.kill();
        let _ = bystander.wait();
        assert!(left.is_empty(), "{left:?}");
        assert!(marked.wait().is_ok());
        assert!(
            status.is_none(),
            "pid 0 must not reach anything unmarked (its tree is every process): \
             the bystander ended with {status:?}; terminate_marked took {took:?}"
        );
    }

    #[test]
    fn own_process_is_readable() {
        let me = std::process::id();
        let procs = snapshot().expect("/proc");
        assert!(procs.contains_key(&me));
    }
}
