//! Rendering a role's prompt template for one run.

use crate::config::{Action, GateKind, Stage};
use crate::pipeline::gates::expand;

/// The values a prompt template can use.
#[derive(Debug, Clone)]
pub struct PromptVars<'a> {
    /// `{key}`: the task key.
    pub key: &'a str,
    /// `{title}`.
    pub title: &'a str,
    /// `{spec}`.
    pub spec: &'a str,
    /// `{stage}`.
    pub stage: &'a str,
    /// `{worktree}`: absolute path of the task's worktree.
    pub worktree: &'a str,
    /// `{feedback}`: the last rejection, failed gate or review, if any.
    pub feedback: Option<&'a str>,
    /// `{artifacts}`: the files the stage's gates and branches look at.
    pub artifacts: Vec<String>,
}

/// The artifact paths `stage` checks, `{key}` expanded.
pub fn artifacts(stage: &Stage, key: &str) -> Vec<String> {
    artifact_files(stage, key)
        .into_iter()
        .map(|a| a.path)
        .collect()
}

/// A file a stage's gates or branches look at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ArtifactFile {
    /// Relative to the task's worktree, `{key}` expanded.
    pub path: String,
    /// A gate checks it (its absence fails the gate); otherwise a branch looks for it and it
    /// is written only sometimes (an analyst's questions).
    pub required: bool,
    /// It is in the worktree (false until [`look_up`] found it).
    pub exists: bool,
}

/// The files `stage`'s gates (required) and branches (optional) look at, `{key}` expanded;
/// `exists` is false until [`look_up`].
pub fn artifact_files(stage: &Stage, key: &str) -> Vec<ArtifactFile> {
    let mut out = Vec::new();
    for g in &stage.gates {
        match &g.kind {
            GateKind::Artifact { path }
            | GateKind::Verdict {
                path: Some(path), ..
            } => out.push(ArtifactFile {
                path: expand(path, key),
                required: true,
                exists: false,
            }),
            _ => {}
        }
    }
    for b in &stage.branches {
        if !matches!(b.then, Action::Retry) {
            out.push(ArtifactFile {
                path: expand(&b.when_exists, key),
                required: false,
                exists: false,
            });
        }
    }
    out
}

/// Sets `exists` of each file: is it a regular file inside `worktree` (none yet: nothing
/// exists)? A symlink, FIFO or device an agent left there does not count.
pub fn look_up(files: &mut [ArtifactFile], worktree: Option<&std::path::Path>) {
    for f in files {
        f.exists = worktree.is_some_and(|w| crate::untrusted::inspect(w, &f.path).is_ok());
    }
}

/// What a task view shows of `files`: the ones that exist, and the required ones missing (an
/// optional file that was never written is not mentioned).
pub fn present_and_missing(files: &[ArtifactFile]) -> (Vec<&str>, Vec<&str>) {
    let present = files
        .iter()
        .filter(|f| f.exists)
        .map(|f| f.path.as_str())
        .collect();
    let missing = files
        .iter()
        .filter(|f| f.required && !f.exists)
        .map(|f| f.path.as_str())
        .collect();
    (present, missing)
}

/// Renders `template` in one pass: `{key}`, `{title}`, `{spec}`, `{stage}`, `{worktree}`,
/// `{artifacts}` and `{feedback}` are replaced; anything else in braces stays as written.
/// Values are inserted verbatim and never expanded again, so a spec that contains `{key}`
/// reaches the agent unchanged. `{feedback}` becomes a headed section, or nothing.
pub fn render(template: &str, v: &PromptVars<'_>) -> String {
    let mut out = String::with_capacity(template.len() + v.spec.len() + 256);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let name = &after[..close];
        let value = match name {
            "key" => Some(v.key.to_string()),
            "title" => Some(v.title.to_string()),
            "spec" => Some(v.spec.to_string()),
            "stage" => Some(v.stage.to_string()),
            "worktree" => Some(v.worktree.to_string()),
            "artifacts" => Some(v.artifacts.join(", ")),
            "feedback" => Some(match v.feedback {
                Some(f) if !f.trim().is_empty() => {
                    format!(
                        "\n## Feedback from the previous attempt\n{}\n",
                        f.trim_end()
                    )
                }
                _ => String::new(),
            }),
            _ => None,
        };
        match value {
            Some(val) => {
                out.push_str(&val);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(spec: &'a str, feedback: Option<&'a str>) -> PromptVars<'a> {
        PromptVars {
            key: "ET-001",
            title: "Add a flag",
            spec,
            stage: "review",
            worktree: "/w",
            feedback,
            artifacts: vec!["a.md".into(), "b.md".into()],
        }
    }

    #[test]
    fn renders_once_and_leaves_unknown_braces() {
        let t = "{key} {title} in {worktree} ({stage}): {spec} -> {artifacts} {json} {unclosed";
        let out = render(t, &vars("use {key} and {feedback} literally", None));
        assert_eq!(
            out,
            "ET-001 Add a flag in /w (review): use {key} and {feedback} literally -> a.md, b.md {json} {unclosed"
        );
    }

    #[test]
    fn feedback_is_a_section_or_nothing() {
        assert_eq!(render("x{feedback}", &vars("", None)), "x");
        let out = render("x{feedback}", &vars("", Some("fix the tests\n")));
        assert_eq!(
            out,
            "x\n## Feedback from the previous attempt\nfix the tests\n"
        );
    }
}
