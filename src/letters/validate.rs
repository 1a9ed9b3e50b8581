//! Precompiled letter validation (spec §1.4): the checks template-preview makes before a letter
//! uploaded as a PDF may be printed, in the same order, with the same failure messages.
//!
//! Upstream renders every page, paints the allowed areas white and fails any page with a pixel
//! that is not white. Here [`super::pdf_inspect`] first interprets the content streams and
//! keeps the bounding boxes of what is painted: a page whose boxes all sit inside the allowed
//! areas cannot have ink outside them. Boxes overstate ink (a white fill in a colour space the
//! reader does not judge, a scanned page whose image has white margins), so a page the boxes
//! flag is rendered ([`super::raster`]) and its pixels decide, as upstream's do. Text (the
//! address, the NOTIFY tag) is read from the content streams, NFKD-normalised as upstream.

use std::panic::{AssertUnwindSafe, catch_unwind};

use unicode_normalization::UnicodeNormalization;

use super::pdf_inspect::{PageContent, PdfError, PdfFile, Rect, text_lines};
use super::raster::Rasteriser;
use crate::domain::recipients::{AddressError, PostalAddress, validate_postal_address};

/// DVLA prints at most ten pages (five sheets, double-sided) per letter.
pub const MAX_PAGES: u32 = 10;

/// Outcome of validating a precompiled letter; `message` strings are the upstream contract.
#[derive(Debug, Clone, PartialEq)]
pub enum Validation {
    Passed {
        page_count: u32,
        address: PostalAddress,
    },
    Failed {
        message: &'static str,
        /// `None` when the file could not be read at all (upstream's `null`).
        invalid_pages: Option<Vec<u32>>,
        page_count: Option<u32>,
    },
}

const A4_WIDTH_MM: f64 = 210.0;
const A4_HEIGHT_MM: f64 = 297.0;
const SIZE_TOLERANCE_MM: f64 = 2.0;
/// Upstream widens every allowed area by 1 mm so anti-aliased edges do not fail letters.
const ALLOWED_AREA_MARGIN_MM: f64 = 1.0;
/// The address is read from the window widened by 3 mm, to catch text that slightly overhangs.
const ADDRESS_READ_MARGIN_MM: f64 = 3.0;
/// Smallest piece of a mark outside the allowed areas that counts (float noise below it).
const OUTSIDE_EPSILON_MM: f64 = 0.01;

const fn area(x0: f64, y0: f64, x1: f64, y1: f64) -> Rect {
    Rect { x0, y0, x1, y1 }
}

/// Printable box of every page (margins 15 mm left and right, 5 mm top and bottom).
const PRINTABLE: Rect = area(15.0, 5.0, 195.0, 292.0);
/// Page 1: the body may start only at 95 mm; above it, three areas may be used.
const FIRST_PAGE_BODY: Rect = area(15.0, 95.0, 195.0, 292.0);
const LOGO: Rect = area(15.0, 5.0, 125.0, 30.0);
const SERVICE_ADDRESS: Rect = area(125.0, 5.0, 195.0, 95.0);
const ADDRESS_WINDOW: Rect = area(24.6, 39.5, 120.0, 66.3);
/// Where a sanitised letter carries its "NOTIFY" tag (6 pt Arial at 7.4 mm, 4.3 mm; upstream
/// reads it with a 5 mm / 3 mm margin around the tag's own extent of about 7.8 × 2.5 mm).
const NOTIFY_TAG: Rect = area(2.4, 1.3, 20.2, 9.8);
const NOTIFY_TAG_TEXT: &str = "NOTIFY";

/// Validate a precompiled letter. Pure and synchronous (callers use `spawn_blocking`); never
/// panics: anything unexpected while reading the file is `unable-to-read-the-file`, as upstream.
pub fn validate_precompiled(pdf: &[u8], allow_international: bool) -> Validation {
    catch_unwind(AssertUnwindSafe(|| check(pdf, allow_international)))
        .unwrap_or_else(|_| unreadable())
}

