//! Config loading, layering and validation: every error names the file, line and key.

use std::path::Path;
use std::time::Duration;

use bosun::config::locate::Located;
use bosun::config::{Action, Config, ConfigError, DEFAULT_TOML, GateKind};

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_layers(&[(Path::new("bosun.toml"), text)])
}

/// Asserts `text` is rejected at `line` with `key` in the message and `needle` in the text.
fn rejects(text: &str, line: usize, key: &str, needle: &str) {
    match load(text) {
        Err(ConfigError::Invalid(Located {
            file,
            line: l,
            key: k,
            message,
            ..
        })) => {
            assert_eq!(file, Path::new("bosun.toml"));
            assert_eq!((l, k.as_str()), (line, key), "message: {message}");
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
        Err(other) => panic!("wrong error {other}"),
        Ok(_) => panic!("accepted:\n{text}"),
    }
}

const ONE_STAGE: &str = "[[stages]]\nname = \"a\"\nrole = \"analyst\"\n";

#[test]
fn the_builtin_default_is_the_documented_pipeline() {
    let cfg = Config::builtin().expect("builtin");
    let names: Vec<&str> = cfg.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "analysis",
            "architecture",
            "development",
            "review",
            "testing",
            "deploy"
        ]
    );
    let roles: Vec<&str> = cfg.stages.iter().map(|s| s.role.as_str()).collect();
    assert_eq!(
        roles,
        [
            "analyst",
            "architect",
            "developer",
            "reviewer",
            "tester",
            "deployer"
        ]
    );
    let review = &cfg.stages[3];
    assert!(matches!(review.gates[0].kind, GateKind::Verdict { .. }));
    assert_eq!(review.gates[0].on_fail, Action::Rollback { to: 2, max: 3 });
    assert_eq!(
        cfg.stages[1].branches[0].then,
        Action::Rollback { to: 0, max: 3 }
    );
    assert_eq!(cfg.stages[0].branches[0].then, Action::NeedsInput);
    assert!(matches!(cfg.stages[5].gates[0].kind, GateKind::Approval));
    assert_eq!(cfg.supervisor.max_concurrency, 4);
    assert_eq!(
        cfg.timeout_of(&cfg.roles["developer"]),
        Duration::from_secs(3600)
    );
    assert_eq!(
        cfg.timeout_of(&cfg.roles["analyst"]),
        Duration::from_secs(1800)
    );
    // `bosun init` writes the same text, and it loads as a project file on its own.
    let written = load(DEFAULT_TOML).expect("default as a file");
    assert_eq!(written.stages.len(), 6);
}

#[test]
fn layers_merge_key_by_key_and_stages_replace() {
    let user = "[supervisor]\nmax_concurrency = 8\n[roles.developer]\nprovider = \"codex\"\n";
    let project = "[supervisor]\ndefault_timeout = \"45m\"\n[roles.security]\nprovider = \"claude\"\nprompt = \"audit {key}\"\n\
                   [[stages]]\nname = \"dev\"\nrole = \"developer\"\n[[stages]]\nname = \"audit\"\nrole = \"security\"\n";
    let cfg = Config::from_layers(&[
        (Path::new("user.toml"), user),
        (Path::new("bosun.toml"), project),
    ])
    .expect("layers");
    assert_eq!(cfg.supervisor.max_concurrency, 8, "from the user layer");
    assert_eq!(
        cfg.supervisor.default_timeout,
        Duration::from_secs(45 * 60),
        "from the project layer"
    );
    assert_eq!(
        cfg.supervisor.kill_grace,
        Duration::from_secs(10),
        "from the default"
    );
    assert_eq!(cfg.roles["developer"].provider, "codex");
    assert!(
        cfg.roles["developer"].prompt.contains("developer"),
        "prompt kept from the default"
    );
    let names: Vec<&str> = cfg.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["dev", "audit"]);
    assert_eq!(cfg.sources.len(), 2);
}

