//! The audit trail: append-only events keyed by uuid v7 (so they are time-ordered and an append
//! dirties only the right-hand edge of the tree), with a per-service listing. Nothing changes
//! or removes an event except its retention ([`WriteCtx::purge_audit_events_before`]).

use redb::{ReadableTable, ReadableTableMetadata};
use uuid::Uuid;

use crate::codec::{decode, encode};
use crate::entities::{Reader, get_by_id};
use crate::error::{Result, StoreError};
use crate::records::AuditEvent;
use crate::tables::{AUDIT_EVENTS, SERVICE_AUDIT_EVENTS};
use crate::writer::WriteCtx;

impl WriteCtx<'_> {
    /// Append an event (in the same transaction as the change it records). An id already
    /// taken is refused: the trail is never rewritten.
    pub fn append_audit_event(&mut self, e: &AuditEvent) -> Result<()> {
        let id = e.id.as_u128();
        if self.tables.audit_events.get(id)?.is_some() {
            return Err(StoreError::Conflict(format!(
                "audit event {} already exists",
                e.id
            )));
        }
        self.tables.audit_events.insert(id, encode(e).as_slice())?;
        if let Some(service) = e.service_id {
            self.tables
                .service_audit_events
                .insert((service.as_u128(), id), ())?;
        }
        Ok(())
    }

    /// Remove up to `max` of the oldest events whose id is below `before` (a uuid v7 floor,
    /// so "created before" a time); answers how many went.
    pub fn purge_audit_events_before(&mut self, before: Uuid, max: usize) -> Result<usize> {
        let old: Vec<AuditEvent> = {
            let mut out = Vec::new();
            for row in self
                .tables
                .audit_events
                .range(..before.as_u128())?
                .take(max)
            {
                out.push(decode(row?.1.value())?);
            }
            out
        };
        for e in &old {
            self.tables.audit_events.remove(e.id.as_u128())?;
            if let Some(service) = e.service_id {
                self.tables
                    .service_audit_events
                    .remove((service.as_u128(), e.id.as_u128()))?;
            }
        }
        Ok(old.len())
    }
}

impl Reader {
    /// Events newest first, strictly older than `before` when given, at most `limit`: of one
    /// service, or of every service and none (platform-wide) when `service_id` is `None`.
    pub fn audit_events(
        &self,
        service_id: Option<Uuid>,
        before: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>> {
        let upper = before.map_or(u128::MAX, |b| b.as_u128().saturating_sub(1));
        let events = self.table(AUDIT_EVENTS)?;
        let mut out = Vec::new();
        match service_id {
            None => {
                for row in events.range(..=upper)?.rev().take(limit) {
                    out.push(decode(row?.1.value())?);
                }
            }
            Some(s) => {
                let s = s.as_u128();
                for row in self
                    .table(SERVICE_AUDIT_EVENTS)?
                    .range((s, 0)..=(s, upper))?
                    .rev()
                    .take(limit)
                {
                    let id = Uuid::from_u128(row?.0.value().1);
                    if let Some(e) = get_by_id(&events, id)? {
                        out.push(e);
                    }
                }
            }
        }
        Ok(out)
    }

    pub fn audit_event_count(&self) -> Result<u64> {
        Ok(self.table(AUDIT_EVENTS)?.len()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::v7_at_micros;
    use crate::{ManualClock, Store, StoreOptions};

    fn event(micros: i64, service: Option<Uuid>, action: &str) -> AuditEvent {
        AuditEvent {
            id: v7_at_micros(micros),
            created_at: micros,
            actor_kind: "operator".into(),
            actor_id: None,
            actor_name: "Operator".into(),
            action: action.into(),
            service_id: service,
            subject_id: None,
            address: None,
            details: "{}".into(),
        }
    }

    #[test]
    fn events_list_newest_first_per_service_and_purge_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap());
        let store = Store::open(
            dir.path(),
            StoreOptions {
                clock,
                ..Default::default()
            },
        )
        .unwrap();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let events = vec![
            event(1_000_000, Some(a), "one"),
            event(2_000_000, Some(b), "two"),
            event(3_000_000, None, "three"),
            event(4_000_000, Some(a), "four"),
        ];
        let to_write = events.clone();
        store
            .write_blocking(move |ctx| {
                for e in &to_write {
                    ctx.append_audit_event(e)?;
                }
                Ok(())
            })
            .unwrap();
        let again = events[0].clone();
        let refused = store.write_blocking(move |ctx| ctx.append_audit_event(&again));
        assert!(matches!(refused, Err(StoreError::Conflict(_))));

        let r = store.read().unwrap();
        let actions =
            |list: Vec<AuditEvent>| list.into_iter().map(|e| e.action).collect::<Vec<_>>();
        assert_eq!(
            actions(r.audit_events(None, None, 10).unwrap()),
            ["four", "three", "two", "one"]
        );
        assert_eq!(
            actions(r.audit_events(Some(a), None, 10).unwrap()),
            ["four", "one"]
        );
        assert_eq!(
            actions(r.audit_events(None, Some(events[2].id), 10).unwrap()),
            ["two", "one"]
        );
        assert_eq!(actions(r.audit_events(None, None, 1).unwrap()), ["four"]);
        drop(r);

        let floor = crate::clock::v7_floor(3_000);
        let purged = store
            .write_blocking(move |ctx| ctx.purge_audit_events_before(floor, 1))
            .unwrap();
        assert_eq!(purged, 1, "at most max");
        let purged = store
            .write_blocking(move |ctx| ctx.purge_audit_events_before(floor, 10))
            .unwrap();
        assert_eq!(purged, 1);
        let r = store.read().unwrap();
        assert_eq!(
            actions(r.audit_events(None, None, 10).unwrap()),
            ["four", "three"]
        );
        assert_eq!(
            actions(r.audit_events(Some(a), None, 10).unwrap()),
            ["four"]
        );
        assert!(r.audit_events(Some(b), None, 10).unwrap().is_empty());
        drop(r);
        store.close();
    }
}
