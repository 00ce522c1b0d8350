//! The pipeline as written resolved into [`Stage`]s: roles that exist, rollback targets
//! that are earlier stages, gates whose keys fit their kind, globs and patterns that parse.

use std::collections::BTreeMap;

use toml::Spanned;

use super::raw::{DEFAULT_COMMAND_TIMEOUT, RawAction, RawGate, RawGateKind, Source};
use regex::Regex;

use super::{Action, Branch, ConfigError, Gate, GateKind, RoleConfig, Stage, VerdictRule};

/// The pipeline given by layer `src` (the last that gives `stages`): each stage's role,
/// branches and gates checked against `roles` and the stage names.
pub(super) fn resolve_stages(
    src: &Source<'_>,
    roles: &BTreeMap<String, RoleConfig>,
) -> Result<Vec<Stage>, ConfigError> {
    let Some(raw) = &src.layer.stages else {
        return Err(src.err(0, "stages", "the pipeline needs at least one stage"));
    };
    if raw.get_ref().is_empty() {
        return Err(src.err(
            raw.span().start,
            "stages",
            "the pipeline needs at least one stage",
        ));
    }
    let names: Vec<&str> = raw
        .get_ref()
        .iter()
        .map(|s| s.get_ref().name.get_ref().as_str())
        .collect();
    let mut stages = Vec::new();
    for (i, stage) in raw.get_ref().iter().enumerate() {
        let st = stage.get_ref();
        let name = st.name.get_ref();
        let key = format!("stages[{i}]");
        if name.trim().is_empty() || name == "done" {
            return Err(src.err(
                st.name.span().start,
                format!("{key}.name"),
                "stage name must be non-empty and not `done` (the end of every pipeline)",
            ));
        }
        if names[..i].contains(&name.as_str()) {
            return Err(src.err(
                st.name.span().start,
                format!("{key}.name"),
                format!("stage `{name}` is defined twice"),
            ));
        }
        if !roles.contains_key(st.role.get_ref()) {
            let known: Vec<&str> = roles.keys().map(String::as_str).collect();
            return Err(src.err(
                st.role.span().start,
                format!("{key}.role"),
                format!(
                    "unknown role `{}`; define [roles.{}] or use one of: {}",
                    st.role.get_ref(),
                    st.role.get_ref(),
                    known.join(", ")
                ),
            ));
        }
        let mut branches = Vec::new();
        for (j, b) in st.branches.iter().enumerate() {
            let bk = format!("{key}.branches[{j}]");
            let br = b.get_ref();
            let then = resolve_action(
                src,
                &bk,
                &names,
                i,
                (*br.then.get_ref(), br.then.span().start),
                br.to.as_ref(),
                br.max.as_ref(),
                "then",
            )?;
            if then == Action::Retry {
                return Err(src.err(
                    br.then.span().start,
                    format!("{bk}.then"),
                    "a branch cannot `retry`; use `needs_input`, `rollback` or `block`",
                ));
            }
            branches.push(Branch {
                when_exists: br.when_exists.clone(),
                then,
            });
        }
        let mut gates = Vec::new();
        for (j, g) in st.gates.iter().enumerate() {
            gates.push(resolve_gate(
                src,
                &format!("{key}.gates[{j}]"),
                &names,
                i,
                g,
            )?);
        }
        stages.push(Stage {
            name: name.clone(),
            role: st.role.get_ref().clone(),
            max_retries: st.max_retries,
            branches,
            gates,
        });
    }
    Ok(stages)
}

#[allow(clippy::too_many_arguments)]
fn resolve_action(
    src: &Source<'_>,
    key: &str,
    names: &[&str],
    here: usize,
    (action, at): (RawAction, usize),
    to: Option<&Spanned<String>>,
    max: Option<&Spanned<u32>>,
    field: &str,
) -> Result<Action, ConfigError> {
    match action {
        RawAction::Rollback => {
            let Some(to) = to else {
                return Err(src.err(
                    at,
                    format!("{key}.to"),
                    "a rollback needs `to` (an earlier stage)",
                ));
            };
            let Some(target) = names.iter().position(|n| n == to.get_ref()) else {
                return Err(src.err(
                    to.span().start,
                    format!("{key}.to"),
                    format!(
                        "unknown stage `{}`; stages are: {}",
                        to.get_ref(),
                        names.join(", ")
                    ),
                ));
            };
            if target >= here {
                return Err(src.err(
                    to.span().start,
                    format!("{key}.to"),
                    format!(
                        "a rollback must go to an earlier stage than `{}`; `{}` is not earlier",
                        names[here],
                        to.get_ref()
                    ),
                ));
            }
            let Some(max) = max else {
                return Err(src.err(
                    to.span().start,
                    format!("{key}.max"),
                    format!(
                        "rolling back from `{}` to `{}` makes a cycle with no retry cap; set `max`",
                        names[here],
                        to.get_ref()
                    ),
                ));
            };
            if *max.get_ref() == 0 {
                return Err(src.err(max.span().start, format!("{key}.max"), "must be at least 1"));
            }
            Ok(Action::Rollback {
                to: target,
                max: *max.get_ref(),
            })
        }
        other => {
            if let Some(to) = to {
                return Err(src.err(
                    to.span().start,
                    format!("{key}.to"),
                    format!("`to` is only used with {field} = \"rollback\""),
                ));
            }
            if let Some(max) = max {
                return Err(src.err(
                    max.span().start,
                    format!("{key}.max"),
                    format!("`max` is only used with {field} = \"rollback\""),
                ));
            }
            Ok(match other {
                RawAction::Retry => Action::Retry,
                RawAction::NeedsInput => Action::NeedsInput,
                _ => Action::Block,
            })
        }
    }
}