#[test]
fn unknown_keys_are_errors_with_file_line_and_key() {
    rejects(
        "[supervisor]\nmax_concurency = 3\n",
        2,
        "supervisor.max_concurency",
        "unknown field",
    );
    rejects("colour = \"red\"\n", 1, "colour", "unknown field");
    rejects(
        &format!("{ONE_STAGE}[[stages.gates]]\nkind = \"artifact\"\npath = \"x\"\nretries = 2\n"),
        7,
        "stages[0].gates[0].retries",
        "unknown field",
    );
}

#[test]
fn malformed_values_name_their_line() {
    rejects(
        "[queue]\nbackoff_base = \"ten seconds\"\n",
        2,
        "queue.backoff_base",
        "invalid duration",
    );
    rejects(
        "[supervisor]\nmax_concurrency = \"four\"\n",
        2,
        "supervisor.max_concurrency",
        "",
    );
    rejects(
        "[supervisor]\nmax_concurrency = 0\n",
        2,
        "supervisor.max_concurrency",
        "at least 1",
    );
    rejects(
        "[queue]\nbackoff_jitter = 1.5\n",
        2,
        "queue.backoff_jitter",
        "between 0.0 and 1.0",
    );
    rejects(
        &format!(
            "{ONE_STAGE}[[stages.gates]]\nkind = \"verdict\"\npass = \"(unclosed\"\nfail = \"x\"\n"
        ),
        6,
        "stages[0].gates[0].pass",
        "invalid regex",
    );
    rejects(
        &format!("{ONE_STAGE}[[stages.gates]]\nkind = \"teleport\"\n"),
        5,
        "stages[0].gates[0].kind",
        "unknown variant",
    );
}

