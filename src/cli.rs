//! Command-line definitions (clap derive). Handlers live in [`crate::cmd`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `bosun --version`: the package version, and the git commit when built from a checkout
/// (`build.rs`), e.g. `0.1.0 (a1b2c3d4e5f6)`.
pub const VERSION: &str = if env!("BOSUN_GIT_COMMIT").is_empty() {
    env!("CARGO_PKG_VERSION")
} else {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (",
        env!("BOSUN_GIT_COMMIT"),
        ")"
    )
};

/// bosun: a terminal supervisor for fleets of CLI coding agents. Run without a subcommand
/// for the operator's console.
#[derive(Debug, Parser)]
#[command(name = "bosun", version = VERSION, about, propagate_version = true)]
pub struct Cli {
    /// Database file [env: BOSUN_DB] [default: $XDG_DATA_HOME/bosun/bosun.db]
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Project config layered over the user config [env: BOSUN_CONFIG] [default: ./bosun.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log file [default: $XDG_STATE_HOME/bosun/bosun.log]; level from BOSUN_LOG or RUST_LOG
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Console theme [default: ui.theme, "default"]; built-ins: default, light, high-contrast
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,
    /// Print text that agents, models or task authors wrote as it is, escape sequences and
    /// control characters included (by default they are dropped, and a carriage return shows
    /// as `\r`, on a terminal or not)
    #[arg(long, global = true)]
    pub raw: bool,
    /// What to do; without a subcommand, the operator's console opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented default bosun.toml
    Init {
        /// Where to write it
        #[arg(default_value = "bosun.toml")]
        path: PathBuf,
        /// Overwrite an existing file
        #[arg(long)]
        force: bool,
    },
    /// Check the config and print the pipeline it defines
    Config {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Manage projects (git repositories)
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Manage tasks
    #[command(subcommand)]
    Task(TaskCommand),
    /// Approve the task's pending approval gate
    Approve {
        /// Task key, e.g. ET-001
        #[arg(add = clap_complete::ArgValueCandidates::new(crate::cmd::complete::task_keys))]
        key: String,
        /// Note recorded with the approval
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject the task's pending approval gate; the note becomes the next run's feedback
    Reject {
        /// Task key
        #[arg(add = clap_complete::ArgValueCandidates::new(crate::cmd::complete::task_keys))]
        key: String,
        /// Why: what the agent must change
        #[arg(long)]
        note: String,
    },
    /// Answer the task's waiting agent (a permission prompt) with its provider's yes/no keys:
    /// pressed once the dialog's options are on screen, and again if the agent dropped them.
    /// Fails (exit 1), quoting the agent's screen, when no dialog comes or it does not take
    /// the answer
    Answer {
        /// Task key
        #[arg(add = clap_complete::ArgValueCandidates::new(crate::cmd::complete::task_keys))]
        key: String,
        /// yes or no
        reply: String,
        /// How long to wait for the dialog (e.g. "10s", "1m")
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        wait: std::time::Duration,
    },
    /// Send text to the task's running agent now (pasted, then submitted), or with
    /// --when-idle queue it as a message its agent gets when its turn ends
    Send {
        /// Task key
        #[arg(add = clap_complete::ArgValueCandidates::new(crate::cmd::complete::task_keys))]
        key: String,
        /// The text
        text: String,
        /// Queue it in the task's inbox instead of typing it now: delivered at the end of the
        /// agent's turn, exactly once, also to the task's next run
        #[arg(long)]
        when_idle: bool,
        /// With --when-idle: only for the task's agent in this role
        #[arg(long, requires = "when_idle")]
        role: Option<String>,
    },
    /// List messages queued for tasks' agents and where each stands (pending, claimed,
    /// pasted, delivered, acked)
    Inbox {
        /// Only this task's
        #[arg(add = clap_complete::ArgValueCandidates::new(crate::cmd::complete::task_keys))]
        key: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show the job queue, or act on a job
    Queue(QueueArgs),
    /// List agent providers: whether each CLI is installed, its version, and whether the
    /// profile is proven against it by a live test
    Providers {
        /// Print as JSON
        #[arg(long)]
        json: bool,
        /// Run the installed CLI of provider NAME (claude, codex, gemini, sim) through a short
        /// scripted session against bosun's built-in scripted model on 127.0.0.1 and report
        /// whether each status (ready, busy, waiting, answer, done, error, hooks) was read
        /// right and how fast; exits 1 when one was misread
        #[arg(long, value_name = "NAME", add = clap_complete::ArgValueCandidates::new(crate::cmd::complete::providers))]
        check: Option<String>,
        /// With --check: keep the scratch directory (repository, database, logs)
        #[arg(long, requires = "check")]
        keep: bool,
    },
    /// Check what bosun needs (tmux, git, the database, the config, each provider's CLI, the
    /// supervisor lease, disk space) and say how to fix what is wrong; exits 1 when
    /// something blocks work
    Doctor {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show the budgets and what is used of them, or set one (a decision, with a note)
    Budget {
        /// A task's key (its budget), or nothing with --project or --day
        #[arg(add = clap_complete::ArgValueCandidates::new(crate::cmd::complete::task_keys))]
        key: Option<String>,
        /// A project's budget (its name)
        #[arg(long)]
        project: Option<String>,
        /// The budget of every day
        #[arg(long)]
        day: bool,
        /// The new budget, tokens
        #[arg(long)]
        tokens: Option<i64>,
        /// The new budget, US dollars (priced by [prices])
        #[arg(long)]
        usd: Option<f64>,
        /// Why (required with --tokens or --usd)
        #[arg(long)]
        note: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Tokens the runs used, rolled up by task, project, provider or day
    Usage {
        /// How to roll up: task, project, provider or day
        #[arg(long, default_value = "task")]
        by: String,
        /// Only runs started this long ago or since (e.g. "24h", "7days")
        #[arg(long, value_parser = humantime::parse_duration)]
        since: Option<std::time::Duration>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Work from the trackers (the `[[intake]]` sources)
    #[command(subcommand)]
    Intake(IntakeCommand),
    /// Remove what landed, cancelled and gone tasks left behind: worktrees, task branches
    /// integrated into their base, run logs older than queue.prune_after; never anything of
    /// a live task
    Gc {
        /// List what would be removed, remove nothing
        #[arg(long)]
        dry_run: bool,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Copy the database, consistently even while a daemon writes to it (SQLite's online
    /// backup), to a new file
    Backup {
        /// The backup file (must not exist)
        to: PathBuf,
    },
    /// Run the supervisor headless: claim jobs, launch agents in tmux, watch them, advance
    /// tasks. SIGTERM/SIGINT stop it; agents keep running and are re-adopted on restart
    Daemon {
        /// tmux socket name [default: supervisor.tmux_socket, "bosun"]
        #[arg(long)]
        socket: Option<String>,
    },
    /// Show the whole pipeline with the built-in scripted agent: a scratch repo, three
    /// tasks, every stage, a review rollback and approvals; exits 0 when all are done
    Demo {
        /// No console: print what happens (for scripts and CI); exits 0 when all are done
        #[arg(long)]
        headless: bool,
        /// With --headless: approve approval gates and answer permission prompts automatically
        #[arg(long, requires = "headless")]
        auto_approve: bool,
        /// Keep the scratch repo, database and tmux server to inspect afterwards
        #[arg(long)]
        keep: bool,
        /// Directory for the scratch repo and database [default: a new temp dir]
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The built-in scripted agent (for `bosun demo` and tests): behaves like an
    /// interactive CLI coding agent in a terminal
    AgentSim {
        /// Scenario file (TOML); default $BOSUN_SIM_SCENARIO, else `@sim` lines in the prompt
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
        /// Claude Code settings file whose hooks it calls, as Claude Code does (bosun passes
        /// one to every run of a provider with `hooks = "claude-code"`)
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
    },
    /// Receive a call from an agent's own hooks, its JSON payload on standard input. bosun
    /// wires this into Claude Code itself (`--settings`); other agents' hooks or wrappers can
    /// call it with the `BOSUN_RUN_ID` and `BOSUN_HOOK_TOKEN` of their pane's environment.
    /// Prints nothing; exits 1 when refused (wrong token, unknown run or event)
    Hook {
        /// The run's id (`BOSUN_RUN_ID`)
        #[arg(long)]
        run: i64,
        /// The run's hook token [default: $BOSUN_HOOK_TOKEN, where bosun's hooks take it
        /// from: a token on a command line is visible to every local user in `ps`]
        #[arg(long)]
        token: Option<String>,
    },
    /// The MCP server (stdio) through which an agent talks to bosun: send_message, handoff,
    /// assign, task_status, read_artifact. bosun adds it to claude, codex and gemini runs;
    /// it authenticates by the run's BOSUN_RUN_ID and BOSUN_HOOK_TOKEN
    Mcp(AgentAuth),
    /// For an agent without MCP: send a message to `operator`, a task key or a role of this
    /// task, delivered when the recipient's turn ends
    Msg {
        /// `operator`, a task key (e.g. ET-002) or a role of this task
        to: String,
        /// The message
        text: String,
        /// Which run is asking
        #[command(flatten)]
        auth: AgentAuth,
    },
    /// For an agent without MCP: hand a sub-task to another role and wait for its answer
    /// (printed on stdout)
    Handoff {
        /// The role to ask
        role: String,
        /// What to do
        text: String,
        /// Which run is asking
        #[command(flatten)]
        auth: AgentAuth,
    },
    /// For an agent without MCP: give another role a sub-task and carry on; its answer comes
    /// back as a message
    Assign {
        /// The role to ask
        role: String,
        /// What to do
        text: String,
        /// Which run is asking
        #[command(flatten)]
        auth: AgentAuth,
    },
    /// Print a shell completion script: `source <(bosun completions bash)`
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `bosun man | man -l -`
    Man,
    /// Show the event log (append-only activity)
    Log {
        /// Only this task's events
        #[arg(long)]
        task: Option<String>,
        /// How many of the newest events
        #[arg(short = 'n', long, default_value_t = 50)]
        limit: usize,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
}

/// `bosun project …`
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Register a git repository as a project
    Add {
        /// Path of the repository
        path: PathBuf,
        /// Short name [default: the directory name]
        #[arg(long)]
        name: Option<String>,
        /// Task key prefix, 1-8 letters [default: from the name, e.g. example-tool -> ET]
        #[arg(long)]
        key: Option<String>,
        /// Command a command gate without its own runs [default: detected, e.g. cargo test]
        #[arg(long)]
        test_command: Option<String>,
        /// Branch worktrees start from [default: the repository's HEAD branch]
        #[arg(long)]
        default_branch: Option<String>,
    },
    /// List projects
    List {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
}

/// `bosun task …`
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Add a task; it enters the first stage and its job is queued
    Add {
        /// One-line title
        title: String,
        /// Specification from a file, or - for standard input
        #[arg(long, value_name = "FILE|-")]
        spec: Option<String>,
        /// Project name or key prefix [default: the only project]
        #[arg(long)]
        project: Option<String>,
        /// Lower runs first
        #[arg(long, default_value_t = 100)]
        priority: i64,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// List tasks, those needing the operator first
    List {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show a task: stage, gate results, runs, jobs, feedback, events
    Show {
        /// Task key
        #[arg(add = clap_complete::ArgValueCandidates::new(crate::cmd::complete::task_keys))]
        key: String,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Run a blocked, needs-input or cancelled task's stage again, with your answer as feedback
    Resume {
        /// Task key
        #[arg(add = clap_complete::ArgValueCandidates::new(crate::cmd::complete::task_keys))]
        key: String,
        /// Answers or instructions for the agent
        #[arg(long)]
        note: Option<String>,
        /// Resume at this stage instead of the current one
        #[arg(long)]
        stage: Option<String>,
    },
    /// Pass a blocked task's failed gate anyway ("approve anyway"): the stage counts as
    /// passed and the task moves on; recorded as an override with your note
    Override {
        /// Task key
        #[arg(add = clap_complete::ArgValueCandidates::new(crate::cmd::complete::task_keys))]
        key: String,
        /// Why the failure does not count (required; kept in the gate results and events)
        #[arg(long)]
        note: String,
    },
    /// Cancel a task and its open job
    Cancel {
        /// Task key
        #[arg(add = clap_complete::ArgValueCandidates::new(crate::cmd::complete::task_keys))]
        key: String,
    },
    /// Land a task that passed every stage: merge its branch into the project's base branch
    /// or open its pull request, as [projects.land] says (or --mode)
    Land {
        /// Task key
        #[arg(add = clap_complete::ArgValueCandidates::new(crate::cmd::complete::task_keys))]
        key: String,
        /// `merge` or `pr` instead of the project's landing mode
        #[arg(long, value_parser = ["merge", "pr"])]
        mode: Option<String>,
    },
}

/// `bosun queue [cancel|retry|prune]`
#[derive(Debug, Args)]
pub struct QueueArgs {
    /// Act on a job instead of showing the queue
    #[command(subcommand)]
    pub action: Option<QueueCommand>,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
}

/// Queue actions.
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Cancel a queued or running job; its task is blocked for you to decide
    Cancel {
        /// Job id
        job: i64,
    },
    /// Queue a failed or cancelled job again with fresh attempts
    Retry {
        /// Job id
        job: i64,
        /// Feedback for the next run
        #[arg(long)]
        note: Option<String>,
    },
    /// Delete finished jobs older than queue.prune_after
    Prune,
}

/// Which agent run is asking: by default the `BOSUN_RUN_ID` and `BOSUN_HOOK_TOKEN` that bosun
/// puts in the agent's environment.
#[derive(Debug, Args)]
pub struct AgentAuth {
    /// The run's id [default: $BOSUN_RUN_ID]
    #[arg(long)]
    pub run: Option<i64>,
    /// The run's hook token [default: $BOSUN_HOOK_TOKEN]
    #[arg(long)]
    pub token: Option<String>,
}

/// `bosun intake …`.
#[derive(Debug, Subcommand)]
pub enum IntakeCommand {
    /// Each source: how work comes in, its last delivery and poll, errors, tasks created
    Status {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
}
