//! Provider profiles (`[providers.NAME]`): how to launch an agent CLI, read its screen and
//! answer it. The built-in ones are in `providers.toml`; any layer may override a profile key
//! by key.

use std::collections::BTreeMap;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Source, de_duration};

/// Default [`ProviderConfig::hook_grace`]: Claude Code and Codex call `UserPromptSubmit`
/// within a second of the prompt being taken (observed 2.1.332, 0.171.0); 10 s leaves room
/// for a loaded machine.
const DEFAULT_HOOK_GRACE: Duration = Duration::from_secs(10);

/// Default [`ProviderConfig::witness_grace`]: a turn a hook opened whose closing hook was lost
/// ends this long after its second witness said it was done (the `Stop` hook comes within
/// a second of the transcript's last record when nothing is wrong).
const DEFAULT_WITNESS_GRACE: Duration = Duration::from_secs(20);

/// Default [`ProviderConfig::quiet`]: how long an agent's screen must stay still to count as
/// finished for the screen witness (a working CLI redraws its spinner every ~100 ms).
const DEFAULT_QUIET: Duration = Duration::from_secs(5);

/// How a provider's agent takes its prompt and signals that it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderMode {
    /// A full-screen interactive CLI: the prompt is pasted into its pane; a turn is complete
    /// when its screen shows it done (or idle after busy) through a debounce.
    Interactive,
    /// A one-shot command: the prompt is its last argument; complete when the process exits.
    Batch,
}

/// Which hook mechanism a provider's CLI offers bosun (see `provider::wiring`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookStyle {
    /// None: the screen is the only signal. Every run still gets `BOSUN_RUN_ID` and
    /// `BOSUN_HOOK_TOKEN` in its environment, for a wrapper to call `bosun hook` itself.
    #[default]
    None,
    /// Claude Code: launched with `--settings FILE` adding command hooks that call
    /// `bosun hook`.
    ClaudeCode,
    /// OpenAI Codex CLI: launched with a `-c hooks={…}` override adding command hooks that
    /// call `bosun hook`, trusted for that invocation by their hashes in `hooks.state`.
    Codex,
    /// Gemini CLI: `GEMINI_CLI_HOME` names a private per-run home whose settings are the
    /// user's with command hooks that call `bosun hook` added.
    Gemini,
}

/// A status a provider's screen can show (the detector's vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScreenStatus {
    /// Ready for input, nothing running.
    Idle,
    /// Working on a turn.
    Busy,
    /// Needs the operator: a permission prompt, trust dialog, question, plan approval.
    Waiting,
    /// Finished its turn (a turn summary is on screen).
    Done,
    /// Shows an error.
    Error,
}

/// A screen saying the provider's usage limit is reached (`limits = [{ pattern, … }]`), read
/// by `provider::limit`. The pattern's named groups give the reset: `in` a duration
/// (`41s`, `2h 5m`), `at` a clock time (`5:31 AM`, `8pm`) with an optional `tz` (an IANA
/// zone such as `Europe/Berlin`, or `UTC`; else the local zone), or `epoch` Unix seconds.
#[derive(Debug, Clone)]
pub struct LimitPattern {
    /// Matches the limit on the screen; its groups give the reset time.
    pub pattern: Regex,
    /// The CLI waits for the reset and retries on its own (`waits = true`): bosun parks the
    /// provider and stretches the run's timeout, and sends nothing at the reset.
    pub waits: bool,
    /// A dialog the limit leaves open (`dialog`): at the reset, `keys` are pressed while it
    /// shows, before the resume prompt.
    pub dialog: Option<Regex>,
    /// Keys that close `dialog` (tmux key names).
    pub keys: Vec<String>,
    /// Paste `[supervisor] resume_prompt` at the reset (`prompt`, default true); false when
    /// the dialog's keys make the CLI retry by itself.
    pub prompt: bool,
}

