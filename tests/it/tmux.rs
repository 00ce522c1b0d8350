//! The tmux layer against a real tmux server on a private socket per test (killed on drop).
//! Waiting is polling with a deadline, never a fixed sleep; nothing asserts on timing.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use bosun::sandbox::socket_file;
use bosun::tmux::process::{descendants, terminate};
use bosun::tmux::{NewWindow, PaneState, Tmux, TmuxError};

use crate::support::TmuxServer;

/// A private tmux server with session `t`, and a scratch directory; the server is stopped
/// (and its socket file removed) on drop by its guard.
struct Server {
    tmux: Tmux,
    _guard: TmuxServer,
    dir: tempfile::TempDir,
}

impl Server {
    fn new() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let guard = TmuxServer::new("bosun-test");
        let tmux = Tmux::new(guard.socket(), &dir.path().join("config"), 120, 40)
            .expect("tmux 3.3+ must be installed for these tests");
        tmux.ensure_session("t").expect("ensure_session");
        Server {
            tmux,
            _guard: guard,
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A window in session `t` running `argv` in the scratch directory.
    fn spawn(&self, argv: &[&str]) -> PaneState {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        self.tmux
            .new_window(&NewWindow {
                session: "t",
                name: "w",
                cwd: self.dir.path(),
                env: &[],
                secret_env: &[],
                argv: &argv,
                log: None,
            })
            .expect("new_window")
    }

    fn pane(&self, id: &str) -> Option<PaneState> {
        self.tmux
            .list_panes()
            .expect("list_panes")
            .into_iter()
            .find(|p| p.pane_id == id)
    }

    /// Waits until the pane is dead and tmux has reaped its command (exit status or signal
    /// known: tmux sees the closed terminal a moment before the exit status).
    fn wait_dead(&self, id: &str) -> PaneState {
        wait_until(&format!("pane {id} to die"), || {
            self.pane(id)
                .filter(|p| p.dead && (p.dead_status.is_some() || p.dead_signal.is_some()))
        })
    }

    /// A pane whose tty is raw (no line discipline, no echo) that writes the next `n` bytes
    /// it receives to `out` and exits; returns once it is ready to read.
    fn raw_reader(&self, n: usize, out: &Path) -> PaneState {
        let script = r#"stty raw -echo; printf READY; exec head -c "$1" > "$2""#;
        let n = n.to_string();
        let out = out.to_str().expect("utf-8 path");
        let pane = self.spawn(&["sh", "-c", script, "sh", &n, out]);
        wait_until("the reader to be ready", || {
            let screen = self.tmux.capture(&pane.pane_id, false).expect("capture");
            screen.contains("READY").then_some(())
        });
        pane
    }
}

/// Polls `f` every 20 ms until it returns `Some`, for at most 20 s.
fn wait_until<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    crate::support::eventually(Duration::from_secs(20), what, f)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Text that breaks naive delivery: leading `-`, quotes, `$VAR`, backticks, a tmux format,
/// backslashes, tabs, CR/LF, unicode, and a trailing `;`.
const HOSTILE: &str = "-n 'single' \"double\" $HOME `id` $(id) #{pane_id} ~ back\\slash \\; \
    tab\there\nline two é ✓ 日本 🦀\r\nsemi; colon:;";

#[test]
fn exit_status_stays_readable_after_exit() {
    let s = Server::new();
    let pane = s.spawn(&["sh", "-c", "exit 3"]);
    let dead = s.wait_dead(&pane.pane_id);
    assert_eq!(dead.dead_status, Some(3));
    assert_eq!(dead.dead_signal, None);
}

#[test]
fn new_window_runs_argv_literally_with_env_and_cwd() {
    let s = Server::new();
    let cwd = s.path("work #{dir}; it's");
    std::fs::create_dir_all(&cwd).expect("mkdir");
    let script =
        r#"printf '%s' "$1" > arg.out; printf '%s' "$BOSUN_HOSTILE" > env.out; pwd > pwd.out"#;
    let argv: Vec<String> = ["sh", "-c", script, "sh", HOSTILE]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let env = vec![
        ("BOSUN_HOSTILE".to_string(), HOSTILE.to_string()),
        ("BOSUN_OTHER".to_string(), "x;".to_string()),
    ];
    let pane = s
        .tmux
        .new_window(&NewWindow {
            session: "t",
            name: "agent #{pane_id};",
            cwd: &cwd,
            env: &env,
            secret_env: &[],
            argv: &argv,
            log: None,
        })
        .expect("new_window");
    assert!(pane.pane_id.starts_with('%'), "{pane:?}");
    assert!(pane.pid > 0);
    assert_eq!(pane.window_name, "agent #{pane_id};");
    assert_eq!((pane.width, pane.height), (120, 40));

    let dead = s.wait_dead(&pane.pane_id);
    assert_eq!(dead.dead_status, Some(0));
    assert_eq!(dead.window_name, "agent #{pane_id};");
    assert_eq!(read(&cwd.join("arg.out")), HOSTILE.as_bytes());
    assert_eq!(read(&cwd.join("env.out")), HOSTILE.as_bytes());
    let pwd = String::from_utf8(read(&cwd.join("pwd.out"))).expect("utf-8");
    assert_eq!(
        Path::new(pwd.trim_end()).canonicalize().expect("pwd"),
        cwd.canonicalize().expect("cwd")
    );
}

#[test]
fn secret_env_reaches_the_pane_but_no_command_line_nor_the_next_window() {
    let s = Server::new();
    let secret = "0123456789abcdef0123456789abcdef";
    let argv: Vec<String> = [
        "sh",
        "-c",
        r#"printf '%s' "$BOSUN_HOOK_TOKEN" > secret.out"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let secret_env = vec![("BOSUN_HOOK_TOKEN".to_string(), secret.to_string())];
    // Every process's command line while tmux is being called, sampled on another thread.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut seen = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
                    if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
                        seen += 1;
                        assert!(
                            !String::from_utf8_lossy(&cmd).contains(secret),
                            "the secret is on a command line: {}",
                            String::from_utf8_lossy(&cmd)
                        );
                    }
                }
            }
            seen
        })
    };
    let pane = s
        .tmux
        .new_window(&NewWindow {
            session: "t",
            name: "secret",
            cwd: s.dir.path(),
            env: &[],
            secret_env: &secret_env,
            argv: &argv,
            log: None,
        })
        .expect("new_window");
    s.wait_dead(&pane.pane_id);
    stop.store(true, Ordering::Relaxed);
    assert!(sampler.join().expect("no secret seen") > 0);
    assert_eq!(read(&s.path("secret.out")), secret.as_bytes());
    // The session does not keep it: the next window does not inherit it.
    let argv: Vec<String> = [
        "sh",
        "-c",
        r#"printf '[%s]' "$BOSUN_HOOK_TOKEN" > next.out"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let next = s
        .tmux
        .new_window(&NewWindow {
            session: "t",
            name: "next",
            cwd: s.dir.path(),
            env: &[],
            secret_env: &[],
            argv: &argv,
            log: None,
        })
        .expect("new_window");
    s.wait_dead(&next.pane_id);
    assert_eq!(read(&s.path("next.out")), b"[]");
    // A value that could break out of tmux's quoting is refused.
    let bad = vec![(
        "BOSUN_HOOK_TOKEN".to_string(),
        "a' ; kill-server".to_string(),
    )];
    let err = s.tmux.new_window(&NewWindow {
        session: "t",
        name: "bad",
        cwd: s.dir.path(),
        env: &[],
        secret_env: &bad,
        argv: &argv,
        log: None,
    });
    assert!(matches!(err, Err(TmuxError::Invalid { .. })), "{err:?}");
}

