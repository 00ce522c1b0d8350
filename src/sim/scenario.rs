//! Steps and scenarios: the model, its TOML parsing (scenario files and `@sim` prompt lines),
//! `{key}` expansion and the per-turn condition check. Pure code; nothing here touches the
//! terminal.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// One scripted step: an action, and the conditions under which it runs this turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What the step does.
    pub action: Action,
    /// When it does it (all conditions must hold).
    pub when: Conditions,
}

/// What a step does. Strings are expanded with [`Vars::expand`] when the step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Work (spinner running) for this long.
    Spin(Duration),
    /// Print `● <text>`.
    Say(String),
    /// Write `text` to `path` (relative to the cwd), creating parent directories.
    Write {
        /// Target file, relative to the cwd.
        path: String,
        /// File content.
        text: String,
    },
    /// Permission dialog `Do you want to create <text>?`.
    Ask(String),
    /// Question `? <text>` answered by a typed line.
    Question(String),
    /// Print `✗ API Error: <text>` and exit with `code`.
    Fail {
        /// Error text shown after `✗ API Error: `.
        text: String,
        /// Process exit code (0–255).
        code: i32,
    },
    /// Exit at once with this code (0–255), no message.
    Exit(i32),
    /// Spin forever.
    Hang {
        /// Ignore SIGTERM (set after the children are spawned, so they do not inherit it).
        ignore_sigterm: bool,
        /// Number of `sleep 100000` child processes to spawn first.
        children: u32,
        /// Number of `sleep 100000` processes started with `setsid -f`: in a session of
        /// their own and re-parented away, as a daemonizing tool would leave them.
        detached: u32,
    },
    /// Print this many lines `line <i> of <N>` as fast as possible.
    Flood(u64),
    /// Merge this branch into the worktree's branch, keeping the agent's side where both
    /// changed a line (`git merge -X ours`): what an agent told its branch conflicts does.
    Merge(String),
    /// A model response that read this many input tokens, recorded in the session record
    /// bosun reads usage from (`super::session`).
    Tokens(u64),
}

/// When a step runs. Paths are relative to the cwd and `{key}`-expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// Only when env `BOSUN_STAGE` equals this.
    pub stage: Option<String>,
    /// Only when this path exists.
    pub if_exists: Option<String>,
    /// Only when this path does not exist.
    pub unless_exists: Option<String>,
}

/// A step exactly as written in TOML, validated into a [`Step`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    spin: Option<String>,
    say: Option<String>,
    write: Option<String>,
    text: Option<String>,
    ask: Option<String>,
    question: Option<String>,
    fail: Option<String>,
    code: Option<i64>,
    exit: Option<i64>,
    hang: Option<bool>,
    ignore_sigterm: Option<bool>,
    children: Option<u32>,
    detached: Option<u32>,
    flood: Option<u64>,
    merge: Option<String>,
    tokens: Option<u64>,
    stage: Option<String>,
    if_exists: Option<String>,
    unless_exists: Option<String>,
}

/// The action keys, in the order error messages list them.
const ACTIONS: &str = "spin, say, write, ask, question, fail, exit, hang, flood, merge, tokens";

fn exit_code(key: &str, v: i64) -> Result<i32, String> {
    i32::try_from(v)
        .ok()
        .filter(|c| (0..=255).contains(c))
        .ok_or_else(|| format!("`{key} = {v}` is not an exit code (0 to 255)"))
}

impl TryFrom<RawStep> for Step {
    type Error = String;

