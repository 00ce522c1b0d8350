//! The real Codex CLI playing the analysis stage under bosun's supervisor, in the harsh world
//! of `tests/support/supervised.rs`: the common scenarios (`scenarios.rs`, Codex's row of
//! `tests/support/cli.rs`: `-c hooks={…}` hooks calling this build's `bosun hook`, its
//! approval dialog, MCP tools found with `tool_search`, the scripted Responses API server on
//! 127.0.0.1). Needs `codex` (`scripts/install-agents.sh`): skipped loudly without it, failed
//! under `CI=true`.

use crate::scenarios::common_scenarios;

common_scenarios! {
    cli: bosun::sim::homes::Cli::Codex,
    slow_model: codex_completes_a_stage_from_the_init_prompt_with_a_slow_model,
    hooks_off: codex_with_hooks_off_the_screen_reads_the_same_turn,
    permission: codex_waits_for_approval_until_bosun_answer_says_yes,
    rate_limited: codex_rate_limited_is_requeued_with_backoff_and_then_completes,
    handoff: codex_hands_off_to_a_reviewer_over_mcp_and_carries_on,
    lost_stop_hook: codex_whose_stop_hook_is_lost_is_done_by_its_transcript,
}
