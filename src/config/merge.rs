//! Layers merged into one [`Config`]: each section key by key, the last layer that gives a
//! key winning; roles per role and per key, `stages` as a whole list.

use std::collections::BTreeMap;

use super::provider::merge_providers;
use super::raw::{RawQueue, RawRole, RawSupervisor, Source, key_offset};
use super::stages::resolve_stages;
use super::{
    Config, ConfigError, QueueConfig, RoleConfig, SupervisorConfig, UiConfig, land, notify,
};

/// Merges the parsed layers, lowest first, into the validated config.
pub(super) fn merge(sources: Vec<Source<'_>>) -> Result<Config, ConfigError> {
    let mut sup = RawSupervisor::default();
    let mut queue = RawQueue::default();
    let mut sup_src = 0;
    let mut queue_src = 0;
    // role name -> (source index, merged raw role)
    let mut roles: BTreeMap<String, (usize, RawRole, usize)> = BTreeMap::new();
    // Where each role's `provider` key was last given: (source, offset).
    let mut provider_at: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut fallback_at: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut stages_src = 0;

    for (i, src) in sources.iter().enumerate() {
        if let Some(s) = &src.layer.supervisor {
            sup_src = i;
            if let Some(v) = &s.max_concurrency {
                sup.max_concurrency = Some(v.clone());
            }
            sup.default_timeout = s.default_timeout.or(sup.default_timeout);
            sup.kill_grace = s.kill_grace.or(sup.kill_grace);
            if s.tmux_socket.is_some() {
                sup.tmux_socket = s.tmux_socket.clone();
            }
            if s.message_batch.is_some() {
                sup.message_batch = s.message_batch.clone();
            }
            if s.completion_workers.is_some() {
                sup.completion_workers = s.completion_workers.clone();
            }
            sup.resume_stagger = s.resume_stagger.or(sup.resume_stagger);
            if s.resume_prompt.is_some() {
                sup.resume_prompt = s.resume_prompt.clone();
            }
        }
        if let Some(q) = &src.layer.queue {
            queue_src = i;
            if let Some(v) = &q.max_attempts {
                queue.max_attempts = Some(v.clone());
            }
            queue.max_transient_attempts =
                q.max_transient_attempts.or(queue.max_transient_attempts);
            queue.max_infra_attempts = q.max_infra_attempts.or(queue.max_infra_attempts);
            queue.backoff_base = q.backoff_base.or(queue.backoff_base);
            queue.backoff_cap = q.backoff_cap.or(queue.backoff_cap);
            if let Some(v) = &q.backoff_jitter {
                queue.backoff_jitter = Some(v.clone());
            }
            if let Some(v) = &q.breaker_threshold {
                queue.breaker_threshold = Some(v.clone());
            }
            queue.breaker_pause = q.breaker_pause.or(queue.breaker_pause);
            queue.prune_after = q.prune_after.or(queue.prune_after);
        }
        for (name, role) in &src.layer.roles {
            let r = role.get_ref();
            let entry = roles
                .entry(name.clone())
                .or_insert_with(|| (i, RawRole::default(), role.span().start));
            entry.0 = i;
            entry.2 = role.span().start;
            // An unknown provider is reported at its own line: the table's own lines run
            // from its header to the next header.
            let at = |key: &str| {
                let start = role.span().start;
                let rest = src.text.get(start..).unwrap_or("");
                let end = rest
                    .match_indices("\n[")
                    .next()
                    .map_or(rest.len(), |(i, _)| i);
                (i, start + key_offset(&rest[..end], key))
            };
            if r.fallback.is_some() {
                entry.1.fallback = r.fallback.clone();
                fallback_at.insert(name.clone(), at("fallback"));
            }
            if r.provider.is_some() {
                entry.1.provider = r.provider.clone();
                provider_at.insert(name.clone(), at("provider"));
            }
            if r.prompt.is_some() {
                entry.1.prompt = r.prompt.clone();
            }
            if r.timeout.is_some() {
                entry.1.timeout = r.timeout;
            }
        }
        if src.layer.stages.is_some() {
            stages_src = i;
        }
    }

    // Supervisor and queue: every key is present in the built-in layer.
    let missing = |key: &str| sources[0].err(0, key, "missing from the built-in default");
    let s = &sources[sup_src];
    let max_concurrency = sup
        .max_concurrency
        .ok_or_else(|| missing("supervisor.max_concurrency"))?;
    if *max_concurrency.get_ref() == 0 {
        return Err(s.err(
            max_concurrency.span().start,
            "supervisor.max_concurrency",
            "must be at least 1",
        ));
    }
    let completion_workers = sup.completion_workers.map_or(Ok(4), |b| {
        if *b.get_ref() == 0 {
            Err(s.err(
                b.span().start,
                "supervisor.completion_workers",
                "must be at least 1",
            ))
        } else {
            Ok(*b.get_ref())
        }
    })?;
    let message_batch = sup.message_batch.map_or(Ok(1), |b| {
        if *b.get_ref() == 0 {
            Err(s.err(
                b.span().start,
                "supervisor.message_batch",
                "must be at least 1",
            ))
        } else {
            Ok(*b.get_ref())
        }
    })?;
    for (key, value) in [
        ("default_timeout", sup.default_timeout),
        ("kill_grace", sup.kill_grace),
    ] {
        if value.is_some_and(|d| d.is_zero()) {
            return Err(s.err(
                key_offset(s.text, key),
                format!("supervisor.{key}"),
                "must be more than zero (e.g. \"30m\", \"10s\")",
            ));
        }
    }
    let supervisor = SupervisorConfig {
        max_concurrency: *max_concurrency.get_ref(),
        default_timeout: sup
            .default_timeout
            .ok_or_else(|| missing("supervisor.default_timeout"))?,
        kill_grace: sup
            .kill_grace
            .ok_or_else(|| missing("supervisor.kill_grace"))?,
        tmux_socket: {
            let sock = sup
                .tmux_socket
                .ok_or_else(|| missing("supervisor.tmux_socket"))?;
            let name = sock.get_ref();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(s.err(
                    sock.span().start,
                    "supervisor.tmux_socket",
                    "must be a non-empty name of letters, digits, - _ .",
                ));
            }
            name.clone()
        },
        message_batch,
        completion_workers,
        resume_stagger: sup
            .resume_stagger
            .ok_or_else(|| missing("supervisor.resume_stagger"))?,
        resume_prompt: {
            let p = sup
                .resume_prompt
                .ok_or_else(|| missing("supervisor.resume_prompt"))?;
            if p.get_ref().trim().is_empty() {
                return Err(s.err(
                    p.span().start,
                    "supervisor.resume_prompt",
                    "must not be empty: it is the turn that resumes a run after a usage limit",
                ));
            }
            p.get_ref().clone()
        },
    };

    let q = &sources[queue_src];
    let max_attempts = queue
        .max_attempts
        .ok_or_else(|| missing("queue.max_attempts"))?;
    if *max_attempts.get_ref() == 0 {
        return Err(q.err(
            max_attempts.span().start,
            "queue.max_attempts",
            "must be at least 1",
        ));
    }
    let jitter = queue
        .backoff_jitter
        .ok_or_else(|| missing("queue.backoff_jitter"))?;
    if !(0.0..=1.0).contains(jitter.get_ref()) {
        return Err(q.err(
            jitter.span().start,
            "queue.backoff_jitter",
            "must be between 0.0 and 1.0 (a fraction of the delay)",
        ));
    }
    let threshold = queue
        .breaker_threshold
        .ok_or_else(|| missing("queue.breaker_threshold"))?;
    if *threshold.get_ref() == 0 {
        return Err(q.err(
            threshold.span().start,
            "queue.breaker_threshold",
            "must be at least 1",
        ));
    }
    let backoff_base = queue
        .backoff_base
        .ok_or_else(|| missing("queue.backoff_base"))?;
    let backoff_cap = queue
        .backoff_cap
        .ok_or_else(|| missing("queue.backoff_cap"))?;
    if backoff_cap < backoff_base {
        return Err(q.err(
            0,
            "queue.backoff_cap",
            "must not be smaller than queue.backoff_base",
        ));
    }
    let queue = QueueConfig {
        max_attempts: *max_attempts.get_ref(),
        max_transient_attempts: queue
            .max_transient_attempts
            .ok_or_else(|| missing("queue.max_transient_attempts"))?,
        max_infra_attempts: queue
            .max_infra_attempts
            .ok_or_else(|| missing("queue.max_infra_attempts"))?,
        backoff_base,
        backoff_cap,
        backoff_jitter: *jitter.get_ref(),
        breaker_threshold: *threshold.get_ref(),
        breaker_pause: queue
            .breaker_pause
            .ok_or_else(|| missing("queue.breaker_pause"))?,
        prune_after: queue
            .prune_after
            .ok_or_else(|| missing("queue.prune_after"))?,
    };

    let mut resolved_roles = BTreeMap::new();
    // Where each role was last defined, to locate an unknown-provider error.
    let role_sources: Vec<(String, usize, usize)> = roles
        .iter()
        .map(|(n, (i, _, o))| (n.clone(), *i, *o))
        .collect();
    for (name, (src_i, raw, offset)) in roles {
        let src = &sources[src_i];
        let key = format!("roles.{name}");
        let provider = raw
            .provider
            .filter(|p| !p.trim().is_empty())
            .ok_or_else(|| src.err(offset, format!("{key}.provider"), "role needs a provider"))?;
        let prompt = raw
            .prompt
            .ok_or_else(|| src.err(offset, format!("{key}.prompt"), "role needs a prompt"))?;
        resolved_roles.insert(
            name.clone(),
            RoleConfig {
                name,
                provider,
                fallback: raw.fallback.unwrap_or_default(),
                prompt,
                timeout: raw.timeout,
            },
        );
    }

    let providers = merge_providers(&sources)?;
    let ui = UiConfig {
        theme: sources
            .iter()
            .rev()
            .find_map(|s| s.layer.ui.as_ref().and_then(|u| u.theme.clone()))
            .unwrap_or_else(|| "default".into()),
    };
    for (name, src_i, offset) in &role_sources {
        let role = &resolved_roles[name];
        if let Some(bad) = role.fallback.iter().find(|f| !providers.contains_key(*f)) {
            let (src_i, offset) = fallback_at.get(name).copied().unwrap_or((*src_i, *offset));
            let known: Vec<&str> = providers.keys().map(String::as_str).collect();
            return Err(sources[src_i].err(
                offset,
                format!("roles.{name}.fallback"),
                format!(
                    "unknown provider `{bad}` in fallback; use one of: {}",
                    known.join(", ")
                ),
            ));
        }
        let (src_i, offset) = provider_at.get(name).copied().unwrap_or((*src_i, *offset));
        let (src_i, offset) = (&src_i, &offset);
        if !providers.contains_key(&role.provider) {
            let known: Vec<&str> = providers.keys().map(String::as_str).collect();
            return Err(sources[*src_i].err(
                *offset,
                format!("roles.{name}.provider"),
                format!(
                    "unknown provider `{}`; define [providers.{}] or use one of: {}",
                    role.provider,
                    role.provider,
                    known.join(", ")
                ),
            ));
        }
    }

    let src = &sources[stages_src];
    let stages = resolve_stages(src, &resolved_roles)?;
    // A rollback stage the config names must be one of the pipeline's.
    for s in &sources {
        let named = s
            .layer
            .projects
            .as_ref()
            .and_then(|p| p.land.as_ref()?.rollback_to.as_ref());
        if let Some(name) = named
            && !stages.iter().any(|st| &st.name == name)
        {
            let known: Vec<&str> = stages.iter().map(|st| st.name.as_str()).collect();
            return Err(s.err(
                s.text.find("rollback_to").unwrap_or(0),
                "projects.land.rollback_to",
                format!("unknown stage `{name}`; stages: {}", known.join(", ")),
            ));
        }
    }
    Ok(Config {
        supervisor,
        queue,
        roles: resolved_roles,
        stages,
        providers,
        ui,
        notify: notify::resolve(sources.iter().filter_map(|s| s.layer.notify.as_ref())),
        land: land::resolve(
            sources
                .iter()
                .filter_map(|s| s.layer.projects.as_ref()?.land.as_ref()),
        ),
        prices: super::prices::resolve(sources.iter().filter_map(|s| s.layer.prices.as_ref())),
        budget: super::budget::resolve(&sources)?,
        server: super::intake::resolve_server(&sources)?,
        intake: super::intake::resolve_intake(&sources)?,
        sources: sources[2..].iter().map(|s| s.file.to_path_buf()).collect(),
    })
}