#[test]
fn pipeline_rules_are_checked() {
    // A gate pointing at an unknown stage.
    rejects(
        &format!(
            "{ONE_STAGE}[[stages]]\nname = \"b\"\nrole = \"analyst\"\n[[stages.gates]]\nkind = \"artifact\"\npath = \"x\"\non_fail = \"rollback\"\nto = \"nowhere\"\nmax = 2\n"
        ),
        11,
        "stages[1].gates[0].to",
        "unknown stage `nowhere`",
    );
    // A cycle with no retry cap.
    rejects(
        &format!(
            "{ONE_STAGE}[[stages]]\nname = \"b\"\nrole = \"analyst\"\n[[stages.gates]]\nkind = \"artifact\"\npath = \"x\"\non_fail = \"rollback\"\nto = \"a\"\n"
        ),
        11,
        "stages[1].gates[0].max",
        "cycle with no retry cap",
    );
    // A rollback that goes forward.
    rejects(
        &format!(
            "{ONE_STAGE}[[stages.branches]]\nwhen_exists = \"x\"\nthen = \"rollback\"\nto = \"b\"\nmax = 1\n[[stages]]\nname = \"b\"\nrole = \"analyst\"\n"
        ),
        7,
        "stages[0].branches[0].to",
        "earlier stage",
    );
    // An unknown role, a duplicate stage, a missing artifact path, a stray field.
    rejects(
        "[[stages]]\nname = \"a\"\nrole = \"wizard\"\n",
        3,
        "stages[0].role",
        "unknown role `wizard`",
    );
    rejects(
        &format!("{ONE_STAGE}{ONE_STAGE}"),
        5,
        "stages[1].name",
        "defined twice",
    );
    rejects(
        &format!("{ONE_STAGE}[[stages.gates]]\nkind = \"artifact\"\n"),
        4,
        "stages[0].gates[0].path",
        "needs `path`",
    );
    rejects(
        &format!("{ONE_STAGE}[[stages.gates]]\nkind = \"approval\"\ncommand = \"make\"\n"),
        6,
        "stages[0].gates[0].command",
        "not used by a approval gate",
    );
    rejects(
        &format!("{ONE_STAGE}[[stages.branches]]\nwhen_exists = \"x\"\nthen = \"retry\"\n"),
        6,
        "stages[0].branches[0].then",
        "cannot `retry`",
    );
    rejects(
        "[roles.ghost]\nprovider = \"claude\"\n",
        1,
        "roles.ghost.prompt",
        "needs a prompt",
    );
    rejects("stages = []\n", 1, "stages", "at least one stage");
    // Zero durations, and an unknown provider at its own line.
    rejects(
        "[supervisor]\ndefault_timeout = \"0s\"\n",
        2,
        "supervisor.default_timeout",
        "more than zero",
    );
    rejects(
        "[supervisor]\nmax_concurrency = 2\nkill_grace = \"0s\"\n",
        3,
        "supervisor.kill_grace",
        "more than zero",
    );
    rejects(
        "[roles.analyst]\nprompt = \"x\"\nprovider = \"nope\"\n",
        3,
        "roles.analyst.provider",
        "unknown provider `nope`",
    );
    rejects(
        "[roles.analyst]\nprompt = \"x\"\nfallback = [\"codex\", \"nope\"]\n",
        3,
        "roles.analyst.fallback",
        "unknown provider `nope` in fallback",
    );
    rejects(
        "[supervisor]\nresume_prompt = \"  \"\n",
        2,
        "supervisor.resume_prompt",
        "must not be empty",
    );
    rejects(
        "[providers.codex]\nlimits = [{ pattern = \"(\" }]\n",
        2,
        "providers.codex.limits[0].pattern",
        "invalid regex",
    );
    // Verdict keywords: both lists, only on a verdict gate, not mixed with patterns.
    rejects(
        &format!("{ONE_STAGE}[[stages.gates]]\nkind = \"verdict\"\npass_words = [\"OK\"]\n"),
        6,
        "stages[0].gates[0].fail_words",
        "needs `fail_words` too",
    );
    rejects(
        &format!(
            "{ONE_STAGE}[[stages.gates]]\nkind = \"artifact\"\npath = \"x\"\npass_words = [\"OK\"]\n"
        ),
        7,
        "stages[0].gates[0]",
        "only used by a verdict gate",
    );
    rejects(
        &format!(
            "{ONE_STAGE}[[stages.gates]]\nkind = \"verdict\"\npass_words = [\"OK\"]\nfail_words = [\"NO\"]\npass = \"OK\"\n"
        ),
        8,
        "stages[0].gates[0]",
        "not both",
    );
    rejects(
        &format!("{ONE_STAGE}[[stages.gates]]\nkind = \"verdict\"\n"),
        4,
        "stages[0].gates[0].pass",
        "needs `pass_words` and `fail_words`",
    );
}

#[test]
fn a_missing_file_is_a_read_error_naming_it() {
    let err = Config::load(Some(Path::new("/nonexistent/bosun.toml"))).expect_err("missing file");
    assert!(err.to_string().contains("/nonexistent/bosun.toml"), "{err}");
}

#[test]
fn provider_profiles_are_data_and_overridable_key_by_key() {
    let cfg = Config::builtin().expect("builtin");
    for name in ["sim", "claude", "codex", "gemini", "aider"] {
        assert!(cfg.providers.contains_key(name), "built-in provider {name}");
    }
    let sim = &cfg.providers["sim"];
    assert_eq!(sim.command, ["{bosun}", "agent-sim"]);
    assert_eq!(sim.exit_command.as_deref(), Some("/exit"));
    // Override one key; the rest stays built in. A `status` list replaces the whole list.
    let layer = "[providers.claude]\ncommand = [\"/opt/claude\", \"--model\", \"x\"]\n\
                 status = [{ status = \"busy\", pattern = \"thinking\" }]\n\
                 [providers.mine]\ncommand = [\"my-agent\"]\nready = \"ready>\"\nmode = \"batch\"\n";
    let cfg = load(layer).expect("override");
    let claude = &cfg.providers["claude"];
    assert_eq!(claude.command, ["/opt/claude", "--model", "x"]);
    assert_eq!(
        claude.exit_command.as_deref(),
        Some("/exit"),
        "kept from the built-in"
    );
    assert_eq!(claude.status.len(), 1);
    assert_eq!(
        cfg.providers["mine"].mode,
        bosun::config::ProviderMode::Batch
    );
}