#[test]
fn single_element_argv_is_not_parsed_by_a_shell() {
    let s = Server::new();
    let script = s.path("my agent; $(id) 'x'.sh");
    std::fs::write(&script, "#!/bin/sh\necho ran > ran.out\n").expect("write script");
    let mut perm = std::fs::metadata(&script).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&script, perm).expect("chmod");

    let pane = s.spawn(&[script.to_str().expect("utf-8")]);
    let dead = s.wait_dead(&pane.pane_id);
    assert_eq!(dead.dead_status, Some(0));
    assert_eq!(read(&s.path("ran.out")), b"ran\n");
}

#[test]
fn list_panes_sees_every_pane_of_every_session() {
    let s = Server::new();
    s.tmux.ensure_session("u").expect("second session");
    s.tmux
        .ensure_session("u")
        .expect("ensure_session is idempotent");
    let a = s.spawn(&["sleep", "30"]);
    let b = s.spawn(&["sleep", "30"]);
    let argv = vec!["sleep".to_string(), "30".to_string()];
    let c = s
        .tmux
        .new_window(&NewWindow {
            session: "u",
            name: "in u",
            cwd: s.dir.path(),
            env: &[],
            secret_env: &[],
            argv: &argv,
            log: None,
        })
        .expect("new_window in u");

    let panes = s.tmux.list_panes().expect("list_panes");
    // Two home windows plus the three agents.
    assert_eq!(panes.len(), 5, "{panes:#?}");
    for want in [&a, &b, &c] {
        let got = panes
            .iter()
            .find(|p| p.pane_id == want.pane_id)
            .unwrap_or_else(|| panic!("{} missing from {panes:#?}", want.pane_id));
        assert_eq!(got.pid, want.pid);
        assert_eq!(got.window_id, want.window_id);
        assert!(!got.dead);
        assert!(!got.in_mode);
    }
    let in_u = panes
        .iter()
        .find(|p| p.pane_id == c.pane_id)
        .expect("pane in u");
    assert_eq!(in_u.session, "u");
    assert_eq!(in_u.window_name, "in u");
    assert_eq!(
        panes.iter().filter(|p| p.window_name == "_bosun").count(),
        2
    );
}

