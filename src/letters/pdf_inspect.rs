//! A small PDF reader for precompiled letters: page geometry, where ink lands and which text
//! sits where. Upstream renders pages and inspects pixels; the appliance has no rasteriser, so
//! this interprets content streams (graphics state, paths, text, images, form XObjects and
//! annotation appearances) and keeps bounding boxes.
//!
//! Every coordinate leaving this module is in millimetres from the top-left corner of the page
//! as displayed (after `/Rotate`), the frame the letter specification is written in.

use std::collections::HashMap;
use std::rc::Rc;

use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId, Stream};
use unicode_normalization::UnicodeNormalization;

/// Millimetres in one PDF point.
pub const MM_PER_PT: f64 = 25.4 / 72.0;

/// Largest size any stream may decode to while the file loads (object and xref streams).
const MAX_LOAD_STREAM_BYTES: usize = 32 << 20;
/// Content decoded for one page, form XObjects included: the decompression-bomb guard.
const MAX_PAGE_CONTENT_BYTES: usize = 16 << 20;
/// Operators plus glyphs interpreted for one page, so a tiny file cannot keep us busy for
/// minutes or hold hundreds of megabytes of parsed operators. Real letter pages use thousands.
const MAX_PAGE_OPERATIONS: usize = 500_000;
/// Glyphs kept for text extraction on one page (a dense page of text has under 10 000).
const MAX_PAGE_GLYPHS: usize = 100_000;
/// Parsed form XObjects kept between pages, in operators.
const MAX_CACHED_FORM_OPERATIONS: usize = 500_000;
const MAX_CODESPACE_RANGES: usize = 64;
/// A ToUnicode or encoding CMap larger than this is ignored rather than decoded.
const MAX_CMAP_BYTES: usize = 1 << 20;
const MAX_CMAP_ENTRIES: usize = 100_000;
const MAX_FORM_DEPTH: usize = 12;
const MAX_SAVED_STATES: usize = 256;
const MAX_INHERITANCE_DEPTH: usize = 64;
const MAX_ANNOTATIONS: usize = 500;

/// Glyphs whose baselines differ by at most this much (1 pt) share a line.
const LINE_TOLERANCE_MM: f64 = 25.4 / 72.0;
/// A horizontal gap wider than this fraction of the font size separates two words: above
/// kerning and letter-spacing, below the width of a space in common fonts (0.25–0.28 em).
const WORD_GAP_EM: f64 = 0.15;

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

// ---------------------------------------------------------------------------------------------
// Geometry
// ---------------------------------------------------------------------------------------------

/// An affine transform `[a b c d e f]` in PDF's row-vector convention: a point `(x, y)` maps to
/// `(a·x + c·y + e, b·x + d·y + f)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Matrix {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub d: f64,
    pub e: f64,
    pub f: f64,
}

impl Matrix {
    pub const IDENTITY: Matrix = Matrix::new(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);

    pub const fn new(a: f64, b: f64, c: f64, d: f64, e: f64, f: f64) -> Self {
        Self { a, b, c, d, e, f }
    }

    pub const fn translate(tx: f64, ty: f64) -> Self {
        Self::new(1.0, 0.0, 0.0, 1.0, tx, ty)
    }

    /// `self` applied first, then `next` (PDF writes this `self × next`; `cm` is
    /// `operand.then(ctm)`).
    pub fn then(&self, next: &Matrix) -> Matrix {
        Matrix {
            a: self.a * next.a + self.b * next.c,
            b: self.a * next.b + self.b * next.d,
            c: self.c * next.a + self.d * next.c,
            d: self.c * next.b + self.d * next.d,
            e: self.e * next.a + self.f * next.c + next.e,
            f: self.e * next.b + self.f * next.d + next.f,
        }
    }

    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        (
            self.a * x + self.c * y + self.e,
            self.b * x + self.d * y + self.f,
        )
    }

    /// The mean length a unit vector gets, for line widths.
    fn mean_scale(&self) -> f64 {
        (self.a * self.d - self.b * self.c).abs().sqrt()
    }

    fn from_numbers(objects: &[Object]) -> Option<Matrix> {
        let [a, b, c, d, e, f] = objects else {
            return None;
        };
        let m = Matrix::new(
            number(a)?,
            number(b)?,
            number(c)?,
            number(d)?,
            number(e)?,
            number(f)?,
        );
        [m.a, m.b, m.c, m.d, m.e, m.f]
            .iter()
            .all(|v| v.is_finite())
            .then_some(m)
    }
}

/// An axis-aligned rectangle; `x0 <= x1` and `y0 <= y1` when made with [`Rect::new`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl Rect {
    pub fn new(xa: f64, ya: f64, xb: f64, yb: f64) -> Self {
        Self {
            x0: xa.min(xb),
            y0: ya.min(yb),
            x1: xa.max(xb),
            y1: ya.max(yb),
        }
    }

    pub fn width(&self) -> f64 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> f64 {
        self.y1 - self.y0
    }

    pub fn is_finite(&self) -> bool {
        self.x0.is_finite() && self.y0.is_finite() && self.x1.is_finite() && self.y1.is_finite()
    }

    /// Each side pushed outwards by `by`.
    pub fn widen(&self, by: f64) -> Rect {
        Rect::new(self.x0 - by, self.y0 - by, self.x1 + by, self.y1 + by)
    }

    pub fn union(&self, other: &Rect) -> Rect {
        Rect {
            x0: self.x0.min(other.x0),
            y0: self.y0.min(other.y0),
            x1: self.x1.max(other.x1),
            y1: self.y1.max(other.y1),
        }
    }

    /// The common part, if it has an area.
    pub fn intersect(&self, other: &Rect) -> Option<Rect> {
        let r = Rect {
            x0: self.x0.max(other.x0),
            y0: self.y0.max(other.y0),
            x1: self.x1.min(other.x1),
            y1: self.y1.min(other.y1),
        };
        (r.x0 < r.x1 && r.y0 < r.y1).then_some(r)
    }

    /// True when the two overlap (touching edges do not count), as PyMuPDF's `intersects`.
    pub fn intersects(&self, other: &Rect) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }

    /// The bounding box of this rectangle's corners under `m`.
    pub fn transform(&self, m: &Matrix) -> Rect {
        let corners = [
            m.apply(self.x0, self.y0),
            m.apply(self.x1, self.y0),
            m.apply(self.x0, self.y1),
            m.apply(self.x1, self.y1),
        ];
        let mut r = Rect::new(corners[0].0, corners[0].1, corners[0].0, corners[0].1);
        for (x, y) in &corners[1..] {
            r = r.union(&Rect::new(*x, *y, *x, *y));
        }
        r
    }
}

/// A page's size and orientation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageGeometry {
    /// The page box (CropBox within MediaBox, else MediaBox) before rotation, in points:
    /// `[llx, lly, urx, ury]`.
    pub box_pt: [f64; 4],
    /// `/Rotate` normalised to 0, 90, 180 or 270; `None` when it is not a multiple of 90.
    pub rotate: Option<u16>,
}

impl PageGeometry {
    /// Width of the page box as stored (before rotation), in mm.
    pub fn box_width_mm(&self) -> f64 {
        (self.box_pt[2] - self.box_pt[0]) * MM_PER_PT
    }

    /// Height of the page box as stored (before rotation), in mm.
    pub fn box_height_mm(&self) -> f64 {
        (self.box_pt[3] - self.box_pt[1]) * MM_PER_PT
    }

    /// Width and height as displayed, in mm.
    pub fn display_size_mm(&self) -> (f64, f64) {
        match self.rotate {
            Some(90 | 270) => (self.box_height_mm(), self.box_width_mm()),
            _ => (self.box_width_mm(), self.box_height_mm()),
        }
    }

