//! CMaps: ToUnicode maps (codes to text) and embedded encodings of composite fonts (code
//! space and codes to CIDs), with just enough PostScript tokenising to read them.

use std::collections::HashMap;

use lopdf::Stream;

use super::encodings::glyph_name_text;

const MAX_CODESPACE_RANGES: usize = 64;
/// A ToUnicode or encoding CMap larger than this is ignored rather than decoded.
const MAX_CMAP_BYTES: usize = 1 << 20;
const MAX_CMAP_ENTRIES: usize = 100_000;

#[derive(Debug, Default)]
pub(super) struct CMap {
    pub(super) codespace: Vec<(u32, u32, u8)>,
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

pub(super) fn read_cmap(stream: &Stream) -> Option<CMap> {
    let data = stream
        .decompressed_content_with_limit(MAX_CMAP_BYTES)
        .ok()?;
    Some(CMap::parse(&data))
}

impl CMap {
    pub(super) fn parse(data: &[u8]) -> CMap {
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

    pub(super) fn unicode(&self, code: u32, len: u8) -> Option<String> {
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

    pub(super) fn cid(&self, code: u32) -> Option<u32> {
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
pub(super) fn find_range<T>(
    ranges: &[T],
    code: u64,
    bounds: impl Fn(&T) -> (u64, u64),
) -> Option<&T> {
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Used by the page tests too, as a Type0 font's ToUnicode.
    pub(in super::super) const TO_UNICODE: &str =
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap
/CMapName /Test def
1 begincodespacerange <0000> <FFFF> endcodespacerange
2 beginbfchar <0003> <0020> <0024> <0041> endbfchar
1 beginbfrange <0044> <0046> <0061> endbfrange
1 beginbfrange <0050> <0051> [<00E9> <00660069>] endbfrange
endcmap CMapName currentdict /CMap defineresource pop end end";

    #[test]
    fn cmap_parsing() {
        let cmap = CMap::parse(TO_UNICODE.as_bytes());
        assert_eq!(cmap.codespace, vec![(0, 0xFFFF, 2)]);
        assert_eq!(cmap.unicode(0x24, 2).as_deref(), Some("A"));
        assert_eq!(cmap.unicode(0x45, 2).as_deref(), Some("b"));
        assert_eq!(cmap.unicode(0x51, 2).as_deref(), Some("fi"));
        assert_eq!(cmap.unicode(0x24, 1), None);
        let cids = CMap::parse(
            b"1 begincidrange <20> <7e> 1 endcidrange 1 begincidchar <ff> 500 endcidchar",
        );
        assert_eq!(cids.cid(0x21), Some(2));
        assert_eq!(cids.cid(0xff), Some(500));
        assert_eq!(cids.cid(0x10), None);
    }

    #[test]
    fn ranges_are_found_by_binary_search() {
        let ranges = [(0u64, 9u64), (20, 29), (30, 30), (40, 100)];
        let find = |code| find_range(&ranges, code, |r| *r).copied();
        assert_eq!(find(0), Some((0, 9)));
        assert_eq!(find(9), Some((0, 9)));
        assert_eq!(find(15), None);
        assert_eq!(find(30), Some((30, 30)));
        assert_eq!(find(77), Some((40, 100)));
        assert_eq!(find(101), None);
        // Ranges written out of order still resolve once parsed.
        let cmap = CMap::parse(b"2 beginbfrange <20> <21> <0061> <01> <02> <0041> endbfrange");
        assert_eq!(cmap.unicode(0x02, 1).as_deref(), Some("B"));
        assert_eq!(cmap.unicode(0x21, 1).as_deref(), Some("b"));
        assert_eq!(cmap.unicode(0x10, 1), None);
    }
}
