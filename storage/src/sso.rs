//! Single sign-on's short-lived state ([`SsoRecord`]): put when a sign-in is sent to the
//! identity provider, taken (read and removed in the same write, so it works once) when the
//! provider sends the person back. The rules live in the server's
//! `domain::accounts::oidc`; keys are SHA-256 hashes computed by the caller.

use redb::ReadableTable;

use crate::codec::{decode, encode};
use crate::error::Result;
use crate::records::SsoRecord;
use crate::writer::WriteCtx;

impl WriteCtx<'_> {
    pub fn put_sso_record(&mut self, hash: &[u8], record: &SsoRecord) -> Result<()> {
        self.tables
            .sso_states
            .insert(hash, encode(record).as_slice())?;
        Ok(())
    }

    /// The record under `hash`, removed: a second take of the same hash finds nothing.
    pub fn take_sso_record(&mut self, hash: &[u8]) -> Result<Option<SsoRecord>> {
        match self.tables.sso_states.remove(hash)? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    /// Delete records that expired before `micros`; answers how many.
    pub fn delete_sso_records_expired_before(&mut self, micros: i64) -> Result<usize> {
        let mut old = Vec::new();
        for row in self.tables.sso_states.iter()? {
            let (k, v) = row?;
            let record: SsoRecord = decode(v.value())?;
            if record.expires_at() < micros {
                old.push(k.value().to_vec());
            }
        }
        for hash in &old {
            self.tables.sso_states.remove(hash.as_slice())?;
        }
        Ok(old.len())
    }
}

#[cfg(test)]
mod tests {
    use crate::records::SsoRecord;
    use crate::{Store, StoreOptions};

    #[test]
    fn a_record_is_taken_once_and_expired_ones_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let attempt = SsoRecord::Attempt {
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            expires_at: 2_000_000,
        };
        let mark = SsoRecord::PendingSession {
            provider: "Entra ID".into(),
            expires_at: 5_000_000,
        };
        let (a, m) = (attempt.clone(), mark.clone());
        store
            .write_blocking(move |ctx| {
                ctx.put_sso_record(b"state-hash", &a)?;
                ctx.put_sso_record(b"session-hash", &m)
            })
            .unwrap();
        let first = store
            .write_blocking(|ctx| ctx.take_sso_record(b"state-hash"))
            .unwrap();
        assert_eq!(first, Some(attempt));
        let again = store
            .write_blocking(|ctx| ctx.take_sso_record(b"state-hash"))
            .unwrap();
        assert_eq!(again, None);
        let deleted = store
            .write_blocking(|ctx| ctx.delete_sso_records_expired_before(3_000_000))
            .unwrap();
        assert_eq!(deleted, 0);
        let deleted = store
            .write_blocking(|ctx| ctx.delete_sso_records_expired_before(6_000_000))
            .unwrap();
        assert_eq!(deleted, 1);
        let gone = store
            .write_blocking(|ctx| ctx.take_sso_record(b"session-hash"))
            .unwrap();
        assert_eq!(gone, None);
    }
}
