//! A supervisor at rest does no repeated work: after start it compiles no pattern again
//! (counted through `bosun::queue::classify::compilations`, a test hook), however long it
//! runs with nothing to do. Its own test binary, so no other test compiles meanwhile.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bosun::queue::classify::compilations;
use support::rig::Rig;

#[test]
fn a_supervisor_with_no_runs_compiles_no_pattern_after_start() {
    let rig = Rig::new("[supervisor]\nmax_concurrency = 2\n");
    let mut sup = rig.supervisor();
    // Every engine made during start (reconcile, a claim attempt) has compiled what it needs.
    sup.tick().expect("tick");
    let after_start = compilations();
    assert!(after_start >= 1, "the classifier was compiled once");
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let timer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    sup.run_until(&stop).expect("run");
    timer.join().expect("timer");
    assert_eq!(
        compilations(),
        after_start,
        "a supervisor at rest compiled patterns again"
    );
}
