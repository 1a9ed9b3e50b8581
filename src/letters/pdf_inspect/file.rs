//! The file: loading a PDF with lopdf and reading each page's box and rotation.

use lopdf::{Dictionary, Document, LoadOptions, ObjectId};

use super::PdfError;
use super::content::Scanner;
use super::geometry::{PageGeometry, Rect};
use super::objects::{inherited, read_box, resolve};

/// Largest size any stream may decode to while the file loads (object and xref streams).
const MAX_LOAD_STREAM_BYTES: usize = 32 << 20;

/// A parsed, unencrypted PDF with at least one page.
pub struct PdfFile {
    pub(super) doc: Document,
    pages: Vec<ObjectId>,
}

impl PdfFile {
    pub fn parse(bytes: &[u8]) -> Result<Self, PdfError> {
        let options = LoadOptions {
            max_decompressed_size: Some(MAX_LOAD_STREAM_BYTES),
            ..LoadOptions::default()
        };
        let doc = Document::load_mem_with_options(bytes, options)
            .map_err(|e| PdfError::Unreadable(e.to_string()))?;
        // Upstream cannot read encrypted files either, even ones with an empty user password.
        if doc.trailer.has(b"Encrypt") || doc.was_encrypted() {
            return Err(PdfError::Encrypted);
        }
        let pages: Vec<ObjectId> = doc.page_iter().collect();
        if pages.is_empty() {
            return Err(PdfError::NoPages);
        }
        Ok(Self { doc, pages })
    }

    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    pub(super) fn page(&self, index: usize) -> Result<(ObjectId, &Dictionary), PdfError> {
        let number = page_number(index);
        let id = *self.pages.get(index).ok_or(PdfError::BadPage(number))?;
        let dict = self
            .doc
            .get_dictionary(id)
            .map_err(|_| PdfError::BadPage(number))?;
        Ok((id, dict))
    }

    pub fn geometry(&self, index: usize) -> Result<PageGeometry, PdfError> {
        let (_, page) = self.page(index)?;
        let doc = &self.doc;
        let media = inherited(doc, page, b"MediaBox")
            .and_then(|o| read_box(doc, o))
            .filter(|b| b[2] > b[0] && b[3] > b[1])
            .ok_or(PdfError::BadPage(page_number(index)))?;
        let crop = inherited(doc, page, b"CropBox").and_then(|o| read_box(doc, o));
        let box_pt = crop
            .and_then(|c| {
                Rect::new(c[0], c[1], c[2], c[3])
                    .intersect(&Rect::new(media[0], media[1], media[2], media[3]))
            })
            .map_or(media, |r| [r.x0, r.y0, r.x1, r.y1]);
        let rotate = match inherited(doc, page, b"Rotate").and_then(|o| resolve(doc, o)) {
            None => Some(0),
            Some(o) => o
                .as_i64()
                .ok()
                .map(|r| r.rem_euclid(360))
                .filter(|r| r % 90 == 0)
                .and_then(|r| u16::try_from(r).ok()),
        };
        Ok(PageGeometry { box_pt, rotate })
    }

    /// An interpreter for this file's pages.
    pub fn scanner(&self) -> Scanner<'_> {
        Scanner::new(self)
    }
}

/// The 1-based page number errors name.
pub(super) fn page_number(index: usize) -> u32 {
    u32::try_from(index).map_or(u32::MAX, |i| i.saturating_add(1))
}
