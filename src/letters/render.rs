//! Letter PDFs from templates: GOV.UK Notify's letter look, laid out to the printer's geometry.
//!
//! Rendering is two steps so the geometry can be tested without reading PDFs back: `layout`
//! positions every line (page, millimetres from the page's top-left), and the drawing step only
//! turns those lines into glyphs. We shape text ourselves (cmap lookup + `hmtx` advances, no
//! kerning or ligatures) and hand krilla the finished glyphs, so the widths the wrapper measured
//! are exactly the widths that get drawn; `draw_text` would shape again with kerning and could
//! disagree with our measurements.

use std::ops::Range;
use std::sync::LazyLock;

use krilla::Document;
use krilla::geom::Point;
use krilla::page::PageSettings;
use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::raw::{ReadError, TableProvider};
use skrifa::{FontRef, MetadataProvider};

/// A4 width; the page is portrait.
pub const A4_WIDTH_MM: f32 = 210.0;
/// A4 height.
pub const A4_HEIGHT_MM: f32 = 297.0;
/// The envelope window the recipient's address must sit in: (x0, y0, x1, y1) in mm from the
/// page's top-left. Anything outside it is hidden by the envelope or fails the printer's check.
pub const ADDRESS_WINDOW_MM: (f32, f32, f32, f32) = (24.6, 39.5, 120.0, 66.3);

/// The printer rejects any ink outside this box (x0, y0, x1, y1), on every page.
const PRINTABLE_MM: (f32, f32, f32, f32) = (15.0, 5.0, 195.0, 292.0);

const MM_PER_PT: f32 = 25.4 / 72.0;

/// Body text column. Kept a few millimetres inside the printable area so that side bearings
/// and rounding never push ink past the margin.
const BODY_LEFT_MM: f32 = 25.0;
const BODY_RIGHT_MM: f32 = 190.0;
/// Page 1's body must start below the address window and contact block.
const BODY_TOP_FIRST_MM: f32 = 95.0;
const BODY_TOP_LATER_MM: f32 = 20.0;
/// Body lines end here, well above the page number.
const BODY_BOTTOM_MM: f32 = 275.0;

const BODY_SIZE_PT: f32 = 11.0;
const BODY_LINE_MM: f32 = 5.0;
const SUBJECT_SIZE_PT: f32 = 14.0;
const SUBJECT_LINE_MM: f32 = 6.4;
const HEADING_SIZE_PT: f32 = 12.0;
const HEADING_LINE_MM: f32 = 5.6;
const PARAGRAPH_GAP_MM: f32 = 3.5;
const HEADING_AFTER_MM: f32 = 1.5;
const LIST_ITEM_GAP_MM: f32 = 1.0;
const BULLET_INDENT_MM: f32 = 5.0;
const NUMBER_INDENT_MM: f32 = 7.0;

/// Space kept between the window's edges and the address text.
const ADDRESS_PAD_X_MM: f32 = 1.4;
const ADDRESS_PAD_Y_MM: f32 = 0.5;
const ADDRESS_MAX_LINES: usize = 7;
const ADDRESS_MAX_LINE_MM: f32 = 4.4;
const ADDRESS_SIZES_PT: [f32; 7] = [11.0, 10.5, 10.0, 9.5, 9.0, 8.5, 8.0];

const CONTACT_LEFT_MM: f32 = 125.0;
const CONTACT_RIGHT_MM: f32 = 193.0;
const CONTACT_TOP_MM: f32 = 20.0;
const CONTACT_TOP_MIN_MM: f32 = 6.0;
const CONTACT_BOTTOM_MM: f32 = 94.0;
const CONTACT_SIZES_PT: [f32; 5] = [10.0, 9.5, 9.0, 8.5, 8.0];
/// Contact block line pitch, in ems.
const CONTACT_LINE_EM: f32 = 1.25;

const PAGE_NUMBER_SIZE_PT: f32 = 9.0;
const PAGE_NUMBER_BASELINE_MM: f32 = 285.0;

/// A QR code is drawn 5.25 body lines square (upstream: 16 pt × 5.25 = 84 pt, whatever the
/// amount of data), centred in the body column, with 1.25 lines above and 1.5 below.
const QR_SIZE_MM: f32 = 84.0 * MM_PER_PT;
const QR_GAP_ABOVE_MM: f32 = 20.0 * MM_PER_PT;
const QR_GAP_BELOW_MM: f32 = 24.0 * MM_PER_PT;

/// The logo box on page 1 (upstream: 70 × 18 mm at the top-left of the content area); the
/// image is scaled to fit it, keeping its proportions.
const LOGO_BOX_MM: (f32, f32, f32, f32) = (15.0, 10.0, 85.0, 28.0);

/// The language a letter (or one part of a bilingual letter) is printed in: the date and
/// the page numbers follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    English,
    Welsh,
}

impl Language {
    /// Upstream's `ENGLISH_TO_WELSH_MONTHS` applied to `%-d %B %Y`.
    pub fn date(self, date: chrono::NaiveDate) -> String {
        use chrono::Datelike;
        match self {
            Language::English => date.format("%-d %B %Y").to_string(),
            Language::Welsh => {
                const MONTHS: [&str; 12] = [
                    "Ionawr",
                    "Chwefror",
                    "Mawrth",
                    "Ebrill",
                    "Mai",
                    "Mehefin",
                    "Gorffennaf",
                    "Awst",
                    "Medi",
                    "Hydref",
                    "Tachwedd",
                    "Rhagfyr",
                ];
                let month = MONTHS[date.month0() as usize];
                format!("{} {month} {}", date.day(), date.year())
            }
        }
    }

    /// "Page 2 of 3", or "Tudalen 2 o 3".
    fn page_number(self, page: u32, of: u32) -> String {
        match self {
            Language::English => format!("Page {page} of {of}"),
            Language::Welsh => format!("Tudalen {page} o {of}"),
        }
    }
}

/// A letter logo (the service's letter branding), checked when it was uploaded.
#[derive(Clone)]
pub struct Logo {
    image: krilla::image::Image,
}

impl std::fmt::Debug for Logo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logo")
            .field("size", &self.image.size())
            .finish()
    }
}

impl Logo {
    /// A PNG or JPEG logo.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, RenderError> {
        let data = krilla::Data::from(bytes);
        let image = if data.as_ref().starts_with(b"\x89PNG") {
            krilla::image::Image::from_png(data, true)
        } else if data.as_ref().starts_with(&[0xFF, 0xD8]) {
            krilla::image::Image::from_jpeg(data, true)
        } else {
            Err("a logo must be a PNG or JPEG image".to_owned())
        }
        .map_err(RenderError::Logo)?;
        let (w, h) = image.size();
        if w == 0 || h == 0 {
            return Err(RenderError::Logo("the logo has no pixels".to_owned()));
        }
        Ok(Self { image })
    }

    /// Where the logo goes on page 1: (x, y, width, height) in mm, fitted in the logo box
    /// and kept at its top-left.
    fn placement(&self) -> (f32, f32, f32, f32) {
        let (w, h) = self.image.size();
        let (x0, y0, x1, y1) = LOGO_BOX_MM;
        let scale = ((x1 - x0) / w as f32).min((y1 - y0) / h as f32);
        (x0, y0, w as f32 * scale, h as f32 * scale)
    }
}

/// What a letter says; everything is already validated and personalised by the caller.
#[derive(Debug, Clone, Copy)]
pub struct LetterContent<'a> {
    /// 3..=7 lines, the last one a postcode or country.
    pub address_lines: &'a [String],
    /// The service's contact block, newline-separated.
    pub contact_block: Option<&'a str>,
    /// Printed as e.g. "30 November 2026".
    pub date: chrono::NaiveDate,
    pub subject: &'a str,
    /// Notify letter markdown; a paragraph `qr: <data>` becomes a QR code.
    pub body: &'a str,
    /// The date and page numbers follow it.
    pub language: Language,
    /// Printed at the top left of page 1.
    pub logo: Option<&'a Logo>,
}

/// A finished letter PDF.
pub struct RenderedLetter {
    pub pdf: Vec<u8>,
    /// Pages in `pdf`; callers reject letters that are too long.
    pub page_count: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The embedded fonts did not parse; a build problem, not the letter's fault.
    #[error("letter font could not be loaded: {0}")]
    Font(String),
    #[error("letter PDF could not be written: {0}")]
    Pdf(String),
    /// Text ended up outside the printable area or address window (a layout bug).
    #[error("letter text outside the printable area: {0}")]
    Geometry(String),
    /// A letter logo that is not a usable PNG or JPEG.
    #[error("letter logo: {0}")]
    Logo(String),
}

