//! Claiming jobs and launching their runs: worktree, hook wiring, tmux window, log stream,
//! detector.

use super::*;
use crate::provider::wiring;

impl Supervisor {
    pub(super) fn render_prompt(&self, job: &Job, task: &tasks::Task, worktree: &Path) -> String {
        render_prompt(&self.cfg, &self.store, job, task, worktree)
    }

    /// Claims while below `max_concurrency` (runs watched and launches on their way), for at
    /// most [`LAUNCH_BUDGET`] of this tick, and hands each claimed job to the `launch` lane
    /// ([`Launches`]): a launch forks git and tmux (tens to hundreds of ms) and must not hold
    /// up status detection of the runs already working. Returns true when the budget ran out
    /// with room left.
    pub(super) fn claim_and_launch(&mut self) -> Result<bool> {
        let max = self.cfg.supervisor.max_concurrency as usize;
        // Nothing claimable: no write transaction (an idle supervisor asks five times a second).
        if self.busy_slots() >= max || !jobs::any_available(self.store.conn(), now_ms())? {
            return Ok(false);
        }
        let began = Instant::now();
        while self.busy_slots() < max && began.elapsed() < LAUNCH_BUDGET {
            if self.stop.load(Ordering::SeqCst) {
                return Ok(false);
            }
            let engine = self.engine();
            let Some(job) = engine.queue.claim(&self.store, now_ms())? else {
                return Ok(false);
            };
            crate::crash::point("claim");
            // Told to stop while claiming (SIGTERM): the job goes back, nothing is launched
            // (a launch could start a new tmux server after the operator killed the old one).
            if self.stop.load(Ordering::SeqCst) {
                self.store.write(|tx| {
                    engine
                        .queue
                        .release(tx, job.id, "the supervisor is stopping", now_ms())
                })?;
                tracing::info!(job = job.id, "stopping: claimed job returned to the queue");
                return Ok(false);
            }
            let run = engine.start_run(job.id)?;
            let job_id = job.id;
            self.launches.submit(job, run);
            // A run of this job still watched here was ended while its job went back to the
            // queue (`[budget] hard` stopped it, and the budget was raised before the
            // liveness check saw the job leave): it is stopped now, as that check would have.
            let stale: Vec<i64> = self
                .runs
                .values()
                .filter(|r| r.job_id == job_id)
                .map(|r| r.run_id)
                .collect();
            for id in stale {
                if runs::get(self.store.conn(), id)?.ended_at.is_some() {
                    self.step(id, machine::Event::JobGone, Instant::now())?;
                }
            }
        }
        Ok(self.busy_slots() < max)
    }

    /// Runs watched plus launches on their way: what counts against `max_concurrency`.
    fn busy_slots(&self) -> usize {
        self.runs.len() + self.launches.in_flight()
    }

    /// Takes the launches the `launch` lane finished: a launched run is watched from now on
    /// (its log is read this tick); a failed launch fails its run.
    ///
    /// # Errors
    /// Store failures.
    pub(super) fn take_launched(&mut self, woken: &mut Woken) -> Result<()> {
        for (run_id, result) in self.launches.take() {
            match result {
                Ok(active) => {
                    woken.logs.insert(run_id);
                    self.runs.insert(run_id, *active);
                }
                Err(e) => {
                    tracing::warn!(run = run_id, error = %e, "launch failed");
                    let outcome = self.engine().handle(Input::RunFinished {
                        run_id,
                        result: RunResult::Failed {
                            reason: format!("launch failed: {e}"),
                            log_tail: String::new(),
                            exit_code: None,
                            timed_out: false,
                        },
                    })?;
                    tracing::info!(?outcome, "launch failure handled");
                }
            }
        }
        Ok(())
    }
}

/// The prompt of `job`'s run in `worktree`: the role's template rendered for the task, or for
/// a helper job the request it was given.
pub(super) fn render_prompt(
    cfg: &Config,
    store: &Store,
    job: &Job,
    task: &tasks::Task,
    worktree: &Path,
) -> String {
    // A helper job's prompt is the request it was given.
    if let Ok(Some(h)) = crate::store::helpers::of_job(store.conn(), job.id) {
        return format!(
            "You are the {role} on {key} ({title}), working in {wt} next to another agent \
             who asks for your help. Do what is asked, change only what it needs, and end \
             with your answer as your final message.\n\n{request}",
            role = job.role,
            key = task.key,
            title = task.title,
            wt = worktree.display(),
            request = h.request
        );
    }
    let template = cfg.roles.get(&job.role).map_or("", |r| r.prompt.as_str());
    let artifacts = cfg
        .stage_index(&job.stage)
        .map(|i| prompt::artifacts(&cfg.stages[i], &task.key))
        .unwrap_or_default();
    prompt::render(
        template,
        &prompt::PromptVars {
            key: &task.key,
            title: &task.title,
            spec: &task.spec,
            stage: &job.stage,
            worktree: &worktree.to_string_lossy(),
            feedback: job.feedback.as_deref(),
            artifacts,
        },
    )
}