    /// Default user space → millimetres from the displayed page's top-left corner. `/Rotate`
    /// turns the page clockwise for display.
    pub fn display_matrix(&self) -> Matrix {
        let k = MM_PER_PT;
        let [llx, lly, urx, ury] = self.box_pt;
        match self.rotate {
            Some(90) => Matrix::new(0.0, k, k, 0.0, -k * lly, -k * llx),
            Some(180) => Matrix::new(-k, 0.0, 0.0, k, k * urx, -k * lly),
            Some(270) => Matrix::new(0.0, -k, -k, 0.0, k * ury, k * urx),
            _ => Matrix::new(k, 0.0, 0.0, -k, -k * llx, k * ury),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The file
// ---------------------------------------------------------------------------------------------

/// A parsed, unencrypted PDF with at least one page.
pub struct PdfFile {
    doc: Document,
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

    fn page(&self, index: usize) -> Result<(ObjectId, &Dictionary), PdfError> {
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

    pub fn scanner(&self) -> Scanner<'_> {
        Scanner {
            file: self,
            fonts: HashMap::new(),
            forms: HashMap::new(),
            cached_form_operations: 0,
            fallback_font: Rc::new(Font::fallback()),
        }
    }
}

fn page_number(index: usize) -> u32 {
    u32::try_from(index).map_or(u32::MAX, |i| i.saturating_add(1))
}

/// Follow references (lopdf bounds the chain).
fn resolve<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Object> {
    doc.dereference(object).ok().map(|(_, o)| o)
}

fn resolve_dict<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Dictionary> {
    resolve(doc, object)?.as_dict().ok()
}

fn dict_entry<'a>(doc: &'a Document, dict: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    resolve(doc, dict.get(key).ok()?)
}

fn number(object: &Object) -> Option<f64> {
    match object {
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) => Some(f64::from(*r)).filter(|v| v.is_finite()),
        _ => None,
    }
}

fn resolved_number(doc: &Document, object: &Object) -> Option<f64> {
    number(resolve(doc, object)?)
}

fn read_box(doc: &Document, object: &Object) -> Option<[f64; 4]> {
    let array = resolve(doc, object)?.as_array().ok()?;
    let [a, b, c, d] = array.as_slice() else {
        return None;
    };
    let v = [
        resolved_number(doc, a)?,
        resolved_number(doc, b)?,
        resolved_number(doc, c)?,
        resolved_number(doc, d)?,
    ];
    Some([
        v[0].min(v[2]),
        v[1].min(v[3]),
        v[0].max(v[2]),
        v[1].max(v[3]),
    ])
}

/// A page attribute, looked up through the page tree as PDF inheritance says.
fn inherited<'a>(doc: &'a Document, page: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    let mut node = page;
    for _ in 0..MAX_INHERITANCE_DEPTH {
        if let Ok(value) = node.get(key) {
            return Some(value);
        }
        node = resolve_dict(doc, node.get(b"Parent").ok()?)?;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Page content
// ---------------------------------------------------------------------------------------------

/// One glyph shown on the page (visible or not: text extraction reads invisible text too, as
/// upstream's PyMuPDF does, which is what makes scanned letters with an OCR layer work).
#[derive(Debug, Clone, PartialEq)]
pub struct TextGlyph {
    pub text: String,
    /// From the origin to the advance, descent to ascent.
    pub bbox: Rect,
    /// Display y of the glyph origin.
    pub baseline: f64,
    /// Font size as displayed, in mm.
    pub size: f64,
}

/// What a page paints and writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageContent {
    /// Bounding boxes of everything that puts ink on the page, clipped to the visible page.
    pub marks: Vec<Rect>,
    pub glyphs: Vec<TextGlyph>,
}

/// Interprets pages of one file, sharing parsed fonts and forms between pages.
pub struct Scanner<'a> {
    file: &'a PdfFile,
    fonts: HashMap<ObjectId, Rc<Font>>,
    forms: HashMap<ObjectId, Rc<Vec<Operation>>>,
    cached_form_operations: usize,
    fallback_font: Rc<Font>,
}

impl<'a> Scanner<'a> {
    pub fn scan_page(&mut self, index: usize) -> Result<PageContent, PdfError> {
        let file = self.file;
        let number = page_number(index);
        let geometry = file.geometry(index)?;
        let (page_id, page) = file.page(index)?;
        let doc = &file.doc;
        let resources = inherited(doc, page, b"Resources").and_then(|o| resolve_dict(doc, o));

        let content = doc
            .get_page_content_with_limit(page_id, MAX_PAGE_CONTENT_BYTES)
            .map_err(|_| PdfError::TooComplex(number))?;
        let ops = parse_operations(&content).ok_or(PdfError::TooComplex(number))?;
        let (width, height) = geometry.display_size_mm();
        let page_rect = Rect::new(0.0, 0.0, width, height);
        let base = GState::new(geometry.display_matrix(), page_rect);

        let mut run = Run {
            scanner: self,
            page: number,
            bytes_left: MAX_PAGE_CONTENT_BYTES.saturating_sub(content.len()),
            ops_left: MAX_PAGE_OPERATIONS,
            active_forms: Vec::new(),
            out: PageContent::default(),
        };
        let mut gs = base.clone();
        run.exec(&ops, resources, &mut gs, 0)?;
        run.annotations(page, &base)?;
        Ok(run.out)
    }
}

