//! The print run's records: response files from the printer, applied once each.

use redb::ReadableTable;

use crate::codec::{decode, encode};
use crate::entities::Reader;
use crate::error::Result;
use crate::records::PrintResponseFile;
use crate::tables::PRINT_RESPONSE_FILES;
use crate::writer::WriteCtx;

impl WriteCtx<'_> {
    pub fn get_print_response_file(&self, name: &str) -> Result<Option<PrintResponseFile>> {
        match self.tables.print_response_files.get(name)? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    pub fn put_print_response_file(&mut self, file: &PrintResponseFile) -> Result<()> {
        self.tables
            .print_response_files
            .insert(file.name.as_str(), encode(file).as_slice())?;
        Ok(())
    }
}

impl Reader {
    /// Every response file applied, in name (= time) order.
    pub fn print_response_files(&self) -> Result<Vec<PrintResponseFile>> {
        let mut out = Vec::new();
        for row in self.table(PRINT_RESPONSE_FILES)?.iter()? {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    pub fn get_print_response_file(&self, name: &str) -> Result<Option<PrintResponseFile>> {
        match self.table(PRINT_RESPONSE_FILES)?.get(name)? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }
}
