//! The real Gemini CLI run by a user who is not root, as nearly every operator is: Gemini CLI
//! 0.61.0 ignores a system settings layer unless root owns it and every directory above it, so
//! a rig that runs as root would never see bosun's hooks go missing. Here the whole pipeline
//! of `bosun providers --check gemini` (supervisor, tmux server, Gemini CLI, `bosun hook`) runs
//! as `nobody` (through `setpriv` when the tests run as root; as the test's own user when it is
//! not root already), with its data directory under `/tmp`, and its hooks reach the hooks
//! table; and `gemini mcp list`, as that user in a run's home, lists bosun's MCP server next
//! to the user's own.
//!
//! Needs `gemini` (`scripts/install-agents.sh`): skipped loudly without it, failed under
//! `CI=true`.

use crate::support::agents;

use std::path::{Path, PathBuf};
use std::process::Command;

use bosun::provider::wiring::{self, layer};

/// Runs programs as a user who is not root.
struct NotRoot {
    /// `setpriv` and its arguments (empty when this process is not root).
    prefix: Vec<String>,
    /// The user's uid and gid.
    ids: (u32, u32),
}

impl NotRoot {
    fn new() -> NotRoot {
        if bosun::private::my_uid() != 0 {
            // SAFETY: getegid(2) takes no argument and always succeeds.
            let gid = unsafe { libc::getegid() };
            return NotRoot {
                prefix: vec![],
                ids: (bosun::private::my_uid(), gid),
            };
        }
        let id = |flag: &str| -> u32 {
            let out = Command::new("id")
                .args([flag, "nobody"])
                .output()
                .expect("id");
            assert!(out.status.success(), "no user nobody on this machine");
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("an id")
        };
        let ids = (id("-u"), id("-g"));
        assert_ne!(ids.0, 0);
        NotRoot {
            prefix: [
                "setpriv",
                &format!("--reuid={}", ids.0),
                &format!("--regid={}", ids.1),
                "--clear-groups",
                "--",
            ]
            .map(String::from)
            .to_vec(),
            ids,
        }
    }

    fn command(&self, program: &Path) -> Command {
        let mut c = Command::new(
            self.prefix
                .first()
                .map_or(program.as_os_str(), |p| p.as_ref()),
        );
        if !self.prefix.is_empty() {
            c.args(&self.prefix[1..]).arg(program);
        }
        c
    }

    /// Gives `path` and everything below it to the user (links themselves, never followed).
    fn own(&self, path: &Path) {
        let ok = Command::new("chown")
            .args(["-R", "-h", &format!("{}:{}", self.ids.0, self.ids.1)])
            .arg(path)
            .status()
            .expect("chown")
            .success();
        assert!(ok, "chown {}", path.display());
    }

    /// The environment of a login of the user with home `home` and the CLIs on `PATH`.
    fn env(&self, c: &mut Command, home: &Path, d: &Path) {
        let mut path = vec![
            PathBuf::from("/usr/local/bin"),
            PathBuf::from("/usr/bin"),
            PathBuf::from("/bin"),
        ];
        for bin in ["gemini", "node"] {
            if let Some(dir) = agents::find(bin).and_then(|p| p.parent().map(Path::to_path_buf)) {
                path.insert(0, dir);
            }
        }
        c.env_clear()
            .env("PATH", std::env::join_paths(path).expect("PATH"))
            .env("HOME", home)
            // nobody's login shell is nologin: tmux would start nothing with it.
            .env("SHELL", "/bin/sh")
            .env("TERM", "xterm-256color")
            .env("LANG", "C.UTF-8")
            .env("BOSUN_NOTIFY_DESKTOP", "0")
            .env("XDG_CONFIG_HOME", d.join("config"))
            .env("XDG_DATA_HOME", d.join("data"))
            .env("XDG_STATE_HOME", d.join("state"));
    }
}

/// A private directory under `/tmp` (a world-writable parent, as for many operators) that
/// belongs to the user, with its home in it.
fn scratch(user: &NotRoot) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    assert!(tmp.path().starts_with(std::env::temp_dir()));
    let d = tmp.path().canonicalize().expect("canonical");
    let home = d.join("home");
    std::fs::create_dir(&home).expect("home");
    user.own(&d);
    (tmp, d, home)
}