    fn try_from(r: RawStep) -> Result<Step, String> {
        let present: Vec<&str> = [
            ("spin", r.spin.is_some()),
            ("say", r.say.is_some()),
            ("write", r.write.is_some()),
            ("ask", r.ask.is_some()),
            ("question", r.question.is_some()),
            ("fail", r.fail.is_some()),
            ("exit", r.exit.is_some()),
            ("hang", r.hang.is_some()),
            ("flood", r.flood.is_some()),
            ("merge", r.merge.is_some()),
            ("tokens", r.tokens.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, p)| p.then_some(k))
        .collect();
        match present.as_slice() {
            [] => return Err(format!("a step needs one action ({ACTIONS}); found none")),
            [_] => {}
            many => {
                return Err(format!(
                    "a step takes exactly one action ({ACTIONS}); found {}",
                    many.join(", ")
                ));
            }
        }
        if r.text.is_some() && r.write.is_none() {
            return Err("`text` goes with `write` only".into());
        }
        if r.code.is_some() && r.fail.is_none() {
            return Err("`code` goes with `fail` only".into());
        }
        if (r.ignore_sigterm.is_some() || r.children.is_some() || r.detached.is_some())
            && r.hang.is_none()
        {
            return Err("`ignore_sigterm`, `children` and `detached` go with `hang` only".into());
        }
        let action = if let Some(s) = r.spin {
            let d = humantime::parse_duration(&s)
                .map_err(|e| format!("`spin = {s:?}` is not a duration like \"2s\": {e}"))?;
            Action::Spin(d)
        } else if let Some(t) = r.say {
            Action::Say(t)
        } else if let Some(path) = r.write {
            Action::Write {
                path,
                text: r.text.unwrap_or_default(),
            }
        } else if let Some(t) = r.ask {
            Action::Ask(t)
        } else if let Some(t) = r.question {
            Action::Question(t)
        } else if let Some(text) = r.fail {
            let code = exit_code("code", r.code.unwrap_or(1))?;
            Action::Fail { text, code }
        } else if let Some(c) = r.exit {
            Action::Exit(exit_code("exit", c)?)
        } else if let Some(h) = r.hang {
            if !h {
                return Err("`hang` can only be `true`".into());
            }
            Action::Hang {
                ignore_sigterm: r.ignore_sigterm.unwrap_or(false),
                children: r.children.unwrap_or(0),
                detached: r.detached.unwrap_or(0),
            }
        } else if let Some(n) = r.flood {
            Action::Flood(n)
        } else if let Some(b) = r.merge {
            Action::Merge(b)
        } else if let Some(n) = r.tokens {
            Action::Tokens(n)
        } else {
            return Err(format!("a step needs one action ({ACTIONS}); found none"));
        };
        Ok(Step {
            action,
            when: Conditions {
                stage: r.stage,
                if_exists: r.if_exists,
                unless_exists: r.unless_exists,
            },
        })
    }
}

/// A scenario file: default steps plus per-stage steps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scenario {
    /// Steps for any stage without its own `[stages.<name>]`.
    pub steps: Option<Vec<Step>>,
    /// Steps per stage name (matched against env `BOSUN_STAGE`).
    pub stages: BTreeMap<String, Vec<Step>>,
}

/// The scenario file exactly as written; steps keep their place in the text.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    steps: Option<Vec<Spanned<RawStep>>>,
    #[serde(default)]
    stages: BTreeMap<String, RawStage>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    steps: Vec<Spanned<RawStep>>,
}

/// Why a scenario file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Not TOML, or not the scenario's shape (unknown key, wrong type); the message shows the
    /// line and column.
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// A step that is not valid (no or several actions, bad duration, bad exit code…).
    #[error("line {line}, column {column}: {message}")]
    Step {
        /// 1-based line of the step's table.
        line: usize,
        /// 1-based column (in characters) of the step's table.
        column: usize,
        /// What is wrong with it.
        message: String,
    },
}

/// The 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl Scenario {
    /// Parses a scenario file's text.
    ///
    /// # Errors
    /// TOML syntax errors, unknown keys, steps with no or several actions, bad durations or
    /// exit codes; every error names its line and column.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = toml::from_str(text)?;
        let convert = |steps: Vec<Spanned<RawStep>>| {
            steps
                .into_iter()
                .map(|s| {
                    let start = s.span().start;
                    Step::try_from(s.into_inner()).map_err(|message| {
                        let (line, column) = line_col(text, start);
                        ScenarioError::Step {
                            line,
                            column,
                            message,
                        }
                    })
                })
                .collect::<Result<Vec<Step>, ScenarioError>>()
        };
        let steps = raw.steps.map(convert).transpose()?;
        let stages = raw
            .stages
            .into_iter()
            .map(|(name, stage)| Ok((name, convert(stage.steps)?)))
            .collect::<Result<_, ScenarioError>>()?;
        Ok(Scenario { steps, stages })
    }

    /// The steps for `stage` (env `BOSUN_STAGE`): the stage's own table, else the default
    /// `[[steps]]`, else `None`.
    pub fn steps_for(&self, stage: Option<&str>) -> Option<&[Step]> {
        stage
            .and_then(|s| self.stages.get(s))
            .map(Vec::as_slice)
            .or(self.steps.as_deref())
    }
}

