//! Reading files an agent controls. Everything under a task's worktree is hostile input
//! (ARCHITECTURE.md, Invariants: "everything an agent writes is hostile"): a file there may be a 3 GB sparse file, a FIFO that blocks the reader
//! forever, a device, or a symlink to `/dev/zero` or to the operator's SSH key. Every reader
//! of a worktree file (the gates, the console's artifact view, MCP `read_artifact`, the
//! artifact list of the task views) goes through [`read`] or [`inspect`]:
//!
//! - the path must stay inside the worktree once its directories are resolved;
//! - the file itself must be a regular file, checked with `lstat` before opening and with
//!   `fstat` on the handle opened with `O_NOFOLLOW | O_NONBLOCK` (a symlink, FIFO, socket or
//!   device is refused with a sentence naming what was found, and never opened);
//! - at most `max` bytes are read (`take(max + 1)`), and the result says how much was cut.
//!
//! [`Tail`] keeps the last bytes of an unbounded stream (a gate command's output) while it is
//! being read.

use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// Why a worktree file was not read. Each message is a sentence naming the path (relative to
/// the worktree) and what was found there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Nothing at that path (or the worktree itself is gone).
    #[error("{0} does not exist")]
    Missing(String),
    /// The path leaves the worktree (`..`, an absolute path, or a symlinked directory).
    #[error("{0} is outside the task's worktree")]
    Outside(String),
    /// A symlink where a file should be; `target` is what it points at.
    #[error("{path} is a symlink (to {target}), not a regular file")]
    Symlink {
        /// The path, relative to the worktree.
        path: String,
        /// The link's target as written (agent text: sanitise before printing).
        target: String,
    },
    /// A FIFO, socket, device or directory where a file should be.
    #[error("{path} is {kind}, not a regular file")]
    NotRegular {
        /// The path, relative to the worktree.
        path: String,
        /// What was found: "a FIFO", "a socket", "a character device", "a block device",
        /// "a directory".
        kind: &'static str,
    },
    /// Reading failed for another reason (permissions, I/O).
    #[error("cannot read {path}: {error}")]
    Io {
        /// The path, relative to the worktree.
        path: String,
        /// The OS error.
        error: String,
    },
}

impl Refusal {
    /// Whether the file simply is not there (as opposed to being something hostile).
    pub fn is_missing(&self) -> bool {
        matches!(self, Refusal::Missing(_))
    }
}

/// The first bytes of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capped {
    /// The text read (invalid UTF-8 replaced), at most `max` bytes of the file.
    pub text: String,
    /// The file's size in bytes (its apparent size: a sparse file counts in full).
    pub size: u64,
    /// The file was longer than `max` bytes and only its start was read.
    pub cut: bool,
}

impl Capped {
    /// The text, with a last line saying where it was cut when it was.
    pub fn with_note(self) -> String {
        if self.cut {
            let mut t = self.text;
            t.push_str(&format!(
                "\n… cut at {} of {} bytes",
                t.len()
                    .min(usize::try_from(self.size).unwrap_or(usize::MAX)),
                self.size
            ));
            t
        } else {
            self.text
        }
    }
}

/// What the entry at `root/rel` is, without opening or following it: `Ok(size)` for a
/// regular file inside `root` (its apparent size in bytes), a [`Refusal`] otherwise.
///
/// # Errors
/// The [`Refusal`] describing what is there instead.
pub fn inspect(root: &Path, rel: &str) -> Result<u64, Refusal> {
    locate(root, rel).map(|(_, meta)| meta.len())
}

