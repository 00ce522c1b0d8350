//! The real Gemini CLI playing the analysis stage under bosun's supervisor, in the harsh
//! world of `tests/support/supervised.rs`: the common scenarios (`scenarios.rs`, Gemini CLI's
//! row of `tests/support/cli.rs`: hooks through a per-run settings layer calling this build's
//! `bosun hook`, the scripted Gemini API server on 127.0.0.1), and Gemini CLI's own: the
//! run's home with the user's own hooks and records. Needs `gemini`
//! (`scripts/install-agents.sh`): skipped loudly without it, failed under `CI=true`.

use crate::scenarios::common_scenarios;
use crate::support::supervised;

use std::time::Duration;

use bosun::sim::homes::Cli;
use bosun::sim::model::{Pace, Turn};
use bosun::store::hooks::HookEvent;
use supervised::{FINAL, Harness, Stage, write_turn};

const CLI: Cli = Cli::Gemini;

common_scenarios! {
    cli: CLI,
    slow_model: gemini_completes_a_stage_from_the_init_prompt_with_a_slow_model,
    hooks_off: gemini_with_hooks_off_the_screen_reads_the_same_turn,
    permission: gemini_waits_for_permission_until_bosun_answer_says_yes,
    rate_limited: gemini_rate_limited_is_requeued_with_backoff_and_then_completes,
    handoff: gemini_hands_off_to_a_reviewer_over_mcp_and_carries_on,
    lost_stop_hook: gemini_whose_stop_hook_is_lost_is_done_by_its_transcript,
}

/// The run's home (`GEMINI_CLI_HOME`) holds the user's settings with bosun's merged in: the
/// user's own `AfterAgent` hook fires next to bosun's, Gemini CLI's chat record lands in the
/// user's real `~/.gemini/tmp` (linked), and the home goes when the window is closed.
#[test]
fn gemini_runs_the_users_own_hooks_next_to_bosuns_and_keeps_its_records_in_the_real_home() {
    let mut stage = Stage::new(
        CLI,
        "gemini_runs_the_users_own_hooks_next_to_bosuns_and_keeps_its_records_in_the_real_home",
        vec![write_turn(CLI), Turn::text(FINAL)],
    );
    stage.pace = Pace {
        first_token: Duration::from_millis(300),
        gap: Duration::from_millis(20),
    };
    let Some(mut h) = Harness::start(stage) else {
        return;
    };
    // The scratch home is the user's real one; nothing is launched before the first tick.
    let dir = h.db.parent().expect("dir").to_path_buf();
    let real = dir.join("gemini-home/.gemini");
    let file = real.join("settings.json");
    let mut user: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("settings")).expect("json");
    let marker = dir.join("the-users-hook-fired");
    user["hooks"] = serde_json::json!({ "AfterAgent": [{ "hooks": [{
        "type": "command",
        "name": "mine",
        "command": format!("touch {}", marker.display()),
    }] }] });
    std::fs::write(&file, user.to_string()).expect("settings");

    h.finish(Duration::from_secs(180));
    let run = h.runs().pop().expect("run");
    assert!(
        h.hook_events(run.id).contains(&HookEvent::Stop),
        "bosun's AfterAgent hook: {:?}",
        h.hook_events(run.id)
    );
    assert!(marker.exists(), "the user's own AfterAgent hook fired too");
    let chats: Vec<_> = std::fs::read_dir(real.join("tmp"))
        .expect("the real tmp")
        .flatten()
        .flat_map(|p| {
            std::fs::read_dir(p.path().join("chats"))
                .into_iter()
                .flatten()
        })
        .flatten()
        .collect();
    assert!(!chats.is_empty(), "a chat record in the real home");
    let home = dir.join("runs").join(format!("{}.gemini-home", run.id));
    h.tick_until(Duration::from_secs(60), "the run's home to go", |_| {
        std::fs::symlink_metadata(&home).is_err()
    });
    assert!(file.is_file(), "the user's settings stay");
    assert!(
        !std::fs::read_to_string(&file)
            .expect("settings")
            .contains("bosun")
    );
}