/// The text found in page 1's address window (x 24.6–120 mm, y 39.5–66.3 mm from the top-left,
/// widened by 3 mm), one entry per line, top to bottom, NFKD-normalised.
pub fn address_lines_in_window(pdf: &[u8]) -> Result<Vec<String>, PdfError> {
    catch_unwind(AssertUnwindSafe(|| {
        let file = PdfFile::parse(pdf)?;
        let page = file.scanner().scan_page(0)?;
        Ok(address_lines(&page))
    }))
    .unwrap_or_else(|_| Err(PdfError::Unreadable("the reader failed".to_string())))
}

fn failed(message: &'static str, invalid_pages: Vec<u32>, page_count: Option<u32>) -> Validation {
    Validation::Failed {
        message,
        invalid_pages: Some(invalid_pages),
        page_count,
    }
}

/// Upstream answers a file it cannot read with no pages and no page count.
fn unreadable() -> Validation {
    Validation::Failed {
        message: "unable-to-read-the-file",
        invalid_pages: None,
        page_count: None,
    }
}

/// The address as upstream reads it: NFKD turns compatibility characters into their plain
/// equivalents (ligatures such as ﬁ become "fi", full-width letters plain ones).
fn address_lines(first_page: &PageContent) -> Vec<String> {
    text_lines(
        &first_page.glyphs,
        &ADDRESS_WINDOW.widen(ADDRESS_READ_MARGIN_MM),
    )
    .into_iter()
    .map(|line| line.nfkd().collect())
    .collect()
}

/// The areas of a page where ink is allowed, widened by upstream's 1 mm.
fn allowed_areas(number: u32) -> Vec<Rect> {
    let areas: &[Rect] = if number == 1 {
        &[FIRST_PAGE_BODY, LOGO, SERVICE_ADDRESS, ADDRESS_WINDOW]
    } else {
        &[PRINTABLE]
    };
    areas
        .iter()
        .map(|a| a.widen(ALLOWED_AREA_MARGIN_MM))
        .collect()
}

/// Of the pages whose marks' boxes reach outside the allowed areas, those whose pixels do.
/// A file the rasteriser cannot open keeps the boxes' verdict; a page it cannot render counts
/// as outside (upstream fails a page it cannot judge).
fn pages_with_ink_outside(pdf: &[u8], flagged: Vec<u32>) -> Vec<u32> {
    if flagged.is_empty() {
        return flagged;
    }
    let Ok(raster) = Rasteriser::open(pdf) else {
        return flagged;
    };
    flagged
        .into_iter()
        .filter(|&number| {
            let index = (number - 1) as usize;
            raster
                .ink_outside(index, &allowed_areas(number))
                .unwrap_or(true)
        })
        .collect()
}

fn check(pdf: &[u8], allow_international: bool) -> Validation {
    let Ok(file) = PdfFile::parse(pdf) else {
        return unreadable();
    };
    let Ok(page_count) = u32::try_from(file.page_count()) else {
        return unreadable();
    };
    if page_count > MAX_PAGES {
        // Upstream raises this one without pages: `invalid_pages` is null.
        return Validation::Failed {
            message: "letter-too-long",
            invalid_pages: None,
            page_count: Some(page_count),
        };
    }

    let mut not_a4 = Vec::new();
    for (index, number) in (1..=page_count).enumerate() {
        match file.geometry(index) {
            Ok(geometry)
                if is_a4_portrait(
                    geometry.box_width_mm(),
                    geometry.box_height_mm(),
                    geometry.rotate,
                ) => {}
            Ok(_) => not_a4.push(number),
            Err(_) => return unreadable(),
        }
    }
    if !not_a4.is_empty() {
        return failed("letter-not-a4-portrait-oriented", not_a4, Some(page_count));
    }

    let mut scanner = file.scanner();
    let mut first_page = PageContent::default();
    let mut outside = Vec::new();
    let mut tagged = Vec::new();
    for (index, number) in (1..=page_count).enumerate() {
        let Ok(page) = scanner.scan_page(index) else {
            return unreadable();
        };
        let allowed = allowed_areas(number);
        if page.marks.iter().any(|m| !is_covered(m, &allowed)) {
            outside.push(number);
        }
        // Pages after the first must not carry the tag of a letter Notify already sent: DVLA's
        // software reads it as the start of a new letter.
        if number > 1 && text_lines(&page.glyphs, &NOTIFY_TAG).join("\n") == NOTIFY_TAG_TEXT {
            tagged.push(number);
        }
        if number == 1 {
            first_page = page;
        }
    }
    let outside = pages_with_ink_outside(pdf, outside);
    if !outside.is_empty() {
        return failed("content-outside-printable-area", outside, Some(page_count));
    }
    if !tagged.is_empty() {
        return failed("notify-tag-found-in-content", tagged, Some(page_count));
    }

    let lines = address_lines(&first_page);
    if lines.iter().all(|l| l.trim().is_empty()) {
        return failed("address-is-empty", vec![1], Some(page_count));
    }
    match validate_postal_address(&lines, allow_international) {
        Ok(address) => Validation::Passed {
            page_count,
            address,
        },
        Err(error) => failed(
            address_error_code(&lines, error, allow_international),
            vec![1],
            Some(page_count),
        ),
    }
}