/// Renders a letter to PDF. Pure and synchronous: run it on a blocking thread.
pub fn render_letter(content: &LetterContent) -> Result<RenderedLetter, RenderError> {
    render_letters(std::slice::from_ref(content))
}

/// Renders letters one after another into one PDF, each starting on a new page with its own
/// page numbers: a bilingual letter is the Welsh letter then the English one, as upstream
/// stitches its two renderings.
pub fn render_letters(parts: &[LetterContent]) -> Result<RenderedLetter, RenderError> {
    let mut layouts = Vec::with_capacity(parts.len());
    for part in parts {
        let layout = layout(part)?;
        check_geometry(&layout)?;
        layouts.push((layout, part.logo));
    }
    let pdf = draw(fonts()?, &layouts)?;
    Ok(RenderedLetter {
        pdf,
        page_count: layouts.iter().map(|(l, _)| l.page_count).sum(),
    })
}

/// The most data upstream puts in a letter's QR code (UTF-8 bytes, as its template text has
/// it: `&`, `<` and `>` escaped), beyond which codes print too dense to scan.
pub const QR_CODE_MAX_BYTES: usize = 504;

/// A `qr:` paragraph whose data is over [`QR_CODE_MAX_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCodeTooLong {
    pub num_bytes: usize,
    pub data: String,
}

/// The first QR code in `body` (letter markdown) with too much data, as upstream's
/// `has_qr_code_with_too_much_data` finds it.
pub fn qr_code_too_long(body: &str) -> Option<QrCodeTooLong> {
    let body = normalise(body);
    let lines: Vec<&str> = body.lines().collect();
    (0..lines.len())
        .filter_map(|i| qr_paragraph(&lines, i))
        .map(|data| {
            let escaped = data.len()
                + 4 * data.matches('&').count()
                + 3 * (data.matches('<').count() + data.matches('>').count());
            QrCodeTooLong {
                num_bytes: escaped,
                data: data.to_owned(),
            }
        })
        .find(|q| q.num_bytes > QR_CODE_MAX_BYTES)
}

/// The data of line `i` when it is a paragraph of its own reading `qr: <data>` (any case,
/// spaces around the colon): upstream's `^\s*qr\s*:\s*(.+)` over a whole paragraph.
fn qr_paragraph<'l>(lines: &[&'l str], i: usize) -> Option<&'l str> {
    let alone = |j: Option<usize>| {
        j.and_then(|j| lines.get(j))
            .is_none_or(|l| l.trim().is_empty())
    };
    if !alone(i.checked_sub(1)) || !alone(Some(i + 1)) {
        return None;
    }
    let line = lines.get(i)?.trim();
    let prefix = line.get(..2)?;
    if !prefix.eq_ignore_ascii_case("qr") {
        return None;
    }
    let data = line[2..].trim_start().strip_prefix(':')?.trim();
    (!data.is_empty()).then_some(data)
}

