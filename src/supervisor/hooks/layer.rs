//! Where a per-run settings layer goes so that its CLI reads it.
//!
//! Gemini CLI 0.61.0 loads its system-defaults layer (`GEMINI_CLI_SYSTEM_DEFAULTS_PATH`,
//! where bosun puts a run's hooks, MCP server and `errorVerbosity`) only when the file and
//! every directory above it are owned by root and writable by nobody else
//! (`isFileAndDirectorySecureSync` in its bundle): otherwise it prints "Parent directory
//! '/tmp' is insecure" and runs without it. A data directory under `/tmp` (any
//! group/world-writable ancestor) therefore loses the hooks: [`gemini_dir`] picks a directory
//! Gemini CLI accepts, and [`gemini_problem`] says why one is refused.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why Gemini CLI 0.61.0 would skip a settings layer at `file` (existing or not), in words
/// that name the cause; `None` when it would read it. Missing directories count as the 0700
/// directories of this user that bosun would make.
pub fn gemini_problem(file: &Path) -> Option<String> {
    let me = crate::private::my_uid();
    let mut checked: Vec<(PathBuf, u32, u32)> = Vec::new();
    let mut at = Some(file);
    while let Some(p) = at {
        // Gemini CLI follows links here (stat), and so do we.
        let (uid, mode) = match std::fs::metadata(p) {
            Ok(m) => (m.uid(), m.mode() & 0o7777),
            Err(_) => (me, crate::private::DIR_MODE),
        };
        checked.push((p.to_path_buf(), uid, mode));
        at = p.parent().filter(|d| !d.as_os_str().is_empty());
    }
    for (p, uid, mode) in checked.iter().rev() {
        if mode & 0o022 != 0 {
            return Some(format!(
                "Gemini CLI ignores settings under a group/world-writable directory: '{}' \
                 (mode {mode:o}), so bosun's hooks, MCP server and errorVerbosity would not \
                 reach it",
                p.display()
            ));
        }
        if *uid != 0 {
            return Some(format!(
                "Gemini CLI ignores settings not owned by root: '{}' belongs to uid {uid}, so \
                 bosun's hooks, MCP server and errorVerbosity would not reach it",
                p.display()
            ));
        }
    }
    None
}

/// The directory for the Gemini settings layers of runs whose logs go to `runs_dir`:
/// `runs_dir` itself when Gemini CLI accepts files there, else the first accepted of
/// `$XDG_RUNTIME_DIR/bosun/gemini` and `$HOME/.cache/bosun/gemini`, else `runs_dir` (and the
/// problem, for the operator). Names in a shared fallback carry the database's identity (see
/// [`gemini_file`]).
pub fn gemini_dir(runs_dir: &Path) -> (PathBuf, Option<String>) {
    let probe = |dir: &Path| gemini_problem(&dir.join("0.gemini.json"));
    let Some(problem) = probe(runs_dir) else {
        return (runs_dir.to_path_buf(), None);
    };
    let fallbacks = [
        std::env::var_os("XDG_RUNTIME_DIR").map(|d| PathBuf::from(d).join("bosun/gemini")),
        std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/bosun/gemini")),
    ];
    for dir in fallbacks.into_iter().flatten() {
        if dir.is_absolute() && probe(&dir).is_none() {
            return (dir, None);
        }
    }
    (runs_dir.to_path_buf(), Some(problem))
}

/// The settings layer file of run `run_id` in `dir` (from [`gemini_dir`]): `<run>.gemini.json`
/// in the runs directory, `<hash of the runs directory>-<run>.gemini.json` in a fallback
/// shared by databases.
pub fn gemini_file(dir: &Path, runs_dir: &Path, run_id: i64) -> PathBuf {
    if dir == runs_dir {
        return dir.join(format!("{run_id}.gemini.json"));
    }
    let id = crate::secret::token_hash(&runs_dir.to_string_lossy());
    dir.join(format!("{}-{run_id}.gemini.json", &id[..12]))
}

/// Removes the settings layers of the runs whose logs went to `runs_dir` from the fallback
/// directory [`gemini_dir`] chose (nothing to do when it is `runs_dir` itself): for a scratch
/// database (`providers --check`) that goes away.
pub fn remove_gemini_files(runs_dir: &Path) {
    let (dir, _) = gemini_dir(runs_dir);
    if dir == runs_dir {
        return;
    }
    let prefix = format!(
        "{}-",
        &crate::secret::token_hash(&runs_dir.to_string_lossy())[..12]
    );
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_world_writable_ancestor_is_named_and_avoided() {
        let d = tempfile::tempdir().expect("tempdir");
        let problem = gemini_problem(&d.path().join("runs/1.gemini.json")).expect("under /tmp");
        assert!(
            problem.starts_with(
                "Gemini CLI ignores settings under a group/world-writable directory: '/tmp'"
            ),
            "{problem}"
        );
        let runs = d.path().join("runs");
        let (dir, left) = gemini_dir(&runs);
        if crate::private::my_uid() == 0 && left.is_none() {
            assert_ne!(dir, runs, "a fallback outside /tmp");
            assert!(gemini_problem(&gemini_file(&dir, &runs, 3)).is_none());
            assert!(
                gemini_file(&dir, &runs, 3)
                    .to_string_lossy()
                    .ends_with("-3.gemini.json")
            );
        } else {
            assert_eq!(dir, runs);
        }
    }
}