fn parse_operations(content: &[u8]) -> Option<Vec<Operation>> {
    // Like viewers, keep what parses before the first syntax error.
    let ops: Vec<Operation> = Content::decode_iter(content)
        .map_while(Result::ok)
        .take(MAX_PAGE_OPERATIONS + 1)
        .collect();
    (ops.len() <= MAX_PAGE_OPERATIONS).then_some(ops)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Space {
    Gray,
    Rgb,
    Cmyk,
    /// Separation and DeviceN: a tint of 0 puts no ink down.
    Tint,
    /// Patterns, indexed, Lab and anything unknown: assumed to show.
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Paint {
    space: Space,
    white: bool,
}

impl Paint {
    /// A colour space's initial colour, which is never white.
    fn initial(space: Space) -> Self {
        Self {
            space,
            white: false,
        }
    }

    fn set(&mut self, components: &[Object]) {
        let values: Option<Vec<f64>> = components.iter().map(number).collect();
        self.white = match (self.space, values.as_deref()) {
            (Space::Gray, Some([g])) => *g >= 0.999,
            (Space::Rgb, Some(v @ [_, _, _])) => v.iter().all(|c| *c >= 0.999),
            (Space::Cmyk, Some(v @ [_, _, _, _])) => v.iter().all(|c| *c <= 0.001),
            (Space::Tint, Some(v)) if !v.is_empty() => v.iter().all(|c| *c <= 0.001),
            _ => false,
        };
    }

    fn device(space: Space, components: &[Object]) -> Self {
        let mut paint = Self::initial(space);
        paint.set(components);
        paint
    }
}

#[derive(Clone)]
struct GState {
    ctm: Matrix,
    /// Bounding box of the clipping path; `None` when nothing can show.
    clip: Option<Rect>,
    fill: Paint,
    stroke: Paint,
    fill_hidden: bool,
    stroke_hidden: bool,
    line_width: f64,
    font: Option<Rc<Font>>,
    font_size: f64,
    char_spacing: f64,
    word_spacing: f64,
    h_scale: f64,
    leading: f64,
    rise: f64,
    render_mode: i64,
}

impl GState {
    fn new(ctm: Matrix, page: Rect) -> Self {
        Self {
            ctm,
            clip: Some(page),
            fill: Paint::initial(Space::Gray),
            stroke: Paint::initial(Space::Gray),
            fill_hidden: false,
            stroke_hidden: false,
            line_width: 1.0,
            font: None,
            font_size: 0.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            h_scale: 1.0,
            leading: 0.0,
            rise: 0.0,
            render_mode: 0,
        }
    }

    fn fill_shows(&self) -> bool {
        !self.fill.white && !self.fill_hidden
    }

    fn stroke_shows(&self) -> bool {
        !self.stroke.white && !self.stroke_hidden
    }

    fn text_shows(&self) -> bool {
        match self.render_mode {
            0 | 4 => self.fill_shows(),
            1 | 5 => self.stroke_shows(),
            2 | 6 => self.fill_shows() || self.stroke_shows(),
            _ => false,
        }
    }
}

/// The interpretation of one page.
struct Run<'s, 'a> {
    scanner: &'s mut Scanner<'a>,
    page: u32,
    bytes_left: usize,
    ops_left: usize,
    active_forms: Vec<ObjectId>,
    out: PageContent,
}

/// Path construction state between painting operators.
#[derive(Default)]
struct PathState {
    bbox: Option<Rect>,
    clip_pending: bool,
}

impl PathState {
    fn add(&mut self, gs: &GState, x: f64, y: f64) {
        let (x, y) = gs.ctm.apply(x, y);
        let point = Rect::new(x, y, x, y);
        self.bbox = Some(self.bbox.map_or(point, |b| b.union(&point)));
    }

    fn add_numbers(&mut self, gs: &GState, operands: &[Object]) {
        let values: Option<Vec<f64>> = operands.iter().map(number).collect();
        if let Some(values) = values {
            for pair in values.chunks_exact(2) {
                self.add(gs, pair[0], pair[1]);
            }
        }
    }
}

impl<'a> Run<'_, 'a> {
    fn doc(&self) -> &'a Document {
        &self.scanner.file.doc
    }

    fn spend(&mut self, n: usize) -> Result<(), PdfError> {
        self.ops_left = self
            .ops_left
            .checked_sub(n)
            .ok_or(PdfError::TooComplex(self.page))?;
        Ok(())
    }

    fn mark(&mut self, gs: &GState, r: Rect) {
        if let Some(clipped) = gs.clip.and_then(|c| r.intersect(&c))
            && clipped.is_finite()
        {
            self.out.marks.push(clipped);
        }
    }

    fn exec(
        &mut self,
        ops: &[Operation],
        res: Option<&'a Dictionary>,
        gs: &mut GState,
        depth: usize,
    ) -> Result<(), PdfError> {
        let mut saved: Vec<GState> = Vec::new();
        let mut unsaved_q = 0usize;
        let mut path = PathState::default();
        let mut tm = Matrix::IDENTITY;
        let mut tlm = Matrix::IDENTITY;

        for op in ops {
            self.spend(1)?;
            let o = op.operands.as_slice();
            let n = |i: usize| o.get(i).and_then(number);
            match op.operator.as_str() {
                "q" => {
                    if saved.len() < MAX_SAVED_STATES {
                        saved.push(gs.clone());
                    } else {
                        unsaved_q += 1;
                    }
                }
                "Q" => {
                    if unsaved_q > 0 {
                        unsaved_q -= 1;
                    } else if let Some(state) = saved.pop() {
                        *gs = state;
                    }
                }
                "cm" => {
                    if let Some(m) = Matrix::from_numbers(o) {
                        gs.ctm = m.then(&gs.ctm);
                    }
                }
                "w" => {
                    if let Some(w) = n(0) {
                        gs.line_width = w.abs();
                    }
                }
                "gs" => self.ext_gstate(res, o, gs),
                "g" => gs.fill = Paint::device(Space::Gray, o),
                "G" => gs.stroke = Paint::device(Space::Gray, o),
                "rg" => gs.fill = Paint::device(Space::Rgb, o),
                "RG" => gs.stroke = Paint::device(Space::Rgb, o),
                "k" => gs.fill = Paint::device(Space::Cmyk, o),
                "K" => gs.stroke = Paint::device(Space::Cmyk, o),
                "cs" => gs.fill = Paint::initial(self.colour_space(res, o.first())),
                "CS" => gs.stroke = Paint::initial(self.colour_space(res, o.first())),
                "sc" | "scn" => gs.fill.set(o),
                "SC" | "SCN" => gs.stroke.set(o),

                "m" | "l" | "c" | "v" | "y" => path.add_numbers(gs, o),
                "re" => {
                    if let (Some(x), Some(y), Some(w), Some(h)) = (n(0), n(1), n(2), n(3)) {
                        for (px, py) in [(x, y), (x + w, y), (x, y + h), (x + w, y + h)] {
                            path.add(gs, px, py);
                        }
                    }
                }
                "W" | "W*" => path.clip_pending = true,
                "n" => self.end_path(gs, &mut path, false, false),
                "f" | "F" | "f*" => self.end_path(gs, &mut path, true, false),
                "S" | "s" => self.end_path(gs, &mut path, false, true),
                "B" | "B*" | "b" | "b*" => self.end_path(gs, &mut path, true, true),
                "sh" => {
                    // A shading fills the whole clip region.
                    if let Some(clip) = gs.clip
                        && !gs.fill_hidden
                    {
                        self.mark(gs, clip);
                    }
                }
                "BI" => {
                    let mask = o
                        .first()
                        .and_then(|i| i.as_stream().ok())
                        .is_some_and(|s| is_image_mask(&s.dict, self.doc()));
                    self.image(gs, mask);
                }
                "Do" => {
                    if let Some(name) = o.first().and_then(|n| n.as_name().ok()) {
                        self.xobject(res, name, gs, depth)?;
                    }
                }

                "BT" => {
                    tm = Matrix::IDENTITY;
                    tlm = Matrix::IDENTITY;
                }
                "Tf" => {
                    if let Some(name) = o.first().and_then(|n| n.as_name().ok()) {
                        gs.font = self.font(res, name);
                    }
                    if let Some(size) = n(1) {
                        gs.font_size = size;
                    }
                }
                "Tc" => gs.char_spacing = n(0).unwrap_or(gs.char_spacing),
                "Tw" => gs.word_spacing = n(0).unwrap_or(gs.word_spacing),
                "Tz" => gs.h_scale = n(0).map_or(gs.h_scale, |z| z / 100.0),
                "TL" => gs.leading = n(0).unwrap_or(gs.leading),
                "Ts" => gs.rise = n(0).unwrap_or(gs.rise),
                "Tr" => {
                    if let Some(Object::Integer(mode)) = o.first() {
                        gs.render_mode = *mode;
                    }
                }
                "Td" | "TD" => {
                    if let (Some(tx), Some(ty)) = (n(0), n(1)) {
                        if op.operator == "TD" {
                            gs.leading = -ty;
                        }
                        tlm = Matrix::translate(tx, ty).then(&tlm);
                        tm = tlm;
                    }
                }
                "Tm" => {
                    if let Some(m) = Matrix::from_numbers(o) {
                        tlm = m;
                        tm = m;
                    }
                }
                "T*" => {
                    tlm = Matrix::translate(0.0, -gs.leading).then(&tlm);
                    tm = tlm;
                }
                "Tj" => {
                    if let Some(Object::String(bytes, _)) = o.first() {
                        self.show(gs, &mut tm, bytes)?;
                    }
                }
                "'" => {
                    tlm = Matrix::translate(0.0, -gs.leading).then(&tlm);
                    tm = tlm;
                    if let Some(Object::String(bytes, _)) = o.first() {
                        self.show(gs, &mut tm, bytes)?;
                    }
                }
                "\"" => {
                    if let (Some(aw), Some(ac), Some(Object::String(bytes, _))) =
                        (n(0), n(1), o.get(2))
                    {
                        gs.word_spacing = aw;
                        gs.char_spacing = ac;
                        tlm = Matrix::translate(0.0, -gs.leading).then(&tlm);
                        tm = tlm;
                        self.show(gs, &mut tm, bytes)?;
                    }
                }
                "TJ" => {
                    if let Some(Object::Array(items)) = o.first() {
                        for item in items {
                            match item {
                                Object::String(bytes, _) => self.show(gs, &mut tm, bytes)?,
                                other => {
                                    if let Some(adjust) = number(other) {
                                        let tx = -adjust / 1000.0 * gs.font_size * gs.h_scale;
                                        tm = Matrix::translate(tx, 0.0).then(&tm);
                                    }
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn end_path(&mut self, gs: &mut GState, path: &mut PathState, fill: bool, stroke: bool) {
        if let Some(bbox) = path.bbox.take() {
            // A fill of a shape with no area paints nothing; a stroke always has a width.
            if fill && gs.fill_shows() && bbox.width() > 0.0 && bbox.height() > 0.0 {
                self.mark(gs, bbox);
            }
            if stroke && gs.stroke_shows() {
                let half = (gs.line_width * gs.ctm.mean_scale() / 2.0).max(0.05);
                self.mark(gs, bbox.widen(half));
            }
            if path.clip_pending {
                gs.clip = gs.clip.and_then(|c| c.intersect(&bbox));
            }
        }
        path.clip_pending = false;
    }

    fn image(&mut self, gs: &GState, mask: bool) {
        // An image mask is painted in the fill colour; other images show whatever the colour.
        let shows = if mask {
            gs.fill_shows()
        } else {
            !gs.fill_hidden
        };
        if shows {
            let square = Rect::new(0.0, 0.0, 1.0, 1.0).transform(&gs.ctm);
            self.mark(gs, square);
        }
    }

    fn ext_gstate(&mut self, res: Option<&'a Dictionary>, operands: &[Object], gs: &mut GState) {
        let doc = self.doc();
        let Some(dict) = operands
            .first()
            .and_then(|n| n.as_name().ok())
            .and_then(|name| resource(doc, res, b"ExtGState", name))
            .and_then(|o| o.as_dict().ok())
        else {
            return;
        };
        if let Some(alpha) = dict_entry(doc, dict, b"ca").and_then(number) {
            gs.fill_hidden = alpha <= 0.001;
        }
        if let Some(alpha) = dict_entry(doc, dict, b"CA").and_then(number) {
            gs.stroke_hidden = alpha <= 0.001;
        }
        if let Some(width) = dict_entry(doc, dict, b"LW").and_then(number) {
            gs.line_width = width.abs();
        }
        if let Some(Object::Array(font)) = dict_entry(doc, dict, b"Font")
            && let [font_ref, size] = font.as_slice()
        {
            if let Ok(id) = font_ref.as_reference() {
                gs.font = Some(self.font_by_id(id));
            }
            if let Some(size) = number(size) {
                gs.font_size = size;
            }
        }
    }

    fn colour_space(&self, res: Option<&'a Dictionary>, operand: Option<&Object>) -> Space {
        let Some(name) = operand.and_then(|n| n.as_name().ok()) else {
            return Space::Other;
        };
        match name {
            b"DeviceGray" | b"G" | b"CalGray" => Space::Gray,
            b"DeviceRGB" | b"RGB" | b"CalRGB" => Space::Rgb,
            b"DeviceCMYK" | b"CMYK" => Space::Cmyk,
            b"Pattern" => Space::Other,
            _ => resource(self.doc(), res, b"ColorSpace", name)
                .map_or(Space::Other, |cs| classify_space(self.doc(), cs, 0)),
        }
    }

    fn xobject(
        &mut self,
        res: Option<&'a Dictionary>,
        name: &[u8],
        gs: &GState,
        depth: usize,
    ) -> Result<(), PdfError> {
        let doc = self.doc();
        let Some(entry) = res
            .and_then(|r| dict_entry(doc, r, b"XObject"))
            .and_then(|x| x.as_dict().ok())
            .and_then(|x| x.get(name).ok())
        else {
            return Ok(());
        };
        let Ok((id, object)) = doc.dereference(entry) else {
            return Ok(());
        };
        let Ok(stream) = object.as_stream() else {
            return Ok(());
        };
        match stream.dict.get(b"Subtype").and_then(Object::as_name) {
            Ok(b"Image") => {
                let mask = is_image_mask(&stream.dict, doc);
                self.image(gs, mask);
                Ok(())
            }
            Ok(b"Form") => self.form(id, stream, res, gs, depth),
            _ => Ok(()),
        }
    }

    fn form(
        &mut self,
        id: Option<ObjectId>,
        stream: &'a Stream,
        parent_res: Option<&'a Dictionary>,
        gs: &GState,
        depth: usize,
    ) -> Result<(), PdfError> {
        if depth >= MAX_FORM_DEPTH || id.is_some_and(|id| self.active_forms.contains(&id)) {
            return Ok(());
        }
        let ops = match id.and_then(|id| self.scanner.forms.get(&id)) {
            Some(ops) => Rc::clone(ops),
            None => {
                let ops = Rc::new(self.decode_form(stream)?);
                let cached = self.scanner.cached_form_operations + ops.len();
                if let Some(id) = id
                    && cached <= MAX_CACHED_FORM_OPERATIONS
                {
                    self.scanner.cached_form_operations = cached;
                    self.scanner.forms.insert(id, Rc::clone(&ops));
                }
                ops
            }
        };
        let doc = self.doc();
        let mut inner = gs.clone();
        if let Some(Object::Array(m)) = dict_entry(doc, &stream.dict, b"Matrix")
            && let Some(m) = Matrix::from_numbers(m)
        {
            inner.ctm = m.then(&gs.ctm);
        }
        if let Some(b) = stream.dict.get(b"BBox").ok().and_then(|o| read_box(doc, o)) {
            let bbox = Rect::new(b[0], b[1], b[2], b[3]).transform(&inner.ctm);
            inner.clip = inner.clip.and_then(|c| c.intersect(&bbox));
        }
        let res = dict_entry(doc, &stream.dict, b"Resources")
            .and_then(|r| r.as_dict().ok())
            .or(parent_res);
        if let Some(id) = id {
            self.active_forms.push(id);
        }
        let result = self.exec(&ops, res, &mut inner, depth + 1);
        if id.is_some() {
            self.active_forms.pop();
        }
        result
    }

    fn decode_form(&mut self, stream: &Stream) -> Result<Vec<Operation>, PdfError> {
        let too_big = PdfError::TooComplex(self.page);
        let data = match stream.decompressed_content_with_limit(self.bytes_left) {
            Ok(data) => data,
            Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                ..
            })) => return Err(too_big),
            // An unsupported or corrupt filter: viewers show nothing for it.
            Err(_) => Vec::new(),
        };
        self.bytes_left = self.bytes_left.checked_sub(data.len()).ok_or(too_big)?;
        parse_operations(&data).ok_or(PdfError::TooComplex(self.page))
    }

    /// Annotation appearances are rendered with the page (form fields, stamps).
    fn annotations(&mut self, page: &'a Dictionary, base: &GState) -> Result<(), PdfError> {
        let doc = self.doc();
        let Some(Object::Array(annots)) = dict_entry(doc, page, b"Annots") else {
            return Ok(());
        };
        for annot in annots.iter().take(MAX_ANNOTATIONS) {
            let Some(annot) = resolve_dict(doc, annot) else {
                continue;
            };
            let flags = dict_entry(doc, annot, b"F")
                .and_then(|f| f.as_i64().ok())
                .unwrap_or(0);
            // Hidden (2) or NoView (32).
            if flags & (2 | 32) != 0 {
                continue;
            }
            let Some(rect) = annot.get(b"Rect").ok().and_then(|r| read_box(doc, r)) else {
                continue;
            };
            let Some((id, stream)) = appearance(doc, annot) else {
                continue;
            };
            let form_matrix = match dict_entry(doc, &stream.dict, b"Matrix") {
                Some(Object::Array(m)) => Matrix::from_numbers(m).unwrap_or(Matrix::IDENTITY),
                _ => Matrix::IDENTITY,
            };
            let Some(b) = stream.dict.get(b"BBox").ok().and_then(|o| read_box(doc, o)) else {
                continue;
            };
            // PDF 32000 §12.5.5: map the transformed BBox onto Rect.
            let shown = Rect::new(b[0], b[1], b[2], b[3]).transform(&form_matrix);
            if shown.width() <= 0.0 || shown.height() <= 0.0 {
                continue;
            }
            let fit = Matrix::translate(-shown.x0, -shown.y0)
                .then(&Matrix::new(
                    (rect[2] - rect[0]) / shown.width(),
                    0.0,
                    0.0,
                    (rect[3] - rect[1]) / shown.height(),
                    0.0,
                    0.0,
                ))
                .then(&Matrix::translate(rect[0], rect[1]));
            let mut gs = base.clone();
            gs.ctm = fit.then(&base.ctm);
            self.form(id, stream, None, &gs, 0)?;
        }
        Ok(())
    }

    fn font(&mut self, res: Option<&'a Dictionary>, name: &[u8]) -> Option<Rc<Font>> {
        let doc = self.doc();
        let entry = res
            .and_then(|r| dict_entry(doc, r, b"Font"))
            .and_then(|f| f.as_dict().ok())
            .and_then(|f| f.get(name).ok())?;
        match entry.as_reference() {
            Ok(id) => Some(self.font_by_id(id)),
            Err(_) => entry
                .as_dict()
                .ok()
                .map(|dict| Rc::new(Font::from_dict(doc, dict))),
        }
    }

    fn font_by_id(&mut self, id: ObjectId) -> Rc<Font> {
        if let Some(font) = self.scanner.fonts.get(&id) {
            return Rc::clone(font);
        }
        let doc = self.doc();
        let font = match doc.get_dictionary(id) {
            Ok(dict) => Rc::new(Font::from_dict(doc, dict)),
            Err(_) => Rc::clone(&self.scanner.fallback_font),
        };
        self.scanner.fonts.insert(id, Rc::clone(&font));
        font
    }

    fn show(&mut self, gs: &GState, tm: &mut Matrix, bytes: &[u8]) -> Result<(), PdfError> {
        let font = gs
            .font
            .clone()
            .unwrap_or_else(|| Rc::clone(&self.scanner.fallback_font));
        let shows = gs.text_shows();
        let size = gs.font_size;
        let th = gs.h_scale;
        let glyph_space = Matrix::new(size * th, 0.0, 0.0, size, 0.0, gs.rise);
        for (code, len) in font.codes(bytes) {
            self.spend(1)?;
            let text = font.unicode(code, len);
            let width = font.width(code, &text);
            let trm = glyph_space.then(tm).then(&gs.ctm);
            let bbox = Rect::new(0.0, font.descent, width, font.ascent).transform(&trm);
            let blank = !text.is_empty() && text.chars().all(char::is_whitespace);
            if shows && !blank {
                self.mark(gs, bbox);
            }
            let (_, baseline) = trm.apply(0.0, 0.0);
            let shown_size = trm.c.hypot(trm.d);
            if bbox.is_finite() && baseline.is_finite() && shown_size.is_finite() {
                if self.out.glyphs.len() >= MAX_PAGE_GLYPHS {
                    return Err(PdfError::TooComplex(self.page));
                }
                self.out.glyphs.push(TextGlyph {
                    text,
                    bbox,
                    baseline,
                    size: shown_size,
                });
            }
            let spacing = if len == 1 && code == 32 {
                gs.word_spacing
            } else {
                0.0
            };
            let tx = (width * size + gs.char_spacing + spacing) * th;
            *tm = Matrix::translate(tx, 0.0).then(tm);
        }
        Ok(())
    }
}

fn resource<'a>(
    doc: &'a Document,
    res: Option<&'a Dictionary>,
    category: &[u8],
    name: &[u8],
) -> Option<&'a Object> {
    let category = dict_entry(doc, res?, category)?.as_dict().ok()?;
    dict_entry(doc, category, name)
}

fn classify_space(doc: &Document, object: &Object, depth: u8) -> Space {
    if depth > 4 {
        return Space::Other;
    }
    match object {
        Object::Name(name) => match name.as_slice() {
            b"DeviceGray" | b"CalGray" => Space::Gray,
            b"DeviceRGB" | b"CalRGB" => Space::Rgb,
            b"DeviceCMYK" => Space::Cmyk,
            _ => Space::Other,
        },
        Object::Array(items) => {
            let family = items.first().and_then(|f| f.as_name().ok());
            match family {
                Some(b"ICCBased") => {
                    let components = items
                        .get(1)
                        .and_then(|s| resolve(doc, s))
                        .and_then(|s| s.as_stream().ok())
                        .and_then(|s| s.dict.get(b"N").ok())
                        .and_then(|n| n.as_i64().ok());
                    match components {
                        Some(1) => Space::Gray,
                        Some(3) => Space::Rgb,
                        Some(4) => Space::Cmyk,
                        _ => Space::Other,
                    }
                }
                Some(b"CalGray") => Space::Gray,
                Some(b"CalRGB") => Space::Rgb,
                Some(b"Separation" | b"DeviceN") => Space::Tint,
                _ => Space::Other,
            }
        }
        Object::Reference(_) => {
            resolve(doc, object).map_or(Space::Other, |o| classify_space(doc, o, depth + 1))
        }
        _ => Space::Other,
    }
}

fn is_image_mask(dict: &Dictionary, doc: &Document) -> bool {
    [b"ImageMask".as_slice(), b"IM"]
        .iter()
        .any(|key| matches!(dict_entry(doc, dict, key), Some(Object::Boolean(true))))
}

/// The normal appearance stream of an annotation, in its current state.
fn appearance<'a>(
    doc: &'a Document,
    annot: &'a Dictionary,
) -> Option<(Option<ObjectId>, &'a Stream)> {
    let ap = dict_entry(doc, annot, b"AP")?.as_dict().ok()?;
    let normal = ap.get(b"N").ok()?;
    let (id, object) = doc.dereference(normal).ok()?;
    if let Ok(stream) = object.as_stream() {
        return Some((id, stream));
    }
    let states = object.as_dict().ok()?;
    let state = annot.get(b"AS").ok()?.as_name().ok()?;
    let (id, object) = doc.dereference(states.get(state).ok()?).ok()?;
    Some((id, object.as_stream().ok()?))
}

// ---------------------------------------------------------------------------------------------
// Fonts
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Metrics {
    Helvetica,
    Courier,
    Unknown,
}

/// What the interpreter needs of a font: how to split strings into codes, their widths and
/// their Unicode text.
#[derive(Debug)]
struct Font {
    composite: bool,
    /// `(low, high, bytes)` code ranges of a composite font; empty means two-byte codes.
    codespace: Vec<(u32, u32, u8)>,
    first_char: u32,
    widths: Vec<f64>,
    missing_width: f64,
    metrics: Metrics,
    default_width: f64,
    cid_widths: HashMap<u32, f64>,
    cid_width_ranges: Vec<(u32, u32, f64)>,
    cid_map: Option<CMap>,
    to_unicode: Option<CMap>,
    /// Simple fonts: the text of each code under the font's encoding.
    encoding: Vec<Option<String>>,
    /// A predefined UCS-2/UTF-16 CMap: codes are Unicode.
    unicode_codes: bool,
    /// Glyph-space units to text space (1/1000, or a Type 3 font's matrix).
    scale: f64,
    /// Ascent and descent as fractions of the font size.
    ascent: f64,
    descent: f64,
}

impl Font {
    fn fallback() -> Self {
        Self {
            composite: false,
            codespace: Vec::new(),
            first_char: 0,
            widths: Vec::new(),
            missing_width: 0.0,
            metrics: Metrics::Unknown,
            default_width: 1000.0,
            cid_widths: HashMap::new(),
            cid_width_ranges: Vec::new(),
            cid_map: None,
            to_unicode: None,
            encoding: base_encoding(BaseEncoding::WinAnsi),
            unicode_codes: false,
            scale: 0.001,
            ascent: 0.75,
            descent: -0.25,
        }
    }

    fn from_dict(doc: &Document, dict: &Dictionary) -> Self {
        let mut font = Self::fallback();
        let subtype = dict_entry(doc, dict, b"Subtype").and_then(|s| s.as_name().ok());
        let base_font = dict_entry(doc, dict, b"BaseFont")
            .and_then(|b| b.as_name().ok())
            .map(|b| String::from_utf8_lossy(b).to_ascii_lowercase())
            .unwrap_or_default();
        font.metrics = if base_font.contains("helvetica") || base_font.contains("arial") {
            Metrics::Helvetica
        } else if base_font.contains("courier") {
            Metrics::Courier
        } else {
            Metrics::Unknown
        };
        (font.ascent, font.descent) = match font.metrics {
            Metrics::Helvetica => (0.718, -0.207),
            Metrics::Courier => (0.629, -0.157),
            Metrics::Unknown => (0.75, -0.25),
        };

        let descriptor_owner = if subtype == Some(b"Type0") {
            font.composite = true;
            let descendant = dict_entry(doc, dict, b"DescendantFonts")
                .and_then(|d| d.as_array().ok())
                .and_then(|d| d.first())
                .and_then(|d| resolve_dict(doc, d));
            font.read_composite(doc, dict, descendant);
            descendant
        } else {
            font.read_simple(doc, dict, subtype);
            Some(dict)
        };
        if let Some(descriptor) =
            descriptor_owner.and_then(|o| dict_entry(doc, o, b"FontDescriptor"))
            && let Ok(descriptor) = descriptor.as_dict()
        {
            font.read_descriptor(doc, descriptor);
        }
        if let Some(cmap) = dict_entry(doc, dict, b"ToUnicode")
            .and_then(|s| s.as_stream().ok())
            .and_then(read_cmap)
        {
            font.to_unicode = Some(cmap);
        }
        font
    }

    fn read_simple(&mut self, doc: &Document, dict: &Dictionary, subtype: Option<&[u8]>) {
        let default = match subtype {
            Some(b"Type1" | b"MMType1") => BaseEncoding::Standard,
            _ => BaseEncoding::WinAnsi,
        };
        let mut differences = None;
        let base = match dict_entry(doc, dict, b"Encoding") {
            Some(Object::Name(name)) => BaseEncoding::from_name(name).unwrap_or(default),
            Some(Object::Dictionary(enc)) => {
                differences = dict_entry(doc, enc, b"Differences").and_then(|d| d.as_array().ok());
                dict_entry(doc, enc, b"BaseEncoding")
                    .and_then(|b| b.as_name().ok())
                    .and_then(BaseEncoding::from_name)
                    .unwrap_or(default)
            }
            _ => default,
        };
        self.encoding = base_encoding(base);
        if let Some(differences) = differences {
            let mut code: i64 = 0;
            for item in differences {
                match resolve(doc, item) {
                    Some(Object::Integer(start)) => code = *start,
                    Some(Object::Name(name)) => {
                        if let Some(slot) = usize::try_from(code)
                            .ok()
                            .and_then(|c| self.encoding.get_mut(c))
                        {
                            *slot = glyph_name_text(name);
                        }
                        code += 1;
                    }
                    _ => {}
                }
            }
        }

        self.first_char = dict_entry(doc, dict, b"FirstChar")
            .and_then(|f| f.as_i64().ok())
            .and_then(|f| u32::try_from(f).ok())
            .unwrap_or(0);
        if let Some(Object::Array(widths)) = dict_entry(doc, dict, b"Widths") {
            self.widths = widths
                .iter()
                .take(256)
                .map(|w| resolved_number(doc, w).unwrap_or(0.0))
                .collect();
        }

        if subtype == Some(b"Type3") {
            let matrix = match dict_entry(doc, dict, b"FontMatrix") {
                Some(Object::Array(m)) => Matrix::from_numbers(m),
                _ => None,
            };
            if let Some(m) = matrix.filter(|m| m.a != 0.0 && m.d != 0.0) {
                self.scale = m.a.abs();
                if let Some(b) = dict.get(b"FontBBox").ok().and_then(|o| read_box(doc, o))
                    && b[3] > b[1]
                {
                    self.ascent = (b[3] * m.d.abs()).clamp(0.0, 2.0);
                    self.descent = (b[1] * m.d.abs()).clamp(-1.0, 0.0);
                }
            }
        }
    }

    fn read_composite(&mut self, doc: &Document, dict: &Dictionary, cid_font: Option<&Dictionary>) {
        self.encoding = Vec::new();
        match dict_entry(doc, dict, b"Encoding") {
            Some(Object::Name(name)) => {
                let name = name.as_slice();
                if name == b"Identity-H" || name == b"Identity-V" {
                    self.codespace = vec![(0, 0xFFFF, 2)];
                } else if name.windows(4).any(|w| w == b"UCS2" || w == b"UTF1") {
                    self.unicode_codes = true;
                }
            }
            Some(Object::Stream(stream)) => {
                if let Some(cmap) = read_cmap(stream) {
                    self.codespace = cmap.codespace.clone();
                    self.cid_map = Some(cmap);
                }
            }
            _ => {}
        }
        let Some(cid_font) = cid_font else {
            return;
        };
        if let Some(dw) = dict_entry(doc, cid_font, b"DW").and_then(number) {
            self.default_width = dw;
        }
        if let Some(Object::Array(w)) = dict_entry(doc, cid_font, b"W") {
            let mut i = 0;
            while i < w.len() && self.cid_widths.len() < 65_536 {
                let Some(first) = resolved_number(doc, &w[i]) else {
                    break;
                };
                match w.get(i + 1).and_then(|o| resolve(doc, o)) {
                    Some(Object::Array(list)) => {
                        for (offset, width) in list.iter().enumerate().take(65_536) {
                            if let Some(width) = resolved_number(doc, width) {
                                self.cid_widths
                                    .insert((first as u32).wrapping_add(offset as u32), width);
                            }
                        }
                        i += 2;
                    }
                    Some(last) => {
                        if let (Some(last), Some(width)) = (
                            number(last),
                            w.get(i + 2).and_then(|o| resolved_number(doc, o)),
                        ) {
                            self.cid_width_ranges
                                .push((first as u32, last as u32, width));
                        }
                        i += 3;
                    }
                    None => break,
                }
            }
            self.cid_width_ranges.sort_by_key(|(lo, _, _)| *lo);
        }
    }

    fn read_descriptor(&mut self, doc: &Document, descriptor: &Dictionary) {
        let value = |key: &[u8]| dict_entry(doc, descriptor, key).and_then(number);
        if self.scale == 0.001 {
            if let Some(ascent) = value(b"Ascent").filter(|a| *a > 0.0 && *a <= 2000.0) {
                self.ascent = ascent / 1000.0;
            }
            // Some producers write the descent as a positive number.
            if let Some(descent) = value(b"Descent").filter(|d| *d != 0.0 && d.abs() <= 1000.0) {
                self.descent = -descent.abs() / 1000.0;
            }
        }
        if let Some(missing) = value(b"MissingWidth") {
            self.missing_width = missing;
        }
    }

    /// Split a shown string into character codes and their lengths in bytes.
    fn codes(&self, bytes: &[u8]) -> Vec<(u32, u8)> {
        if !self.composite {
            return bytes.iter().map(|b| (u32::from(*b), 1)).collect();
        }
        let mut out = Vec::with_capacity(bytes.len() / 2 + 1);
        let mut i = 0;
        while i < bytes.len() {
            let rest = &bytes[i..];
            let len = if self.codespace.is_empty() {
                2
            } else {
                (1..=4usize)
                    .take_while(|n| *n <= rest.len())
                    .find(|n| {
                        self.codespace.iter().any(|(lo, hi, l)| {
                            usize::from(*l) == *n && in_codespace(&rest[..*n], *lo, *hi)
                        })
                    })
                    .unwrap_or_else(|| {
                        self.codespace
                            .iter()
                            .map(|(_, _, l)| usize::from(*l))
                            .min()
                            .unwrap_or(1)
                    })
            };
            let len = len.clamp(1, rest.len());
            let code = rest[..len]
                .iter()
                .fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
            out.push((code, len as u8));
            i += len;
        }
        out
    }

    fn unicode(&self, code: u32, len: u8) -> String {
        let text = self
            .to_unicode
            .as_ref()
            .and_then(|cmap| cmap.unicode(code, len))
            .or_else(|| {
                if self.composite {
                    self.unicode_codes
                        .then(|| char::from_u32(code).map(String::from))
                        .flatten()
                } else {
                    self.encoding.get(code as usize).cloned().flatten()
                }
            })
            .unwrap_or_else(|| char::REPLACEMENT_CHARACTER.to_string());
        // Line breaks or control characters inside a glyph would split address lines.
        if text
            .chars()
            .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
        {
            text.chars()
                .map(|c| {
                    if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                        ' '
                    } else {
                        c
                    }
                })
                .collect()
        } else {
            text
        }
    }

    /// Advance width of a code as a fraction of the font size.
    fn width(&self, code: u32, text: &str) -> f64 {
        if self.composite {
            let cid = match &self.cid_map {
                Some(map) => map.cid(code).unwrap_or(0),
                None => code,
            };
            let width = self.cid_widths.get(&cid).copied().or_else(|| {
                find_range(&self.cid_width_ranges, u64::from(cid), |(lo, hi, _)| {
                    (u64::from(*lo), u64::from(*hi))
                })
                .map(|(_, _, w)| *w)
            });
            return width.unwrap_or(self.default_width) * self.scale;
        }
        if let Some(w) = code
            .checked_sub(self.first_char)
            .and_then(|i| self.widths.get(i as usize))
        {
            return w * self.scale;
        }
        if self.missing_width > 0.0 {
            return self.missing_width * self.scale;
        }
        match self.metrics {
            Metrics::Courier => 0.6,
            Metrics::Helvetica => helvetica_width(text).unwrap_or(0.6),
            Metrics::Unknown => 0.6,
        }
    }
}

fn in_codespace(bytes: &[u8], lo: u32, hi: u32) -> bool {
    let n = bytes.len();
    bytes.iter().enumerate().all(|(i, b)| {
        let shift = 8 * (n - 1 - i);
        let (l, h) = (((lo >> shift) & 0xFF) as u8, ((hi >> shift) & 0xFF) as u8);
        (l..=h).contains(b)
    })
}

/// Helvetica's advance widths (Adobe AFM) for printable ASCII, in 1/1000 em.
pub(crate) const HELVETICA_ASCII: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278,
    278, // space – /
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0 – ?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722,
    778, // @ – O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P – _
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // ` – o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p – ~
];

