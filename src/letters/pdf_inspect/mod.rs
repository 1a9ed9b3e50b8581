//! A small PDF reader for precompiled letters: page geometry, where ink lands and which text
//! sits where. Upstream renders pages and inspects pixels; the appliance has no rasteriser, so
//! this interprets content streams (graphics state, paths, text, images, form XObjects and
//! annotation appearances) and keeps bounding boxes.
//!
//! Every coordinate leaving this module is in millimetres from the top-left corner of the page
//! as displayed (after `/Rotate`), the frame the letter specification is written in.
//!
//! The parts:
//! - `file` — [`PdfFile`]: loading with lopdf (encrypted and page-less files refused) and
//!   each page's box and rotation ([`PageGeometry`]).
//! - `objects` — following references, numbers, rectangles and inherited page attributes
//!   through lopdf's objects.
//! - `geometry` — [`Matrix`], [`Rect`] and [`PageGeometry`]: PDF space to the displayed page.
//! - `content` — [`Scanner`]: the content-stream interpreter that turns a page into
//!   [`PageContent`] (ink bounding boxes and [`TextGlyph`]s).
//! - `fonts` — what the interpreter needs of a font: codes, widths, ascent/descent, text.
//! - `encodings` — simple fonts' base encodings and Adobe glyph names.
//! - `cmap` — ToUnicode and embedded encoding CMaps.
//! - `text_lines` — glyphs to words and lines in an area, as PyMuPDF reads the address.
//!
//! Hostile files are bounded where they are read: stream sizes when the file loads
//! (`file`), content bytes, operators, glyphs, forms and annotations per page (`content`),
//! CMap size and entries (`cmap`), page-tree depth (`objects`). Going over a page's budget is
//! [`PdfError::TooComplex`], never a hang or a panic.

mod cmap;
mod content;
mod encodings;
mod file;
mod fonts;
mod geometry;
mod objects;
mod text_lines;

pub use content::{PageContent, Scanner, TextGlyph};
pub use file::PdfFile;
/// The test fixtures lay out Helvetica text with the widths the reader assumes.
#[cfg(test)]
pub(crate) use fonts::HELVETICA_ASCII;
pub use geometry::{Matrix, PageGeometry, Rect};
pub use text_lines::text_lines;

/// Millimetres in one PDF point.
pub const MM_PER_PT: f64 = 25.4 / 72.0;

/// Why a file (or one of its pages) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    #[error("not a readable PDF: {0}")]
    Unreadable(String),
    #[error("the PDF is encrypted")]
    Encrypted,
    #[error("the PDF has no pages")]
    NoPages,
    #[error("page {0} is missing or has no usable page box")]
    BadPage(u32),
    #[error("page {0} has more content than the validator will interpret")]
    TooComplex(u32),
}

#[cfg(test)]
mod tests;