/// A malformed `@sim` line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad @sim line {line}: {message}")]
pub struct SimLineError {
    /// 1-based line number within the prompt.
    pub line: usize,
    /// The TOML or validation error, on one line.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OneStep {
    step: RawStep,
}

/// Parses the `@sim {…}` lines of a prompt, in order. `Ok(None)` when the prompt has none.
///
/// # Errors
/// The first line that is not a valid step, with its 1-based line number in the prompt.
pub fn parse_sim_lines(prompt: &str) -> Result<Option<Vec<Step>>, SimLineError> {
    let mut steps = Vec::new();
    for (i, line) in prompt.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let Some(table) = line.strip_prefix("@sim ") else {
            continue;
        };
        let error = |message: String| SimLineError {
            line: i + 1,
            message: message.trim().replace('\n', "; "),
        };
        let parsed: OneStep = toml::from_str(&format!("step = {}", table.trim()))
            .map_err(|e| error(e.message().to_owned()))?;
        steps.push(Step::try_from(parsed.step).map_err(error)?);
    }
    Ok((!steps.is_empty()).then_some(steps))
}

/// The values `{key}`, `{stage}` and `{run}` expand to (env `BOSUN_TASK`, `BOSUN_STAGE`,
/// `BOSUN_RUN_ID`). An unset variable leaves its placeholder as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    /// `BOSUN_TASK`.
    pub key: Option<String>,
    /// `BOSUN_STAGE`.
    pub stage: Option<String>,
    /// `BOSUN_RUN_ID`.
    pub run: Option<String>,
}

impl Vars {
    /// Reads the variables from the environment (unset or non-UTF-8 counts as unset).
    pub fn from_env() -> Vars {
        let get = |k: &str| std::env::var(k).ok();
        Vars {
            key: get("BOSUN_TASK"),
            stage: get("BOSUN_STAGE"),
            run: get("BOSUN_RUN_ID"),
        }
    }

    /// Replaces `{key}`, `{stage}` and `{run}` in `s`; other braces are left alone.
    pub fn expand(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for (name, value) in [
            ("{key}", &self.key),
            ("{stage}", &self.stage),
            ("{run}", &self.run),
        ] {
            if let Some(v) = value {
                out = out.replace(name, v);
            }
        }
        out
    }
}

impl Conditions {
    /// Whether the step runs, given the variables and the cwd that relative paths start from.
    pub fn hold(&self, vars: &Vars, cwd: &Path) -> bool {
        let stage_ok = self
            .stage
            .as_ref()
            .is_none_or(|s| vars.stage.as_deref() == Some(s.as_str()));
        let exists = |p: &String| cwd.join(vars.expand(p)).exists();
        stage_ok
            && self.if_exists.as_ref().is_none_or(exists)
            && !self.unless_exists.as_ref().is_some_and(exists)
    }
}

/// The steps that run this turn: conditions are all evaluated now, before any step runs, so
/// a step cannot change which other steps run in the same turn.
pub fn select(steps: &[Step], vars: &Vars, cwd: &Path) -> Vec<Step> {
    steps
        .iter()
        .filter(|s| s.when.hold(vars, cwd))
        .cloned()
        .collect()
}