fn helvetica_width(text: &str) -> Option<f64> {
    // Accented letters are as wide as their base letter.
    let base = text.nfd().next()?;
    let index = (base as u32).checked_sub(32)?;
    HELVETICA_ASCII
        .get(index as usize)
        .map(|w| f64::from(*w) / 1000.0)
}

// ---------------------------------------------------------------------------------------------
// Encodings and glyph names
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum BaseEncoding {
    Standard,
    WinAnsi,
    MacRoman,
}

impl BaseEncoding {
    fn from_name(name: &[u8]) -> Option<Self> {
        match name {
            b"StandardEncoding" => Some(Self::Standard),
            b"WinAnsiEncoding" => Some(Self::WinAnsi),
            b"MacRomanEncoding" => Some(Self::MacRoman),
            _ => None,
        }
    }
}

/// cp1252's 0x80–0x9F; `\0` marks the codes PDF leaves undefined.
const WIN_ANSI_HIGH: &str = "€\0‚ƒ„…†‡ˆ‰Š‹Œ\0Ž\0\0‘’“”•–—˜™š›œ\0žŸ";
/// Mac OS Roman 0x80–0xFF.
const MAC_ROMAN_HIGH: &str = "ÄÅÇÉÑÖÜáàâäãåçéèêëíìîïñóòôöõúùûü†°¢£§•¶ß®©™´¨≠ÆØ∞±≤≥¥µ∂∑∏π∫ªºΩæø¿¡¬√ƒ≈∆«»…\u{a0}ÀÃÕŒœ–—“”‘’÷◊ÿŸ⁄€‹›ﬁﬂ‡·‚„‰ÂÊÁËÈÍÎÏÌÓÔ\u{f8ff}ÒÚÛÙıˆ˜¯˘˙˚¸˝˛ˇ";
/// Adobe StandardEncoding above 0xA0 (the codes it defines there).
const STANDARD_HIGH: [(u8, char); 54] = [
    (0xA1, '¡'),
    (0xA2, '¢'),
    (0xA3, '£'),
    (0xA4, '⁄'),
    (0xA5, '¥'),
    (0xA6, 'ƒ'),
    (0xA7, '§'),
    (0xA8, '¤'),
    (0xA9, '\''),
    (0xAA, '“'),
    (0xAB, '«'),
    (0xAC, '‹'),
    (0xAD, '›'),
    (0xAE, 'ﬁ'),
    (0xAF, 'ﬂ'),
    (0xB1, '–'),
    (0xB2, '†'),
    (0xB3, '‡'),
    (0xB4, '·'),
    (0xB6, '¶'),
    (0xB7, '•'),
    (0xB8, '‚'),
    (0xB9, '„'),
    (0xBA, '”'),
    (0xBB, '»'),
    (0xBC, '…'),
    (0xBD, '‰'),
    (0xBF, '¿'),
    (0xC1, '`'),
    (0xC2, '´'),
    (0xC3, 'ˆ'),
    (0xC4, '˜'),
    (0xC5, '¯'),
    (0xC6, '˘'),
    (0xC7, '˙'),
    (0xC8, '¨'),
    (0xCA, '˚'),
    (0xCB, '¸'),
    (0xCD, '˝'),
    (0xCE, '˛'),
    (0xCF, 'ˇ'),
    (0xD0, '—'),
    (0xE1, 'Æ'),
    (0xE3, 'ª'),
    (0xE8, 'Ł'),
    (0xE9, 'Ø'),
    (0xEA, 'Œ'),
    (0xEB, 'º'),
    (0xF1, 'æ'),
    (0xF5, 'ı'),
    (0xF8, 'ł'),
    (0xF9, 'ø'),
    (0xFA, 'œ'),
    (0xFB, 'ß'),
];