/// What launching needs, on the `launch` lane (whose thread has its own connection).
pub(super) struct Launcher {
    pub(super) cfg: Config,
    pub(super) opts: Options,
    pub(super) tmux: Tmux,
}

impl Launcher {
    /// Worktree, window, log stream, detector: everything a new run needs, returned to be
    /// watched.
    pub(super) fn launch(&self, store: &Store, job: &Job, run: &Run) -> Result<Active> {
        let c = store.conn();
        let task = tasks::get(c, job.task_id)?;
        let project = projects::get(c, task.project_id)?;
        let provider = provider_of(&self.cfg, &job.provider)?;
        if let Some(missing) = crate::provider::missing_cli(&provider, &self.opts.bosun_exe) {
            return Err(SupervisorError::AgentMissing(missing));
        }
        let worktree = match &task.worktree {
            Some(w) => PathBuf::from(w),
            None => self
                .opts
                .data_dir
                .join("worktrees")
                .join(&project.name)
                .join(&task.key),
        };
        let repo = Path::new(&project.path);
        let branch = task
            .branch
            .clone()
            .unwrap_or_else(|| crate::git::branch_name(&task.key, &task.title));
        let base = match &project.default_branch {
            Some(b) => b.clone(),
            None => crate::git::head_branch(repo)?,
        };
        if task.worktree.is_none() {
            // bosun's own directory of worktrees: private, also when an older bosun made it.
            let root = self.opts.data_dir.join("worktrees");
            crate::private::private_dir(&root).map_err(|source| SupervisorError::Io {
                what: "cannot create the worktree directory",
                path: root.clone(),
                source,
            })?;
        }
        crate::git::ensure_worktree(repo, &worktree, &branch, &base)?;
        crate::crash::point("worktree");
        if task.worktree.is_none() {
            let (b, w) = (branch.clone(), worktree.to_string_lossy().into_owned());
            store.write(|tx| tasks::set_worktree(tx, task.id, &b, &w, now_ms()))?;
        }

        let prompt = render_prompt(&self.cfg, store, job, &task, &worktree);
        let batch = provider.mode == ProviderMode::Batch;
        let mut argv = launch_argv(
            &provider,
            &self.opts.bosun_exe,
            batch.then_some(prompt.as_str()),
        );
        let runs_dir = self.opts.data_dir.join("runs");
        crate::private::private_dir(&runs_dir).map_err(|source| SupervisorError::Io {
            what: "cannot create the run log directory",
            path: runs_dir.clone(),
            source,
        })?;
        let token = crate::secret::new_token().map_err(|source| SupervisorError::Io {
            what: "cannot read random bytes for the hook token from",
            path: PathBuf::from("/dev/urandom"),
            source,
        })?;
        // Only the hash is stored; the token itself lives in the agent's environment.
        let token_hash = crate::secret::token_hash(&token);
        store.write(|tx| runs::set_hook_token_hash(tx, run.id, &token_hash))?;
        // Absolute: the hook runs in the worktree.
        let db = std::path::absolute(store.path()).unwrap_or_else(|_| store.path().to_path_buf());
        if provider.hooks == HookStyle::Codex {
            argv.splice(1..1, wiring::codex_args(&self.opts.bosun_exe, &db, run.id));
            if provider.mcp {
                argv.splice(1..1, wiring::codex_mcp_args(&self.opts.bosun_exe, &db));
            }
        }
        if provider.hooks == HookStyle::ClaudeCode {
            let path = runs_dir.join(format!("{}.settings.json", run.id));
            let settings = wiring::claude_settings(&self.opts.bosun_exe, &db, run.id);
            wiring::write_settings(&path, &settings).map_err(|source| SupervisorError::Io {
                what: "cannot write the agent's hook settings",
                path: path.clone(),
                source,
            })?;
            // After the profile's own arguments (`bosun agent-sim --settings F`, `claude
            // --permission-mode acceptEdits --settings F`), before a batch prompt.
            let at = provider.command.len();
            let mut args = vec![
                "--settings".to_string(),
                path.to_string_lossy().into_owned(),
            ];
            if provider.mcp {
                let path = runs_dir.join(format!("{}.mcp.json", run.id));
                let config = wiring::claude_mcp_config(&self.opts.bosun_exe, &db);
                wiring::write_settings(&path, &config).map_err(|source| SupervisorError::Io {
                    what: "cannot write the agent's MCP config",
                    path: path.clone(),
                    source,
                })?;
                // `--allowedTools` takes several values: `--settings` after it ends them.
                args.splice(
                    0..0,
                    [
                        "--mcp-config".to_string(),
                        path.to_string_lossy().into_owned(),
                        "--allowedTools".to_string(),
                        wiring::CLAUDE_MCP_TOOLS.to_string(),
                    ],
                );
            }
            argv.splice(at..at, args);
        }
        let mut env: Vec<(String, String)> = provider
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.push(("BOSUN_RUN_ID".into(), run.id.to_string()));
        env.push(("BOSUN_TASK".into(), task.key.clone()));
        env.push(("BOSUN_STAGE".into(), job.stage.clone()));
        // Never on a command line (tmux's included): the pane gets it through tmux's stdin.
        let secret_env = [("BOSUN_HOOK_TOKEN".to_string(), token)];
        // With BOSUN_RUN_ID, names the run's processes without a secret (a restart finds and
        // stops those of ended runs: `orphans`); `bosun` commands run by the agent use it too.
        env.push((
            crate::config::paths::DB_ENV.into(),
            super::orphans::db_identity(store.path())
                .to_string_lossy()
                .into_owned(),
        ));
        // `bosun mcp`, `bosun handoff` and the like, run by the agent, read the config this
        // supervisor runs with (roles and their providers), not whatever the worktree has.
        if let Some(project) = self
            .cfg
            .sources
            .last()
            .filter(|p| p.is_file())
            .and_then(|p| std::path::absolute(p).ok())
        {
            env.push((
                "BOSUN_CONFIG".into(),
                project.to_string_lossy().into_owned(),
            ));
        }
        if provider.hooks == HookStyle::Gemini {
            // A private home over the user's real one: their settings with bosun's merged in,
            // the rest linked (Gemini CLI reads no system layer a non-root user can write).
            let real =
                wiring::layer::real_home(&provider.env).ok_or_else(|| SupervisorError::Io {
                    what: "cannot find the home directory Gemini CLI uses (no HOME)",
                    path: PathBuf::from("~"),
                    source: std::io::ErrorKind::NotFound.into(),
                })?;
            let home = wiring::layer::run_home(&runs_dir, run.id);
            let settings =
                wiring::gemini_settings_with(&self.opts.bosun_exe, &db, run.id, provider.mcp);
            match wiring::layer::build_run_home(&home, &real, &settings) {
                Ok(Some(problem)) => tracing::warn!(
                    run = run.id,
                    "{problem}: the run gets bosun's settings without the user's"
                ),
                Ok(None) => {}
                Err(source) => {
                    return Err(SupervisorError::Io {
                        what: "cannot make the agent's Gemini CLI home",
                        path: home,
                        source,
                    });
                }
            }
            env.retain(|(k, _)| k != wiring::layer::HOME_VAR);
            env.push((
                wiring::layer::HOME_VAR.into(),
                home.to_string_lossy().into_owned(),
            ));
        }
        let log_path = runs_dir.join(format!("{}.log", run.id));
        crate::private::create_private(&log_path, false).map_err(|source| SupervisorError::Io {
            what: "cannot create the run log",
            path: log_path.clone(),
            source,
        })?;
        let window = format!("{}-{}-r{}", task.key, job.stage, run.id);
        self.tmux.ensure_session(&self.opts.session)?;
        let pane = self.tmux.new_window(&NewWindow {
            session: &self.opts.session,
            name: &window,
            cwd: &worktree,
            env: &env,
            secret_env: &secret_env,
            argv: &argv,
            log: Some(&log_path),
        })?;
        crate::crash::point("window");
        let log_s = log_path.to_string_lossy().into_owned();
        let record = runs::PaneRecord {
            pane_id: &pane.pane_id,
            window: &window,
            log_path: &log_s,
            socket: &self.opts.socket,
            rows: pane.height,
            cols: pane.width,
        };
        store.write(|tx| runs::set_pane(tx, run.id, &record))?;
        let log = File::open(&log_path).map_err(|source| SupervisorError::Io {
            what: "cannot open the run log",
            path: log_path.clone(),
            source,
        })?;
        let timeout = timeout_of(&self.cfg, job);
        let now = Instant::now();
        let active = Active {
            run_id: run.id,
            job_id: job.id,
            task_key: task.key.clone(),
            pane: pane.pane_id.clone(),
            pid: pane.pid,
            worktree,
            second: super::second::Second::new(&provider),
            log_path,
            log,
            launched: now,
            machine: super::machine::RunMachine::launched(
                provider,
                (pane.height, pane.width),
                prompt,
                super::timing(&self.opts),
                timeout,
                now,
            ),
        };
        tracing::info!(run = run.id, pane = %pane.pane_id, "launched {window}");
        Ok(active)
    }
}
