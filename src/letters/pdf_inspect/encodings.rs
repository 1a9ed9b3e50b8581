//! Encodings and glyph names: the text of a simple font's codes under its base encoding
//! (Standard, WinAnsi, MacRoman) and of Adobe glyph names in `/Differences` and CMaps.

use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, Copy)]
pub(super) enum BaseEncoding {
    Standard,
    WinAnsi,
    MacRoman,
}

impl BaseEncoding {
    pub(super) fn from_name(name: &[u8]) -> Option<Self> {
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

pub(super) fn base_encoding(base: BaseEncoding) -> Vec<Option<String>> {
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
pub(super) fn glyph_name_text(name: &[u8]) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyph_names() {
        for (name, text) in [
            ("A", "A"),
            ("eacute", "é"),
            ("Ccedilla", "Ç"),
            ("quoteright", "’"),
            ("uni00410042", "AB"),
            ("u1F600", "😀"),
            ("f_i", "fi"),
            ("a.sc", "a"),
            ("zero", "0"),
        ] {
            assert_eq!(
                glyph_name_text(name.as_bytes()).as_deref(),
                Some(text),
                "{name}"
            );
        }
        assert_eq!(glyph_name_text(b"g123"), None);
    }
}