fn base_encoding(base: BaseEncoding) -> Vec<Option<String>> {
    (0u8..=255)
        .map(|code| {
            let c = match (base, code) {
                (_, 0x20..=0x7E) => match (base, code) {
                    (BaseEncoding::Standard, 0x27) => Some('’'),
                    (BaseEncoding::Standard, 0x60) => Some('‘'),
                    _ => Some(char::from(code)),
                },
                (BaseEncoding::WinAnsi, 0x80..=0x9F) => WIN_ANSI_HIGH
                    .chars()
                    .nth(usize::from(code - 0x80))
                    .filter(|c| *c != '\0'),
                (BaseEncoding::WinAnsi, 0xA0..=0xFF) => Some(char::from(code)),
                (BaseEncoding::MacRoman, 0x80..=0xFF) => {
                    MAC_ROMAN_HIGH.chars().nth(usize::from(code - 0x80))
                }
                (BaseEncoding::Standard, _) => STANDARD_HIGH
                    .iter()
                    .find(|(c, _)| *c == code)
                    .map(|(_, ch)| *ch),
                _ => None,
            };
            c.map(String::from)
        })
        .collect()
}

/// Adobe glyph names beyond single letters, `uniXXXX`, `uXXXX` and accented letters.
const GLYPH_NAMES: &[(&str, &str)] = &[
    ("space", " "),
    ("exclam", "!"),
    ("quotedbl", "\""),
    ("numbersign", "#"),
    ("dollar", "$"),
    ("percent", "%"),
    ("ampersand", "&"),
    ("quotesingle", "'"),
    ("quoteright", "’"),
    ("parenleft", "("),
    ("parenright", ")"),
    ("asterisk", "*"),
    ("plus", "+"),
    ("comma", ","),
    ("hyphen", "-"),
    ("period", "."),
    ("slash", "/"),
    ("zero", "0"),
    ("one", "1"),
    ("two", "2"),
    ("three", "3"),
    ("four", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("nine", "9"),
    ("colon", ":"),
    ("semicolon", ";"),
    ("less", "<"),
    ("equal", "="),
    ("greater", ">"),
    ("question", "?"),
    ("at", "@"),
    ("bracketleft", "["),
    ("backslash", "\\"),
    ("bracketright", "]"),
    ("asciicircum", "^"),
    ("underscore", "_"),
    ("grave", "`"),
    ("quoteleft", "‘"),
    ("braceleft", "{"),
    ("bar", "|"),
    ("braceright", "}"),
    ("asciitilde", "~"),
    ("exclamdown", "¡"),
    ("cent", "¢"),
    ("sterling", "£"),
    ("currency", "¤"),
    ("yen", "¥"),
    ("brokenbar", "¦"),
    ("section", "§"),
    ("dieresis", "¨"),
    ("copyright", "©"),
    ("ordfeminine", "ª"),
    ("guillemotleft", "«"),
    ("logicalnot", "¬"),
    ("registered", "®"),
    ("macron", "¯"),
    ("degree", "°"),
    ("plusminus", "±"),
    ("twosuperior", "²"),
    ("threesuperior", "³"),
    ("acute", "´"),
    ("mu", "µ"),
    ("paragraph", "¶"),
    ("periodcentered", "·"),
    ("cedilla", "¸"),
    ("onesuperior", "¹"),
    ("ordmasculine", "º"),
    ("guillemotright", "»"),
    ("onequarter", "¼"),
    ("onehalf", "½"),
    ("threequarters", "¾"),
    ("questiondown", "¿"),
    ("AE", "Æ"),
    ("Eth", "Ð"),
    ("multiply", "×"),
    ("Oslash", "Ø"),
    ("Thorn", "Þ"),
    ("germandbls", "ß"),
    ("ae", "æ"),
    ("eth", "ð"),
    ("divide", "÷"),
    ("oslash", "ø"),
    ("thorn", "þ"),
    ("dotlessi", "ı"),
    ("Lslash", "Ł"),
    ("lslash", "ł"),
    ("OE", "Œ"),
    ("oe", "œ"),
    ("florin", "ƒ"),
    ("circumflex", "ˆ"),
    ("tilde", "˜"),
    ("endash", "–"),
    ("emdash", "—"),
    ("quotesinglbase", "‚"),
    ("quotedblleft", "“"),
    ("quotedblright", "”"),
    ("quotedblbase", "„"),
    ("dagger", "†"),
    ("daggerdbl", "‡"),
    ("bullet", "•"),
    ("ellipsis", "…"),
    ("perthousand", "‰"),
    ("guilsinglleft", "‹"),
    ("guilsinglright", "›"),
    ("Euro", "€"),
    ("trademark", "™"),
    ("minus", "−"),
    ("nbspace", "\u{a0}"),
    ("nonbreakingspace", "\u{a0}"),
    ("sfthyphen", "\u{ad}"),
    ("softhyphen", "\u{ad}"),
    ("fi", "fi"),
    ("fl", "fl"),
    ("ff", "ff"),
    ("ffi", "ffi"),
    ("ffl", "ffl"),
];

/// Accent suffixes of glyph names (`eacute`) and their combining marks.
const ACCENTS: &[(&str, char)] = &[
    ("grave", '\u{300}'),
    ("acute", '\u{301}'),
    ("circumflex", '\u{302}'),
    ("tilde", '\u{303}'),
    ("macron", '\u{304}'),
    ("breve", '\u{306}'),
    ("dotaccent", '\u{307}'),
    ("dieresis", '\u{308}'),
    ("ring", '\u{30A}'),
    ("hungarumlaut", '\u{30B}'),
    ("caron", '\u{30C}'),
    ("commaaccent", '\u{326}'),
    ("cedilla", '\u{327}'),
    ("ogonek", '\u{328}'),
];

/// The text of a glyph name (Adobe Glyph List conventions, the common part of it).
fn glyph_name_text(name: &[u8]) -> Option<String> {
    let name = std::str::from_utf8(name).ok()?;
    let name = name.split('.').next()?;
    if name.contains('_') {
        return name.split('_').map(glyph_component).collect();
    }
    glyph_component(name)
}

fn glyph_component(name: &str) -> Option<String> {
    let hex_units = |hex: &str| -> Option<Vec<u16>> {
        if hex.is_empty()
            || !hex.len().is_multiple_of(4)
            || !hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return None;
        }
        (0..hex.len() / 4)
            .map(|i| u16::from_str_radix(&hex[i * 4..i * 4 + 4], 16).ok())
            .collect()
    };
    if name.len() == 1 && name.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Some(name.to_string());
    }
    if let Some(units) = name.strip_prefix("uni").and_then(hex_units) {
        return Some(String::from_utf16_lossy(&units));
    }
    if let Some(hex) = name.strip_prefix('u')
        && (4..=6).contains(&hex.len())
        && let Ok(value) = u32::from_str_radix(hex, 16)
        && let Some(c) = char::from_u32(value)
    {
        return Some(c.to_string());
    }
    if let Some((_, text)) = GLYPH_NAMES.iter().find(|(n, _)| *n == name) {
        return Some((*text).to_string());
    }
    for (suffix, mark) in ACCENTS {
        if let Some(base) = name.strip_suffix(suffix)
            && base.len() == 1
            && base.bytes().all(|b| b.is_ascii_alphabetic())
        {
            let composed: String = format!("{base}{mark}").nfc().collect();
            if composed.chars().count() == 1 {
                return Some(composed);
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// CMaps (ToUnicode and embedded encodings)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct CMap {
    codespace: Vec<(u32, u32, u8)>,
    bf: HashMap<(u8, u32), String>,
    bf_ranges: Vec<BfRange>,
    cids: HashMap<u32, u32>,
    cid_ranges: Vec<(u32, u32, u32)>,
}

#[derive(Debug)]
struct BfRange {
    len: u8,
    lo: u32,
    hi: u32,
    target: BfTarget,
}

#[derive(Debug)]
enum BfTarget {
    /// UTF-16 units whose last unit counts up from `lo`.
    Counting(Vec<u16>),
    Listed(Vec<String>),
}

fn read_cmap(stream: &Stream) -> Option<CMap> {
    let data = stream
        .decompressed_content_with_limit(MAX_CMAP_BYTES)
        .ok()?;
    Some(CMap::parse(&data))
}

impl CMap {
    fn parse(data: &[u8]) -> CMap {
        let mut cmap = CMap::default();
        let mut tokens = Lexer { data, pos: 0 };
        let mut entries = 0usize;
        while let Some(token) = tokens.next() {
            if entries > MAX_CMAP_ENTRIES {
                break;
            }
            let Token::Word(word) = token else {
                continue;
            };
            match word {
                b"begincodespacerange" => loop {
                    match tokens.next() {
                        Some(Token::Hex(lo)) => {
                            if let (Some(Token::Hex(hi)), Some((len, lo))) =
                                (tokens.next(), code_of(&lo))
                                && let Some((_, hi)) = code_of(&hi)
                            {
                                if cmap.codespace.len() < MAX_CODESPACE_RANGES {
                                    cmap.codespace.push((lo, hi, len));
                                }
                                entries += 1;
                            }
                        }
                        Some(Token::Word(_)) | None => break,
                        _ => {}
                    }
                },
                b"beginbfchar" => loop {
                    match tokens.next() {
                        Some(Token::Hex(src)) => {
                            let target = match tokens.next() {
                                Some(Token::Hex(dst)) => Some(utf16_text(&dst)),
                                Some(Token::Name(name)) => glyph_name_text(name),
                                _ => None,
                            };
                            if let (Some((len, code)), Some(target)) = (code_of(&src), target) {
                                cmap.bf.insert((len, code), target);
                                entries += 1;
                            }
                        }
                        Some(Token::Word(_)) | None => break,
                        _ => {}
                    }
                },
                b"beginbfrange" => loop {
                    match tokens.next() {
                        Some(Token::Hex(lo)) => {
                            let hi = tokens.next();
                            let target = match tokens.next() {
                                Some(Token::Hex(dst)) => {
                                    Some(BfTarget::Counting(utf16_units(&dst)))
                                }
                                Some(Token::Open) => {
                                    let mut list = Vec::new();
                                    while let Some(Token::Hex(dst)) = tokens.next() {
                                        list.push(utf16_text(&dst));
                                    }
                                    Some(BfTarget::Listed(list))
                                }
                                _ => None,
                            };
                            if let (Some((len, lo)), Some(Token::Hex(hi)), Some(target)) =
                                (code_of(&lo), hi, target)
                                && let Some((_, hi)) = code_of(&hi)
                                && lo <= hi
                            {
                                cmap.bf_ranges.push(BfRange {
                                    len,
                                    lo,
                                    hi,
                                    target,
                                });
                                entries += 1;
                            }
                        }
                        Some(Token::Word(_)) | None => break,
                        _ => {}
                    }
                },
                b"begincidchar" => loop {
                    match tokens.next() {
                        Some(Token::Hex(src)) => {
                            if let (Some(Token::Number(cid)), Some((_, code))) =
                                (tokens.next(), code_of(&src))
                            {
                                cmap.cids.insert(code, cid);
                                entries += 1;
                            }
                        }
                        Some(Token::Word(_)) | None => break,
                        _ => {}
                    }
                },
                b"begincidrange" => loop {
                    match tokens.next() {
                        Some(Token::Hex(lo)) => {
                            if let (Some(Token::Hex(hi)), Some(Token::Number(cid))) =
                                (tokens.next(), tokens.next())
                                && let (Some((_, lo)), Some((_, hi))) = (code_of(&lo), code_of(&hi))
                            {
                                cmap.cid_ranges.push((lo, hi, cid));
                                entries += 1;
                            }
                        }
                        Some(Token::Word(_)) | None => break,
                        _ => {}
                    }
                },
                _ => {}
            }
        }
        // Sorted for `find_range`.
        cmap.bf_ranges.sort_by_key(|r| range_key(r.len, r.lo));
        cmap.cid_ranges.sort_by_key(|(lo, _, _)| *lo);
        cmap
    }

    fn unicode(&self, code: u32, len: u8) -> Option<String> {
        if let Some(text) = self.bf.get(&(len, code)) {
            return Some(text.clone());
        }
        let range = find_range(&self.bf_ranges, range_key(len, code), |r| {
            (range_key(r.len, r.lo), range_key(r.len, r.hi))
        })?;
        let offset = code - range.lo;
        match &range.target {
            BfTarget::Counting(units) => {
                let mut units = units.clone();
                let last = units.last_mut()?;
                *last = last.wrapping_add(offset as u16);
                Some(String::from_utf16_lossy(&units))
            }
            BfTarget::Listed(list) => list.get(offset as usize).cloned(),
        }
    }

    fn cid(&self, code: u32) -> Option<u32> {
        self.cids.get(&code).copied().or_else(|| {
            find_range(&self.cid_ranges, u64::from(code), |(lo, hi, _)| {
                (u64::from(*lo), u64::from(*hi))
            })
            .map(|(lo, _, cid)| cid.wrapping_add(code - lo))
        })
    }
}

/// Orders codes by length first: `<41>` and `<0041>` are different codes.
fn range_key(len: u8, code: u32) -> u64 {
    (u64::from(len) << 32) | u64::from(code)
}

/// The range containing `code` in `ranges` sorted by start; `bounds` gives `(start, end)`.
/// Binary search keeps big CMaps and width arrays from costing a scan per glyph.
fn find_range<T>(ranges: &[T], code: u64, bounds: impl Fn(&T) -> (u64, u64)) -> Option<&T> {
    let after = ranges.partition_point(|r| bounds(r).0 <= code);
    let candidate = ranges.get(after.checked_sub(1)?)?;
    (bounds(candidate).1 >= code).then_some(candidate)
}

/// A hex string as a character code: its length in bytes (1–4) and value.
fn code_of(bytes: &[u8]) -> Option<(u8, u32)> {
    if bytes.is_empty() || bytes.len() > 4 {
        return None;
    }
    let value = bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
    Some((bytes.len() as u8, value))
}

fn utf16_units(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => u16::from_be_bytes([*hi, *lo]),
            [single] => u16::from(*single),
            _ => 0,
        })
        .collect()
}