#[test]
fn provider_errors_name_file_line_and_key() {
    rejects(
        "[providers.sim]\nstatus = [{ status = \"busy\", pattern = \"(oops\" }]\n",
        2,
        "providers.sim.status[0].pattern",
        "invalid regex",
    );
    rejects(
        "[providers.new]\nready = \"x\"\n",
        1,
        "providers.new.command",
        "needs `command`",
    );
    rejects(
        "[providers.sim]\nspeed = 3\n",
        2,
        "providers.sim.speed",
        "unknown field",
    );
    // At the key's own line (issue 10), not the table's.
    rejects(
        "[roles.analyst]\nprovider = \"nobody\"\n",
        2,
        "roles.analyst.provider",
        "unknown provider `nobody`",
    );
    rejects(
        "[supervisor]\ntmux_socket = \"a b\"\n",
        2,
        "supervisor.tmux_socket",
        "non-empty name",
    );
}

#[test]
fn notify_defaults_and_bad_values_are_located() {
    let cfg = load("").expect("default");
    assert!(cfg.notify.desktop);
    assert!(cfg.notify.command.is_empty());
    assert_eq!(
        cfg.notify.kinds.len(),
        8,
        "every kind, budget warnings and usage limits included"
    );
    let cfg = load("[notify]\ncommand = [\"ntfy\", \"publish\"]\nkinds = [\"approval\"]\nmin_interval = \"1m\"\n")
        .expect("valid");
    assert_eq!(cfg.notify.command, ["ntfy", "publish"]);
    assert_eq!(cfg.notify.min_interval, std::time::Duration::from_secs(60));
    rejects(
        "[notify]\nkinds = [\"approval\", \"approve\"]\n",
        2,
        "notify.kinds",
        "needs_input",
    );
    rejects(
        "[notify]\nterminal = \"beep\"\n",
        2,
        "notify.terminal",
        "osc9",
    );
    rejects(
        "[notify]\nwaiting_after = \"soon\"\n",
        2,
        "notify.waiting_after",
        "invalid duration",
    );
    rejects(
        "[supervisor]\nmessage_batch = 0\n",
        2,
        "supervisor.message_batch",
        "at least 1",
    );
    rejects(
        "[supervisor]\ncompletion_workers = 0\n",
        2,
        "supervisor.completion_workers",
        "at least 1",
    );
}

#[test]
fn budget_keys_layer_and_a_bad_dollar_amount_is_located() {
    let cfg = load("").expect("default");
    assert!(
        !cfg.budget.any() && !cfg.budget.hard,
        "no budget by default"
    );
    let cfg = Config::from_layers(&[
        (
            Path::new("user.toml"),
            "[budget]\ntask_usd = 2.5\nday_tokens = 1000\nhard = true\n",
        ),
        (Path::new("bosun.toml"), "[budget]\nproject_usd = 10\n"),
    ])
    .expect("valid");
    let b = cfg.budget;
    assert_eq!(
        (b.task_usd, b.project_usd, b.day_usd, b.day_tokens, b.hard),
        (Some(2.5), Some(10.0), None, Some(1000), true)
    );
    rejects(
        "[budget]\nwarn_at = 0.5\ntask_usd = -1.0\n",
        3,
        "budget.task_usd",
        "0 or more",
    );
    rejects(
        "[budget]\nday_usd = nan\n",
        2,
        "budget.day_usd",
        "US dollars",
    );
    rejects("[budget]\nhard = \"yes\"\n", 2, "budget.hard", "bool");
}