fn resolve_gate(
    src: &Source<'_>,
    key: &str,
    names: &[&str],
    here: usize,
    gate: &Spanned<RawGate>,
) -> Result<Gate, ConfigError> {
    let g = gate.get_ref();
    let at = gate.span().start;
    let unused =
        |field: &str, s: &Option<Spanned<String>>, kind: &str| -> Result<(), ConfigError> {
            match s {
                Some(v) => Err(src.err(
                    v.span().start,
                    format!("{key}.{field}"),
                    format!("`{field}` is not used by a {kind} gate"),
                )),
                None => Ok(()),
            }
        };
    let regex = |field: &str, s: &Option<Spanned<String>>| -> Result<Regex, ConfigError> {
        let Some(s) = s else {
            return Err(src.err(
                at,
                format!("{key}.{field}"),
                format!(
                    "a verdict gate needs `pass_words` and `fail_words` (keywords), or `{field}` \
                     (a regex)"
                ),
            ));
        };
        Regex::new(s.get_ref()).map_err(|e| {
            src.err(
                s.span().start,
                format!("{key}.{field}"),
                format!("invalid regex: {e}"),
            )
        })
    };
    if g.kind != RawGateKind::Verdict
        && let Some(w) = g.pass_words.as_ref().or(g.fail_words.as_ref())
    {
        return Err(src.err(
            w.span().start,
            key.to_string(),
            "`pass_words` and `fail_words` are only used by a verdict gate",
        ));
    }
    let kind = match g.kind {
        RawGateKind::Artifact => {
            unused("command", &g.command, "artifact")?;
            unused("pass", &g.pass, "artifact")?;
            unused("fail", &g.fail, "artifact")?;
            let Some(path) = &g.path else {
                return Err(src.err(at, format!("{key}.path"), "an artifact gate needs `path`"));
            };
            glob::Pattern::new(path.get_ref()).map_err(|e| {
                src.err(
                    path.span().start,
                    format!("{key}.path"),
                    format!("invalid glob: {e}"),
                )
            })?;
            GateKind::Artifact {
                path: path.get_ref().clone(),
            }
        }
        RawGateKind::Command => {
            unused("path", &g.path, "command")?;
            unused("pass", &g.pass, "command")?;
            unused("fail", &g.fail, "command")?;
            GateKind::Command {
                command: g.command.as_ref().map(|c| c.get_ref().clone()),
                timeout: g.timeout.unwrap_or(DEFAULT_COMMAND_TIMEOUT),
            }
        }
        RawGateKind::Verdict => {
            unused("command", &g.command, "verdict")?;
            let rule = match (&g.pass_words, &g.fail_words) {
                (Some(p), Some(f)) => {
                    if let Some(r) = g.pass.as_ref().or(g.fail.as_ref()) {
                        return Err(src.err(
                            r.span().start,
                            key.to_string(),
                            "a verdict gate takes keywords (`pass_words`, `fail_words`) or \
                             patterns (`pass`, `fail`), not both",
                        ));
                    }
                    for (field, words) in [("pass_words", p), ("fail_words", f)] {
                        if words.get_ref().iter().all(|w| w.trim().is_empty()) {
                            return Err(src.err(
                                words.span().start,
                                format!("{key}.{field}"),
                                "give at least one keyword",
                            ));
                        }
                    }
                    VerdictRule::Words {
                        pass: p.get_ref().clone(),
                        fail: f.get_ref().clone(),
                    }
                }
                (Some(w), None) | (None, Some(w)) => {
                    let missing = if g.pass_words.is_none() {
                        "pass_words"
                    } else {
                        "fail_words"
                    };
                    return Err(src.err(
                        w.span().start,
                        format!("{key}.{missing}"),
                        format!("a verdict gate with keywords needs `{missing}` too"),
                    ));
                }
                (None, None) => VerdictRule::Patterns {
                    pass: regex("pass", &g.pass)?,
                    fail: regex("fail", &g.fail)?,
                },
            };
            GateKind::Verdict {
                path: g.path.as_ref().map(|p| p.get_ref().clone()),
                rule,
            }
        }
        RawGateKind::Approval => {
            unused("path", &g.path, "approval")?;
            unused("command", &g.command, "approval")?;
            unused("pass", &g.pass, "approval")?;
            unused("fail", &g.fail, "approval")?;
            GateKind::Approval
        }
    };
    let (action, action_at) = g
        .on_fail
        .as_ref()
        .map_or((RawAction::Retry, at), |a| (*a.get_ref(), a.span().start));
    let on_fail = resolve_action(
        src,
        key,
        names,
        here,
        (action, action_at),
        g.to.as_ref(),
        g.max.as_ref(),
        "on_fail",
    )?;
    if on_fail == Action::NeedsInput {
        return Err(src.err(
            action_at,
            format!("{key}.on_fail"),
            "a gate cannot fail into `needs_input`; use `retry`, `rollback` or `block`",
        ));
    }
    Ok(Gate { kind, on_fail })
}