/// At most `max` bytes of the regular file `root/rel` (`rel` relative to `root`, the task's
/// worktree), never following a symlink, never opening anything but a regular file, never
/// leaving `root`.
///
/// # Errors
/// A [`Refusal`] saying what was found instead of a regular file inside `root`.
pub fn read(root: &Path, rel: &str, max: usize) -> Result<Capped, Refusal> {
    let (path, before) = locate(root, rel)?;
    let io = |e: std::io::Error| Refusal::Io {
        path: rel.to_string(),
        error: e.to_string(),
    };
    // O_NOFOLLOW: a symlink swapped in since the lstat fails with ELOOP instead of being
    // followed; O_NONBLOCK: a FIFO swapped in does not block the open.
    let mut file = open_nofollow(&path).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => classify(rel, &path, None),
        Some(libc::ENOENT) => Refusal::Missing(rel.to_string()),
        _ => io(e),
    })?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(not_regular(rel, &meta));
    }
    if !opened_inside(&file, &root_of(root, rel)?) {
        return Err(Refusal::Outside(rel.to_string()));
    }
    let size = meta.len().max(before.len());
    let want = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let mut bytes = Vec::with_capacity(usize::try_from(size.min(want)).unwrap_or(max));
    (&mut file).take(want).read_to_end(&mut bytes).map_err(io)?;
    let cut = bytes.len() > max;
    bytes.truncate(max);
    Ok(Capped {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        size: size.max(bytes.len() as u64),
        cut,
    })
}

/// At most `max` bytes of the regular file at the absolute `path` from byte `offset` on, and
/// the file's length: for a file an agent writes outside any worktree (a CLI's session record,
/// named by its own hooks). The last component is never followed if it is a symlink
/// (`O_NOFOLLOW`), a FIFO swapped in does not block the open (`O_NONBLOCK`), and anything but a
/// regular file is refused. A length below `offset` means the file was truncated or replaced:
/// nothing is read, and the caller starts again.
///
/// # Errors
/// The I/O error of the open, `fstat`, seek or read; [`std::io::ErrorKind::InvalidInput`]
/// when it is not a regular file.
pub fn read_from(path: &Path, offset: u64, max: usize) -> std::io::Result<(Vec<u8>, u64)> {
    use std::io::{Seek, SeekFrom};
    let mut file = open_nofollow(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    let len = meta.len();
    if len <= offset {
        return Ok((Vec::new(), len));
    }
    file.seek(SeekFrom::Start(offset))?;
    let want = (len - offset).min(u64::try_from(max).unwrap_or(u64::MAX));
    let mut bytes = Vec::with_capacity(usize::try_from(want).unwrap_or(max));
    file.take(want).read_to_end(&mut bytes)?;
    Ok((bytes, len))
}

/// The last `max` bytes (or fewer) of the regular file at the absolute `path`, read as
/// [`read_from`] reads (one open, the last component never followed if it is a symlink,
/// anything but a regular file refused): the end of an agent's session record.
///
/// # Errors
/// As [`read_from`].
pub fn read_tail(path: &Path, max: usize) -> std::io::Result<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    let mut file = open_nofollow(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    let from = meta
        .len()
        .saturating_sub(u64::try_from(max).unwrap_or(u64::MAX));
    file.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len() - from).unwrap_or(max));
    file.take(meta.len() - from).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Opens `path` for reading without following a symlink in its last component
