//! Fonts: what the interpreter needs of a font — how to split shown strings into character
//! codes, each code's advance width and Unicode text, and the font's ascent and descent.

use std::collections::HashMap;

use lopdf::{Dictionary, Document, Object};
use unicode_normalization::UnicodeNormalization;

use super::cmap::{CMap, find_range, read_cmap};
use super::encodings::{BaseEncoding, base_encoding, glyph_name_text};
use super::geometry::Matrix;
use super::objects::{dict_entry, number, read_box, resolve, resolve_dict, resolved_number};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Metrics {
    Helvetica,
    Courier,
    Unknown,
}

/// What the interpreter needs of a font: how to split strings into codes, their widths and
/// their Unicode text.
#[derive(Debug)]
pub(super) struct Font {
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
    pub(super) ascent: f64,
    pub(super) descent: f64,
}

impl Font {
    pub(super) fn fallback() -> Self {
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

    pub(super) fn from_dict(doc: &Document, dict: &Dictionary) -> Self {
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
    pub(super) fn codes(&self, bytes: &[u8]) -> Vec<(u32, u8)> {
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

    pub(super) fn unicode(&self, code: u32, len: u8) -> String {
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
    pub(super) fn width(&self, code: u32, text: &str) -> f64 {
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
