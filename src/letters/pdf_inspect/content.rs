//! Page content: the content-stream interpreter. It follows the graphics and text state
//! through paths, text, images, form XObjects and annotation appearances, and records the
//! bounding box of everything that puts ink on the page and every glyph shown.

use std::collections::HashMap;
use std::rc::Rc;

use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

use super::PdfError;
use super::file::{PdfFile, page_number};
use super::fonts::Font;
use super::geometry::{Matrix, Rect};
use super::objects::{dict_entry, inherited, number, read_box, resolve, resolve_dict};

/// Content decoded for one page, form XObjects included: the decompression-bomb guard.
const MAX_PAGE_CONTENT_BYTES: usize = 16 << 20;
/// Operators plus glyphs interpreted for one page, so a tiny file cannot keep us busy for
/// minutes or hold hundreds of megabytes of parsed operators. Real letter pages use thousands.
pub(super) const MAX_PAGE_OPERATIONS: usize = 500_000;
/// Glyphs kept for text extraction on one page (a dense page of text has under 10 000).
const MAX_PAGE_GLYPHS: usize = 100_000;
/// Parsed form XObjects kept between pages, in operators.
const MAX_CACHED_FORM_OPERATIONS: usize = 500_000;
const MAX_FORM_DEPTH: usize = 12;
const MAX_SAVED_STATES: usize = 256;
const MAX_ANNOTATIONS: usize = 500;

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
    pub(super) fn new(file: &'a PdfFile) -> Self {
        Self {
            file,
            fonts: HashMap::new(),
            forms: HashMap::new(),
            cached_form_operations: 0,
            fallback_font: Rc::new(Font::fallback()),
        }
    }

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