/// Upstream's `_is_page_A4_portrait`: ±2 mm, landscape media only when rotated a quarter turn.
fn is_a4_portrait(width: f64, height: f64, rotate: Option<u16>) -> bool {
    let close = |a: f64, b: f64| (a - b).abs() <= SIZE_TOLERANCE_MM;
    match rotate {
        Some(0 | 180) => close(width, A4_WIDTH_MM) && close(height, A4_HEIGHT_MM),
        Some(90 | 270) => close(width, A4_HEIGHT_MM) && close(height, A4_WIDTH_MM),
        _ => false,
    }
}

/// True when no part of `mark` (beyond float noise) lies outside the union of `allowed`.
fn is_covered(mark: &Rect, allowed: &[Rect]) -> bool {
    let mut pieces = vec![*mark];
    for area in allowed {
        pieces = pieces
            .into_iter()
            .flat_map(|piece| subtract(piece, area))
            .collect();
        if pieces.is_empty() {
            return true;
        }
    }
    pieces
        .iter()
        .all(|p| p.width() <= OUTSIDE_EPSILON_MM || p.height() <= OUTSIDE_EPSILON_MM)
}

/// The parts of `piece` outside `hole`, as up to four rectangles.
fn subtract(piece: Rect, hole: &Rect) -> Vec<Rect> {
    let Some(common) = piece.intersect(hole) else {
        return vec![piece];
    };
    let mut out = Vec::with_capacity(4);
    if piece.y0 < common.y0 {
        out.push(Rect {
            y1: common.y0,
            ..piece
        });
    }
    if common.y1 < piece.y1 {
        out.push(Rect {
            y0: common.y1,
            ..piece
        });
    }
    if piece.x0 < common.x0 {
        out.push(Rect {
            x1: common.x0,
            y0: common.y0,
            y1: common.y1,
            ..piece
        });
    }
    if common.x1 < piece.x1 {
        out.push(Rect {
            x0: common.x1,
            y0: common.y0,
            y1: common.y1,
            ..piece
        });
    }
    out
}

/// The upstream message for an address failure. `validate_postal_address` reports a country on
/// the last line without the international permission as `NotUkPostcode`; upstream says
/// `cant-send-international-letters` when the address would pass that check with the permission.
fn address_error_code(
    lines: &[String],
    error: AddressError,
    allow_international: bool,
) -> &'static str {
    match error {
        AddressError::TooFewLines => "not-enough-address-lines",
        AddressError::TooManyLines => "too-many-address-lines",
        AddressError::FirstTwoLinesNotAlphanumeric => "invalid-address-line-1-or-2",
        AddressError::BfpoWithCountry => "has-country-for-bfpo-address",
        AddressError::NotPostcodeOrCountry => "not-a-real-uk-postcode-or-country",
        AddressError::NotUkPostcode => {
            let international = !allow_international
                && match validate_postal_address(lines, true) {
                    Ok(address) => address.international,
                    // Checks made after the last line's: it passed with the permission.
                    Err(AddressError::InvalidFirstCharacter | AddressError::NoFixedAbode) => true,
                    Err(_) => false,
                };
            if international {
                "cant-send-international-letters"
            } else {
                "not-a-real-uk-postcode"
            }
        }
        AddressError::InvalidFirstCharacter => "invalid-char-in-address",
        AddressError::NoFixedAbode => "no-fixed-abode-address",
    }
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