#[test]
fn list_panes_without_a_server_is_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    let guard = TmuxServer::new("bosun-test");
    let tmux = Tmux::new(guard.socket(), dir.path(), 80, 24).expect("tmux");
    assert_eq!(tmux.list_panes().expect("list_panes"), Vec::new());
    tmux.kill_server().expect("killing no server is fine");
    // A stale socket file (server gone) reads as "no server running" too.
    tmux.ensure_session("t").expect("start");
    tmux.kill_server().expect("kill");
    assert!(
        socket_file(tmux.socket()).exists(),
        "tmux keeps its socket file"
    );
    assert_eq!(tmux.list_panes().expect("list_panes"), Vec::new());
}

#[test]
fn log_captures_output_from_the_first_byte() {
    let s = Server::new();
    let log = s.path("logs #1/it's; here/run.log");
    let argv: Vec<String> = ["sh", "-c", "echo first-line; echo second-line"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let pane = s
        .tmux
        .new_window(&NewWindow {
            session: "t",
            name: "logged",
            cwd: s.dir.path(),
            env: &[],
            secret_env: &[],
            argv: &argv,
            log: Some(&log),
        })
        .expect("new_window");
    s.wait_dead(&pane.pane_id);
    wait_until("both lines in the log", || {
        let text = String::from_utf8_lossy(&std::fs::read(&log).ok()?).into_owned();
        (text.contains("first-line") && text.contains("second-line")).then_some(())
    });
}

#[test]
fn pipe_pane_appends_later_output_to_the_log() {
    let s = Server::new();
    let pane = s.spawn(&["sh", "-c", r#"read line; echo "got:$line"; sleep 30"#]);
    let log = s.path("later/pipe 'log'.txt");
    std::fs::create_dir_all(s.path("later")).expect("mkdir");
    std::fs::write(&log, "before\n").expect("seed log");
    s.tmux.pipe_pane(&pane.pane_id, &log).expect("pipe_pane");
    s.tmux.paste(&pane.pane_id, "hello").expect("paste");
    s.tmux.send_keys(&pane.pane_id, &["Enter"]).expect("Enter");
    let text = wait_until("the reply in the log", || {
        let text = String::from_utf8_lossy(&std::fs::read(&log).ok()?).into_owned();
        text.contains("got:hello").then_some(text)
    });
    assert!(
        text.starts_with("before\n"),
        "the log is appended to: {text:?}"
    );
}

#[test]
fn paste_is_byte_exact_for_hostile_text() {
    let s = Server::new();
    let out = s.path("pasted");
    let pane = s.raw_reader(HOSTILE.len(), &out);
    s.tmux.paste(&pane.pane_id, HOSTILE).expect("paste");
    s.wait_dead(&pane.pane_id);
    assert_eq!(
        String::from_utf8_lossy(&read(&out)),
        HOSTILE,
        "pasted text must arrive unchanged"
    );
}

#[test]
fn paste_is_byte_exact_for_100_kb() {
    let s = Server::new();
    let mut text = String::new();
    let mut i = 0u32;
    while text.len() < 100 * 1024 {
        text.push_str(&format!(
            "{i:05} -x 'q' \"d\" $V; \t✓ 日本 — {}\n",
            "abcdefghij".repeat((i % 7) as usize)
        ));
        i += 1;
    }
    let out = s.path("big");
    let pane = s.raw_reader(text.len(), &out);
    s.tmux.paste(&pane.pane_id, &text).expect("paste");
    s.wait_dead(&pane.pane_id);
    let got = read(&out);
    assert_eq!(got.len(), text.len());
    assert!(got == text.as_bytes(), "100 KB paste differs");
}

#[test]
fn paste_leaves_copy_mode_first() {
    let s = Server::new();
    let out = s.path("pasted");
    let pane = s.raw_reader(HOSTILE.len(), &out);
    s.tmux.copy_mode(&pane.pane_id).expect("copy_mode");
    assert!(s.pane(&pane.pane_id).expect("pane").in_mode);
    s.tmux.paste(&pane.pane_id, HOSTILE).expect("paste");
    s.wait_dead(&pane.pane_id);
    assert_eq!(String::from_utf8_lossy(&read(&out)), HOSTILE);
}

#[test]
fn send_keys_presses_named_keys() {
    let s = Server::new();
    let out = s.path("keys");
    let pane = s.raw_reader(6, &out);
    s.tmux
        .send_keys(&pane.pane_id, &["a", "Enter", "C-c", ";", "-", "Escape"])
        .expect("send_keys");
    s.wait_dead(&pane.pane_id);
    assert_eq!(read(&out), b"a\r\x03;-\x1b");
}

#[test]
fn capture_shows_the_screen_with_and_without_escapes() {
    let s = Server::new();
    let pane = s.spawn(&["sh", "-c", r"printf 'plain \033[31mred\033[0m\n'; sleep 30"]);
    let plain = wait_until("the text on screen", || {
        let screen = s.tmux.capture(&pane.pane_id, false).expect("capture");
        screen.contains("plain red").then_some(screen)
    });
    assert!(!plain.contains('\x1b'), "{plain:?}");
    let coloured = s.tmux.capture(&pane.pane_id, true).expect("capture -e");
    assert!(coloured.contains("\x1b[31m"), "{coloured:?}");
}

#[test]
fn resize_window_changes_the_pane_size() {
    let s = Server::new();
    let pane = s.spawn(&["sleep", "30"]);
    assert_eq!((pane.width, pane.height), (120, 40));
    s.tmux
        .resize_window(&pane.pane_id, 100, 30)
        .expect("resize_window");
    let p = s.pane(&pane.pane_id).expect("pane");
    assert_eq!((p.width, p.height), (100, 30));
    assert!(matches!(
        s.tmux.resize_window(&pane.pane_id, 0, 30),
        Err(TmuxError::Invalid { .. })
    ));
}

#[test]
fn kill_pane_removes_it() {
    let s = Server::new();
    let pane = s.spawn(&["sleep", "30"]);
    s.tmux.kill_pane(&pane.pane_id).expect("kill_pane");
    assert!(s.pane(&pane.pane_id).is_none());
    let err = s.tmux.kill_pane(&pane.pane_id).expect_err("already gone");
    assert!(matches!(err, TmuxError::Command { .. }), "{err}");
}

#[test]
fn terminate_stops_the_whole_tree_including_term_ignoring_children() {
    let s = Server::new();
    // The shell and its children ignore SIGTERM; one child moves to its own session.
    let script = r#"trap "" TERM; sleep 1000 & setsid sleep 1000 & sleep 1000 & wait"#;
    let pane = s.spawn(&["sh", "-c", script]);
    let tree = wait_until("three children", || {
        let kids = descendants(pane.pid);
        (kids.len() >= 3).then_some(kids)
    });
    let mut all = tree.clone();
    all.push(pane.pid);

    let survivors = terminate(pane.pid, Duration::from_millis(300)).expect("terminate");
    assert_eq!(survivors, Vec::<u32>::new());
    for pid in all {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            assert!(state.starts_with('Z'), "pid {pid} survived: {stat}");
        }
    }
    let dead = s.wait_dead(&pane.pane_id);
    assert_eq!(dead.dead_signal, Some(9), "{dead:?}");
}

#[test]
fn terminate_a_gone_process_is_fine() {
    let s = Server::new();
    let pane = s.spawn(&["true"]);
    let dead = s.wait_dead(&pane.pane_id);
    assert_eq!(
        terminate(dead.pid, Duration::from_millis(100)).expect("terminate"),
        Vec::<u32>::new()
    );
}

#[test]
fn missing_tmux_binary_says_what_to_install() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-tmux");
    let err = Tmux::with_binary(
        missing.to_str().expect("utf-8"),
        "bosun-test-missing",
        dir.path(),
        80,
        24,
    )
    .expect_err("no tmux there");
    assert!(matches!(err, TmuxError::NotInstalled { .. }), "{err:?}");
    assert!(err.to_string().contains("install tmux"), "{err}");
}

#[test]
fn bad_arguments_are_refused_before_tmux_runs() {
    let s = Server::new();
    for bad in ["", "a.b", "a:b", "x y"] {
        assert!(
            matches!(s.tmux.ensure_session(bad), Err(TmuxError::Invalid { .. })),
            "session name {bad:?}"
        );
    }
    let new = |argv: &[String], env: &[(String, String)], cwd: &Path| {
        s.tmux.new_window(&NewWindow {
            session: "t",
            name: "x",
            cwd,
            env,
            secret_env: &[],
            argv,
            log: None,
        })
    };
    let argv = vec!["true".to_string()];
    assert!(matches!(
        new(&[], &[], s.dir.path()),
        Err(TmuxError::Invalid { .. })
    ));
    assert!(matches!(
        new(&argv, &[("A=B".into(), "c".into())], s.dir.path()),
        Err(TmuxError::Invalid { .. })
    ));
    assert!(matches!(
        new(&argv, &[], &s.path("missing")),
        Err(TmuxError::Invalid { .. })
    ));
    let err = s
        .tmux
        .new_window(&NewWindow {
            session: "nosuch",
            name: "x",
            cwd: s.dir.path(),
            env: &[],
            secret_env: &[],
            argv: &argv,
            log: None,
        })
        .expect_err("no such session");
    assert!(matches!(err, TmuxError::Command { .. }), "{err}");
}

#[test]
fn attach_argv_lands_on_the_panes_window() {
    let s = Server::new();
    // Session `t` has its home window current; the run's pane is in another window.
    let run = s.spawn(&["sh", "-c", "echo MARKER-OF-THE-RUN; sleep 100"]);
    let argv = s.tmux.attach_argv(&run.pane_id);
    assert_eq!(
        &argv[1..6],
        ["-L", s.tmux.socket(), "attach", "-t", run.pane_id.as_str()]
    );
    // An operator's terminal: a pane of a second tmux server that runs the argv.
    let outer = Server::new();
    let term = outer.spawn(&argv.iter().map(String::as_str).collect::<Vec<_>>());
    wait_until("the attached client to show the run's window", || {
        let screen = outer.tmux.capture(&term.pane_id, false).expect("capture");
        screen.contains("MARKER-OF-THE-RUN").then_some(())
    });
}
