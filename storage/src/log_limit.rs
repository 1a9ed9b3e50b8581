//! Rate-limited logging: when the same failure repeats many times a second (every request
//! refused while the disk is full), one line per interval says so, with how many were held back.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lets one log line through per interval and counts the ones held back. Usable as a `static`.
pub struct LogEvery {
    interval: Duration,
    state: Mutex<Held>,
}

struct Held {
    last: Option<Instant>,
    held_back: u64,
}

impl LogEvery {
    pub const fn new(interval: Duration) -> Self {
        LogEvery {
            interval,
            state: Mutex::new(Held {
                last: None,
                held_back: 0,
            }),
        }
    }

    /// `Some(n)` when a line may be logged now (`n` lines were held back since the last one);
    /// `None` when it should be held back (and is counted).
    pub fn ready(&self) -> Option<u64> {
        let mut held = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match held.last {
            Some(last) if now.duration_since(last) < self.interval => {
                held.held_back += 1;
                None
            }
            _ => {
                held.last = Some(now);
                Some(std::mem::take(&mut held.held_back))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_held_back() {
        let every = LogEvery::new(Duration::from_secs(3600));
        assert_eq!(every.ready(), Some(0));
        for _ in 0..5 {
            assert_eq!(every.ready(), None);
        }
        let always = LogEvery::new(Duration::ZERO);
        assert_eq!(always.ready(), Some(0));
        assert_eq!(always.ready(), Some(0));
        // The count is reported with the next line let through.
        let held = LogEvery {
            interval: Duration::from_secs(3600),
            state: Mutex::new(Held {
                last: Some(Instant::now() - Duration::from_secs(7200)),
                held_back: 5,
            }),
        };
        assert_eq!(held.ready(), Some(5));
        assert_eq!(held.ready(), None);
    }
}
