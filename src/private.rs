//! Private by default (ARCHITECTURE.md, Invariants: "everything an agent writes is hostile"): everything bosun writes is the operator's alone.
//!
//! Every bosun process starts with umask 077 ([`restrict_umask`]), so what it creates is 0700
//! (directories) or 0600 (files), and so is what its tmux server, agents and hooks create.
//! Directories and files made by an older bosun (0755, 0644) are tightened where bosun makes
//! them ([`private_dir`], [`tighten`]); `bosun doctor` reports the ones still looser
//! ([`looser_than`]).
//!
//! Secret files are opened without following a symbolic link ([`create_private`]): a link
//! someone planted where bosun writes is refused, not written through.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of every directory bosun makes.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file bosun makes.
pub const FILE_MODE: u32 = 0o600;

/// Sets this process's umask to 077 (nothing created is readable by group or others).
/// Call it first thing in `main`: threads and children inherit it.
pub fn restrict_umask() {
    // SAFETY: umask(2) only swaps a per-process integer; it cannot fail and touches no memory
    // of ours.
    unsafe {
        libc::umask(0o077);
    }
}

/// This process's effective user id.
pub fn my_uid() -> u32 {
    // SAFETY: geteuid(2) takes no argument and always succeeds.
    unsafe { libc::geteuid() }
}

/// Creates `dir` and its missing parents with mode 0700, then tightens `dir` itself to 0700
/// if it is ours and looser (made by an older bosun). Parents that exist are left alone: they
/// may be shared (`/tmp`, a project directory).
///
/// # Errors
/// The I/O error of the creation or the `chmod`.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    tighten(dir, DIR_MODE)
}

/// Sets `path` to `mode` when it exists, belongs to this user, is not a symbolic link and
/// grants group or others more than `mode` does. Nothing to do is `Ok`.
///
/// # Errors
/// The I/O error of the `chmod`.
pub fn tighten(path: &Path, mode: u32) -> io::Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if meta.file_type().is_symlink() || meta.uid() != my_uid() {
        return Ok(());
    }
    if meta.mode() & 0o077 & !mode != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Opens `path` for writing, truncated, created with mode 0600 if missing, refusing to follow
/// a symbolic link (`O_NOFOLLOW`: the open fails with `ELOOP`); an existing file of ours is
/// tightened to 0600. With `new`, an existing file is refused too (`create_new`).
///
/// # Errors
/// The I/O error of the open; [`io::ErrorKind::AlreadyExists`] with `new` and an existing
/// path; `ELOOP` for a symbolic link.
pub fn create_private(path: &Path, new: bool) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    if new {
        opts.create_new(true);
    } else {
        opts.create(true).truncate(true);
    }
    let f = opts.open(path)?;
    let meta = f.metadata()?;
    if meta.mode() & 0o077 != 0 && meta.uid() == my_uid() {
        f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(f)
}

/// Writes `data` to `path` through [`create_private`] (truncating, refusing a symbolic link).
///
/// # Errors
/// As [`create_private`], and the write's I/O error.
pub fn write_private(path: &Path, data: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut f = create_private(path, false)?;
    f.write_all(data)
}