/// The layout keeps text inside the printer's boxes by construction; checking again costs
/// nothing and turns a layout bug into a failed letter instead of a rejected print batch.
fn check_geometry(layout: &Layout) -> Result<(), RenderError> {
    let inside = |l: &PositionedLine, (x0, y0, x1, y1): (f32, f32, f32, f32)| {
        l.x_mm >= x0 && l.x_mm + l.width_mm <= x1 && l.y_mm >= y0 && l.bottom_mm <= y1
    };
    for l in &layout.lines {
        let address_ok =
            l.kind != LineKind::Address || (l.page == 1 && inside(l, ADDRESS_WINDOW_MM));
        if !inside(l, PRINTABLE_MM) || !address_ok {
            return Err(RenderError::Geometry(format!(
                "{:?} line on page {} at x {:.1}-{:.1} mm, y {:.1}-{:.1} mm",
                l.kind,
                l.page,
                l.x_mm,
                l.x_mm + l.width_mm,
                l.y_mm,
                l.bottom_mm
            )));
        }
    }
    let (x0, y0, x1, y1) = PRINTABLE_MM;
    for q in &layout.qr_codes {
        if q.x_mm < x0 || q.y_mm < y0 || q.x_mm + QR_SIZE_MM > x1 || q.y_mm + QR_SIZE_MM > y1 {
            return Err(RenderError::Geometry(format!(
                "QR code on page {} at x {:.1} mm, y {:.1} mm",
                q.page, q.x_mm, q.y_mm
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Fonts and metrics

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Regular,
    Bold,
}

/// What the layout needs of a font to measure and map text without shaping, read with skrifa:
/// the same library and calls krilla uses to write each glyph's width into the PDF, so the
/// widths measured here are the widths printed.
struct Metrics {
    units_per_em: f32,
    /// hhea ascender/descender as fractions of the em (descent positive). For Liberation these
    /// equal the Windows clipping metrics, i.e. they bound the glyphs' ink.
    ascent: f32,
    descent: f32,
    /// The best Unicode subtable (full repertoire before BMP).
    charmap: Charmap<'static>,
    /// Advances from `hmtx`, unscaled (font units).
    advances: GlyphMetrics<'static>,
}

impl Metrics {
    fn parse(data: &'static [u8]) -> Result<Self, ReadError> {
        let font = FontRef::new(data)?;
        let units_per_em = f32::from(font.head()?.units_per_em());
        if units_per_em <= 0.0 {
            return Err(ReadError::MalformedData("units per em is 0"));
        }
        let hhea = font.hhea()?;
        // Without these tables every character would measure 0 wide or map to `.notdef`;
        // skrifa reads them lazily, so check they are there once, here.
        if hhea.number_of_h_metrics() == 0 {
            return Err(ReadError::MalformedData("no horizontal metrics"));
        }
        font.maxp()?;
        font.hmtx()?;
        font.cmap()?;
        Ok(Metrics {
            units_per_em,
            ascent: f32::from(hhea.ascender().to_i16()) / units_per_em,
            descent: -f32::from(hhea.descender().to_i16()) / units_per_em,
            charmap: font.charmap(),
            advances: font.glyph_metrics(Size::unscaled(), LocationRef::default()),
        })
    }

    /// Glyph id and advance (in ems). Characters the font lacks map to `.notdef` (glyph 0),
    /// which krilla draws as the font's missing-glyph box.
    fn glyph(&self, c: char) -> (u32, f32) {
        let gid = self.charmap.map(c).unwrap_or(skrifa::GlyphId::NOTDEF);
        let advance = self.advances.advance_width(gid).unwrap_or(0.0);
        (gid.to_u32(), advance / self.units_per_em)
    }

    fn width_em(&self, text: &str) -> f32 {
        text.chars().map(|c| self.glyph(c).1).sum()
    }
}

struct Face {
    font: Font,
    metrics: Metrics,
}

pub(crate) struct Fonts {
    regular: Face,
    bold: Face,
}

impl Fonts {
    fn face(&self, style: Style) -> &Face {
        match style {
            Style::Regular => &self.regular,
            Style::Bold => &self.bold,
        }
    }

    fn width_mm(&self, style: Style, size_pt: f32, text: &str) -> f32 {
        self.face(style).metrics.width_em(text) * size_pt * MM_PER_PT
    }

    /// Ascent and descent (ems) covering both styles, so mixed lines share one box.
    fn ascent(&self) -> f32 {
        self.regular.metrics.ascent.max(self.bold.metrics.ascent)
    }

    fn descent(&self) -> f32 {
        self.regular.metrics.descent.max(self.bold.metrics.descent)
    }

    /// Height of a line's ink box in mm.
    fn extent_mm(&self, size_pt: f32) -> f32 {
        (self.ascent() + self.descent()) * size_pt * MM_PER_PT
    }
}

static REGULAR_TTF: &[u8] = include_bytes!("fonts/LiberationSans-Regular.ttf");
static BOLD_TTF: &[u8] = include_bytes!("fonts/LiberationSans-Bold.ttf");

/// Parsed once per process: parsing fonts per letter would dominate the render time.
static FONTS: LazyLock<Result<Fonts, String>> = LazyLock::new(|| {
    let face = |name: &str, data: &'static [u8]| -> Result<Face, String> {
        let font =
            Font::new(data.into(), 0).ok_or_else(|| format!("{name}: krilla rejected it"))?;
        let metrics =
            Metrics::parse(data).map_err(|e| format!("{name}: bad metric tables: {e}"))?;
        Ok(Face { font, metrics })
    };
    Ok(Fonts {
        regular: face("LiberationSans-Regular", REGULAR_TTF)?,
        bold: face("LiberationSans-Bold", BOLD_TTF)?,
    })
});

fn fonts() -> Result<&'static Fonts, RenderError> {
    FONTS.as_ref().map_err(|e| RenderError::Font(e.clone()))
}

// ---------------------------------------------------------------------------------------------
// Layout

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineKind {
    Address,
    Contact,
    Date,
    Subject,
    Heading,
    Body,
    /// A bullet or list number, drawn beside its item's first line.
    ListMarker,
    PageNumber,
}

/// Text in one style, at an absolute x.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub(crate) style: Style,
    pub(crate) text: String,
    pub(crate) x_mm: f32,
}

/// One line of text placed on a page. Coordinates in mm from the page's top-left; `y_mm` and
/// `bottom_mm` bound the line's ink (font ascent/descent), which is what the printer checks.
#[derive(Debug, Clone)]
pub(crate) struct PositionedLine {
    /// 1-based.
    pub(crate) page: u32,
    pub(crate) kind: LineKind,
    pub(crate) x_mm: f32,
    pub(crate) y_mm: f32,
    pub(crate) width_mm: f32,
    pub(crate) bottom_mm: f32,
    pub(crate) baseline_mm: f32,
    pub(crate) size_pt: f32,
    pub(crate) runs: Vec<Run>,
}

/// A QR code placed on a page: its top-left corner in mm, [`QR_SIZE_MM`] square.
#[derive(Debug, Clone)]
pub(crate) struct PlacedQr {
    pub(crate) page: u32,
    pub(crate) x_mm: f32,
    pub(crate) y_mm: f32,
    /// Modules a side, then each module, row by row (true = dark).
    pub(crate) width: usize,
    pub(crate) dark: Vec<bool>,
}

#[derive(Debug)]
pub(crate) struct Layout {
    pub(crate) page_count: u32,
    pub(crate) lines: Vec<PositionedLine>,
    pub(crate) qr_codes: Vec<PlacedQr>,
}

/// Positions every line of a letter; the PDF is drawn from exactly this.
pub(crate) fn layout(content: &LetterContent) -> Result<Layout, RenderError> {
    Ok(layout_with(fonts()?, content))
}

fn layout_with(fonts: &Fonts, content: &LetterContent) -> Layout {
    let mut lines = Vec::new();
    let mut qr_codes = Vec::new();
    layout_address(fonts, content.address_lines, &mut lines);
    let date = content.language.date(content.date);
    layout_contact(fonts, content.contact_block, &date, &mut lines);

    let mut flow = Flow {
        fonts,
        page: 1,
        y: BODY_TOP_FIRST_MM,
        at_top: true,
        page_has_body: false,
        lines: &mut lines,
        qr_codes: &mut qr_codes,
    };
    flow.subject(content.subject);
    layout_body(&mut flow, content.body);
    // A trailing page break would otherwise leave a blank last page.
    if !flow.page_has_body && flow.page > 1 {
        flow.page -= 1;
    }
    let page_count = flow.page;

    for page in 1..=page_count {
        let text = content.language.page_number(page, page_count);
        let width = fonts.width_mm(Style::Regular, PAGE_NUMBER_SIZE_PT, &text);
        let x = (A4_WIDTH_MM - width) / 2.0;
        lines.push(positioned(
            fonts,
            page,
            LineKind::PageNumber,
            PAGE_NUMBER_SIZE_PT,
            PAGE_NUMBER_BASELINE_MM,
            vec![Run {
                style: Style::Regular,
                text,
                x_mm: x,
            }],
        ));
    }
    Layout {
        page_count,
        lines,
        qr_codes,
    }
}

fn positioned(
    fonts: &Fonts,
    page: u32,
    kind: LineKind,
    size_pt: f32,
    baseline_mm: f32,
    runs: Vec<Run>,
) -> PositionedLine {
    let em = size_pt * MM_PER_PT;
    let x_mm = runs.first().map_or(0.0, |r| r.x_mm);
    let end = runs
        .last()
        .map_or(x_mm, |r| r.x_mm + fonts.width_mm(r.style, size_pt, &r.text));
    PositionedLine {
        page,
        kind,
        x_mm,
        y_mm: baseline_mm - fonts.ascent() * em,
        width_mm: end - x_mm,
        bottom_mm: baseline_mm + fonts.descent() * em,
        baseline_mm,
        size_pt,
        runs,
    }
}

/// Lays out the address in the envelope window, in the largest size at which every line fits;
/// whatever still does not fit at the smallest size is cut (with an ellipsis) rather than
/// allowed out of the window, because the printer would reject the whole letter.
fn layout_address(fonts: &Fonts, address: &[String], out: &mut Vec<PositionedLine>) {
    let mut lines: Vec<String> = address.iter().map(|l| clean_inline(l)).collect();
    // Validation guarantees at most 7; folding extras keeps the window contract regardless.
    if lines.len() > ADDRESS_MAX_LINES {
        let rest = lines.split_off(ADDRESS_MAX_LINES - 1);
        lines.push(rest.join(", "));
    }
    if lines.is_empty() {
        return;
    }
    let (x0, y0, x1, y1) = ADDRESS_WINDOW_MM;
    let left = x0 + ADDRESS_PAD_X_MM;
    let max_width = x1 - ADDRESS_PAD_X_MM - left;
    let avail_h = (y1 - y0) - 2.0 * ADDRESS_PAD_Y_MM;
    let n = lines.len();

    let vertical = |size: f32| -> Option<f32> {
        let em = size * MM_PER_PT;
        let extent = fonts.extent_mm(size);
        if n == 1 {
            return (extent <= avail_h).then_some(0.0);
        }
        let line = ((avail_h - extent) / (n - 1) as f32).min(ADDRESS_MAX_LINE_MM);
        (line >= em).then_some(line)
    };
    let widest = |size: f32| {
        lines
            .iter()
            .map(|l| fonts.width_mm(Style::Regular, size, l))
            .fold(0.0, f32::max)
    };
    let smallest = ADDRESS_SIZES_PT[ADDRESS_SIZES_PT.len() - 1];
    let (size, line_h) = ADDRESS_SIZES_PT
        .iter()
        .find_map(|&s| {
            vertical(s)
                .filter(|_| widest(s) <= max_width)
                .map(|h| (s, h))
        })
        // Nothing fits whole: the smallest size cuts the least.
        .or_else(|| {
            ADDRESS_SIZES_PT
                .iter()
                .rev()
                .find_map(|&s| vertical(s).map(|h| (s, h)))
        })
        .unwrap_or((smallest, smallest * MM_PER_PT));

    let first_baseline = y0 + ADDRESS_PAD_Y_MM + fonts.ascent() * size * MM_PER_PT;
    for (i, line) in lines.iter().enumerate() {
        let text = truncate_to(fonts, Style::Regular, size, line, max_width);
        let baseline = first_baseline + i as f32 * line_h;
        if text.is_empty() {
            continue;
        }
        out.push(positioned(
            fonts,
            1,
            LineKind::Address,
            size,
            baseline,
            vec![Run {
                style: Style::Regular,
                text,
                x_mm: left,
            }],
        ));
    }
}

/// Cuts `text` so it is at most `max_mm` wide, ending with an ellipsis when anything was cut.
fn truncate_to(fonts: &Fonts, style: Style, size: f32, text: &str, max_mm: f32) -> String {
    if fonts.width_mm(style, size, text) <= max_mm {
        return text.to_owned();
    }
    let budget = max_mm - fonts.width_mm(style, size, "…");
    let mut out = String::new();
    let mut width = 0.0;
    for c in text.chars() {
        let w = fonts.width_mm(style, size, c.encode_utf8(&mut [0; 4]));
        if width + w > budget {
            break;
        }
        width += w;
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// The contact block and date in the top-right column. It must end above the body (y 95 mm),
/// so a long block moves up, then shrinks, and as a last resort loses its final lines; the
/// date is always kept.
fn layout_contact(fonts: &Fonts, block: Option<&str>, date: &str, out: &mut Vec<PositionedLine>) {
    let normalised = block.map(normalise).unwrap_or_default();
    let raw: Vec<&str> = normalised.lines().map(str::trim).collect();
    let first = raw.iter().position(|l| !l.is_empty());
    let last = raw.iter().rposition(|l| !l.is_empty());
    let raw = match (first, last) {
        (Some(a), Some(b)) => &raw[a..=b],
        _ => &[][..],
    };
    let width = CONTACT_RIGHT_MM - CONTACT_LEFT_MM;

    let wrap_block = |size: f32| -> Vec<String> {
        let mut lines = Vec::new();
        for l in raw {
            if l.is_empty() {
                lines.push(String::new());
                continue;
            }
            lines.extend(wrap_plain(fonts, l, size, width));
        }
        lines
    };
    let fits = |n: usize, size: f32| -> Option<f32> {
        let line_h = size * MM_PER_PT * CONTACT_LINE_EM;
        let total = (n.max(1) - 1) as f32 * line_h + fonts.extent_mm(size);
        if total <= CONTACT_BOTTOM_MM - CONTACT_TOP_MM {
            Some(CONTACT_TOP_MM)
        } else if total <= CONTACT_BOTTOM_MM - CONTACT_TOP_MIN_MM {
            Some(CONTACT_BOTTOM_MM - total)
        } else {
            None
        }
    };
    let with_date = |mut block: Vec<String>, size: f32| -> Vec<String> {
        if !block.is_empty() {
            block.push(String::new());
        }
        block.extend(wrap_plain(fonts, date, size, width));
        block
    };

    let mut chosen = None;
    for &size in &CONTACT_SIZES_PT {
        let lines = with_date(wrap_block(size), size);
        if let Some(top) = fits(lines.len(), size) {
            chosen = Some((size, top, lines));
            break;
        }
    }
    let (size, top, lines) = match chosen {
        Some(c) => c,
        None => {
            let size = CONTACT_SIZES_PT[CONTACT_SIZES_PT.len() - 1];
            let mut block = wrap_block(size);
            let date_lines = wrap_plain(fonts, date, size, width).len();
            // Keep as many lines as leave room for the blank line and the date.
            let room = (0..=block.len())
                .rev()
                .find(|&n| fits(n + 1 + date_lines, size).is_some())
                .unwrap_or(0);
            block.truncate(room);
            while block.last().is_some_and(String::is_empty) {
                block.pop();
            }
            let lines = with_date(block, size);
            let top = fits(lines.len(), size).unwrap_or(CONTACT_TOP_MIN_MM);
            (size, top, lines)
        }
    };

    let em = size * MM_PER_PT;
    let line_h = em * CONTACT_LINE_EM;
    let first_baseline = top + fonts.ascent() * em;
    let date_from = lines.len() - wrap_plain(fonts, date, size, width).len();
    for (i, text) in lines.into_iter().enumerate() {
        if text.is_empty() {
            continue;
        }
        let kind = if i >= date_from {
            LineKind::Date
        } else {
            LineKind::Contact
        };
        out.push(positioned(
            fonts,
            1,
            kind,
            size,
            first_baseline + i as f32 * line_h,
            vec![Run {
                style: Style::Regular,
                text,
                x_mm: CONTACT_LEFT_MM,
            }],
        ));
    }
}

/// Wraps unstyled text (the date is one line in practice, but nothing may overflow the column).
fn wrap_plain(fonts: &Fonts, text: &str, size: f32, width: f32) -> Vec<String> {
    let spans = [(Style::Regular, text.to_owned())];
    wrap(fonts, &spans, size, width)
        .into_iter()
        .map(|l| l.into_iter().map(|(_, t)| t).collect())
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Paragraph,
    List,
    Heading,
    QrCode,
}

/// Places body lines top to bottom, starting new pages as they fill.
struct Flow<'a> {
    fonts: &'a Fonts,
    page: u32,
    /// Top of the next line box.
    y: f32,
    /// Nothing placed on this page's body yet: gaps are dropped here.
    at_top: bool,
    page_has_body: bool,
    lines: &'a mut Vec<PositionedLine>,
    qr_codes: &'a mut Vec<PlacedQr>,
}

impl Flow<'_> {
    fn new_page(&mut self) {
        self.page += 1;
        self.y = BODY_TOP_LATER_MM;
        self.at_top = true;
        self.page_has_body = false;
    }

    fn gap(&mut self, mm: f32) {
        if !self.at_top {
            self.y += mm;
        }
    }

    /// Ensures `mm` of vertical space is left on this page, else moves to the next.
    fn need(&mut self, mm: f32) {
        if self.y + mm > BODY_BOTTOM_MM && !self.at_top {
            self.new_page();
        }
    }

    /// An explicit page break. Breaking on a page that has no body yet would only add a blank
    /// page (e.g. `***` right after the text filled a page), so it is ignored there.
    fn page_break(&mut self) {
        if self.page_has_body {
            self.new_page();
        }
    }

    /// Places one line in a box of `line_mm`, returning its baseline and page.
    fn place(
        &mut self,
        kind: LineKind,
        size: f32,
        line_mm: f32,
        x: f32,
        spans: Vec<(Style, String)>,
    ) -> (u32, f32) {
        self.need(line_mm);
        let half_leading = (line_mm - self.fonts.extent_mm(size)).max(0.0) / 2.0;
        let baseline = self.y + half_leading + self.fonts.ascent() * size * MM_PER_PT;
        self.y += line_mm.max(self.fonts.extent_mm(size));
        self.at_top = false;
        self.page_has_body = true;
        let runs = runs_at(self.fonts, size, x, spans);
        if !runs.is_empty() {
            self.lines.push(positioned(
                self.fonts, self.page, kind, size, baseline, runs,
            ));
        }
        (self.page, baseline)
    }

    /// A QR code block; `false` when the data cannot be encoded (then it prints as text).
    fn qr_code(&mut self, data: &str) -> bool {
        let Ok(code) = qrcode::QrCode::with_error_correction_level(data, qrcode::EcLevel::M) else {
            return false;
        };
        self.gap(QR_GAP_ABOVE_MM);
        self.need(QR_SIZE_MM + QR_GAP_BELOW_MM);
        let x_mm = BODY_LEFT_MM + (BODY_RIGHT_MM - BODY_LEFT_MM - QR_SIZE_MM) / 2.0;
        let dark = code
            .to_colors()
            .into_iter()
            .map(|c| c == qrcode::Color::Dark)
            .collect();
        self.qr_codes.push(PlacedQr {
            page: self.page,
            x_mm,
            y_mm: self.y,
            width: code.width(),
            dark,
        });
        self.y += QR_SIZE_MM;
        self.at_top = false;
        self.page_has_body = true;
        self.gap(QR_GAP_BELOW_MM);
        true
    }

    fn subject(&mut self, subject: &str) {
        let spans = vec![(Style::Bold, clean_inline(subject))];
        let lines = wrap(
            self.fonts,
            &spans,
            SUBJECT_SIZE_PT,
            BODY_RIGHT_MM - BODY_LEFT_MM,
        );
        let any = !lines.is_empty();
        for line in lines {
            self.place(
                LineKind::Subject,
                SUBJECT_SIZE_PT,
                SUBJECT_LINE_MM,
                BODY_LEFT_MM,
                line,
            );
        }
        if any {
            self.gap(PARAGRAPH_GAP_MM);
        }
    }
}

/// Turns a line's styled pieces into runs with absolute x positions, merging equal styles.
fn runs_at(fonts: &Fonts, size: f32, x: f32, spans: Vec<(Style, String)>) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    let mut cursor = x;
    for (style, text) in spans {
        if text.is_empty() {
            continue;
        }
        let width = fonts.width_mm(style, size, &text);
        match runs.last_mut() {
            Some(last) if last.style == style => last.text.push_str(&text),
            _ => runs.push(Run {
                style,
                text,
                x_mm: cursor,
            }),
        }
        cursor += width;
    }
    runs
}

/// The Notify letter markdown subset: blank lines separate paragraphs, single newlines break
/// lines, `#` headings, `*`/`-` bullets, `1.` numbered items, `**bold**`, and `***`/`---` on
/// their own line as page breaks.
fn layout_body(flow: &mut Flow, body: &str) {
    let body = normalise(body);
    let mut previous: Option<BlockKind> = None;
    let mut blank = false;
    let width = BODY_RIGHT_MM - BODY_LEFT_MM;
    let all: Vec<&str> = body.lines().collect();
    for (index, raw) in all.iter().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            blank = true;
            continue;
        }
        if let Some(data) = qr_paragraph(&all, index)
            && flow.qr_code(data)
        {
            previous = Some(BlockKind::QrCode);
            blank = false;
            continue;
        }
        if line == "***" || line == "---" {
            flow.page_break();
            previous = None;
            blank = false;
            continue;
        }
        let block = if let Some(text) = heading_text(line) {
            let lines = wrap(
                flow.fonts,
                &parse_inline(text, Style::Bold),
                HEADING_SIZE_PT,
                width,
            );
            if !lines.is_empty() {
                flow.gap(PARAGRAPH_GAP_MM);
                // Keep a heading with at least one line of what follows.
                let block_mm = lines.len() as f32 * HEADING_LINE_MM + BODY_LINE_MM;
                flow.need(block_mm + HEADING_AFTER_MM);
                for l in lines {
                    flow.place(
                        LineKind::Heading,
                        HEADING_SIZE_PT,
                        HEADING_LINE_MM,
                        BODY_LEFT_MM,
                        l,
                    );
                }
                flow.gap(HEADING_AFTER_MM);
            }
            BlockKind::Heading
        } else if let Some((marker, text)) = list_item(line) {
            let gap = match previous {
                Some(BlockKind::List) if !blank => LIST_ITEM_GAP_MM,
                Some(BlockKind::Heading) if !blank => 0.0,
                _ => PARAGRAPH_GAP_MM,
            };
            flow.gap(gap);
            let marker_w = flow.fonts.width_mm(Style::Regular, BODY_SIZE_PT, &marker);
            let indent = if marker == "•" {
                BULLET_INDENT_MM
            } else {
                NUMBER_INDENT_MM.max(marker_w + 2.0)
            };
            let text_x = BODY_LEFT_MM + indent;
            let spans = parse_inline(text, Style::Regular);
            let mut lines = wrap(flow.fonts, &spans, BODY_SIZE_PT, BODY_RIGHT_MM - text_x);
            if lines.is_empty() {
                lines.push(Vec::new());
            }
            for (i, l) in lines.into_iter().enumerate() {
                let (page, baseline) =
                    flow.place(LineKind::Body, BODY_SIZE_PT, BODY_LINE_MM, text_x, l);
                if i == 0 {
                    let runs = runs_at(
                        flow.fonts,
                        BODY_SIZE_PT,
                        BODY_LEFT_MM,
                        vec![(Style::Regular, marker.clone())],
                    );
                    flow.lines.push(positioned(
                        flow.fonts,
                        page,
                        LineKind::ListMarker,
                        BODY_SIZE_PT,
                        baseline,
                        runs,
                    ));
                }
            }
            BlockKind::List
        } else {
            let gap = match previous {
                Some(BlockKind::Paragraph) if !blank => 0.0,
                Some(BlockKind::Heading) if !blank => 0.0,
                _ => PARAGRAPH_GAP_MM,
            };
            flow.gap(gap);
            let spans = parse_inline(line, Style::Regular);
            for l in wrap(flow.fonts, &spans, BODY_SIZE_PT, width) {
                flow.place(LineKind::Body, BODY_SIZE_PT, BODY_LINE_MM, BODY_LEFT_MM, l);
            }
            BlockKind::Paragraph
        };
        previous = Some(block);
        blank = false;
    }
}

