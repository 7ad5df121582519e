//! When a study is *stable*: no instance of it received for the quiet period, none of it
//! still waiting for analysis, and something of it analysed since its last study SR. Like
//! Orthanc's StableAge, the quiet period restarts with every instance received.
//!
//! In memory only: on start the spool tells it what is on disk (instances resumed from the
//! inbox, whose studies are unknown until analysed, and studies with analysed instances no
//! study SR covers yet, re-timed from the start), so a restart never loses a study SR.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct StudyClock {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Study → when an instance of it was last received (or the node started).
    changed: HashMap<String, Instant>,
    /// Instance → its study and how many copies of it wait in the inbox or work.
    outstanding: HashMap<String, (String, usize)>,
    /// Instances found in the spool at start, study unknown until analysed.
    resumed: HashSet<String>,
    /// Studies with analysed instances that no study SR covers yet.
    pending: HashSet<String>,
}

impl StudyClock {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Instances in the spool at start.
    pub fn resumed(&self, uids: impl IntoIterator<Item = String>) {
        self.lock().resumed.extend(uids);
    }

    /// A copy of `uid` of `study` was received; `new_copy` when it adds one to the spool
    /// (rather than replacing one still waiting).
    pub fn received(&self, uid: &str, study: &str, new_copy: bool) {
        let mut s = self.lock();
        s.changed.insert(study.to_string(), Instant::now());
        let entry = s
            .outstanding
            .entry(uid.to_string())
            .or_insert_with(|| (study.to_string(), 0));
        if new_copy {
            entry.1 += 1;
        }
    }

    /// A copy of `uid` left the spool's inbox and work (analysed, refused or failed).
    pub fn finished(&self, uid: &str) {
        let mut s = self.lock();
        s.resumed.remove(uid);
        if let Some((_, n)) = s.outstanding.get_mut(uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                s.outstanding.remove(uid);
            }
        }
    }

    /// An instance of `study` was analysed (its summary is on disk), or at start a study's
    /// analysed instances are not all in a study SR: a study SR is due once it is stable.
    pub fn analysed(&self, study: &str) {
        let mut s = self.lock();
        s.changed
            .entry(study.to_string())
            .or_insert_with(Instant::now);
        s.pending.insert(study.to_string());
    }

    /// The studies stable at `now` after `quiet`, taken out of the pending set (an
    /// instance analysed while their SR is written makes them pending again).
    pub fn take_due(&self, now: Instant, quiet: Duration) -> Vec<String> {
        let mut s = self.lock();
        if !s.resumed.is_empty() {
            return Vec::new();
        }
        let busy: HashSet<&str> = s.outstanding.values().map(|(st, _)| st.as_str()).collect();
        let mut due: Vec<String> = s
            .pending
            .iter()
            .filter(|st| !busy.contains(st.as_str()))
            .filter(|st| {
                s.changed
                    .get(st.as_str())
                    .is_none_or(|t| now.saturating_duration_since(*t) >= quiet)
            })
            .cloned()
            .collect();
        due.sort();
        for st in &due {
            s.pending.remove(st);
            s.changed.remove(st);
        }
        due
    }

    /// Studies waiting for their SR (for the log and tests).
    pub fn pending(&self) -> usize {
        self.lock().pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIET: Duration = Duration::from_secs(10);

    #[test]
    fn a_study_is_due_once_quiet_and_fully_analysed() {
        let c = StudyClock::default();
        let t0 = Instant::now();
        c.received("1.1", "9", true);
        c.received("1.2", "9", true);
        c.finished("1.1");
        c.analysed("9");
        // 1.2 still waits for analysis.
        assert!(c.take_due(t0 + QUIET * 2, QUIET).is_empty());
        c.finished("1.2");
        c.analysed("9");
        // Quiet period not over (counted from the last receipt).
        assert!(c.take_due(t0 + QUIET / 2, QUIET).is_empty());
        assert_eq!(c.take_due(t0 + QUIET * 2, QUIET), ["9"]);
        // Taken: not due again until something new is analysed.
        assert!(c.take_due(t0 + QUIET * 3, QUIET).is_empty());
        assert_eq!(c.pending(), 0);
    }

    #[test]
    fn a_copy_replacing_a_waiting_one_is_counted_once() {
        let c = StudyClock::default();
        let later = Instant::now() + QUIET * 2;
        c.received("1.1", "9", true);
        c.received("1.1", "9", false);
        c.analysed("9");
        c.finished("1.1");
        assert_eq!(c.take_due(later, QUIET), ["9"]);
        // A copy sent while the first is analysed is a second copy: still outstanding
        // after the first finishes.
        c.received("1.1", "9", true);
        c.received("1.1", "9", true);
        c.finished("1.1");
        c.analysed("9");
        assert!(c.take_due(later, QUIET).is_empty());
        c.finished("1.1");
        assert_eq!(c.take_due(later, QUIET), ["9"]);
    }

    #[test]
    fn resumed_instances_hold_back_every_study() {
        let c = StudyClock::default();
        let later = Instant::now() + QUIET * 2;
        c.resumed(["1.5".to_string()]);
        c.analysed("9");
        assert!(c.take_due(later, QUIET).is_empty());
        c.finished("1.5");
        assert_eq!(c.take_due(later, QUIET), ["9"]);
    }
}