/// A new directory `<parent>/<prefix>XXXXXX` made by `mkdtemp(3)`: mode 0700, a name nobody
/// can predict, and never one that existed before (so never one another user made).
///
/// # Errors
/// The I/O error of `mkdtemp`; `InvalidInput` for a path holding a NUL byte.
pub fn temp_dir(parent: &Path, prefix: &str) -> io::Result<PathBuf> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let template = parent.join(format!("{prefix}XXXXXX"));
    let mut bytes = std::ffi::CString::new(template.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?
        .into_bytes_with_nul();
    // SAFETY: `bytes` is a NUL-terminated buffer we own, ending in "XXXXXX\0" as mkdtemp(3)
    // requires; it rewrites those six bytes in place and returns the buffer or NULL.
    let made = unsafe { libc::mkdtemp(bytes.as_mut_ptr().cast::<libc::c_char>()) };
    if made.is_null() {
        return Err(io::Error::last_os_error());
    }
    bytes.pop();
    Ok(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

/// Why directory `dir` (which exists) is not one to write bosun's files in: `None` when it is
/// a directory (not a symbolic link) owned by this user and writable by nobody else;
/// otherwise the reason, in words.
pub fn unsafe_dir(dir: &Path) -> Option<String> {
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) => return Some(format!("it cannot be read: {e}")),
    };
    if meta.file_type().is_symlink() {
        return Some("it is a symbolic link".into());
    }
    if !meta.is_dir() {
        return Some("it is not a directory".into());
    }
    let me = my_uid();
    if meta.uid() != me {
        return Some(format!(
            "it is owned by uid {}, not by you (uid {me}): its owner could replace what bosun \
             writes there",
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Some(format!(
            "it is writable by group or others (mode {mode:o}): another user could plant \
             links or files there"
        ));
    }
    None
}

/// One file or directory readable (or writable) by group or others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loose {
    /// The path.
    pub path: PathBuf,
    /// Its permission bits.
    pub mode: u32,
    /// A directory (wants 0700) or a file (wants 0600).
    pub dir: bool,
}

impl Loose {
    /// The shell command that makes it private.
    pub fn fix(&self) -> String {
        let want = if self.dir { DIR_MODE } else { FILE_MODE };
        format!(
            "chmod {want:o} {}",
            crate::provider::wiring::shell_quote(&self.path.to_string_lossy())
        )
    }
}

/// Of `paths`, those that exist, are not symbolic links and grant group or others any
/// access; directories among them are walked `depth` levels down (their files and
/// directories checked too). At most `max` are returned.
pub fn looser_than(paths: &[PathBuf], depth: usize, max: usize) -> Vec<Loose> {
    let mut out = Vec::new();
    let mut stack: Vec<(PathBuf, usize)> = paths.iter().map(|p| (p.clone(), depth)).collect();
    while let Some((path, left)) = stack.pop() {
        if out.len() >= max {
            break;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            out.push(Loose {
                path: path.clone(),
                mode,
                dir: meta.is_dir(),
            });
        }
        if meta.is_dir()
            && left > 0
            && let Ok(entries) = std::fs::read_dir(&path)
        {
            stack.extend(entries.flatten().map(|e| (e.path(), left - 1)));
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_dirs_are_private_and_unpredictable() {
        let d = tempfile::tempdir().expect("tempdir");
        let a = temp_dir(d.path(), "bosun-demo-").expect("mkdtemp");
        let b = temp_dir(d.path(), "bosun-demo-").expect("mkdtemp");
        assert_ne!(a, b);
        assert!(
            a.file_name()
                .expect("name")
                .to_string_lossy()
                .starts_with("bosun-demo-")
        );
        assert_eq!(std::fs::metadata(&a).expect("meta").mode() & 0o777, 0o700);
        assert_eq!(unsafe_dir(&a), None);
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        assert!(
            unsafe_dir(&b)
                .expect("refused")
                .contains("writable by group or others")
        );
    }

    #[test]
    fn symlinks_are_refused_and_loose_modes_tightened() {
        let d = tempfile::tempdir().expect("tempdir");
        let target = d.path().join("target");
        std::fs::write(&target, "keep").expect("write");
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        assert!(create_private(&link, false).is_err());
        assert!(create_private(&link, true).is_err());
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep");

        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let loose = looser_than(&[d.path().to_path_buf()], 1, 10);
        assert!(loose.iter().any(|l| l.path == target && l.mode == 0o644));
        assert!(loose[0].fix().starts_with("chmod "));
        write_private(&target, b"new").expect("write");
        let mode = std::fs::metadata(&target).expect("meta").mode() & 0o777;
        assert_eq!(mode, 0o600);

        let sub = d.path().join("a/b");
        private_dir(&sub).expect("dir");
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        private_dir(&sub).expect("dir");
        assert_eq!(std::fs::metadata(&sub).expect("meta").mode() & 0o777, 0o700);
    }
}
