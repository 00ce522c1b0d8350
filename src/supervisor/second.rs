//! The second witness of a turn a hook opened (issue 18: a lost hook cannot hang a run).
//!
//! Hooks decide a turn, but a closing hook can be lost (the database was locked or the disk
//! full when `bosun hook` ran). While a hook turn is open the supervisor looks, every
//! [`LOOK_EVERY`], at the CLI's own session record — the `transcript_path` its hooks named
//! (stored with the run), read incrementally from a saved offset, bounded, regular files only —
//! or, where there is none (agent-sim, aider, a CLI whose hooks name none), at the screen and
//! how long the pane has been quiet. The decision is [`crate::provider::SecondWitness`]'s;
//! the status event of a turn it ends says which witness that was.

use super::*;
use crate::provider::transcript::{TranscriptFormat, TranscriptState};
use crate::provider::{Reading, SecondWitness};

/// How often an open hook turn's second witness is looked at.
const LOOK_EVERY: Duration = Duration::from_millis(500);

/// Most bytes of a session record read at one look.
const READ_MAX: usize = 1 << 20;

/// A reader further behind than this jumps to the last [`READ_MAX`] bytes (only the last
/// record matters; a resumed session's record can be megabytes).
const JUMP_AFTER: u64 = 4 << 20;

/// A run's second witness: the decision and the session record it reads.
pub(super) struct Second {
    witness: SecondWitness,
    format: Option<TranscriptFormat>,
    record: Option<Record>,
    /// A hook came since the record was last looked up: its path may be known now.
    lookup: bool,
    /// The record got records since the last input went to the agent.
    fresh: bool,
    next_look: Option<Instant>,
}

/// A session record read so far.
struct Record {
    path: PathBuf,
    offset: u64,
    state: TranscriptState,
}

impl Second {
    /// The second witness of a run of `provider`.
    pub(super) fn new(provider: &ProviderConfig) -> Second {
        Second {
            witness: SecondWitness::new(provider.witness_grace, provider.quiet),
            format: TranscriptFormat::for_hooks(provider.hooks),
            record: None,
            lookup: true,
            fresh: false,
            next_look: None,
        }
    }

    /// New input went to the agent: a new turn, judged afresh.
    pub(super) fn input_sent(&mut self) {
        self.witness.reset();
        self.fresh = false;
    }

    /// A hook call came for the run (it may name the session record, or a new one: a CLI
    /// starts a new session file on `/clear`).
    pub(super) fn hook_came(&mut self) {
        self.lookup = true;
    }

    /// The session record's path (from the store) when `lookup` asks for it.
    fn locate(&mut self, store: &Store, run_id: i64) {
        if !self.lookup || self.format.is_none() {
            return;
        }
        self.lookup = false;
        match runs::transcript(store.conn(), run_id) {
            Ok(Some(path))
                if self
                    .record
                    .as_ref()
                    .is_some_and(|r| r.path == Path::new(&path)) => {}
            Ok(Some(path)) => {
                let Some(format) = self.format else { return };
                tracing::debug!(run = run_id, path, "reading the agent's session record");
                self.record = Some(Record {
                    path: PathBuf::from(path),
                    offset: 0,
                    state: TranscriptState::new(format),
                });
            }
            Ok(None) => {}
            Err(e) => {
                self.lookup = true;
                tracing::warn!(run = run_id, error = %e, "cannot look up the session record");
            }
        }
    }
}

impl Record {
    /// Reads what was appended since the last look; true when it held records about the
    /// turn. A file that shrank (replaced) is read again from its start; one that cannot be
    /// read (gone, not a regular file) says nothing new.
    fn poll(&mut self, run_id: i64) -> bool {
        let mut grew = false;
        for _ in 0..2 {
            let (bytes, len) = match crate::untrusted::read_from(&self.path, self.offset, READ_MAX)
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(run = run_id, path = %self.path.display(), error = %e, "cannot read the session record");
                    return grew;
                }
            };
            if len < self.offset {
                self.offset = 0;
                self.state = TranscriptState::new(self.format());
                continue;
            }
            if len - self.offset > JUMP_AFTER {
                // What was skipped may have changed the turn: judge by what follows alone.
                self.offset = len - READ_MAX as u64;
                self.state = TranscriptState::new(self.format());
                self.state.resync();
                grew = true;
                continue;
            }
            self.offset += bytes.len() as u64;
            grew |= self.state.feed(&bytes);
            if bytes.len() < READ_MAX {
                break;
            }
        }
        grew
    }

    fn format(&self) -> TranscriptFormat {
        self.state.format()
    }
}