fn heading_text(line: &str) -> Option<&str> {
    let hashes = line.bytes().take_while(|&b| b == b'#').count();
    if !(1..=3).contains(&hashes) {
        return None;
    }
    let rest = &line[hashes..];
    rest.starts_with(' ').then(|| rest.trim())
}

/// A list item's marker (a bullet, or the number as written) and its text.
fn list_item(line: &str) -> Option<(String, &str)> {
    for bullet in ["* ", "- ", "• "] {
        if let Some(rest) = line.strip_prefix(bullet) {
            return Some(("•".to_owned(), rest.trim()));
        }
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=9).contains(&digits) && line[digits..].starts_with(". ") {
        return Some((line[..digits + 1].to_owned(), line[digits + 2..].trim()));
    }
    None
}

/// Splits `**bold**` spans. An unpaired `**` is kept as literal text.
fn parse_inline(text: &str, base: Style) -> Vec<(Style, String)> {
    let parts: Vec<&str> = text.split("**").collect();
    let markers = parts.len() - 1;
    let paired = markers - markers % 2;
    let mut spans = Vec::new();
    let mut bold = false;
    let mut literal = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > paired {
            // Past the last paired marker: the rest is plain text with its `**` restored.
            literal.push_str("**");
            literal.push_str(part);
            continue;
        }
        if i > 0 {
            bold = !bold;
        }
        if !part.is_empty() {
            let style = if bold { Style::Bold } else { base };
            spans.push((style, (*part).to_owned()));
        }
    }
    if !literal.is_empty() {
        let style = if bold { Style::Bold } else { base };
        match spans.last_mut() {
            Some((s, t)) if *s == style => t.push_str(&literal),
            _ => spans.push((style, literal)),
        }
    }
    spans
}