/// (`O_NOFOLLOW`: ELOOP instead) and without blocking on a FIFO (`O_NONBLOCK`), never as a
/// controlling terminal.
fn open_nofollow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// The whole of the regular file `path`, at most `max` bytes, for a file of the user's that an
/// agent running as the user could replace (Gemini CLI's settings): symlinks are followed (a
/// dotfile manager links it), but a FIFO does not block the open (`O_NONBLOCK`) and anything
/// but a regular file, or a file longer than `max`, is refused.
///
/// # Errors
/// The I/O error of the open or read ([`std::io::ErrorKind::NotFound`] when there is no file);
/// [`std::io::ErrorKind::InvalidInput`] when it is not a regular file or is longer than `max`.
pub fn read_regular(path: &Path, max: usize) -> std::io::Result<Vec<u8>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let refuse = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
    if !file.metadata()?.is_file() {
        return Err(refuse(format!("{} is not a regular file", path.display())));
    }
    let mut bytes = Vec::new();
    file.take(u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() > max {
        return Err(refuse(format!(
            "{} is longer than {max} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

/// The canonical worktree root.
fn root_of(root: &Path, rel: &str) -> Result<PathBuf, Refusal> {
    root.canonicalize()
        .map_err(|_| Refusal::Missing(rel.to_string()))
}

/// The path of `rel` with its directories resolved, checked to stay inside `root`, and the
/// `lstat` of its last component, which must be a regular file.
fn locate(root: &Path, rel: &str) -> Result<(PathBuf, Metadata), Refusal> {
    let rel_path = Path::new(rel);
    if rel_path
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(Refusal::Outside(rel.to_string()));
    }
    let Some(name) = rel_path.file_name() else {
        return Err(Refusal::Outside(rel.to_string()));
    };
    let root = root_of(root, rel)?;
    let parent = match rel_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => root
            .join(p)
            .canonicalize()
            .map_err(|_| Refusal::Missing(rel.to_string()))?,
        _ => root.clone(),
    };
    if !parent.starts_with(&root) {
        return Err(Refusal::Outside(rel.to_string()));
    }
    let path = parent.join(name);
    let meta = std::fs::symlink_metadata(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Refusal::Missing(rel.to_string()),
        _ => Refusal::Io {
            path: rel.to_string(),
            error: e.to_string(),
        },
    })?;
    if meta.file_type().is_symlink() {
        return Err(classify(rel, &path, Some(&meta)));
    }
    if !meta.is_file() {
        return Err(not_regular(rel, &meta));
    }
    Ok((path, meta))
}

/// The refusal for what is at `path` now (a symlink, most likely).
fn classify(rel: &str, path: &Path, meta: Option<&Metadata>) -> Refusal {
    let meta = match meta {
        Some(m) => m.clone(),
        None => match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(_) => return Refusal::Missing(rel.to_string()),
        },
    };
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path)
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "?".into());
        return Refusal::Symlink {
            path: rel.to_string(),
            target,
        };
    }
    not_regular(rel, &meta)
}

fn not_regular(rel: &str, meta: &Metadata) -> Refusal {
    let t = meta.file_type();
    let kind = if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symlink"
    } else {
        "not a file"
    };
    Refusal::NotRegular {
        path: rel.to_string(),
        kind,
    }
}

/// Whether the file behind the open handle lies inside `root`, asked of the kernel
/// (`/proc/self/fd`), so a directory swapped for a symlink between the checks and the open
/// is caught. Where `/proc` is not mounted the checks before the open stand alone.
fn opened_inside(file: &File, root: &Path) -> bool {
    use std::os::fd::AsRawFd;
    match std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) {
        Ok(p) => p.starts_with(root),
        Err(_) => true,
    }
}

/// The last `cap` bytes of a stream read in chunks: memory stays under `2 × cap` plus one
/// chunk however much is written (a test command printing gigabytes).
#[derive(Debug)]
pub struct Tail {
    cap: usize,
    buf: Vec<u8>,
    total: u64,
}

impl Tail {
    /// Keeps the last `cap` bytes.
    pub fn new(cap: usize) -> Tail {
        Tail {
            cap,
            buf: Vec::new(),
            total: 0,
        }
    }

