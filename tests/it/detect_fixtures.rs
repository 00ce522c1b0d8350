//! Every captured screen of a real agent CLI (`tests/fixtures/<cli>-<version>/<status>-<n>.txt`,
//! recorded by the live tests against bosun's scripted model server) is classified by its
//! provider profile as its file name says. `done` screens are the CLI idle after a turn: the
//! detector reads them as idle and the tracker turns "idle after busy" into done.
//!
//! `.txt` files are `capture-pane -p` (text); `.ansi` files are `capture-pane -p -e` (with
//! colours), read through the terminal emulator exactly as the supervisor does when it
//! re-adopts a run ([`Detector::load_capture`]).

use std::path::Path;

use bosun::config::{Config, ScreenStatus};
use bosun::provider::{Detector, classify, screen_text};

#[test]
fn every_captured_screen_is_classified_as_its_file_says() {
    let cfg = Config::builtin().expect("config");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for dir in std::fs::read_dir(&root).expect("fixtures").flatten() {
        let name = dir.file_name().to_string_lossy().into_owned();
        let Some((cli, _version)) = name.split_once('-') else {
            continue;
        };
        let provider = cfg
            .providers
            .get(cli)
            .unwrap_or_else(|| panic!("no provider for {name}"));
        for file in std::fs::read_dir(dir.path()).expect("dir").flatten() {
            let fname = file.file_name().to_string_lossy().into_owned();
            let (stem, ansi) = if let Some(stem) = fname.strip_suffix(".txt") {
                (stem, false)
            } else if let Some(stem) = fname.strip_suffix(".ansi") {
                (stem, true)
            } else {
                continue;
            };
            let Some(status) = Some(stem)
                .and_then(|s| s.rsplit_once('-'))
                .map(|(s, _)| s.to_string())
            else {
                continue;
            };
            let expected = match status.as_str() {
                "idle" | "done" => ScreenStatus::Idle,
                "busy" => ScreenStatus::Busy,
                "waiting" => ScreenStatus::Waiting,
                "error" => ScreenStatus::Error,
                _ => continue,
            };
            let text = std::fs::read_to_string(file.path()).expect("read");
            let got = if ansi {
                let rows = text.lines().count().max(2) as u16;
                let cols = text.lines().map(|l| l.chars().count()).max().unwrap_or(80);
                let mut detector = Detector::new(provider.clone(), rows, cols.max(80) as u16);
                detector.load_capture(&text);
                detector.classify()
            } else {
                classify(provider, &screen_text(&text))
            };
            checked += 1;
            if got != Some(expected) {
                wrong.push(format!(
                    "{name}/{fname}: expected {expected:?}, got {got:?}"
                ));
            }
        }
    }
    assert!(checked >= 20, "only {checked} fixtures found");
    assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
}
