//! Letters returned to sender: the reports kept per service, and the archived rows a report may
//! concern (a letter can come back after retention has archived it).

use redb::ReadableTable;
use uuid::Uuid;

use crate::codec::{decode, encode};
use crate::entities::{Reader, get_by_id};
use crate::error::Result;
use crate::records::{NotificationHistory, ReturnedLetter};
use crate::tables::RETURNED_LETTERS;
use crate::writer::WriteCtx;

impl WriteCtx<'_> {
    pub fn get_returned_letter(
        &self,
        service_id: Uuid,
        notification_id: Uuid,
    ) -> Result<Option<ReturnedLetter>> {
        match self
            .tables
            .returned_letters
            .get((service_id.as_u128(), notification_id.as_u128()))?
        {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    pub fn put_returned_letter(&mut self, r: &ReturnedLetter) -> Result<()> {
        self.tables.returned_letters.insert(
            (r.service_id.as_u128(), r.notification_id.as_u128()),
            encode(r).as_slice(),
        )?;
        Ok(())
    }

    pub fn get_notification_history(&self, id: Uuid) -> Result<Option<NotificationHistory>> {
        get_by_id(&*self.tables.notification_history, id)
    }
}

impl Reader {
    /// A service's returned letters, in notification (creation) order.
    pub fn returned_letters(&self, service_id: Uuid) -> Result<Vec<ReturnedLetter>> {
        let s = service_id.as_u128();
        let mut out = Vec::new();
        for row in self
            .table(RETURNED_LETTERS)?
            .range((s, 0u128)..=(s, u128::MAX))?
        {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }
}
