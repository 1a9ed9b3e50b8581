//! Text-message providers' shares of traffic as last set, with every earlier share, so a
//! restart keeps what switching, drift or a person decided.

use redb::ReadableTable;

use crate::codec::{decode, encode};
use crate::entities::Reader;
use crate::error::Result;
use crate::records::SmsProviderShare;
use crate::tables::{SMS_PROVIDER_SHARE_HISTORY, SMS_PROVIDER_SHARES};
use crate::writer::WriteCtx;

impl WriteCtx<'_> {
    pub fn get_sms_provider_share(&self, name: &str) -> Result<Option<SmsProviderShare>> {
        match self.tables.sms_provider_shares.get(name)? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    /// Save a provider's share as its current one and in its history (under its version).
    pub fn put_sms_provider_share(&mut self, share: &SmsProviderShare) -> Result<()> {
        let bytes = encode(share);
        self.tables
            .sms_provider_shares
            .insert(share.name.as_str(), bytes.as_slice())?;
        self.tables
            .sms_provider_share_history
            .insert((share.name.as_str(), share.version), bytes.as_slice())?;
        Ok(())
    }
}

impl Reader {
    /// Every provider's saved share, by name.
    pub fn sms_provider_shares(&self) -> Result<Vec<SmsProviderShare>> {
        let mut out = Vec::new();
        for row in self.table(SMS_PROVIDER_SHARES)?.iter()? {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    /// A provider's shares, newest first, at most `limit`.
    pub fn sms_provider_share_history(
        &self,
        name: &str,
        limit: usize,
    ) -> Result<Vec<SmsProviderShare>> {
        let mut out = Vec::new();
        for row in self
            .table(SMS_PROVIDER_SHARE_HISTORY)?
            .range((name, 0u32)..=(name, u32::MAX))?
            .rev()
            .take(limit)
        {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }
}
