//! Bulk sends: which notification each row of a job became, and saved contact lists.
//!
//! A job's rows are turned into notifications a chunk per write. Each row's notification is
//! linked under `(job, row)` in the same write, so the link is the proof the row was done: a
//! chunk written twice (a retry, or a crash between the write and the progress note) adds nothing
//! the second time, and a crash never loses a row the job has not counted.

use std::ops::Bound;

use redb::ReadableTable;
use uuid::Uuid;

use crate::codec::{decode, encode};
use crate::entities::{Reader, get_by_id};
use crate::error::Result;
use crate::records::ContactList;
use crate::tables::{CONTACT_LISTS, JOB_ROWS, SERVICE_CONTACT_LISTS};
use crate::writer::WriteCtx;

impl WriteCtx<'_> {
    /// The notification made from this row of the job, if the row was done.
    pub fn job_row_notification(&self, job_id: Uuid, row: u32) -> Result<Option<Uuid>> {
        Ok(self
            .tables
            .job_rows
            .get((job_id.as_u128(), row))?
            .map(|v| Uuid::from_u128(v.value())))
    }

    /// Record that this row of the job became this notification.
    pub fn link_job_row(&mut self, job_id: Uuid, row: u32, notification_id: Uuid) -> Result<()> {
        self.tables
            .job_rows
            .insert((job_id.as_u128(), row), notification_id.as_u128())?;
        Ok(())
    }

    /// Store a contact list with its per-service listing row (creates or replaces).
    pub fn put_contact_list(&mut self, list: &ContactList) -> Result<()> {
        self.tables
            .contact_lists
            .insert(list.id.as_u128(), encode(list).as_slice())?;
        self.tables
            .service_contact_lists
            .insert((list.service_id.as_u128(), list.id.as_u128()), ())?;
        Ok(())
    }

    pub fn get_contact_list(&self, id: Uuid) -> Result<Option<ContactList>> {
        get_by_id(&*self.tables.contact_lists, id)
    }
}

impl Reader {
    /// The notifications of a job's rows from `from_row` on, in row order, at most `limit`:
    /// (row number, notification id).
    pub fn job_rows(&self, job_id: Uuid, from_row: u32, limit: usize) -> Result<Vec<(u32, Uuid)>> {
        let j = job_id.as_u128();
        let mut out = Vec::new();
        for row in self
            .table(JOB_ROWS)?
            .range((
                Bound::Included((j, from_row)),
                Bound::Included((j, u32::MAX)),
            ))?
            .take(limit)
        {
            let (k, v) = row?;
            out.push((k.value().1, Uuid::from_u128(v.value())));
        }
        Ok(out)
    }

    /// How many of a job's rows are notifications.
    pub fn job_row_count(&self, job_id: Uuid) -> Result<u64> {
        let j = job_id.as_u128();
        let mut n = 0;
        for row in self.table(JOB_ROWS)?.range((j, 0u32)..=(j, u32::MAX))? {
            row?;
            n += 1;
        }
        Ok(n)
    }

    pub fn get_contact_list(&self, id: Uuid) -> Result<Option<ContactList>> {
        get_by_id(&self.table(CONTACT_LISTS)?, id)
    }

    /// A service's contact lists (archived ones too), oldest first.
    pub fn service_contact_lists(&self, service_id: Uuid) -> Result<Vec<ContactList>> {
        let s = service_id.as_u128();
        let lists = self.table(CONTACT_LISTS)?;
        let mut out = Vec::new();
        for link in self
            .table(SERVICE_CONTACT_LISTS)?
            .range((s, 0u128)..=(s, u128::MAX))?
        {
            if let Some(v) = lists.get(link?.0.value().1)? {
                out.push(decode(v.value())?);
            }
        }
        Ok(out)
    }
}
