//! A config layer built with typed setters instead of patched TOML text: a [`Layer`] is a
//! TOML table (the `toml` crate writes it, so quoting and escaping are never hand-made),
//! started empty or from TOML text, changed key by key, and written out with
//! [`Layer::to_toml`] for a rig, a config file or `Config::from_layers`.
#![allow(dead_code)]

use toml::{Table, Value};

/// One config layer (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Layer(Table);

impl Layer {
    /// An empty layer (the built-in config as it is).
    pub fn new() -> Layer {
        Layer::default()
    }

    /// The layer `text` (TOML) says; panics, naming the text, when it is not TOML.
    pub fn parse(text: &str) -> Layer {
        Layer(toml::from_str(text).unwrap_or_else(|e| panic!("not TOML: {e}\n{text}")))
    }

    /// Sets the key at the dotted `path` (`supervisor.tmux_socket`, `roles.r-only.provider`)
    /// to `value`, making the tables on the way.
    pub fn set(mut self, path: &str, value: impl Into<Value>) -> Layer {
        let (tables, key) = path.rsplit_once('.').map_or(("", path), |(t, k)| (t, k));
        table_at(&mut self.0, tables).insert(key.to_string(), value.into());
        self
    }

    /// Merges the TOML `text` into the table at the dotted `path` (`""`: the top): its keys
    /// replace the layer's, its tables merge key by key, its arrays of tables are appended.
    pub fn merge_at(mut self, path: &str, text: &str) -> Layer {
        let Layer(other) = Layer::parse(text);
        merge(table_at(&mut self.0, path), other);
        self
    }

    /// [`Layer::merge_at`] the top.
    pub fn merge(self, text: &str) -> Layer {
        self.merge_at("", text)
    }

    /// `supervisor.tmux_socket`: the tmux server the CLI's commands reach.
    pub fn tmux_socket(self, socket: &str) -> Layer {
        self.set("supervisor.tmux_socket", socket)
    }

    /// `supervisor.max_concurrency`.
    pub fn max_concurrency(self, n: i64) -> Layer {
        self.set("supervisor.max_concurrency", n)
    }

    /// `providers.<provider>.env.<key> = value`.
    pub fn provider_env(self, provider: &str, key: &str, value: &str) -> Layer {
        let path = format!("providers.{provider}.env");
        let mut layer = self;
        table_at(&mut layer.0, &path).insert(key.to_string(), value.into());
        layer
    }

    /// `[notify]` with no desktop notification and `argv` as its command.
    pub fn notify_command(self, argv: &[&str]) -> Layer {
        let argv: Vec<Value> = argv.iter().map(|a| Value::from(*a)).collect();
        self.set("notify.desktop", false)
            .set("notify.command", Value::Array(argv))
    }

    /// Role `name` played by `provider` with `prompt`.
    pub fn role(self, name: &str, provider: &str, prompt: &str) -> Layer {
        self.set(&format!("roles.{name}.provider"), provider)
            .set(&format!("roles.{name}.prompt"), prompt)
    }

    /// A stage `name` for `role` whose gate is the artifact `path`, after the layer's stages.
    pub fn stage(mut self, name: &str, role: &str, artifact: &str) -> Layer {
        let mut gate = Table::new();
        gate.insert("kind".into(), "artifact".into());
        gate.insert("path".into(), artifact.into());
        let mut stage = Table::new();
        stage.insert("name".into(), name.into());
        stage.insert("role".into(), role.into());
        stage.insert("gates".into(), Value::Array(vec![Value::Table(gate)]));
        let stages = self
            .0
            .entry("stages")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = stages {
            a.push(Value::Table(stage));
        }
        self
    }

    /// The layer as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string(&self.0).expect("a table is TOML")
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_toml())
    }
}

/// The table at the dotted `path` under `top` (`""`: `top`), made where missing; panics when
/// a key on the way is not a table.
fn table_at<'a>(top: &'a mut Table, path: &str) -> &'a mut Table {
    let mut t = top;
    for key in path.split('.').filter(|k| !k.is_empty()) {
        t = match t.entry(key).or_insert_with(|| Value::Table(Table::new())) {
            Value::Table(inner) => inner,
            other => panic!("{key} in {path} is {other}, not a table"),
        };
    }
    t
}

/// Merges `from` into `into` (see [`Layer::merge_at`]).
fn merge(into: &mut Table, from: Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Table(a)), Value::Table(b)) => merge(a, b),
            (Some(Value::Array(a)), Value::Array(b))
                if !b.is_empty()
                    && b.iter().all(Value::is_table)
                    && a.iter().all(Value::is_table) =>
            {
                a.extend(b)
            }
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}
