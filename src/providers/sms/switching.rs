//! Which SMS provider gets the next message, and how traffic moves between providers
//! (workers.md §7.2).
//!
//! Pure and synchronous: no I/O, the time is passed in (milliseconds since the epoch).
//!
//! - Each provider has a current priority (0–100, its share of traffic) and a resting point (the
//!   configured priority).
//! - A provider is chosen at random, weighted by priority. International messages go only to
//!   providers that support them. A provider at 0 is not chosen unless every eligible one is at 0;
//!   then the choice is uniform among the eligible.
//! - More than `error_threshold` failed sends by one provider within `error_window_seconds` move
//!   `step` points away from it to the others, unless any change happened within
//!   `min_seconds_between_changes`.
//! - Every `drift_every_seconds`, when nothing changed for `drift_after_quiet_seconds`, each provider
//!   moves `step` points towards its resting point. A drift is a change too.
//! - Slow delivery (decided from receipts by the domain, [`Switchboard::record_slow`]): when some
//!   but not all providers are slow, the first slow one loses `step` points, unless any change
//!   happened within `slow_delivery_min_seconds_between_changes`.
//! - A person may set a provider's priority or switch it off ([`Switchboard::set`]); a provider
//!   switched off gets no traffic, takes no points and does not drift.
//!
//! Every change is also noted as a [`ShareChange`] until taken ([`Switchboard::take_changes`]),
//! so the domain can save shares in the store: they survive a restart ([`Switchboard::restore`]).

use std::collections::VecDeque;

use rand::Rng;

use super::ProviderShare;
use crate::config::SmsSwitchingConfig;

const MAX_PRIORITY: u32 = 100;

/// A change to one provider's share, waiting to be saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareChange {
    pub name: String,
    pub priority: u32,
    pub active: bool,
    pub reason: String,
    /// The person who made it by hand; `None` for the appliance's own switching.
    pub by: Option<uuid::Uuid>,
}

#[derive(Debug, Clone)]
struct Slot {
    name: String,
    priority: u32,
    resting_point: u32,
    supports_international: bool,
    /// Switched off by a person: no traffic, no points, no drift.
    active: bool,
    /// Times of recent failures, oldest first; at most `error_threshold + 1` are kept, which is
    /// all it takes to know whether more than the threshold fell within the window.
    errors: VecDeque<i64>,
}

/// The shares of traffic and what moves them.
#[derive(Debug, Clone)]
pub struct Switchboard {
    slots: Vec<Slot>,
    error_threshold: usize,
    error_window_ms: i64,
    step: u32,
    min_between_changes_ms: i64,
    drift_every_ms: i64,
    drift_after_quiet_ms: i64,
    slow_between_changes_ms: i64,
    last_change_ms: Option<i64>,
    last_drift_ms: Option<i64>,
    /// Changes not yet taken for saving.
    pending: Vec<ShareChange>,
}

fn seconds_to_ms(s: u64) -> i64 {
    i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)
}

impl Switchboard {
    /// `providers`: `(name, configured priority, supports_international)` in configuration order.
    /// Priorities above 100 are taken as 100.
    pub fn new(
        providers: impl IntoIterator<Item = (String, u32, bool)>,
        config: &SmsSwitchingConfig,
    ) -> Switchboard {
        let slots = providers
            .into_iter()
            .map(|(name, priority, supports_international)| {
                let priority = priority.min(MAX_PRIORITY);
                Slot {
                    name,
                    priority,
                    resting_point: priority,
                    supports_international,
                    active: true,
                    errors: VecDeque::new(),
                }
            })
            .collect();
        Switchboard {
            slots,
            error_threshold: config.error_threshold as usize,
            error_window_ms: seconds_to_ms(config.error_window_seconds),
            step: config.step,
            min_between_changes_ms: seconds_to_ms(config.min_seconds_between_changes),
            drift_every_ms: seconds_to_ms(config.drift_every_seconds),
            drift_after_quiet_ms: seconds_to_ms(config.drift_after_quiet_seconds),
            slow_between_changes_ms: seconds_to_ms(
                config.slow_delivery_min_seconds_between_changes,
            ),
            last_change_ms: None,
            last_drift_ms: None,
            pending: Vec::new(),
        }
    }

