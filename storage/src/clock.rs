//! Time is injected: everything that asks "what time is it" goes through a [`Clock`], so tests can
//! stand at 17:29 London time, jump across a DST change, or let a lease expire without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeZone, Utc};

pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Microseconds since the Unix epoch, UTC.
    fn now_micros(&self) -> i64;

    fn now(&self) -> DateTime<Utc> {
        Utc.timestamp_micros(self.now_micros())
            .single()
            .unwrap_or_default()
    }

    fn now_ms(&self) -> i64 {
        self.now_micros().div_euclid(1000)
    }

    /// A new time-ordered id (uuid v7) stamped with this clock's time, so records created under
    /// an injected clock sort (and are range-scanned) by the time the clock gave them.
    fn new_id(&self) -> uuid::Uuid {
        v7_at_micros(self.now_micros())
    }
}

/// A uuid v7 for the given time, with random low bits.
pub fn v7_at_micros(micros: i64) -> uuid::Uuid {
    let micros = micros.max(0) as u64;
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        micros / 1_000_000,
        ((micros % 1_000_000) * 1000) as u32,
    );
    uuid::Uuid::new_v7(ts)
}

/// The smallest uuid v7 of a millisecond: every id created before `ms` sorts below it, so
/// `..v7_floor(ms)` is "everything created before `ms`".
pub fn v7_floor(ms: i64) -> uuid::Uuid {
    uuid::Uuid::from_u128((ms.max(0) as u128) << 80)
}

pub type SharedClock = Arc<dyn Clock>;

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> i64 {
        Utc::now().timestamp_micros()
    }

    /// The real clock keeps uuid's counter, so ids made in one millisecond stay in order.
    fn new_id(&self) -> uuid::Uuid {
        uuid::Uuid::now_v7()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    micros: AtomicI64,
}

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Arc<Self> {
        Arc::new(ManualClock {
            micros: AtomicI64::new(at.timestamp_micros()),
        })
    }

    pub fn set(&self, at: DateTime<Utc>) {
        self.micros.store(at.timestamp_micros(), Ordering::SeqCst);
    }

    pub fn advance(&self, by: std::time::Duration) {
        self.micros
            .fetch_add(by.as_micros() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_micros(&self) -> i64 {
        self.micros.load(Ordering::SeqCst)
    }
}

/// Format microseconds as the v2 API does: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn format_api_timestamp(micros: i64) -> String {
    Utc.timestamp_micros(micros)
        .single()
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Utc.with_ymd_and_hms(2026, 3, 29, 0, 59, 0).unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(std::time::Duration::from_secs(120));
        assert_eq!(clock.now(), start + chrono::Duration::seconds(120));
        assert_eq!(clock.now_ms(), clock.now_micros() / 1000);
    }

    #[test]
    fn api_timestamps_have_six_fraction_digits() {
        let t = Utc.with_ymd_and_hms(2024, 5, 17, 15, 58, 38).unwrap()
            + chrono::Duration::microseconds(342_838);
        assert_eq!(
            format_api_timestamp(t.timestamp_micros()),
            "2024-05-17T15:58:38.342838Z"
        );
        assert_eq!(format_api_timestamp(0), "1970-01-01T00:00:00.000000Z");
    }
}
