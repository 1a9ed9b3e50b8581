//! The pool of inbound numbers (texts people send to a service arrive on one of them): each
//! number once, found by id or by its digits in international form, which the server works
//! out (this crate knows nothing of phone numbers).

use redb::ReadableTable;
use uuid::Uuid;

use crate::codec::{decode, encode};
use crate::entities::{Reader, get_by_id};
use crate::error::{Result, StoreError};
use crate::records::InboundNumber;
use crate::tables::{INBOUND_NUMBER_IDS, INBOUND_NUMBERS};
use crate::writer::WriteCtx;

fn all_of(table: &impl ReadableTable<u128, &'static [u8]>) -> Result<Vec<InboundNumber>> {
    let mut out = Vec::new();
    for row in table.iter()? {
        out.push(decode(row?.1.value())?);
    }
    Ok(out)
}

impl WriteCtx<'_> {
    pub fn get_inbound_number(&self, id: Uuid) -> Result<Option<InboundNumber>> {
        get_by_id(&*self.tables.inbound_numbers, id)
    }

    /// The number whose digits (international form) are `digits`.
    pub fn inbound_number_by_digits(&self, digits: &str) -> Result<Option<InboundNumber>> {
        match self.tables.inbound_number_ids.get(digits)? {
            Some(id) => self.get_inbound_number(Uuid::from_u128(id.value())),
            None => Ok(None),
        }
    }

    /// Add a number to the pool under `digits`; a number already there is a conflict.
    pub fn insert_inbound_number(&mut self, n: &InboundNumber, digits: &str) -> Result<()> {
        if self.tables.inbound_number_ids.get(digits)?.is_some() {
            return Err(StoreError::Conflict(format!(
                "Inbound number {} is already in the pool",
                n.number
            )));
        }
        self.tables
            .inbound_number_ids
            .insert(digits, n.id.as_u128())?;
        self.put_inbound_number(n)
    }

    /// Save a changed number (its digits never change).
    pub fn put_inbound_number(&mut self, n: &InboundNumber) -> Result<()> {
        self.tables
            .inbound_numbers
            .insert(n.id.as_u128(), encode(n).as_slice())?;
        Ok(())
    }

    /// Every number, in id order.
    pub fn inbound_numbers(&self) -> Result<Vec<InboundNumber>> {
        all_of(&*self.tables.inbound_numbers)
    }
}

impl Reader {
    pub fn get_inbound_number(&self, id: Uuid) -> Result<Option<InboundNumber>> {
        get_by_id(&self.table(INBOUND_NUMBERS)?, id)
    }

    pub fn inbound_number_by_digits(&self, digits: &str) -> Result<Option<InboundNumber>> {
        match self.table(INBOUND_NUMBER_IDS)?.get(digits)? {
            Some(id) => self.get_inbound_number(Uuid::from_u128(id.value())),
            None => Ok(None),
        }
    }

    /// Every number, in id order.
    pub fn inbound_numbers(&self) -> Result<Vec<InboundNumber>> {
        all_of(&self.table(INBOUND_NUMBERS)?)
    }
}