fn utf16_text(bytes: &[u8]) -> String {
    String::from_utf16_lossy(&utf16_units(bytes))
}

#[derive(Debug, PartialEq)]
enum Token<'d> {
    Hex(Vec<u8>),
    Number(u32),
    Name(&'d [u8]),
    Word(&'d [u8]),
    Open,
    Close,
    Other,
}

/// Just enough PostScript tokenising for CMaps.
struct Lexer<'d> {
    data: &'d [u8],
    pos: usize,
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

impl<'d> Lexer<'d> {
    fn regular_run(&mut self) -> &'d [u8] {
        let start = self.pos;
        while let Some(&b) = self.data.get(self.pos) {
            if b.is_ascii_whitespace() || b == 0 || is_delimiter(b) {
                break;
            }
            self.pos += 1;
        }
        &self.data[start..self.pos]
    }
}

impl<'d> Iterator for Lexer<'d> {
    type Item = Token<'d>;

    fn next(&mut self) -> Option<Token<'d>> {
        loop {
            let b = *self.data.get(self.pos)?;
            if b.is_ascii_whitespace() || b == 0 {
                self.pos += 1;
            } else if b == b'%' {
                while self
                    .data
                    .get(self.pos)
                    .is_some_and(|c| *c != b'\n' && *c != b'\r')
                {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
        let b = self.data[self.pos];
        match b {
            b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                self.pos += 2;
                Some(Token::Other)
            }
            b'<' => {
                self.pos += 1;
                let mut digits = Vec::new();
                while let Some(&c) = self.data.get(self.pos) {
                    self.pos += 1;
                    if c == b'>' {
                        break;
                    }
                    if let Some(d) = (c as char).to_digit(16) {
                        digits.push(d as u8);
                    }
                }
                if !digits.len().is_multiple_of(2) {
                    digits.push(0);
                }
                Some(Token::Hex(
                    digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect(),
                ))
            }
            b'(' => {
                self.pos += 1;
                let mut depth = 1usize;
                while let Some(&c) = self.data.get(self.pos) {
                    self.pos += 1;
                    match c {
                        b'\\' => self.pos += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                Some(Token::Other)
            }
            b'[' => {
                self.pos += 1;
                Some(Token::Open)
            }
            b']' => {
                self.pos += 1;
                Some(Token::Close)
            }
            b'/' => {
                self.pos += 1;
                Some(Token::Name(self.regular_run()))
            }
            _ if is_delimiter(b) => {
                self.pos += 1;
                Some(Token::Other)
            }
            _ => {
                let run = self.regular_run();
                if run.first().is_some_and(u8::is_ascii_digit) {
                    Some(
                        std::str::from_utf8(run)
                            .ok()
                            .and_then(|s| s.parse::<u32>().ok())
                            .map_or(Token::Other, Token::Number),
                    )
                } else {
                    Some(Token::Word(run))
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Text lines
// ---------------------------------------------------------------------------------------------

struct Word {
    text: String,
    bbox: Rect,
}

/// The text of the words touching `area`, one entry per line, top to bottom, words joined by
/// single spaces — as upstream reads the address window with PyMuPDF's `get_text_words`.
pub fn text_lines(glyphs: &[TextGlyph], area: &Rect) -> Vec<String> {
    let mut order: Vec<&TextGlyph> = glyphs.iter().collect();
    order.sort_by(|a, b| a.baseline.total_cmp(&b.baseline));
    let mut lines = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let first = order[start].baseline;
        let end = start
            + order[start..]
                .iter()
                .take_while(|g| g.baseline - first <= LINE_TOLERANCE_MM)
                .count();
        let mut line = order[start..end].to_vec();
        line.sort_by(|a, b| a.bbox.x0.total_cmp(&b.bbox.x0));
        let words: Vec<String> = words(&line)
            .into_iter()
            .filter(|w| w.bbox.intersects(area))
            .map(|w| w.text)
            .collect();
        if !words.is_empty() {
            lines.push(words.join(" "));
        }
        start = end;
    }
    lines
}

fn words(line: &[&TextGlyph]) -> Vec<Word> {
    let mut words = Vec::new();
    let mut current: Option<Word> = None;
    for glyph in line {
        if !glyph.text.is_empty() && glyph.text.chars().all(char::is_whitespace) {
            words.extend(current.take());
            continue;
        }
        if let Some(word) = &current
            && glyph.bbox.x0 - word.bbox.x1 > WORD_GAP_EM * glyph.size
        {
            words.extend(current.take());
        }
        match &mut current {
            Some(word) => {
                word.text.push_str(&glyph.text);
                word.bbox = word.bbox.union(&glyph.bbox);
            }
            None => {
                current = Some(Word {
                    text: glyph.text.clone(),
                    bbox: glyph.bbox,
                })
            }
        }
    }
    words.extend(current);
    words
}

#[cfg(test)]
mod tests;