/// A provider profile: how to launch an agent CLI and read its screen (`[providers.NAME]`).
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Profile name, e.g. `claude`.
    pub name: String,
    /// One line for `bosun providers`.
    pub description: String,
    /// Launch argv; `{bosun}` is replaced by the path of the running bosun binary.
    pub command: Vec<String>,
    /// Interactive or batch.
    pub mode: ProviderMode,
    /// Extra environment for the agent's pane.
    pub env: BTreeMap<String, String>,
    /// argv that prints the CLI's version.
    pub version_command: Vec<String>,
    /// CLI version a live test proved this profile against; empty when best effort.
    pub proven: String,
    /// Matches the screen once the agent is ready for its prompt.
    pub ready: Regex,
    /// How long to wait for `ready` before delivering anyway.
    pub ready_timeout: Duration,
    /// Screen patterns in priority order (waiting patterns are always checked first).
    pub status: Vec<(ScreenStatus, Regex)>,
    /// Keys (tmux key names) that submit a pasted prompt.
    pub submit_keys: Vec<String>,
    /// Pause between pasting and each submit key.
    pub submit_delay: Duration,
    /// Keys that answer "yes" to a permission prompt.
    pub yes_keys: Vec<String>,
    /// Keys that answer "no".
    pub no_keys: Vec<String>,
    /// Text that makes the agent exit, sent after a completed run; `None` to just close it.
    pub exit_command: Option<String>,
    /// Extra transient-failure patterns, added to the queue's defaults.
    pub transient: Vec<String>,
    /// The CLI's hook mechanism (`hooks = "claude-code"` or `"codex"`); [`HookStyle::None`]
    /// by default.
    pub hooks: HookStyle,
    /// Give the CLI bosun's MCP server (`bosun mcp`: send_message, handoff, assign,
    /// task_status, read_artifact) through its own MCP config (`mcp = true`): Claude Code's
    /// `--mcp-config`, Codex's `-c mcp_servers.bosun.*`, Gemini CLI's `mcpServers` in the
    /// run's system-defaults settings. Per the provider's hook style.
    pub mcp: bool,
    /// How to install the CLI (a shell command), quoted when it is missing; may be empty.
    pub install: String,
    /// Matches the screen once a dialog's options can take an answer key (`answer_ready`);
    /// `None` answers as soon as the status is `waiting`. Keys pressed before a dialog is
    /// drawn and listening are typed into the input box or lost (Claude Code 2.1.332 shows
    /// `Waiting for permission…` ~0.4 s before its dialog).
    pub answer_ready: Option<Regex>,
    /// With hooks: how long after the prompt is submitted the first hook call may take
    /// before the run falls back to the screen for completion (`hook_grace`, default 10 s).
    pub hook_grace: Duration,
    /// With hooks: how long a second witness (the CLI's transcript, else a quiet finished
    /// screen) must say a hook-opened turn is done, with no closing hook, before it ends the
    /// turn (`witness_grace`, default 20 s): the closing hook was lost.
    pub witness_grace: Duration,
    /// How long the screen must show no new output for the screen witness to count it as
    /// finished (`quiet`, default 5 s).
    pub quiet: Duration,
    /// Screens of a usage limit with its reset time (`limits`): the run waits in its pane
    /// and the provider is parked until then, instead of failing.
    pub limits: Vec<LimitPattern>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvider {
    description: Option<String>,
    command: Option<Vec<String>>,
    mode: Option<ProviderMode>,
    env: Option<BTreeMap<String, String>>,
    version_command: Option<Vec<String>>,
    proven: Option<String>,
    ready: Option<Spanned<String>>,
    #[serde(default, deserialize_with = "de_duration")]
    ready_timeout: Option<Duration>,
    status: Option<Vec<Spanned<RawStatusPattern>>>,
    submit_keys: Option<Vec<String>>,
    #[serde(default, deserialize_with = "de_duration")]
    submit_delay: Option<Duration>,
    yes_keys: Option<Vec<String>>,
    no_keys: Option<Vec<String>>,
    exit_command: Option<String>,
    transient: Option<Vec<Spanned<String>>>,
    hooks: Option<HookStyle>,
    mcp: Option<bool>,
    install: Option<String>,
    answer_ready: Option<Spanned<String>>,
    #[serde(default, deserialize_with = "de_duration")]
    hook_grace: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    witness_grace: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    quiet: Option<Duration>,
    limits: Option<Vec<RawLimitPattern>>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawLimitPattern {
    pattern: Spanned<String>,
    #[serde(default)]
    waits: bool,
    dialog: Option<Spanned<String>>,
    #[serde(default)]
    keys: Vec<String>,
    prompt: Option<bool>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawStatusPattern {
    status: ScreenStatus,
    pattern: Spanned<String>,
}

#[derive(Default)]
struct PartialProvider {
    src: usize,
    offset: usize,
    description: Option<String>,
    command: Option<Vec<String>>,
    mode: Option<ProviderMode>,
    env: Option<BTreeMap<String, String>>,
    version_command: Option<Vec<String>>,
    proven: Option<String>,
    ready: Option<Regex>,
    ready_timeout: Option<Duration>,
    status: Option<Vec<(ScreenStatus, Regex)>>,
    submit_keys: Option<Vec<String>>,
    submit_delay: Option<Duration>,
    yes_keys: Option<Vec<String>>,
    no_keys: Option<Vec<String>>,
    exit_command: Option<String>,
    transient: Option<Vec<String>>,
    hooks: Option<HookStyle>,
    mcp: Option<bool>,
    install: Option<String>,
    answer_ready: Option<Regex>,
    hook_grace: Option<Duration>,
    witness_grace: Option<Duration>,
    quiet: Option<Duration>,
    limits: Option<Vec<LimitPattern>>,
}

pub(super) fn merge_providers(
    sources: &[Source<'_>],
) -> Result<BTreeMap<String, ProviderConfig>, ConfigError> {
    let mut acc: BTreeMap<String, PartialProvider> = BTreeMap::new();
    for (i, src) in sources.iter().enumerate() {
        for (name, raw) in &src.layer.providers {
            let key = format!("providers.{name}");
            let r = raw.get_ref();
            let compile = |field: &str, s: &Spanned<String>| {
                Regex::new(s.get_ref()).map_err(|e| {
                    src.err(
                        s.span().start,
                        format!("{key}.{field}"),
                        format!("invalid regex: {e}"),
                    )
                })
            };
            let p = acc.entry(name.clone()).or_default();
            p.src = i;
            p.offset = raw.span().start;
            macro_rules! take {
                ($($f:ident),*) => { $( if r.$f.is_some() { p.$f = r.$f.clone(); } )* };
            }
            take!(
                description,
                command,
                mode,
                env,
                version_command,
                proven,
                ready_timeout
            );
            take!(
                submit_keys,
                submit_delay,
                yes_keys,
                no_keys,
                exit_command,
                hooks,
                mcp,
                install,
                hook_grace,
                witness_grace,
                quiet
            );
            if let Some(pattern) = &r.answer_ready {
                p.answer_ready = if pattern.get_ref().is_empty() {
                    None
                } else {
                    Some(compile("answer_ready", pattern)?)
                };
            }
            if let Some(ready) = &r.ready {
                p.ready = Some(compile("ready", ready)?);
            }
            if let Some(list) = &r.status {
                let mut out = Vec::new();
                for (j, sp) in list.iter().enumerate() {
                    let sp = sp.get_ref();
                    out.push((
                        sp.status,
                        compile(&format!("status[{j}].pattern"), &sp.pattern)?,
                    ));
                }
                p.status = Some(out);
            }
            if let Some(list) = &r.limits {
                let mut out = Vec::new();
                for (j, l) in list.iter().enumerate() {
                    out.push(LimitPattern {
                        pattern: compile(&format!("limits[{j}].pattern"), &l.pattern)?,
                        waits: l.waits,
                        dialog: match &l.dialog {
                            Some(d) => Some(compile(&format!("limits[{j}].dialog"), d)?),
                            None => None,
                        },
                        keys: l.keys.clone(),
                        prompt: l.prompt.unwrap_or(true),
                    });
                }
                p.limits = Some(out);
            }
            if let Some(list) = &r.transient {
                for (j, t) in list.iter().enumerate() {
                    compile(&format!("transient[{j}]"), t)?;
                }
                p.transient = Some(list.iter().map(|t| t.get_ref().clone()).collect());
            }
        }
    }
    let mut out = BTreeMap::new();
    for (name, p) in acc {
        let src = &sources[p.src];
        let need = |field: &str| {
            src.err(
                p.offset,
                format!("providers.{name}.{field}"),
                format!("provider needs `{field}`"),
            )
        };
        let command = p
            .command
            .filter(|c| !c.is_empty())
            .ok_or_else(|| need("command"))?;
        out.insert(
            name.clone(),
            ProviderConfig {
                description: p.description.unwrap_or_default(),
                version_command: p
                    .version_command
                    .unwrap_or_else(|| vec![command[0].clone(), "--version".into()]),
                command,
                mode: p.mode.unwrap_or(ProviderMode::Interactive),
                env: p.env.unwrap_or_default(),
                proven: p.proven.unwrap_or_default(),
                ready: p.ready.ok_or_else(|| need("ready"))?,
                ready_timeout: p.ready_timeout.unwrap_or(Duration::from_secs(30)),
                status: p.status.unwrap_or_default(),
                submit_keys: p.submit_keys.unwrap_or_else(|| vec!["Enter".into()]),
                submit_delay: p.submit_delay.unwrap_or(Duration::from_millis(100)),
                yes_keys: p.yes_keys.unwrap_or_default(),
                no_keys: p.no_keys.unwrap_or_default(),
                exit_command: p.exit_command.filter(|e| !e.is_empty()),
                transient: p.transient.unwrap_or_default(),
                hooks: p.hooks.unwrap_or_default(),
                mcp: p.mcp.unwrap_or(false),
                install: p.install.unwrap_or_default(),
                answer_ready: p.answer_ready,
                hook_grace: p.hook_grace.unwrap_or(DEFAULT_HOOK_GRACE),
                witness_grace: p.witness_grace.unwrap_or(DEFAULT_WITNESS_GRACE),
                quiet: p.quiet.unwrap_or(DEFAULT_QUIET),
                limits: p.limits.unwrap_or_default(),
                name,
            },
        );
    }
    Ok(out)
}
