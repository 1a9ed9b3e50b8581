//! One-click unsubscribe requests (RFC 8058) per service, the reports they are batched into,
//! and which templates carry the appliance's own unsubscribe link.

use redb::ReadableTable;
use uuid::Uuid;

use crate::codec::{decode, encode};
use crate::entities::Reader;
use crate::error::Result;
use crate::records::{UnsubscribeRequest, UnsubscribeRequestReport};
use crate::tables::{
    NOTIFICATION_UNSUBSCRIBE_REQUESTS, TEMPLATE_UNSUBSCRIBE_LINKS, UNSUBSCRIBE_REPORTS,
    UNSUBSCRIBE_REQUESTS,
};
use crate::writer::WriteCtx;

/// A service's rows of a table keyed (service id, record id), oldest id first.
fn of_service<T: serde::de::DeserializeOwned>(
    table: &impl ReadableTable<(u128, u128), &'static [u8]>,
    service_id: Uuid,
) -> Result<Vec<T>> {
    let s = service_id.as_u128();
    let mut out = Vec::new();
    for row in table.range((s, 0u128)..=(s, u128::MAX))? {
        out.push(decode(row?.1.value())?);
    }
    Ok(out)
}

fn one_of<T: serde::de::DeserializeOwned>(
    table: &impl ReadableTable<(u128, u128), &'static [u8]>,
    service_id: Uuid,
    id: Uuid,
) -> Result<Option<T>> {
    match table.get((service_id.as_u128(), id.as_u128()))? {
        Some(v) => Ok(Some(decode(v.value())?)),
        None => Ok(None),
    }
}

impl WriteCtx<'_> {
    /// The request made through a notification's link, if there is one.
    pub fn unsubscribe_request_for_notification(
        &self,
        notification_id: Uuid,
    ) -> Result<Option<UnsubscribeRequest>> {
        let Some(key) = self
            .tables
            .notification_unsubscribe_requests
            .get(notification_id.as_u128())?
            .map(|v| v.value())
        else {
            return Ok(None);
        };
        match self.tables.unsubscribe_requests.get(key)? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    /// Save a request (new or changed), findable by its notification.
    pub fn put_unsubscribe_request(&mut self, r: &UnsubscribeRequest) -> Result<()> {
        let key = (r.service_id.as_u128(), r.id.as_u128());
        self.tables
            .unsubscribe_requests
            .insert(key, encode(r).as_slice())?;
        self.tables
            .notification_unsubscribe_requests
            .insert(r.notification_id.as_u128(), key)?;
        Ok(())
    }

    /// Remove a request (and its notification's link to it).
    pub fn delete_unsubscribe_request(&mut self, r: &UnsubscribeRequest) -> Result<()> {
        self.tables
            .unsubscribe_requests
            .remove((r.service_id.as_u128(), r.id.as_u128()))?;
        let links_here = self
            .tables
            .notification_unsubscribe_requests
            .get(r.notification_id.as_u128())?
            .is_some_and(|v| v.value().1 == r.id.as_u128());
        if links_here {
            self.tables
                .notification_unsubscribe_requests
                .remove(r.notification_id.as_u128())?;
        }
        Ok(())
    }

    /// A service's requests, oldest first.
    pub fn service_unsubscribe_requests(
        &self,
        service_id: Uuid,
    ) -> Result<Vec<UnsubscribeRequest>> {
        of_service(&*self.tables.unsubscribe_requests, service_id)
    }

    pub fn get_unsubscribe_report(
        &self,
        service_id: Uuid,
        id: Uuid,
    ) -> Result<Option<UnsubscribeRequestReport>> {
        one_of(&*self.tables.unsubscribe_reports, service_id, id)
    }

    pub fn put_unsubscribe_report(&mut self, r: &UnsubscribeRequestReport) -> Result<()> {
        self.tables.unsubscribe_reports.insert(
            (r.service_id.as_u128(), r.id.as_u128()),
            encode(r).as_slice(),
        )?;
        Ok(())
    }

    pub fn delete_unsubscribe_report(&mut self, service_id: Uuid, id: Uuid) -> Result<()> {
        self.tables
            .unsubscribe_reports
            .remove((service_id.as_u128(), id.as_u128()))?;
        Ok(())
    }

    /// A service's reports, oldest first.
    pub fn service_unsubscribe_reports(
        &self,
        service_id: Uuid,
    ) -> Result<Vec<UnsubscribeRequestReport>> {
        of_service(&*self.tables.unsubscribe_reports, service_id)
    }

    /// Mark whether a template's emails carry the appliance's unsubscribe link.
    pub fn set_template_unsubscribe_link(&mut self, template_id: Uuid, on: bool) -> Result<()> {
        if on {
            self.tables
                .template_unsubscribe_links
                .insert(template_id.as_u128(), ())?;
        } else {
            self.tables
                .template_unsubscribe_links
                .remove(template_id.as_u128())?;
        }
        Ok(())
    }
}

impl Reader {
    pub fn service_unsubscribe_requests(
        &self,
        service_id: Uuid,
    ) -> Result<Vec<UnsubscribeRequest>> {
        of_service(&self.table(UNSUBSCRIBE_REQUESTS)?, service_id)
    }

    pub fn service_unsubscribe_reports(
        &self,
        service_id: Uuid,
    ) -> Result<Vec<UnsubscribeRequestReport>> {
        of_service(&self.table(UNSUBSCRIBE_REPORTS)?, service_id)
    }

    pub fn get_unsubscribe_report(
        &self,
        service_id: Uuid,
        id: Uuid,
    ) -> Result<Option<UnsubscribeRequestReport>> {
        one_of(&self.table(UNSUBSCRIBE_REPORTS)?, service_id, id)
    }

    /// Whether the notification has an unsubscribe request.
    pub fn has_unsubscribe_request(&self, notification_id: Uuid) -> Result<bool> {
        Ok(self
            .table(NOTIFICATION_UNSUBSCRIBE_REQUESTS)?
            .get(notification_id.as_u128())?
            .is_some())
    }

    /// Whether a template's emails carry the appliance's unsubscribe link.
    pub fn template_has_unsubscribe_link(&self, template_id: Uuid) -> Result<bool> {
        Ok(self
            .table(TEMPLATE_UNSUBSCRIBE_LINKS)?
            .get(template_id.as_u128())?
            .is_some())
    }
}