#[test]
fn gemini_cli_run_by_a_user_who_is_not_root_calls_bosuns_hooks() {
    let name = "gemini_cli_run_by_a_user_who_is_not_root_calls_bosuns_hooks";
    let Some(gemini) = agents::require("gemini", name) else {
        return;
    };
    let user = NotRoot::new();
    let (_tmp, d, home) = scratch(&user);
    // The user can run what the operator installed.
    let out = user
        .command(Path::new("/bin/sh"))
        .args(["-c", "id -u && test -r \"$1\" && test -x \"$2\"", "sh"])
        .arg(gemini.canonicalize().expect("gemini"))
        .arg(env!("CARGO_BIN_EXE_bosun"))
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "uid {} cannot run the installed Gemini CLI or bosun: {}",
        user.ids.0,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(String::from_utf8_lossy(&out.stdout).trim(), "0");

    let db = d.join("bosun.db");
    let mut c = user.command(Path::new(env!("CARGO_BIN_EXE_bosun")));
    user.env(&mut c, &home, &d);
    let out = c
        .arg("--db")
        .arg(&db)
        .args(["providers", "--check", "gemini"])
        .current_dir(&d)
        .output()
        .expect("bosun providers --check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let hooks_line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("hooks"))
        .expect("a hooks line");
    assert!(hooks_line.contains(" ok "), "{stdout}");
    // The turn was ended by Gemini CLI's AfterAgent hook, stored as Stop.
    assert!(hooks_line.contains("Stop"), "{stdout}");
    assert!(stdout.contains("every status was read right"), "{stdout}");
    // It ran as that user: what it made is theirs.
    use std::os::unix::fs::MetadataExt;
    let checks = d.join("checks");
    assert_eq!(
        std::fs::metadata(&checks).expect("checks").uid(),
        user.ids.0
    );
    // Nothing left behind, run homes included.
    assert!(
        std::fs::read_dir(&checks).map_or(true, |mut e| e.next().is_none()),
        "scratch left in {}",
        checks.display()
    );
}

#[test]
fn gemini_cli_in_a_run_home_lists_bosuns_mcp_server_next_to_the_users() {
    let name = "gemini_cli_in_a_run_home_lists_bosuns_mcp_server_next_to_the_users";
    let Some(gemini) = agents::require("gemini", name) else {
        return;
    };
    let user = NotRoot::new();
    let (_tmp, d, home) = scratch(&user);
    let dot = home.join(".gemini");
    std::fs::create_dir(&dot).expect(".gemini");
    std::fs::write(
        dot.join("settings.json"),
        r#"{
          // the user's own
          "security": { "auth": { "selectedType": "gemini-api-key" } },
          "mcpServers": { "mine": { "command": "/bin/true" } },
          "hooks": { "AfterAgent": [{ "hooks": [{ "type": "command", "command": "true" }] }] }
        }"#,
    )
    .expect("settings");
    std::fs::write(dot.join("GEMINI.md"), "memory").expect("memory");
    // Trust comes from the user's own file, through the run home's link to it.
    std::fs::write(
        dot.join("trustedFolders.json"),
        serde_json::json!({ home.to_string_lossy(): "TRUST_FOLDER" }).to_string(),
    )
    .expect("trust");
    let runs = d.join("runs");
    std::fs::create_dir(&runs).expect("runs");
    let run_home = layer::run_home(&runs, 9);
    let settings =
        wiring::gemini_settings_with(env!("CARGO_BIN_EXE_bosun"), &d.join("bosun.db"), 9, true);
    let problem = layer::build_run_home(&run_home, &home, &settings).expect("run home");
    assert_eq!(problem, None);
    user.own(&d);
    let mut c = user.command(&gemini);
    user.env(&mut c, &home, &d);
    let out = c
        .args(["mcp", "list"])
        .env(layer::HOME_VAR, &run_home)
        .env("GEMINI_API_KEY", "k")
        .current_dir(&home)
        .output()
        .expect("gemini mcp list");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{said}");
    let line = |server: &str| {
        said.lines()
            .find(|l| l.contains(&format!(" {server}: ")))
            .unwrap_or_else(|| panic!("no {server} server listed:\n{said}"))
            .to_string()
    };
    assert!(
        line("bosun").contains(env!("CARGO_BIN_EXE_bosun")),
        "{said}"
    );
    assert!(line("mine").contains("/bin/true"), "{said}");
    assert!(!said.contains("untrusted"), "{said}");
    assert!(!said.contains("Disabled"), "{said}");
    assert!(!said.contains("Security Warning"), "{said}");
    layer::remove_run_home(&runs, 9);
    assert!(!run_home.exists());
    assert!(dot.join("GEMINI.md").is_file());
}
