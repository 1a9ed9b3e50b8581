//! Text lines: the glyphs of a page grouped into words and lines, as upstream reads the
//! address window.

use super::content::TextGlyph;
use super::geometry::Rect;

/// Glyphs whose baselines differ by at most this much (1 pt) share a line.
const LINE_TOLERANCE_MM: f64 = 25.4 / 72.0;
/// A horizontal gap wider than this fraction of the font size separates two words: above
/// kerning and letter-spacing, below the width of a space in common fonts (0.25–0.28 em).
const WORD_GAP_EM: f64 = 0.15;

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
mod tests {
    use super::*;

    fn glyph(text: &str, x0: f64, baseline: f64) -> TextGlyph {
        TextGlyph {
            text: text.to_string(),
            bbox: Rect::new(x0, baseline - 3.0, x0 + 2.0, baseline + 1.0),
            baseline,
            size: 4.0,
        }
    }

    #[test]
    fn text_lines_group_by_baseline_and_split_words() {
        let glyphs = vec![
            glyph("b", 12.0, 20.0),
            glyph("a", 10.0, 20.2),
            // 0.4 mm gap: same word. 1 mm gap (> 0.15 × 4 mm): new word.
            glyph("c", 14.4, 19.9),
            glyph("d", 17.4, 20.0),
            glyph(" ", 19.4, 20.0),
            glyph("e", 21.4, 20.0),
            glyph("x", 10.0, 30.0),
            // Far right of the area on the same line: dropped.
            glyph("far", 200.0, 30.0),
            glyph("above", 10.0, 5.0),
        ];
        let area = Rect::new(0.0, 10.0, 100.0, 40.0);
        assert_eq!(text_lines(&glyphs, &area), ["abc d e", "x"]);
        // Any overlap with the area takes the whole word.
        let glyphs = vec![glyph("L", 98.0, 20.0), glyph("ong", 100.0, 20.0)];
        assert_eq!(text_lines(&glyphs, &area), ["Long"]);
    }
}
