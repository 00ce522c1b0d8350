//! The conflict radar's planning: which pairs of branches need their conflicts
//! ([`super::conflicts`]) recomputed when tips move. Pure: the caller reads the tips, stores
//! the results under their [`RadarKey`] and calls [`super::conflicts`] for the pairs to
//! recompute (issue 20, "Conflict radar": incremental, only pairs whose tips changed).
//!
//! The pairs are every task branch against the base (base as `a`, "ours", the side a landing
//! merges into) and every two task branches (`a` before `b` by name).

use std::collections::BTreeMap;

/// What a pair's result depends on: the two tips (full shas), `a`'s first. A result stored
/// under a key stays right as long as both tips do.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RadarKey {
    /// The tip of the pair's `a` side.
    pub a_tip: String,
    /// The tip of the pair's `b` side.
    pub b_tip: String,
}

/// Two branches to check against each other: `conflicts(repo, a, b)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RadarPair {
    /// The "ours" side: the base, or the task branch first by name.
    pub a: String,
    /// The "theirs" side.
    pub b: String,
    /// The tips now.
    pub key: RadarKey,
}

/// What to do with the radar's stored results after the tips moved from `old` to `new`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RadarPlan {
    /// Pairs that are new or where at least one tip changed: run `conflicts` for them.
    pub recompute: Vec<RadarPair>,
    /// Pairs whose tips did not change: their stored results still hold.
    pub keep: Vec<RadarPair>,
    /// Pairs (`a`, `b`) of `old` that no longer exist (a branch went): drop their results.
    pub gone: Vec<(String, String)>,
}

/// Plans the radar's work. `old` and `new` map branch names to tips (full shas): `new` the
/// branches to watch now (the base and the task branches with commits), `old` what the
/// stored results were computed from (empty at first). `base` names the base branch among
/// them; when it is absent from a map, that map has only task-against-task pairs. Pairs come
/// out sorted by (`a`, `b`).
pub fn plan(
    base: &str,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> RadarPlan {
    let then = pairs(base, old);
    let now = pairs(base, new);
    let mut out = RadarPlan::default();
    for pair in &now {
        let unchanged =
            old.get(&pair.a) == Some(&pair.key.a_tip) && old.get(&pair.b) == Some(&pair.key.b_tip);
        if unchanged {
            out.keep.push(pair.clone());
        } else {
            out.recompute.push(pair.clone());
        }
    }
    for pair in then {
        if !now.iter().any(|p| p.a == pair.a && p.b == pair.b) {
            out.gone.push((pair.a, pair.b));
        }
    }
    out
}

/// Every pair of `tips`: each task against `base` (when present), then each two tasks.
fn pairs(base: &str, tips: &BTreeMap<String, String>) -> Vec<RadarPair> {
    let tasks: Vec<(&String, &String)> = tips.iter().filter(|(n, _)| *n != base).collect();
    let mut out = Vec::new();
    let pair = |a: &str, at: &str, b: &str, bt: &str| RadarPair {
        a: a.to_string(),
        b: b.to_string(),
        key: RadarKey {
            a_tip: at.to_string(),
            b_tip: bt.to_string(),
        },
    };
    if let Some(base_tip) = tips.get(base) {
        for (t, tip) in &tasks {
            out.push(pair(base, base_tip, t, tip));
        }
    }
    for (i, (a, at)) in tasks.iter().enumerate() {
        for (b, bt) in &tasks[i + 1..] {
            out.push(pair(a, at, b, bt));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tips(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()
    }

    fn names(pairs: &[RadarPair]) -> Vec<(&str, &str)> {
        pairs.iter().map(|p| (p.a.as_str(), p.b.as_str())).collect()
    }

    #[test]
    fn everything_is_computed_the_first_time() {
        let new = tips(&[("main", "m1"), ("t/a", "a1"), ("t/b", "b1")]);
        let plan = plan("main", &BTreeMap::new(), &new);
        assert_eq!(
            names(&plan.recompute),
            [("main", "t/a"), ("main", "t/b"), ("t/a", "t/b")]
        );
        assert!(plan.keep.is_empty() && plan.gone.is_empty());
        assert_eq!(
            plan.recompute[0].key,
            RadarKey {
                a_tip: "m1".into(),
                b_tip: "a1".into()
            }
        );
    }

    #[test]
    fn only_pairs_whose_tips_moved_are_recomputed() {
        let old = tips(&[("main", "m1"), ("t/a", "a1"), ("t/b", "b1"), ("t/c", "c1")]);
        let new = tips(&[("main", "m1"), ("t/a", "a2"), ("t/b", "b1"), ("t/c", "c1")]);
        let plan = plan("main", &old, &new);
        assert_eq!(
            names(&plan.recompute),
            [("main", "t/a"), ("t/a", "t/b"), ("t/a", "t/c")]
        );
        assert_eq!(
            names(&plan.keep),
            [("main", "t/b"), ("main", "t/c"), ("t/b", "t/c")]
        );
        assert!(plan.gone.is_empty());
    }

    #[test]
    fn a_moved_base_recomputes_every_pair_with_it_and_no_other() {
        let old = tips(&[("main", "m1"), ("t/a", "a1"), ("t/b", "b1")]);
        let new = tips(&[("main", "m2"), ("t/a", "a1"), ("t/b", "b1")]);
        let plan = plan("main", &old, &new);
        assert_eq!(names(&plan.recompute), [("main", "t/a"), ("main", "t/b")]);
        assert_eq!(names(&plan.keep), [("t/a", "t/b")]);
    }

    #[test]
    fn pairs_of_a_branch_that_went_are_dropped_and_new_ones_computed() {
        let old = tips(&[("main", "m1"), ("t/a", "a1"), ("t/b", "b1")]);
        let new = tips(&[("main", "m1"), ("t/b", "b1"), ("t/c", "c1")]);
        let plan = plan("main", &old, &new);
        assert_eq!(names(&plan.recompute), [("main", "t/c"), ("t/b", "t/c")]);
        assert_eq!(names(&plan.keep), [("main", "t/b")]);
        assert_eq!(
            plan.gone,
            [
                ("main".to_string(), "t/a".to_string()),
                ("t/a".to_string(), "t/b".to_string())
            ]
        );
    }

    #[test]
    fn without_the_base_only_task_pairs_exist() {
        let new = tips(&[("t/a", "a1"), ("t/b", "b1")]);
        assert_eq!(
            names(&plan("main", &BTreeMap::new(), &new).recompute),
            [("t/a", "t/b")]
        );
        assert_eq!(plan("main", &new, &new).recompute, []);
    }
}