impl Supervisor {
    /// Looks at the second witness of run `id` while a turn a hook opened waits for its
    /// closing hook; ends the turn when the witness has said it is finished for the grace
    /// period. A run whose hook turn is not open forgets what its witness saw.
    pub(super) fn second_look(&mut self, id: i64, now: Instant) -> Result<()> {
        let Some(run) = self.runs.get_mut(&id) else {
            return Ok(());
        };
        if !run.machine.hook_turn_open() {
            run.second.witness.reset();
            run.second.next_look = None;
            return Ok(());
        }
        if run.second.next_look.is_some_and(|t| now < t) {
            return Ok(());
        }
        run.second.next_look = Some(now + LOOK_EVERY);
        run.second.locate(&self.store, id);
        let reading = match run.second.record.as_mut() {
            Some(record) => {
                let grew = record.poll(id);
                run.second.fresh |= grew;
                Reading {
                    transcript: Some(run.second.fresh && record.state.finished()),
                    transcript_grew: grew,
                    screen: None,
                    quiet_for: Duration::ZERO,
                }
            }
            None => {
                let quiet_for = run.machine.quiet_for(now);
                let provider = run.machine.provider();
                // A screen still printing is not finished: no need to read it.
                let screen = (quiet_for >= provider.quiet)
                    .then(|| classify(provider, &run.machine.screen()))
                    .flatten();
                Reading {
                    transcript: None,
                    transcript_grew: false,
                    screen,
                    quiet_for,
                }
            }
        };
        let Some(witness) = run.second.witness.observe(&reading, now) else {
            return Ok(());
        };
        tracing::warn!(
            run = id,
            %witness,
            "the turn's closing hook never came; its {witness} says it is done"
        );
        self.step(id, machine::Event::WitnessDone(witness), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const WORK: &str = r#"{"type":"user","message":{"role":"user","content":"go"}}"#;
    const END: &str = r#"{"type":"assistant","message":{"content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn"}}"#;

    fn record(path: &Path) -> Record {
        Record {
            path: path.to_path_buf(),
            offset: 0,
            state: TranscriptState::new(TranscriptFormat::Claude),
        }
    }

    fn append(path: &Path, text: &str) {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open")
            .write_all(text.as_bytes())
            .expect("write");
    }

    #[test]
    fn a_record_is_read_incrementally_from_its_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.jsonl");
        let mut r = record(&path);
        assert!(!r.poll(1), "no file yet");
        append(&path, &format!("{WORK}\n"));
        assert!(r.poll(1));
        assert!(!r.state.finished());
        let half = END.len() / 2;
        append(&path, &END[..half]);
        assert!(!r.poll(1), "half a line says nothing");
        assert!(!r.state.finished());
        append(&path, &format!("{}\n", &END[half..]));
        assert!(r.poll(1));
        assert!(r.state.finished());
        assert_eq!(r.offset, std::fs::metadata(&path).expect("meta").len());
        assert!(!r.poll(1), "nothing new");
        // Replaced by a shorter file: read again from its start.
        std::fs::write(&path, format!("{WORK}\n")).expect("replace");
        assert!(r.poll(1));
        assert!(!r.state.finished());
    }

    #[test]
    fn a_record_far_behind_is_judged_by_its_last_mebibyte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.jsonl");
        let line = format!("{WORK}\n");
        let mut big = String::new();
        while big.len() <= (JUMP_AFTER as usize) + READ_MAX {
            big.push_str(&line);
        }
        big.push_str(END);
        big.push('\n');
        std::fs::write(&path, &big).expect("write");
        let mut r = record(&path);
        assert!(r.poll(1));
        assert!(r.state.finished());
        assert_eq!(r.offset, big.len() as u64);
    }

    #[test]
    fn a_symlink_or_a_fifo_is_never_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("real.jsonl");
        std::fs::write(&real, format!("{END}\n")).expect("write");
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let mut r = record(&link);
        assert!(!r.poll(1));
        assert!(!r.state.finished());
        let fifo = dir.path().join("fifo.jsonl");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(status.success());
        let mut r = record(&fifo);
        assert!(!r.poll(1), "refused without blocking");
    }
}
