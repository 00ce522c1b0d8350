//! A lost hook cannot hang a run (ARCHITECTURE.md, Invariants: "every witness can fail"): when a hook
//! opened a turn and no closing hook came, a second witness ends it after a grace period —
//! the CLI's own session record of the turn ([`super::transcript`]) where there is one, else
//! the screen reading finished with no output for the profile's quiet period. Pure: the
//! caller reads the record and the screen and says what they show.

use std::fmt;
use std::time::{Duration, Instant};

use crate::config::ScreenStatus;

/// Which witness ended a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Witness {
    /// The CLI's session record (Claude Code's transcript, Codex's rollout, Gemini CLI's
    /// chat file).
    Transcript,
    /// The rendered screen, finished and quiet.
    Screen,
}

impl fmt::Display for Witness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Witness::Transcript => "transcript",
            Witness::Screen => "screen",
        })
    }
}

/// What the witnesses show at one look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// The session record, when the run has one: `Some(true)` when its last record says the
    /// turn is finished. A run with a record is judged by it alone.
    pub transcript: Option<bool>,
    /// True when the record got new records since the last look.
    pub transcript_grew: bool,
    /// The detector's reading of the screen.
    pub screen: Option<ScreenStatus>,
    /// How long the pane has printed nothing.
    pub quiet_for: Duration,
}

/// Decides, look after look, whether the second witness ends a hook-opened turn.
#[derive(Debug, Clone)]
pub struct SecondWitness {
    grace: Duration,
    quiet: Duration,
    /// The witness that says finished, and since when (nothing new since).
    since: Option<(Witness, Instant)>,
}

impl SecondWitness {
    /// A witness that ends a turn once it has said finished for `grace`; the screen counts
    /// as finished only after `quiet` without output.
    pub fn new(grace: Duration, quiet: Duration) -> SecondWitness {
        SecondWitness {
            grace,
            quiet,
            since: None,
        }
    }

    /// What `reading` says: the witness it comes from and whether that says the turn is
    /// finished.
    pub fn verdict(&self, reading: &Reading) -> (Witness, bool) {
        match reading.transcript {
            Some(finished) => (Witness::Transcript, finished),
            None => (
                Witness::Screen,
                matches!(
                    reading.screen,
                    Some(ScreenStatus::Done | ScreenStatus::Idle)
                ) && reading.quiet_for >= self.quiet,
            ),
        }
    }

    /// Takes one look at `now`. Returns the witness that ends the turn once it has said
    /// finished continuously, with nothing new recorded, for the grace period; `None`
    /// meanwhile. A record that grew restarts the grace period.
    pub fn observe(&mut self, reading: &Reading, now: Instant) -> Option<Witness> {
        let (witness, finished) = self.verdict(reading);
        if !finished {
            self.since = None;
            return None;
        }
        let fresh = witness == Witness::Transcript && reading.transcript_grew;
        let since = match self.since {
            Some((w, at)) if w == witness && !fresh => at,
            _ => now,
        };
        self.since = Some((witness, since));
        (now.duration_since(since) >= self.grace).then_some(witness)
    }

    /// Forgets what was seen (new input went to the agent, or the turn is not open).
    pub fn reset(&mut self) {
        self.since = None;
    }

    /// True while a witness says finished and its grace period runs (the caller must look
    /// again as time passes, even with no output).
    pub fn pending(&self) -> bool {
        self.since.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(20);
    const QUIET: Duration = Duration::from_secs(5);

    fn screen(status: Option<ScreenStatus>, quiet_ms: u64) -> Reading {
        Reading {
            transcript: None,
            transcript_grew: false,
            screen: status,
            quiet_for: Duration::from_millis(quiet_ms),
        }
    }

    fn record(finished: bool, grew: bool) -> Reading {
        Reading {
            transcript: Some(finished),
            transcript_grew: grew,
            screen: Some(ScreenStatus::Busy),
            quiet_for: Duration::ZERO,
        }
    }

    #[test]
    fn a_finished_transcript_ends_the_turn_after_the_grace_period() {
        let t0 = Instant::now();
        let mut w = SecondWitness::new(GRACE, QUIET);
        assert_eq!(w.observe(&record(false, true), t0), None);
        assert!(!w.pending());
        assert_eq!(w.observe(&record(true, true), t0), None);
        assert!(w.pending());
        assert_eq!(w.observe(&record(true, false), t0 + GRACE / 2), None);
        assert_eq!(
            w.observe(&record(true, false), t0 + GRACE),
            Some(Witness::Transcript),
            "the screen reads busy: the transcript alone decides"
        );
    }

    #[test]
    fn new_records_restart_the_grace_period_and_work_resets_it() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut w = SecondWitness::new(GRACE, QUIET);
        w.observe(&record(true, true), at(0));
        // Gemini CLI rewrites its final message as it streams: each write starts again.
        assert_eq!(w.observe(&record(true, true), at(15)), None);
        assert_eq!(w.observe(&record(true, false), at(30)), None);
        assert_eq!(
            w.observe(&record(true, false), at(35)),
            Some(Witness::Transcript)
        );
        let mut w = SecondWitness::new(GRACE, QUIET);
        w.observe(&record(true, true), at(0));
        w.observe(&record(false, true), at(10));
        assert!(!w.pending());
        assert_eq!(w.observe(&record(true, true), at(21)), None);
    }

    #[test]
    fn without_a_record_a_quiet_finished_screen_ends_the_turn() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut w = SecondWitness::new(GRACE, QUIET);
        // Finished-looking but still printing: not yet.
        assert_eq!(
            w.observe(&screen(Some(ScreenStatus::Done), 100), at(0)),
            None
        );
        assert!(!w.pending());
        assert_eq!(
            w.observe(&screen(Some(ScreenStatus::Idle), 5_000), at(5_000)),
            None
        );
        assert!(w.pending());
        assert_eq!(
            w.observe(&screen(Some(ScreenStatus::Done), 25_000), at(25_000)),
            Some(Witness::Screen)
        );
    }

    #[test]
    fn a_busy_waiting_or_failed_screen_never_ends_the_turn() {
        let t0 = Instant::now();
        let mut w = SecondWitness::new(GRACE, QUIET);
        for status in [
            Some(ScreenStatus::Busy),
            Some(ScreenStatus::Waiting),
            Some(ScreenStatus::Error),
            None,
        ] {
            for s in 0..10 {
                let now = t0 + GRACE * s;
                assert_eq!(
                    w.observe(&screen(status, 3_600_000), now),
                    None,
                    "{status:?}"
                );
            }
        }
    }

    #[test]
    fn output_between_looks_restarts_the_screen_witness() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut w = SecondWitness::new(GRACE, QUIET);
        w.observe(&screen(Some(ScreenStatus::Done), 5_000), at(0));
        w.observe(&screen(Some(ScreenStatus::Done), 1_000), at(10));
        assert!(!w.pending(), "it printed again");
        w.observe(&screen(Some(ScreenStatus::Done), 5_000), at(14));
        assert_eq!(
            w.observe(&screen(Some(ScreenStatus::Done), 20_000), at(29)),
            None
        );
        assert_eq!(
            w.observe(&screen(Some(ScreenStatus::Done), 25_000), at(34)),
            Some(Witness::Screen)
        );
        w.reset();
        assert!(!w.pending());
    }
}
