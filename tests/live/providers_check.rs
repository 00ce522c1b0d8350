//! `bosun providers --check NAME` run as an operator runs it, for the built-in scripted agent
//! and each installed real CLI (`scripts/install-agents.sh`): every status read right, exit 0,
//! the report names each status. Real CLIs missing are skipped loudly, or fail under
//! `CI=true`.

use crate::support::agents;
use crate::support::cli;

use bosun::sim::homes::Cli;

use std::process::Command;

/// Runs the check of `name` with private XDG dirs and data dir in the target directory; the
/// CLIs found first on `PATH`.
fn check(name: &str) -> std::process::Output {
    check_in(
        name,
        &tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir"),
    )
}

/// [`check`] with the data directory in `tmp`.
fn check_in(name: &str, tmp: &tempfile::TempDir) -> std::process::Output {
    let d = tmp.path();
    let mut path =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect::<Vec<_>>();
    for bin in cli::all().map(|c| c.name()) {
        if let Some(p) = agents::find(bin).and_then(|p| p.parent().map(|d| d.to_path_buf())) {
            path.insert(0, p);
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_bosun"))
        .args([
            "--db",
            &d.join("bosun.db").to_string_lossy(),
            "providers",
            "--check",
            name,
        ])
        .current_dir(d)
        .env("PATH", std::env::join_paths(path).expect("PATH"))
        .env("XDG_CONFIG_HOME", d.join("config"))
        .env("XDG_DATA_HOME", d.join("data"))
        .env("XDG_STATE_HOME", d.join("state"))
        .env_remove("BOSUN_CONFIG")
        .output()
        .expect("bosun providers --check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "{name}: exit {:?}\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    for status in [
        "ready", "busy", "waiting", "answer", "done", "error", "hooks",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.trim_start().starts_with(status) && l.contains(" ok ")),
            "{name}: {status} not read right:\n{stdout}"
        );
    }
    assert!(stdout.contains("every status was read right"), "{stdout}");
    // Nothing is left behind: the scratch directory and its tmux server are gone.
    let checks = d.join("checks");
    assert!(
        std::fs::read_dir(&checks).map_or(true, |mut e| e.next().is_none()),
        "scratch left in {}",
        checks.display()
    );
    out
}

#[test]
fn the_built_in_scripted_agent_passes_its_check() {
    check("sim");
}

/// [`check`] of `cli`'s provider when the CLI is installed (skipped loudly otherwise, failed
/// under `CI=true`).
fn check_installed(cli: Cli, test: &str) {
    let name = cli::spec(cli).name();
    if agents::require(name, test).is_some() {
        check(name);
    }
}

#[test]
fn claude_code_as_installed_passes_its_check() {
    check_installed(Cli::Claude, "claude_code_as_installed_passes_its_check");
}

#[test]
fn codex_as_installed_passes_its_check() {
    check_installed(Cli::Codex, "codex_as_installed_passes_its_check");
}

#[test]
fn gemini_cli_as_installed_passes_its_check() {
    check_installed(Cli::Gemini, "gemini_cli_as_installed_passes_its_check");
}

#[test]
fn an_unknown_or_unscriptable_provider_is_a_clear_error() {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let d = tmp.path();
    let run = |name: &str| {
        Command::new(env!("CARGO_BIN_EXE_bosun"))
            .args([
                "--db",
                &d.join("bosun.db").to_string_lossy(),
                "providers",
                "--check",
                name,
            ])
            .current_dir(d)
            .env("XDG_CONFIG_HOME", d.join("config"))
            .env("XDG_DATA_HOME", d.join("data"))
            .env_remove("BOSUN_CONFIG")
            .output()
            .expect("bosun")
    };
    let out = run("nope");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no provider `nope` in the config"));
    let out = run("aider");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("scripts claude, codex, gemini and sim"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn gemini_cli_passes_its_check_with_the_data_dir_under_tmp() {
    // Gemini CLI 0.61.0 skips a system settings layer below a world-writable directory
    // ("Parent directory '/tmp' is insecure"): bosun's per-run home (GEMINI_CLI_HOME) is read
    // as user settings, wherever the data dir is.
    if agents::require(
        "gemini",
        "gemini_cli_passes_its_check_with_the_data_dir_under_tmp",
    )
    .is_some()
    {
        let tmp = tempfile::tempdir().expect("tempdir");
        assert!(tmp.path().starts_with(std::env::temp_dir()));
        let out = check_in("gemini", &tmp);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.contains("insecure"), "{stdout}");
    }
}