    /// The index of the provider called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.name == name)
    }

    /// Put back a share saved before a restart (not a change: nothing to save, no hold-off).
    /// Priorities above 100 are taken as 100.
    pub fn restore(&mut self, index: usize, priority: u32, active: bool) {
        if let Some(slot) = self.slots.get_mut(index) {
            slot.priority = priority.min(MAX_PRIORITY);
            slot.active = active;
        }
    }

    /// A person sets the provider at `index`: its priority and/or whether it is on. A change
    /// like any other (drift waits for a quiet spell after it). True when something changed.
    pub fn set(
        &mut self,
        index: usize,
        priority: Option<u32>,
        active: Option<bool>,
        reason: &str,
        by: Option<uuid::Uuid>,
        now_ms: i64,
    ) -> bool {
        let Some(slot) = self.slots.get_mut(index) else {
            return false;
        };
        let new_priority = priority.map_or(slot.priority, |p| p.min(MAX_PRIORITY));
        let new_active = active.unwrap_or(slot.active);
        if new_priority == slot.priority && new_active == slot.active {
            return false;
        }
        tracing::info!(
            provider = %slot.name,
            old = slot.priority,
            new = new_priority,
            active = new_active,
            reason,
            "SMS provider changed by hand"
        );
        slot.priority = new_priority;
        slot.active = new_active;
        let change = ShareChange {
            name: slot.name.clone(),
            priority: new_priority,
            active: new_active,
            reason: reason.to_string(),
            by,
        };
        self.pending.push(change);
        self.last_change_ms = Some(now_ms);
        true
    }

    /// Changes made since the last call, oldest first, for saving.
    pub fn take_changes(&mut self) -> Vec<ShareChange> {
        std::mem::take(&mut self.pending)
    }

    /// Whether the provider at `index` is switched on.
    pub fn is_active(&self, index: usize) -> bool {
        self.slots.get(index).is_some_and(|s| s.active)
    }

    /// Slow delivery: `slow[i]` says whether the provider at `i` is slow. When some but not all
    /// active providers are slow, the first slow one loses `step` points (upstream then finds
    /// the providers just changed and leaves the others), unless any change happened within the
    /// slow-delivery hold-off. True when traffic moved.
    pub fn record_slow(&mut self, slow: &[bool], now_ms: i64) -> bool {
        let active: Vec<usize> = (0..self.slots.len())
            .filter(|&i| self.slots[i].active)
            .collect();
        let slow_count = active
            .iter()
            .filter(|&&i| slow.get(i).copied().unwrap_or(false))
            .count();
        if slow_count == 0 || slow_count == active.len() {
            return false;
        }
        if self.changed_within(now_ms, self.slow_between_changes_ms) {
            tracing::info!("slow delivery seen, but the providers changed too recently to move");
            return false;
        }
        let Some(&first) = active
            .iter()
            .find(|&&i| slow.get(i).copied().unwrap_or(false))
        else {
            return false;
        };
        tracing::warn!(provider = %self.slots[first].name, "slow delivery detected for a provider");
        let moved = self.move_away_from(first, "Reduced due to reduced reliability");
        if moved {
            self.last_change_ms = Some(now_ms);
        }
        moved
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The name of the provider at `index` (configuration order).
    pub fn name(&self, index: usize) -> &str {
        &self.slots[index].name
    }

    /// Current priority of the provider at `index`.
    pub fn priority(&self, index: usize) -> u32 {
        self.slots[index].priority
    }

    /// Every provider with its current priority, in configuration order.
    pub fn shares(&self) -> Vec<ProviderShare> {
        self.slots
            .iter()
            .map(|s| ProviderShare {
                name: s.name.clone(),
                priority: s.priority,
                resting_point: s.resting_point,
                supports_international: s.supports_international,
                active: s.active,
            })
            .collect()
    }

    /// Eligible providers with the weight each is chosen by.
    fn weights(&self, international: bool) -> Vec<(usize, u32)> {
        let eligible: Vec<(usize, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.active && (!international || s.supports_international))
            .map(|(i, s)| (i, s.priority))
            .collect();
        if eligible.iter().all(|&(_, w)| w == 0) {
            eligible.into_iter().map(|(i, _)| (i, 1)).collect()
        } else {
            eligible.into_iter().filter(|&(_, w)| w > 0).collect()
        }
    }

    /// Choose a provider at random, weighted by priority. `None` when no provider may take the
    /// message (international with none supporting it, or no providers at all).
    pub fn choose(&self, international: bool, rng: &mut impl Rng) -> Option<usize> {
        let total: u32 = self.weights(international).iter().map(|&(_, w)| w).sum();
        if total == 0 {
            return None;
        }
        self.pick(international, rng.random_range(0..total))
    }

    /// The provider a given roll lands on: eligible providers laid end to end in configuration
    /// order, each as wide as its weight; `roll` is taken modulo the total width.
    pub fn pick(&self, international: bool, roll: u32) -> Option<usize> {
        let weights = self.weights(international);
        let total: u32 = weights.iter().map(|&(_, w)| w).sum();
        if total == 0 {
            return None;
        }
        let mut roll = roll % total;
        for (index, weight) in weights {
            if roll < weight {
                return Some(index);
            }
            roll -= weight;
        }
        None
    }

    fn changed_within(&self, now_ms: i64, window_ms: i64) -> bool {
        self.last_change_ms
            .is_some_and(|last| now_ms.saturating_sub(last) < window_ms)
    }

    /// Count a failed send by the provider at `index`. True when this moved traffic.
    pub fn record_error(&mut self, index: usize, now_ms: i64) -> bool {
        let threshold = self.error_threshold;
        let window_ms = self.error_window_ms;
        let Some(slot) = self.slots.get_mut(index) else {
            return false;
        };
        slot.errors.push_back(now_ms);
        while slot
            .errors
            .front()
            .is_some_and(|&t| now_ms.saturating_sub(t) >= window_ms)
        {
            slot.errors.pop_front();
        }
        while slot.errors.len() > threshold.saturating_add(1) {
            slot.errors.pop_front();
        }
        if slot.errors.len() <= threshold {
            return false;
        }
        if self.changed_within(now_ms, self.min_between_changes_ms) {
            // Keep counting: the next failure after the hold-off moves traffic.
            return false;
        }
        let count = self.slots[index].errors.len();
        self.slots[index].errors.clear();
        let reason = format!(
            "more than {threshold} failed sends within {} s ({count} counted)",
            window_ms / 1000
        );
        let moved = self.move_away_from(index, &reason);
        if moved {
            self.last_change_ms = Some(now_ms);
        }
        moved
    }

    /// Take `step` points from the provider at `index` and give them to the others: with two
    /// providers the other gains `step` (both clamped to 0..=100, as upstream); with more, the
    /// points actually taken are spread one at a time over the others so the total stays the same.
    fn move_away_from(&mut self, index: usize, reason: &str) -> bool {
        let others: Vec<usize> = (0..self.slots.len())
            .filter(|&i| i != index && self.slots[i].active)
            .collect();
        if others.is_empty() || !self.slots[index].active {
            return false;
        }
        let before: Vec<u32> = self.slots.iter().map(|s| s.priority).collect();
        let taken = self.slots[index].priority.min(self.step);
        self.slots[index].priority -= taken;
        if let [other] = others[..] {
            let other = &mut self.slots[other];
            other.priority = other.priority.saturating_add(self.step).min(MAX_PRIORITY);
        } else {
            let mut left = taken;
            while left > 0 {
                let mut gave = false;
                for (i, slot) in self.slots.iter_mut().enumerate() {
                    if left == 0 {
                        break;
                    }
                    if i != index && slot.active && slot.priority < MAX_PRIORITY {
                        slot.priority += 1;
                        left -= 1;
                        gave = true;
                    }
                }
                if !gave {
                    // Everyone else is full: give the rest back.
                    self.slots[index].priority += left;
                    break;
                }
            }
        }
        self.log_changes(&before, reason)
    }

    /// Periodic drift towards the resting points. True when a priority changed.
    pub fn drift(&mut self, now_ms: i64) -> bool {
        if self
            .last_drift_ms
            .is_some_and(|last| now_ms.saturating_sub(last) < self.drift_every_ms)
        {
            return false;
        }
        self.last_drift_ms = Some(now_ms);
        if self.changed_within(now_ms, self.drift_after_quiet_ms) {
            return false;
        }
        let before: Vec<u32> = self.slots.iter().map(|s| s.priority).collect();
        let step = self.step;
        for slot in self.slots.iter_mut().filter(|s| s.active) {
            slot.priority = if slot.priority > slot.resting_point {
                slot.priority.saturating_sub(step).max(slot.resting_point)
            } else {
                slot.priority.saturating_add(step).min(slot.resting_point)
            };
        }
        let moved = self.log_changes(&before, "drift towards the resting point");
        if moved {
            self.last_change_ms = Some(now_ms);
        }
        moved
    }

    fn log_changes(&mut self, before: &[u32], reason: &str) -> bool {
        let mut moved = false;
        for (slot, &old) in self.slots.iter().zip(before) {
            if slot.priority != old {
                moved = true;
                self.pending.push(ShareChange {
                    name: slot.name.clone(),
                    priority: slot.priority,
                    active: slot.active,
                    reason: reason.to_string(),
                    by: None,
                });
                tracing::info!(
                    provider = %slot.name,
                    old,
                    new = slot.priority,
                    reason,
                    "SMS provider priority changed"
                );
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const MIN: i64 = 60_000;

    fn rules(threshold: u32) -> SmsSwitchingConfig {
        SmsSwitchingConfig {
            error_threshold: threshold,
            error_window_seconds: 60,
            step: 10,
            min_seconds_between_changes: 60,
            drift_every_seconds: 300,
            drift_after_quiet_seconds: 900,
            ..SmsSwitchingConfig::default()
        }
    }

    fn board(providers: &[(&str, u32, bool)], threshold: u32) -> Switchboard {
        Switchboard::new(
            providers.iter().map(|&(n, p, i)| (n.to_string(), p, i)),
            &rules(threshold),
        )
    }

    fn priorities(b: &Switchboard) -> Vec<u32> {
        b.shares().iter().map(|s| s.priority).collect()
    }

    fn two() -> Switchboard {
        board(&[("mmg", 51, true), ("firetext", 49, false)], 50)
    }

    #[test]
    fn shares_start_at_the_resting_points_in_configuration_order() {
        let b = two();
        assert_eq!(
            b.shares(),
            vec![
                ProviderShare {
                    name: "mmg".into(),
                    priority: 51,
                    resting_point: 51,
                    supports_international: true,
                    active: true,
                },
                ProviderShare {
                    name: "firetext".into(),
                    priority: 49,
                    resting_point: 49,
                    supports_international: false,
                    active: true,
                },
            ]
        );
    }

    #[test]
    fn fifty_errors_do_not_switch_but_the_fifty_first_does() {
        let mut b = two();
        let t0 = 1_000_000;
        for i in 0..50 {
            assert!(!b.record_error(1, t0 + i * 100), "error {i} switched");
        }
        assert_eq!(priorities(&b), vec![51, 49]);
        assert!(b.record_error(1, t0 + 5_000));
        assert_eq!(priorities(&b), vec![61, 39]);
    }

    #[test]
    fn errors_older_than_the_window_do_not_count() {
        let mut b = two();
        let t0 = 1_000_000;
        assert!(!b.record_error(0, t0));
        for i in 0..49 {
            assert!(!b.record_error(0, t0 + 10_000 + i));
        }
        // 60 s after the first error: the first has left the window (50 counted).
        assert!(!b.record_error(0, t0 + MIN));
        assert_eq!(priorities(&b), vec![51, 49]);
        // One more inside the window of the rest: 51 within 60 s.
        assert!(b.record_error(0, t0 + MIN + 1));
        assert_eq!(priorities(&b), vec![41, 59]);
    }

    #[test]
    fn no_error_switch_within_a_minute_of_a_change_and_the_window_restarts_after_a_switch() {
        let mut b = board(&[("mmg", 50, false), ("firetext", 50, false)], 2);
        let t0 = 1_000_000;
        for i in 0..3 {
            b.record_error(0, t0 + i);
        }
        assert_eq!(priorities(&b), vec![40, 60]);
        // The error window of mmg was cleared: 2 more are not enough even later.
        assert!(!b.record_error(0, t0 + 2 * MIN));
        assert!(!b.record_error(0, t0 + 2 * MIN + 1));
        assert_eq!(priorities(&b), vec![40, 60]);
        // firetext fails hard 30 s after the change: held off.
        for i in 0..10 {
            assert!(!b.record_error(1, t0 + MIN / 2 + i));
        }
        assert_eq!(priorities(&b), vec![40, 60]);
        // Just before the minute is up: still held off.
        assert!(!b.record_error(1, t0 + MIN - 1));
        // Once the minute has passed the next error (the count is still over) moves traffic.
        assert!(b.record_error(1, t0 + MIN + 2));
        assert_eq!(priorities(&b), vec![50, 50]);
    }

    #[test]
    fn two_providers_clamp_to_0_and_100() {
        let mut b = board(&[("mmg", 95, false), ("firetext", 5, false)], 0);
        assert!(b.record_error(1, 0));
        assert_eq!(priorities(&b), vec![100, 0]);
        // Nothing left to move: no change.
        assert!(!b.record_error(1, 10 * MIN));
        assert_eq!(priorities(&b), vec![100, 0]);
        assert!(b.record_error(0, 20 * MIN));
        assert_eq!(priorities(&b), vec![90, 10]);
    }

    #[test]
    fn with_three_providers_the_points_are_spread_and_the_sum_kept() {
        let mut b = board(&[("a", 40, false), ("b", 30, false), ("c", 30, false)], 0);
        assert!(b.record_error(0, 0));
        assert_eq!(priorities(&b), vec![30, 35, 35]);
        assert!(b.record_error(1, 2 * MIN));
        assert_eq!(priorities(&b), vec![35, 25, 40]);
        let mut full = board(&[("a", 5, false), ("b", 100, false), ("c", 98, false)], 0);
        assert!(full.record_error(0, 0));
        assert_eq!(priorities(&full), vec![3, 100, 100]);
        assert_eq!(priorities(&full).iter().sum::<u32>(), 203);
    }

    #[test]
    fn a_single_provider_never_moves() {
        let mut b = board(&[("only", 100, false)], 0);
        assert!(!b.record_error(0, 0));
        assert_eq!(priorities(&b), vec![100]);
    }

    #[test]
    fn drift_moves_back_a_step_at_a_time_after_a_quiet_spell() {
        let mut b = board(&[("mmg", 51, false), ("firetext", 49, false)], 0);
        let t0 = 10_000_000;
        b.record_error(0, t0);
        b.record_error(0, t0 + 2 * MIN);
        b.record_error(0, t0 + 4 * MIN);
        assert_eq!(priorities(&b), vec![21, 79]);
        let last_change = t0 + 4 * MIN;
        // Not quiet for 15 minutes yet.
        assert!(!b.drift(last_change + 5 * MIN));
        assert!(!b.drift(last_change + 10 * MIN));
        assert_eq!(priorities(&b), vec![21, 79]);
        // Quiet long enough, but the last drift tick was less than 5 minutes ago.
        assert!(!b.drift(last_change + 15 * MIN - 1));
        assert!(!b.drift(last_change + 14 * MIN));
        assert_eq!(priorities(&b), vec![21, 79]);
        assert!(b.drift(last_change + 15 * MIN));
        assert_eq!(priorities(&b), vec![31, 69]);
        // A drift is a change: the next one needs another quiet spell.
        assert!(!b.drift(last_change + 20 * MIN));
        assert!(!b.drift(last_change + 25 * MIN));
        assert!(b.drift(last_change + 30 * MIN));
        assert_eq!(priorities(&b), vec![41, 59]);
        assert!(b.drift(last_change + 45 * MIN));
        // Does not pass the resting point.
        assert_eq!(priorities(&b), vec![51, 49]);
        assert!(!b.drift(last_change + 60 * MIN));
        assert_eq!(priorities(&b), vec![51, 49]);
    }

    #[test]
    fn drift_without_any_change_does_nothing() {
        let mut b = two();
        assert!(!b.drift(0));
        assert!(!b.drift(100 * MIN));
        assert_eq!(priorities(&b), vec![51, 49]);
    }

    #[test]
    fn pick_lays_weights_end_to_end() {
        let b = board(&[("a", 30, false), ("b", 0, true), ("c", 70, true)], 50);
        assert_eq!(b.pick(false, 0), Some(0));
        assert_eq!(b.pick(false, 29), Some(0));
        assert_eq!(b.pick(false, 30), Some(2));
        assert_eq!(b.pick(false, 99), Some(2));
        assert_eq!(b.pick(false, 100), Some(0));
        // b (priority 0) is never picked while another eligible one has a share.
        assert!((0..100).all(|r| b.pick(false, r) != Some(1)));
        // International: only b and c; b at 0, so always c.
        assert!((0..100).all(|r| b.pick(true, r) == Some(2)));
    }

    #[test]
    fn all_at_zero_is_uniform_among_the_eligible() {
        let b = board(&[("a", 0, false), ("b", 0, true), ("c", 0, true)], 50);
        assert_eq!(b.pick(false, 0), Some(0));
        assert_eq!(b.pick(false, 1), Some(1));
        assert_eq!(b.pick(false, 2), Some(2));
        assert_eq!(b.pick(true, 0), Some(1));
        assert_eq!(b.pick(true, 1), Some(2));
    }

    #[test]
    fn no_eligible_provider_is_none() {
        let b = board(&[("a", 50, false), ("b", 50, false)], 50);
        let mut rng = StdRng::seed_from_u64(7);
        assert_eq!(b.choose(true, &mut rng), None);
        assert_eq!(b.pick(true, 3), None);
        let empty = board(&[], 50);
        assert_eq!(empty.choose(false, &mut rng), None);
    }

    #[test]
    fn weighted_choice_follows_the_priorities() {
        let b = board(&[("mmg", 70, false), ("firetext", 30, false)], 50);
        let mut rng = StdRng::seed_from_u64(42);
        let mut counts = [0u32; 2];
        for _ in 0..20_000 {
            counts[b.choose(false, &mut rng).unwrap()] += 1;
        }
        // Expected 14 000 / 6 000; the standard deviation is about 65.
        assert!((13_600..=14_400).contains(&counts[0]), "{counts:?}");
        assert_eq!(counts[0] + counts[1], 20_000);
    }

    #[test]
    fn weighted_choice_uniform_when_all_are_zero() {
        let b = board(&[("a", 0, false), ("b", 0, false)], 50);
        let mut rng = StdRng::seed_from_u64(1);
        let mut counts = [0u32; 2];
        for _ in 0..10_000 {
            counts[b.choose(false, &mut rng).unwrap()] += 1;
        }
        assert!((4_700..=5_300).contains(&counts[0]), "{counts:?}");
    }

    #[test]
    fn priorities_above_100_are_capped() {
        let b = board(&[("a", 150, false)], 50);
        assert_eq!(priorities(&b), vec![100]);
        assert_eq!(b.shares()[0].resting_point, 100);
    }

    #[test]
    fn slow_delivery_moves_the_first_slow_provider_when_not_all_are_slow() {
        let mut b = two();
        let t0 = 10 * MIN;
        // All fast, or all slow: nothing moves.
        assert!(!b.record_slow(&[false, false], t0));
        assert!(!b.record_slow(&[true, true], t0));
        assert_eq!(priorities(&b), vec![51, 49]);
        assert!(b.record_slow(&[true, false], t0));
        assert_eq!(priorities(&b), vec![41, 59]);
        // Held off for 5 minutes after any change.
        assert!(!b.record_slow(&[true, false], t0 + 5 * MIN - 1));
        assert!(b.record_slow(&[true, false], t0 + 5 * MIN));
        assert_eq!(priorities(&b), vec![31, 69]);
        let changes = b.take_changes();
        assert_eq!(changes.len(), 4);
        assert_eq!(changes[2].name, "mmg");
        assert_eq!(changes[2].priority, 31);
        assert_eq!(changes[2].reason, "Reduced due to reduced reliability");
        assert!(b.take_changes().is_empty());
    }

    #[test]
    fn a_provider_switched_off_gets_nothing_and_does_not_move() {
        let mut b = board(&[("a", 50, false), ("b", 30, false), ("c", 20, false)], 0);
        assert!(b.set(1, None, Some(false), "maintenance", None, 0));
        assert!(!b.is_active(1));
        assert!((0..100).all(|r| b.pick(false, r) != Some(1)));
        // Error switching gives points to the active ones only.
        assert!(b.record_error(0, 2 * MIN));
        assert_eq!(priorities(&b), vec![40, 30, 30]);
        // A slow provider among active ones; b (off) is not counted as fast or slow.
        assert!(!b.record_slow(&[true, false, true], 10 * MIN));
        // Drift leaves it alone.
        assert!(b.drift(60 * MIN));
        assert_eq!(priorities(&b), vec![50, 30, 20]);
        let changes = b.take_changes();
        assert_eq!(changes[0].reason, "maintenance");
        assert!(!changes[0].active);
    }

    #[test]
    fn setting_by_hand_is_a_change_and_restoring_is_not() {
        let mut b = two();
        let who = uuid::Uuid::new_v4();
        assert!(b.set(0, Some(80), None, "more to mmg", Some(who), 1_000));
        assert!(!b.set(0, Some(80), None, "again", Some(who), 2_000));
        assert_eq!(priorities(&b), vec![80, 49]);
        let changes = b.take_changes();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].by, Some(who));
        // Drift waits for a quiet spell after a change by hand.
        assert!(!b.drift(1_000 + 10 * MIN));
        let mut fresh = two();
        fresh.restore(1, 150, false);
        assert_eq!(priorities(&fresh), vec![51, 100]);
        assert!(!fresh.is_active(1));
        assert!(fresh.take_changes().is_empty());
    }
}