/// Line endings to `\n`, tabs to spaces, other control characters dropped: none of them has
/// a glyph, and they must not reach the PDF.
fn normalise(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    text.chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// One line of text with no line breaks left in it.
fn clean_inline(text: &str) -> String {
    normalise(text)
        .split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_break_space(c: char) -> bool {
    c == ' ' || (c.is_whitespace() && c != '\u{a0}' && c != '\u{202f}' && c != '\u{2007}')
}

/// Greedy word wrap to `max_mm`, measured with the fonts' advances. Runs of spaces collapse to
/// one and vanish at line ends; a word wider than the line is broken between characters.
/// Returns each line as styled pieces.
fn wrap(
    fonts: &Fonts,
    spans: &[(Style, String)],
    size: f32,
    max_mm: f32,
) -> Vec<Vec<(Style, String)>> {
    // Words as styled pieces; `space_before` is the style of the space preceding the word.
    struct Word {
        space_before: Option<Style>,
        pieces: Vec<(Style, String)>,
    }
    let mut words: Vec<Word> = Vec::new();
    let mut current: Vec<(Style, String)> = Vec::new();
    let mut pending_space: Option<Style> = None;
    for (style, text) in spans {
        for c in text.chars() {
            if is_break_space(c) {
                if !current.is_empty() {
                    words.push(Word {
                        space_before: pending_space.take(),
                        pieces: std::mem::take(&mut current),
                    });
                }
                if !words.is_empty() {
                    pending_space = pending_space.or(Some(*style));
                }
                continue;
            }
            match current.last_mut() {
                Some((s, t)) if s == style => t.push(c),
                _ => current.push((*style, c.to_string())),
            }
        }
    }
    if !current.is_empty() {
        words.push(Word {
            space_before: pending_space.take(),
            pieces: current,
        });
    }

    let measure = |pieces: &[(Style, String)]| -> f32 {
        pieces
            .iter()
            .map(|(s, t)| fonts.width_mm(*s, size, t))
            .sum()
    };
    let mut lines = Vec::new();
    let mut line: Vec<(Style, String)> = Vec::new();
    let mut line_w = 0.0f32;
    for word in words {
        let word_w = measure(&word.pieces);
        if !line.is_empty() {
            let space = word.space_before.unwrap_or(Style::Regular);
            let space_w = fonts.width_mm(space, size, " ");
            if line_w + space_w + word_w <= max_mm {
                line.push((space, " ".to_owned()));
                line.extend(word.pieces);
                line_w += space_w + word_w;
                continue;
            }
            lines.push(std::mem::take(&mut line));
            line_w = 0.0;
        }
        if word_w <= max_mm {
            line = word.pieces;
            line_w = word_w;
            continue;
        }
        for (style, text) in word.pieces {
            for c in text.chars() {
                let w = fonts.width_mm(style, size, c.encode_utf8(&mut [0; 4]));
                if line_w + w > max_mm && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    line_w = 0.0;
                }
                match line.last_mut() {
                    Some((s, t)) if *s == style => t.push(c),
                    _ => line.push((style, c.to_string())),
                }
                line_w += w;
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

// ---------------------------------------------------------------------------------------------
// Drawing

fn pt(mm: f32) -> f32 {
    mm / MM_PER_PT
}

fn draw(fonts: &Fonts, layouts: &[(Layout, Option<&Logo>)]) -> Result<Vec<u8>, RenderError> {
    let settings = PageSettings::from_wh(pt(A4_WIDTH_MM), pt(A4_HEIGHT_MM))
        .ok_or_else(|| RenderError::Pdf("invalid page size".to_owned()))?;
    let mut document = Document::new();
    let mut glyphs = Vec::new();
    for (layout, logo) in layouts {
        let mut by_page: Vec<Vec<&PositionedLine>> = vec![Vec::new(); layout.page_count as usize];
        for line in &layout.lines {
            if let Some(page) = by_page.get_mut((line.page as usize).wrapping_sub(1)) {
                page.push(line);
            }
        }
        for (index, lines) in by_page.into_iter().enumerate() {
            let number = index as u32 + 1;
            let mut page = document.start_page_with(settings.clone());
            let mut surface = page.surface();
            if number == 1
                && let Some(logo) = logo
            {
                draw_logo(&mut surface, logo);
            }
            for qr in layout.qr_codes.iter().filter(|q| q.page == number) {
                draw_qr(&mut surface, qr);
            }
            for line in lines {
                for run in &line.runs {
                    let face = fonts.face(run.style);
                    shape(&face.metrics, &run.text, &mut glyphs);
                    if glyphs.is_empty() {
                        continue;
                    }
                    surface.draw_glyphs(
                        Point::from_xy(pt(run.x_mm), pt(line.baseline_mm)),
                        &glyphs,
                        face.font.clone(),
                        &run.text,
                        line.size_pt,
                        false,
                    );
                }
            }
            surface.finish();
            page.finish();
        }
    }
    document
        .finish()
        .map_err(|e| RenderError::Pdf(e.to_string()))
}

fn draw_logo(surface: &mut krilla::surface::Surface<'_>, logo: &Logo) {
    let (x, y, w, h) = logo.placement();
    let Some(size) = krilla::geom::Size::from_wh(pt(w), pt(h)) else {
        return;
    };
    surface.push_transform(&krilla::geom::Transform::from_translate(pt(x), pt(y)));
    surface.draw_image(logo.image.clone(), size);
    surface.pop();
}

/// The dark modules as black squares, one path (no quiet zone: upstream draws none either,
/// the page around it is white).
fn draw_qr(surface: &mut krilla::surface::Surface<'_>, qr: &PlacedQr) {
    let module = QR_SIZE_MM / qr.width as f32;
    let mut path = krilla::geom::PathBuilder::new();
    // One rectangle per horizontal run of dark modules: no seams for a reader to trip on.
    for (row, modules) in qr.dark.chunks(qr.width).enumerate() {
        let mut col = 0;
        while col < modules.len() {
            if !modules[col] {
                col += 1;
                continue;
            }
            let start = col;
            while col < modules.len() && modules[col] {
                col += 1;
            }
            if let Some(run) = krilla::geom::Rect::from_xywh(
                pt(qr.x_mm + start as f32 * module),
                pt(qr.y_mm + row as f32 * module),
                pt((col - start) as f32 * module),
                pt(module),
            ) {
                path.push_rect(run);
            }
        }
    }
    if let Some(path) = path.finish() {
        surface.set_fill(Some(krilla::paint::Fill::default()));
        surface.draw_path(&path);
    }
}

/// One glyph per character, advances straight from `hmtx`: the same numbers `wrap` measured.
fn shape(metrics: &Metrics, text: &str, out: &mut Vec<KrillaGlyph>) {
    out.clear();
    for (i, c) in text.char_indices() {
        let (gid, advance) = metrics.glyph(c);
        let range: Range<usize> = i..i + c.len_utf8();
        out.push(KrillaGlyph::new(
            GlyphId::new(gid),
            advance,
            0.0,
            0.0,
            0.0,
            range,
            None,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn address(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| (*s).to_owned()).collect()
    }

    fn letter<'a>(address: &'a [String], body: &'a str) -> LetterContent<'a> {
        LetterContent {
            address_lines: address,
            contact_block: Some(
                "Department of Examples\nPO Box 123\nLondon\nSW1A 1AA\n\n0300 123 4567",
            ),
            date: NaiveDate::from_ymd_opt(2026, 11, 30).expect("valid date"),
            subject: "Your application",
            body,
            language: Language::English,
            logo: None,
        }
    }

    fn pdf_pages(pdf: &[u8]) -> (lopdf::Document, usize) {
        let doc = lopdf::Document::load_mem(pdf).expect("PDF parses");
        let n = doc.get_pages().len();
        (doc, n)
    }

    fn long_letter_body() -> String {
        let mut body = String::from("# A heading\n\n");
        for i in 0..120 {
            body.push_str(&format!(
                "Paragraph {i} with enough words to wrap across the width of the page, \
                 including **some bold text**, tabs\tand a Supercalifragilisticexpialidocious\
                 ExtraordinarilyLongWordThatCannotPossiblyFitOnOneLineOfTheLetterAtAllEverAgain.\n\n"
            ));
            if i % 10 == 0 {
                body.push_str("* a bullet point that is long enough to wrap onto a second line of the letter body text\n- another\n\n1. first\n12. twelfth\n\n");
            }
        }
        body
    }

    #[test]
    fn one_page_letter_is_a4_with_embedded_fonts() {
        let addr = address(&["A. Person", "1 Street", "SW1A 1AA"]);
        let content = letter(&addr, "Hello,\n\nThis is a short letter.\nOn two lines.");
        let rendered = render_letter(&content).expect("renders");
        assert_eq!(rendered.page_count, 1);
        let (doc, pages) = pdf_pages(&rendered.pdf);
        assert_eq!(pages, 1);

        let page_id = *doc.get_pages().get(&1).expect("page 1");
        let page = doc.get_dictionary(page_id).expect("page dict");
        let media_box = page
            .get(b"MediaBox")
            .and_then(|o| o.as_array())
            .expect("MediaBox");
        let nums: Vec<f32> = media_box
            .iter()
            .map(|o| o.as_float().expect("number"))
            .collect();
        assert_eq!(nums.len(), 4);
        assert!((nums[2] - nums[0] - 595.28).abs() < 0.5, "width {nums:?}");
        assert!((nums[3] - nums[1] - 841.89).abs() < 0.5, "height {nums:?}");

        let mut descriptors = 0;
        for object in doc.objects.values() {
            let Ok(dict) = object.as_dict() else { continue };
            if dict.get(b"Type").and_then(|t| t.as_name()).ok() == Some(&b"FontDescriptor"[..]) {
                descriptors += 1;
                assert!(
                    dict.has(b"FontFile2") || dict.has(b"FontFile3"),
                    "font not embedded: {dict:?}"
                );
            }
        }
        // Regular (address, body) and bold (subject) are both used.
        assert_eq!(descriptors, 2);
    }

    #[test]
    fn long_body_flows_onto_pages_matching_the_pdf() {
        let addr = address(&["A. Person", "1 Street", "SW1A 1AA"]);
        let body: String = (0..120)
            .map(|i| format!("Paragraph {i} of a long letter that goes on and on.\n\n"))
            .collect();
        let rendered = render_letter(&letter(&addr, &body)).expect("renders");
        assert!(rendered.page_count >= 3, "{}", rendered.page_count);
        let (_, pages) = pdf_pages(&rendered.pdf);
        assert_eq!(pages as u32, rendered.page_count);
    }

    #[test]
    fn page_breaks_start_new_pages() {
        let addr = address(&["A. Person", "1 Street", "SW1A 1AA"]);
        // Repeated and trailing breaks do not add blank pages.
        let body =
            "Page one.\n\n***\n\nPage two.\n---\nPage three.\n\n***\n***\n\nPage four.\n***\n";
        let rendered = render_letter(&letter(&addr, body)).expect("renders");
        assert_eq!(rendered.page_count, 4);
        let (_, pages) = pdf_pages(&rendered.pdf);
        assert_eq!(pages, 4);
        let laid_out = layout(&letter(&addr, body)).expect("layout");
        let page_of = |needle: &str| {
            laid_out
                .lines
                .iter()
                .find(|l| l.runs.iter().any(|r| r.text.contains(needle)))
                .map(|l| l.page)
        };
        assert_eq!(page_of("Page two."), Some(2));
        assert_eq!(page_of("Page three."), Some(3));
        assert_eq!(page_of("Page four."), Some(4));
        assert_eq!(page_of("Page 4 of 4"), Some(4));
    }

    fn assert_in_printable_area(layout: &Layout) {
        let (x0, y0, x1, y1) = PRINTABLE_MM;
        for l in &layout.lines {
            assert!(l.page >= 1 && l.page <= layout.page_count, "{l:?}");
            assert!(l.x_mm >= x0, "left of margin: {l:?}");
            assert!(l.x_mm + l.width_mm <= x1, "right of margin: {l:?}");
            assert!(l.y_mm >= y0, "above margin: {l:?}");
            assert!(l.bottom_mm <= y1, "below margin: {l:?}");
        }
    }

    #[test]
    fn layout_stays_in_printable_area_and_window() {
        let addr = address(&[
            "The Right Honourable Lady Wilhelmina Featherstonehaugh-Cholmondeley",
            "Flat 123, Extraordinarily Long Building Name House",
            "1234 Exceedingly Long Street Name Boulevard West",
            "Little Snoring-on-the-Marsh Parish",
            "Kings Lynn and West Norfolk District",
            "Norfolk",
            "NR21 0AA",
        ]);
        let body = long_letter_body();
        let mut content = letter(&addr, &body);
        let contact: String = (0..40)
            .map(|i| format!("Contact line {i} which is rather long indeed\n"))
            .collect();
        content.contact_block = Some(&contact);
        content.subject = "A very long subject line that needs wrapping because it keeps going and going past the margin";
        let laid_out = layout(&content).expect("layout");
        let layout = laid_out;
        assert!(layout.page_count >= 5, "{}", layout.page_count);
        assert_in_printable_area(&layout);

        let (wx0, wy0, wx1, wy1) = ADDRESS_WINDOW_MM;
        let address: Vec<_> = layout
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Address)
            .collect();
        assert_eq!(address.len(), 7);
        for l in &address {
            assert_eq!(l.page, 1);
            assert!(l.x_mm >= wx0 && l.x_mm + l.width_mm <= wx1, "{l:?}");
            assert!(l.y_mm >= wy0 && l.bottom_mm <= wy1, "{l:?}");
        }

        let body_top = layout
            .lines
            .iter()
            .filter(|l| {
                l.page == 1
                    && matches!(
                        l.kind,
                        LineKind::Subject
                            | LineKind::Heading
                            | LineKind::Body
                            | LineKind::ListMarker
                    )
            })
            .map(|l| l.y_mm)
            .fold(f32::INFINITY, f32::min);
        assert!(body_top >= BODY_TOP_FIRST_MM, "{body_top}");

        // The contact block and date stay in their column above the body.
        let contact: Vec<_> = layout
            .lines
            .iter()
            .filter(|l| matches!(l.kind, LineKind::Contact | LineKind::Date))
            .collect();
        assert!(contact.iter().any(|l| l.kind == LineKind::Date));
        for l in contact {
            assert!(l.x_mm >= 125.0 && l.x_mm + l.width_mm <= 195.0, "{l:?}");
            assert!(l.y_mm >= 5.0 && l.bottom_mm <= BODY_TOP_FIRST_MM, "{l:?}");
        }

        // Every page is numbered, and the PDF agrees with the layout.
        let numbers = layout
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::PageNumber)
            .count();
        assert_eq!(numbers as u32, layout.page_count);
        let rendered = render_letter(&content).expect("renders");
        assert_eq!(rendered.page_count, layout.page_count);
        assert_eq!(pdf_pages(&rendered.pdf).1 as u32, layout.page_count);
    }

    #[test]
    fn seven_long_address_lines_fit_the_window() {
        let long = "W".repeat(80);
        let addr: Vec<String> = (0..7).map(|i| format!("{i} {long}")).collect();
        let first = layout(&letter(&addr, "Body")).expect("layout");
        let (wx0, wy0, wx1, wy1) = ADDRESS_WINDOW_MM;
        let lines: Vec<_> = first
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Address)
            .collect();
        assert_eq!(lines.len(), 7);
        for l in &lines {
            assert!(l.x_mm >= wx0 && l.x_mm + l.width_mm <= wx1, "{l:?}");
            assert!(l.y_mm >= wy0 && l.bottom_mm <= wy1, "{l:?}");
            assert!(l.runs[0].text.ends_with('…'), "{l:?}");
        }
        // Lines do not overlap each other.
        for pair in lines.windows(2) {
            assert!(pair[1].baseline_mm - pair[0].baseline_mm >= pair[0].size_pt * MM_PER_PT);
        }

        // Seven ordinary lines are not truncated and use a readable size.
        let addr = address(&[
            "Mr Alexander Worthington-Smythe",
            "Apartment 42",
            "Riverside Court",
            "27 Long Acre Road",
            "Sutton Coldfield",
            "West Midlands",
            "B75 7AA",
        ]);
        let second = layout(&letter(&addr, "Body")).expect("layout");
        let lines: Vec<_> = second
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Address)
            .collect();
        assert_eq!(lines.len(), 7);
        for (l, expected) in lines.iter().zip(&addr) {
            assert_eq!(&l.runs[0].text, expected);
            assert!(l.size_pt >= 10.0, "{l:?}");
            assert!(l.y_mm >= wy0 && l.bottom_mm <= wy1, "{l:?}");
        }
    }

    #[test]
    fn wrapping_respects_width_and_breaks_long_words() {
        let fonts = fonts().expect("fonts");
        let spans = parse_inline(
            "short **bold words** and an Unbreakablewordthatgoesonforeverandeverandever",
            Style::Regular,
        );
        let lines = wrap(fonts, &spans, 11.0, 40.0);
        assert!(lines.len() > 2, "{lines:?}");
        for l in &lines {
            let w: f32 = l.iter().map(|(s, t)| fonts.width_mm(*s, 11.0, t)).sum();
            assert!(w <= 40.0, "{l:?} is {w} mm");
            assert!(!l.first().is_some_and(|(_, t)| t.starts_with(' ')), "{l:?}");
        }
        let text: String = lines.iter().flatten().map(|(_, t)| t.as_str()).collect();
        assert!(text.contains("Unbreakable"));
        assert!(
            lines
                .iter()
                .flatten()
                .any(|(s, t)| *s == Style::Bold && t.contains("bold"))
        );
        assert!(wrap(fonts, &[], 11.0, 40.0).is_empty());
        assert!(wrap(fonts, &[(Style::Regular, "   ".into())], 11.0, 40.0).is_empty());
    }

    #[test]
    fn inline_bold_parsing() {
        assert_eq!(
            parse_inline("a **b** c", Style::Regular),
            vec![
                (Style::Regular, "a ".into()),
                (Style::Bold, "b".into()),
                (Style::Regular, " c".into())
            ]
        );
        assert_eq!(
            parse_inline("a ** b", Style::Regular),
            vec![(Style::Regular, "a ** b".into())]
        );
        assert_eq!(
            parse_inline("**x** y **z", Style::Regular),
            vec![(Style::Bold, "x".into()), (Style::Regular, " y **z".into())]
        );
    }

    #[test]
    fn odd_input_does_not_panic() {
        let addr = address(&["", "\t😀 ünïcødé \u{7}", "ZZ99 9ZZ"]);
        for body in [
            "",
            "\n\n\n",
            "***",
            "😀😀😀 emoji, 中文, عربى, \u{0301}combining, \u{200b}zero width\ttab\r\nCRLF\rCR",
            "# \n#\n* \n- \n1. \n**\n****\n** **",
            &"x".repeat(5000),
        ] {
            let mut content = letter(&addr, body);
            content.contact_block = None;
            content.subject = "";
            let rendered = render_letter(&content).expect("renders");
            assert_eq!(
                pdf_pages(&rendered.pdf).1 as u32,
                rendered.page_count,
                "{body:?}"
            );
            assert_in_printable_area(&layout(&content).expect("layout"));
        }
        // Too many address lines are folded into the window rather than spilling out.
        let many: Vec<String> = (0..12).map(|i| format!("Line {i}")).collect();
        let folded = layout(&letter(&many, "Body")).expect("layout");
        let (_, wy0, _, wy1) = ADDRESS_WINDOW_MM;
        for l in folded.lines.iter().filter(|l| l.kind == LineKind::Address) {
            assert!(l.y_mm >= wy0 && l.bottom_mm <= wy1, "{l:?}");
        }
    }

    #[test]
    fn date_is_printed_in_full() {
        let addr = address(&["A. Person", "1 Street", "SW1A 1AA"]);
        let laid_out = layout(&letter(&addr, "Body")).expect("layout");
        let date: Vec<_> = laid_out
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Date)
            .map(|l| l.runs[0].text.as_str())
            .collect();
        assert_eq!(date, ["30 November 2026"]);
    }

    #[test]
    fn welsh_dates_and_page_numbers() {
        let addr = address(&["A. Person", "1 Street", "SW1A 1AA"]);
        let mut content = letter(&addr, "Annwyl gwsmer");
        content.language = Language::Welsh;
        let laid_out = layout(&content).expect("layout");
        let text_of = |kind| -> Vec<String> {
            laid_out
                .lines
                .iter()
                .filter(|l| l.kind == kind)
                .map(|l| l.runs[0].text.clone())
                .collect()
        };
        assert_eq!(text_of(LineKind::Date), ["30 Tachwedd 2026"]);
        assert_eq!(text_of(LineKind::PageNumber), ["Tudalen 1 o 1"]);
        let months: Vec<String> = (1..=12)
            .map(|m| Language::Welsh.date(NaiveDate::from_ymd_opt(2026, m, 1).expect("date")))
            .collect();
        assert_eq!(months[0], "1 Ionawr 2026");
        assert_eq!(months[6], "1 Gorffennaf 2026");
        assert_eq!(months[11], "1 Rhagfyr 2026");
    }

    #[test]
    fn bilingual_letters_are_welsh_then_english_each_numbered() {
        let addr = address(&["A. Person", "1 Street", "SW1A 1AA"]);
        let mut welsh = letter(&addr, "Annwyl gwsmer\n\n***\n\nAil dudalen");
        welsh.language = Language::Welsh;
        let english = letter(&addr, "Dear customer");
        let rendered = render_letters(&[welsh, english]).expect("renders");
        assert_eq!(rendered.page_count, 3);
        assert_eq!(pdf_pages(&rendered.pdf).1, 3);
    }

    #[test]
    fn qr_paragraphs_are_found_as_upstream_does() {
        let lines = [
            "Intro",
            "",
            "QR : https://example.gov.uk",
            "",
            "qr:",
            "x",
            "qr: y",
        ];
        assert_eq!(qr_paragraph(&lines, 2), Some("https://example.gov.uk"));
        assert_eq!(qr_paragraph(&lines, 4), None, "no data");
        assert_eq!(qr_paragraph(&lines, 6), None, "not a paragraph of its own");
        assert_eq!(qr_paragraph(&["qrs: a"], 0), None);
        let long = format!("qr: https://example.gov.uk/?{}", "a&".repeat(100));
        let too_long = qr_code_too_long(&long).expect("too long");
        assert_eq!(too_long.num_bytes, 24 + 200 + 400);
        assert!(qr_code_too_long(&format!("qr: {}", "a".repeat(504))).is_none());
        assert_eq!(
            qr_code_too_long(&format!("qr: {}", "a".repeat(505))).map(|q| q.num_bytes),
            Some(505)
        );
    }

    /// The QR code is drawn where upstream puts it and reads back as its data once the PDF
    /// is rendered to pixels.
    #[test]
    fn qr_codes_render_and_read_back() {
        let addr = address(&["A. Person", "1 Street", "SW1A 1AA"]);
        let data = "https://www.example.gov.uk/renew?ref=ABC-123";
        let body = format!("Scan this to renew:\n\nqr: {data}\n\nThank you.");
        let content = letter(&addr, &body);
        let laid_out = layout(&content).expect("layout");
        assert_eq!(laid_out.qr_codes.len(), 1);
        let qr = &laid_out.qr_codes[0];
        let centre = qr.x_mm + QR_SIZE_MM / 2.0;
        assert!((centre - (BODY_LEFT_MM + BODY_RIGHT_MM) / 2.0).abs() < 0.01);
        assert!((QR_SIZE_MM - 29.63).abs() < 0.01, "{QR_SIZE_MM}");

        let rendered = render_letter(&content).expect("renders");
        let page = crate::letters::raster::Rasteriser::open(&rendered.pdf)
            .and_then(|r| r.render(0, 200.0, &[]))
            .expect("rendered");
        let luma = page.luma();
        let (w, h) = (page.width as usize, page.height as usize);
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| luma[y * w + x]);
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code on the page");
        let (_, content) = grids[0].decode().expect("decodes");
        assert_eq!(content, data);
    }

    #[test]
    fn a_logo_sits_in_the_logo_box() {
        // A 4 × 1 PNG (blue): fitted to the 70 × 18 mm box by its width.
        let png = tiny_png(4, 1);
        let logo = Logo::from_bytes(png).expect("a PNG");
        let (x, y, w, h) = logo.placement();
        assert_eq!((x, y), (15.0, 10.0));
        assert!(
            (w - 70.0).abs() < 0.01 && (h - 17.5).abs() < 0.01,
            "{w} × {h}"
        );
        assert!(Logo::from_bytes(b"GIF89a".to_vec()).is_err());
        let addr = address(&["A. Person", "1 Street", "SW1A 1AA"]);
        let mut content = letter(&addr, "Body");
        content.logo = Some(&logo);
        let rendered = render_letter(&content).expect("renders");
        // The logo's pixels are blue at its centre; the page passes the printer's checks.
        let raster = crate::letters::raster::Rasteriser::open(&rendered.pdf).expect("opens");
        let page = raster.render(0, 72.0, &[]).expect("renders");
        let at = |x_mm: f32, y_mm: f32| {
            let px = (x_mm / MM_PER_PT).round() as usize;
            let py = (y_mm / MM_PER_PT).round() as usize;
            let i = (py * page.width as usize + px) * 3;
            (page.rgb[i], page.rgb[i + 1], page.rgb[i + 2])
        };
        assert_eq!(at(50.0, 18.0), (0x1d, 0x70, 0xb8));
        let verdict = crate::letters::validate::validate_precompiled(&rendered.pdf, false);
        assert!(
            matches!(verdict, crate::letters::validate::Validation::Passed { .. }),
            "{verdict:?}"
        );
    }

    /// A solid-colour RGB PNG.
    pub(crate) fn tiny_png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let pixels = [0x1d, 0x70, 0xb8].repeat((width * height) as usize);
        let mut writer = encoder.write_header().expect("png header");
        writer.write_image_data(&pixels).expect("png data");
        writer.finish().expect("png end");
        out
    }

    /// Figures measured with the hand-written TrueType reader this replaced (the whole of
    /// Unicode mapped to the same glyph ids and advances); a change here moves every line.
    #[test]
    fn font_metrics_are_pinned() {
        let fonts = fonts().expect("fonts");
        let (regular, bold) = (&fonts.regular.metrics, &fonts.bold.metrics);
        // Liberation Sans: 2048 units per em, hhea 1854 / -434 in both styles.
        for m in [regular, bold] {
            assert_eq!((m.ascent, m.descent), (1854.0 / 2048.0, 434.0 / 2048.0));
            for (c, gid) in [
                ('A', 36),
                ('W', 58),
                ('i', 76),
                ('£', 101),
                ('é', 171),
                ('–', 2015),
                ('€', 2088),
                ('😀', 0),
            ] {
                assert_eq!(m.glyph(c).0, gid, "{c}");
            }
        }
        let units = |m: &Metrics, c| m.glyph(c).1 * 2048.0;
        assert_eq!(units(regular, 'A'), 1366.0);
        assert_eq!(units(bold, 'A'), 1479.0);
        assert_eq!(units(regular, 'i'), 455.0);
        assert_eq!(units(bold, 'i'), 569.0);
        assert_eq!(units(regular, ' '), 569.0);
        // `.notdef`, drawn for characters the font lacks.
        assert_eq!(units(regular, '😀'), 1536.0);
        for (style, text, mm) in [
            (Style::Regular, "Hello, world", 20.272491),
            (Style::Bold, "Hello, world", 21.991077),
            (Style::Regular, "SW1A 1AA", 19.410357),
            (Style::Bold, "SW1A 1AA", 20.052694),
            (
                Style::Regular,
                "The quick brown fox jumps over the lazy dog",
                76.78687,
            ),
            (Style::Regular, "£1,234.56 – “café” 😀", 35.485863),
        ] {
            let width = fonts.width_mm(style, 11.0, text);
            assert!((width - mm).abs() < 1e-4, "{style:?} {text:?}: {width} mm");
        }
        assert!((fonts.extent_mm(11.0) - 4.335308).abs() < 1e-5);
    }

    #[test]
    fn font_metrics_are_sane() {
        let fonts = fonts().expect("fonts");
        let m = &fonts.regular.metrics;
        assert!(m.glyph('A').0 != 0);
        assert_eq!(m.glyph('😀').0, 0);
        assert!(m.glyph('W').1 > m.glyph('i').1);
        assert!(m.ascent > 0.5 && m.ascent < 1.2 && m.descent > 0.1 && m.descent < 0.5);
        assert!(
            fonts.width_mm(Style::Bold, 11.0, "Hello")
                > fonts.width_mm(Style::Regular, 11.0, "Hello")
        );
    }
}