/// The steps when neither the prompt nor a scenario gives any: work one second.
pub fn default_steps() -> Vec<Step> {
    vec![Step {
        action: Action::Spin(Duration::from_secs(1)),
        when: Conditions::default(),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(action: Action) -> Step {
        Step {
            action,
            when: Conditions::default(),
        }
    }

    #[test]
    fn sim_lines_parse_in_order_and_ignore_other_lines() {
        let prompt = "Review the work item.\r\n\
            @sim {spin = \"2s\"}\r\n\
            not @sim {say = \"x\"}\n\
            @sim {write = \"docs/work-items/{key}/12-review.md\", text = \"APPROVED\\nfine\", if_exists = \"docs/work-items/{key}/12-review.md\"}\n\
            @sim   {say = \"done\"}  \n\
            @simulate {say = \"no\"}";
        let steps = parse_sim_lines(prompt).unwrap().unwrap();
        assert_eq!(
            steps,
            vec![
                step(Action::Spin(Duration::from_secs(2))),
                Step {
                    action: Action::Write {
                        path: "docs/work-items/{key}/12-review.md".into(),
                        text: "APPROVED\nfine".into()
                    },
                    when: Conditions {
                        if_exists: Some("docs/work-items/{key}/12-review.md".into()),
                        ..Conditions::default()
                    }
                },
                step(Action::Say("done".into())),
            ]
        );
    }

    #[test]
    fn prompt_without_sim_lines_gives_none() {
        assert_eq!(
            parse_sim_lines("just text\n@sim\n @sim {say='x'}"),
            Ok(None)
        );
    }

    #[test]
    fn every_action_parses() {
        let prompt = "@sim {say = \"hi\"}\n\
            @sim {ask = \"a.md\"}\n\
            @sim {question = \"Which?\"}\n\
            @sim {fail = \"429\", code = 3}\n\
            @sim {fail = \"boom\"}\n\
            @sim {exit = 7}\n\
            @sim {hang = true, ignore_sigterm = true, children = 2}\n\
            @sim {hang = true}\n\
            @sim {flood = 50000}\n\
            @sim {write = \"empty\"}";
        let got: Vec<Action> = parse_sim_lines(prompt)
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|s| s.action)
            .collect();
        assert_eq!(
            got,
            vec![
                Action::Say("hi".into()),
                Action::Ask("a.md".into()),
                Action::Question("Which?".into()),
                Action::Fail {
                    text: "429".into(),
                    code: 3
                },
                Action::Fail {
                    text: "boom".into(),
                    code: 1
                },
                Action::Exit(7),
                Action::Hang {
                    ignore_sigterm: true,
                    children: 2,
                    detached: 0,
                },
                Action::Hang {
                    ignore_sigterm: false,
                    children: 0,
                    detached: 0,
                },
                Action::Flood(50000),
                Action::Write {
                    path: "empty".into(),
                    text: String::new()
                },
            ]
        );
    }

    #[test]
    fn malformed_sim_lines_name_the_line_and_the_problem() {
        let cases = [
            ("x\n@sim {say = \"unterminated}", 2, ""),
            ("@sim {say = \"a\", spin = \"1s\"}", 1, "found spin, say"),
            ("@sim {}", 1, "found none"),
            ("a\nb\n@sim {say = \"a\", colour = \"red\"}", 3, "colour"),
            ("@sim {spin = \"soon\"}", 1, "not a duration"),
            ("@sim {exit = 300}", 1, "0 to 255"),
            (
                "@sim {say = \"a\", text = \"b\"}",
                1,
                "`text` goes with `write`",
            ),
            ("@sim {say = \"a\", code = 2}", 1, "`code` goes with `fail`"),
            ("@sim {say = \"a\", children = 2}", 1, "go with `hang` only"),
            ("@sim {hang = false}", 1, "only be `true`"),
            ("@sim {say = \"a\"} trailing", 1, ""),
            ("@sim say = \"a\"", 1, ""),
        ];
        for (prompt, line, needle) in cases {
            let err = parse_sim_lines(prompt).unwrap_err();
            assert_eq!(err.line, line, "{prompt}: {err}");
            assert!(err.message.contains(needle), "{prompt}: {err}");
            assert!(!err.message.contains('\n'), "{prompt}: {err}");
            assert!(!err.message.is_empty(), "{prompt}: {err}");
        }
    }

    #[test]
    fn scenario_picks_stage_steps_then_default_then_none() {
        let sc = Scenario::parse(
            r#"
            [[steps]]
            spin = "1s"

            [[steps]]
            say = "default"

            [stages.review]
            steps = [
              { write = "r.md", text = "APPROVED", stage = "review" },
            ]
            "#,
        )
        .unwrap();
        assert_eq!(sc.steps_for(None).map(<[Step]>::len), Some(2));
        assert_eq!(sc.steps_for(Some("develop")).map(<[Step]>::len), Some(2));
        let review = sc.steps_for(Some("review")).unwrap();
        assert_eq!(review.len(), 1);
        assert_eq!(review[0].when.stage.as_deref(), Some("review"));

        let only_stage = Scenario::parse("[stages.test]\nsteps = [{say = \"t\"}]\n").unwrap();
        assert!(only_stage.steps_for(Some("review")).is_none());
        assert!(only_stage.steps_for(None).is_none());
        assert!(Scenario::parse("").unwrap().steps_for(Some("x")).is_none());
    }

    #[test]
    fn scenario_errors_carry_the_location() {
        let err =
            Scenario::parse("[[steps]]\nsay = \"a\"\n\n[[steps]]\nsay = \"b\"\nspin = \"1s\"\n")
                .unwrap_err();
        let shown = err.to_string();
        assert!(shown.starts_with("line 4, column 1: "), "{shown}");
        assert!(shown.contains("found spin, say"), "{shown}");

        let err = Scenario::parse(
            "[stages.review]\nsteps = [\n  {say = \"ok\"},\n  {spin = \"later\"},\n]\n",
        )
        .unwrap_err();
        let shown = err.to_string();
        assert!(shown.starts_with("line 4, column 3: "), "{shown}");
        assert!(shown.contains("not a duration"), "{shown}");

        for (text, needle) in [
            ("[stages.review]\nsteps = []\nextra = 1\n", "extra"),
            ("[[steps]]\nsey = \"typo\"\n", "sey"),
            ("steps = 3", "line 1"),
            ("[stages.review]\nsteps = [{say = 1}]\n", "line 2"),
        ] {
            let shown = Scenario::parse(text).unwrap_err().to_string();
            assert!(shown.contains(needle), "{text}: {shown}");
        }
    }

    #[test]
    fn expansion_replaces_known_placeholders_only() {
        let vars = Vars {
            key: Some("T-42".into()),
            stage: Some("review".into()),
            run: None,
        };
        assert_eq!(
            vars.expand("docs/{key}/{stage}-{run}-{key}-{other}.md"),
            "docs/T-42/review-{run}-T-42-{other}.md"
        );
        assert_eq!(Vars::default().expand("{key}"), "{key}");
    }

    #[test]
    fn conditions_check_stage_and_files_with_expansion() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("docs/T-1")).unwrap();
        std::fs::write(dir.path().join("docs/T-1/12-review.md"), "x").unwrap();
        let vars = Vars {
            key: Some("T-1".into()),
            stage: Some("review".into()),
            run: Some("9".into()),
        };
        let c = |stage: Option<&str>, ifx: Option<&str>, unless: Option<&str>| Conditions {
            stage: stage.map(Into::into),
            if_exists: ifx.map(Into::into),
            unless_exists: unless.map(Into::into),
        };
        let cwd = dir.path();
        assert!(c(None, None, None).hold(&vars, cwd));
        assert!(c(Some("review"), None, None).hold(&vars, cwd));
        assert!(!c(Some("develop"), None, None).hold(&vars, cwd));
        assert!(!c(Some("review"), None, None).hold(&Vars::default(), cwd));
        assert!(c(None, Some("docs/{key}/12-review.md"), None).hold(&vars, cwd));
        assert!(!c(None, Some("docs/{key}/13-test.md"), None).hold(&vars, cwd));
        assert!(!c(None, None, Some("docs/{key}/12-review.md")).hold(&vars, cwd));
        assert!(c(None, None, Some("docs/{key}/13-test.md")).hold(&vars, cwd));
        assert!(!c(Some("review"), Some("docs/{key}"), Some("docs")).hold(&vars, cwd));
    }

    #[test]
    fn select_evaluates_all_conditions_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let steps = parse_sim_lines(
            "@sim {write = \"r.md\", text = \"REQUEST_CHANGES\", unless_exists = \"r.md\"}\n\
             @sim {write = \"r.md\", text = \"APPROVED\", if_exists = \"r.md\"}",
        )
        .unwrap()
        .unwrap();
        let vars = Vars::default();
        let first = select(&steps, &vars, dir.path());
        assert_eq!(first, vec![steps[0].clone()]);
        // The first turn writes the file; the next turn takes the other branch.
        std::fs::write(dir.path().join("r.md"), "REQUEST_CHANGES").unwrap();
        assert_eq!(select(&steps, &vars, dir.path()), vec![steps[1].clone()]);
    }
}