    /// Appends `chunk`, forgetting what falls more than `cap` bytes behind the end.
    pub fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        self.buf.extend_from_slice(chunk);
        if self.buf.len() > 2 * self.cap {
            let drop = self.buf.len() - self.cap;
            self.buf.drain(..drop);
        }
    }

    /// Reads `reader` to its end through [`Tail::push`].
    ///
    /// # Errors
    /// The reader's I/O error (what was read before it is kept).
    pub fn read_from(&mut self, reader: &mut impl Read) -> std::io::Result<()> {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(n) => self.push(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The kept text (invalid UTF-8 replaced), starting with a line saying how much came
    /// before it when anything was dropped.
    pub fn into_text(self) -> String {
        let start = self.buf.len().saturating_sub(self.cap);
        let kept = &self.buf[start..];
        let text = String::from_utf8_lossy(kept);
        let dropped = self.total - kept.len() as u64;
        if dropped > 0 {
            format!("… {dropped} earlier bytes not kept\n{text}")
        } else {
            text.into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_is_the_end_of_a_regular_file_and_never_through_a_symlink() {
        let d = tempfile::tempdir().expect("dir");
        let f = d.path().join("record.jsonl");
        std::fs::write(&f, "0123456789").expect("write");
        assert_eq!(read_tail(&f, 4).expect("tail"), b"6789");
        assert_eq!(read_tail(&f, 64).expect("tail"), b"0123456789");
        let link = d.path().join("link.jsonl");
        std::os::unix::fs::symlink(&f, &link).expect("link");
        assert!(read_tail(&link, 4).is_err(), "a symlink is not followed");
        assert!(read_tail(d.path(), 4).is_err(), "a directory is refused");
    }

    #[test]
    fn regular_files_are_read_up_to_the_cap() {
        let d = tempfile::tempdir().expect("dir");
        std::fs::create_dir(d.path().join("docs")).expect("mkdir");
        std::fs::write(d.path().join("docs/a.md"), "0123456789").expect("write");
        let c = read(d.path(), "docs/a.md", 4).expect("read");
        assert_eq!((c.text.as_str(), c.size, c.cut), ("0123", 10, true));
        assert!(c.with_note().ends_with("cut at 4 of 10 bytes"));
        let c = read(d.path(), "docs/a.md", 10).expect("read");
        assert!(!c.cut);
        assert_eq!(inspect(d.path(), "./docs/a.md"), Ok(10));
    }

    #[test]
    fn symlinks_fifos_and_escapes_are_refused() {
        let d = tempfile::tempdir().expect("dir");
        let outside = tempfile::tempdir().expect("dir");
        std::fs::write(outside.path().join("secret"), "s3cret").expect("write");
        std::os::unix::fs::symlink(outside.path().join("secret"), d.path().join("link"))
            .expect("symlink");
        std::os::unix::fs::symlink("/dev/zero", d.path().join("zero")).expect("symlink");
        std::os::unix::fs::symlink(outside.path(), d.path().join("dir")).expect("symlink");
        nix_mkfifo(&d.path().join("fifo"));
        let e = read(d.path(), "link", 100).expect_err("symlink");
        assert!(matches!(e, Refusal::Symlink { .. }), "{e}");
        assert!(e.to_string().starts_with("link is a symlink (to "), "{e}");
        let e = read(d.path(), "zero", 100).expect_err("zero");
        assert_eq!(
            e.to_string(),
            "zero is a symlink (to /dev/zero), not a regular file"
        );
        let e = read(d.path(), "fifo", 100).expect_err("fifo");
        assert_eq!(e.to_string(), "fifo is a FIFO, not a regular file");
        assert_eq!(
            read(d.path(), "dir/secret", 100),
            Err(Refusal::Outside("dir/secret".into()))
        );
        assert_eq!(
            read(d.path(), "../x", 100),
            Err(Refusal::Outside("../x".into()))
        );
        assert!(
            read(d.path(), "nope", 100)
                .expect_err("missing")
                .is_missing()
        );
    }

    #[test]
    fn a_users_file_may_be_a_link_but_not_a_fifo_nor_endless() {
        let d = tempfile::tempdir().expect("dir");
        std::fs::write(d.path().join("real.json"), "{}").expect("write");
        std::os::unix::fs::symlink(d.path().join("real.json"), d.path().join("link.json"))
            .expect("symlink");
        std::os::unix::fs::symlink("/dev/zero", d.path().join("zero.json")).expect("symlink");
        nix_mkfifo(&d.path().join("fifo.json"));
        assert_eq!(
            read_regular(&d.path().join("link.json"), 10).expect("read"),
            b"{}"
        );
        for bad in ["zero.json", "fifo.json"] {
            let e = read_regular(&d.path().join(bad), 10).expect_err(bad);
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{bad}: {e}");
        }
        std::fs::write(d.path().join("big.json"), "x".repeat(11)).expect("write");
        assert!(read_regular(&d.path().join("big.json"), 10).is_err());
    }

    fn nix_mkfifo(p: &Path) {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut t = Tail::new(4);
        for _ in 0..100 {
            t.push(b"abcdef");
        }
        t.push(b"XYZ");
        assert!(t.buf.len() <= 8 + 6);
        assert_eq!(t.into_text(), "… 599 earlier bytes not kept\nfXYZ");
    }
}
