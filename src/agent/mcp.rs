//! `bosun mcp`: an MCP server over stdio (the official Rust SDK, `rmcp`) through which an
//! agent talks to bosun. bosun adds it to claude, codex and gemini runs itself; the server
//! authenticates every call by the run's id and hook token from its environment
//! (`BOSUN_RUN_ID`, `BOSUN_HOOK_TOKEN`, set in the agent's pane and inherited).
//!
//! Tools: `send_message(to, text)`, `handoff(role, task_text)` (waits for the helper's final
//! message and returns it), `assign(role, task_text)` (returns the helper job's id at once; the
//! answer arrives later as a message), `task_status()`, `read_artifact(path)`. The work is done
//! by [`crate::agent`], which the `bosun msg`/`handoff`/`assign` commands share.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, ServiceExt, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;

use crate::agent::{self as help, HelpError};
use crate::config::Config;
use crate::store::Store;

/// The tools' server for one agent run.
#[derive(Clone)]
pub struct BosunMcp {
    cfg: Arc<Config>,
    db: PathBuf,
    run_id: i64,
    token: String,
    /// How long `handoff` waits for the helper (the helper role's timeout).
    handoff_wait: Duration,
    tool_router: ToolRouter<Self>,
}

/// `send_message` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SendMessage {
    /// `operator`, a task key (e.g. `ET-002`: that task's agent), or a role of this task
    /// (e.g. `reviewer`).
    pub to: String,
    /// The message; delivered when the recipient's agent has finished its current turn.
    pub text: String,
}

/// `handoff` and `assign` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Help {
    /// The role to ask (one of the config's roles, e.g. `reviewer`).
    pub role: String,
    /// What to do, as you would write it to a colleague: the helper sees only this.
    pub task_text: String,
}

/// `read_artifact` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ReadArtifact {
    /// A path relative to the task's worktree.
    pub path: String,
}

fn text(s: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(s.into())])
}

fn refused(e: &HelpError) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(e.to_string())])
}

impl BosunMcp {
    /// A server for run `run_id` presenting `token`, on the database `db`.
    pub fn new(cfg: Config, db: PathBuf, run_id: i64, token: String) -> BosunMcp {
        let handoff_wait = cfg
            .roles
            .values()
            .map(|r| cfg.timeout_of(r))
            .max()
            .unwrap_or(Duration::from_secs(1800));
        BosunMcp {
            cfg: Arc::new(cfg),
            db,
            run_id,
            token,
            handoff_wait,
            tool_router: Self::tool_router(),
        }
    }

    /// Runs `work` on the blocking pool with a fresh connection, after checking the caller;
    /// its error is a tool-level error the agent reads.
    async fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Config, &Store, &crate::store::runs::Run) -> Result<T, HelpError>
        + Send
        + 'static,
        show: impl FnOnce(T) -> String,
    ) -> Result<CallToolResult, ErrorData> {
        let (cfg, db, run_id, token) = (
            Arc::clone(&self.cfg),
            self.db.clone(),
            self.run_id,
            self.token.clone(),
        );
        let result = tokio::task::spawn_blocking(move || {
            let store = Store::open(&db).map_err(HelpError::from)?;
            let run = help::authenticate(&store, run_id, &token)?;
            work(&cfg, &store, &run)
        })
        .await
        .map_err(|e| ErrorData::internal_error(format!("bosun failed: {e}"), None))?;
        Ok(match result {
            Ok(v) => text(show(v)),
            Err(e) => refused(&e),
        })
    }
}

#[tool_router]
impl BosunMcp {
    /// Sends a message to the operator, another task's agent, or another role of this task.
    #[tool(
        description = "Send a message to `operator`, to another task's agent (its key, e.g. ET-002) or to a role of this task (e.g. reviewer). It is delivered when the recipient finishes its current turn, exactly once."
    )]
    async fn send_message(
        &self,
        Parameters(p): Parameters<SendMessage>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(
            move |cfg, store, run| help::send_message(cfg, store, run, &p.to, &p.text),
            |s| s,
        )
        .await
    }

    /// Asks another role and waits for its answer.
    #[tool(
        description = "Hand a sub-task to another role and wait for its answer: a helper agent for that role starts in this task's worktree with task_text as its prompt; its final message is returned. Blocks until it is done."
    )]
    async fn handoff(&self, Parameters(p): Parameters<Help>) -> Result<CallToolResult, ErrorData> {
        let wait = self.handoff_wait;
        self.call(
            move |cfg, store, run| help::handoff(cfg, store, run, &p.role, &p.task_text, wait),
            |answer| answer,
        )
        .await
    }

    /// Gives another role a sub-task and returns at once.
    #[tool(
        description = "Assign a sub-task to another role and carry on: returns the helper job's id at once; the helper's answer arrives later as a message to you."
    )]
    async fn assign(&self, Parameters(p): Parameters<Help>) -> Result<CallToolResult, ErrorData> {
        self.call(
            move |cfg, store, run| help::assign(cfg, store, run, &p.role, &p.task_text),
            |id| format!("assigned as job #{id}; the answer will come to you as a message"),
        )
        .await
    }

    /// The task's stage and state.
    #[tool(
        description = "The task you work on: key, title, stage, state and why, your role, the worktree, and how many messages wait for delivery."
    )]
    async fn task_status(&self) -> Result<CallToolResult, ErrorData> {
        self.call(
            |_, store, run| help::status(store, run),
            |s| serde_json::to_string_pretty(&s).unwrap_or_default(),
        )
        .await
    }

    /// A file of the task's worktree.
    #[tool(
        description = "Read a file of the task's worktree (a path relative to it, e.g. docs/work-items/ET-001/01-analysis.md); at most 512 KB."
    )]
    async fn read_artifact(
        &self,
        Parameters(p): Parameters<ReadArtifact>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call(
            move |_, store, run| help::read_artifact(store, run, &p.path),
            |s| s,
        )
        .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for BosunMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("bosun", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "bosun supervises this agent. Use send_message to tell the operator or another \
                 agent something, handoff to ask another role and wait for the answer, assign to \
                 give another role a sub-task and carry on, task_status and read_artifact to look \
                 around.",
            )
    }
}

/// Serves `server` on stdin/stdout until the client closes them.
///
/// # Errors
/// The runtime cannot start, or the transport fails before the handshake.
pub fn serve_stdio(server: BosunMcp) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let service = server
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| anyhow::anyhow!("MCP handshake failed: {e}"))?;
        service.waiting().await?;
        Ok::<_, anyhow::Error>(())
    })
}
