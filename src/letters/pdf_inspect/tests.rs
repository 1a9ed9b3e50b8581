//! The reader end to end: small PDFs built with lopdf, scanned page by page. Unit tests of
//! the parts that need no file (geometry, CMaps, glyph names, text lines) sit beside them.

use lopdf::{Dictionary, Document, Object, Stream, StringFormat, dictionary};

use super::cmap::tests::TO_UNICODE;
use super::content::MAX_PAGE_OPERATIONS;
use super::geometry::tests::{assert_rect, close};
use super::*;

const K: f64 = MM_PER_PT;
const H: f64 = 841.89;

/// Display rectangle (mm) of a user-space rectangle (pt) on an unrotated A4 page.
fn display(x0: f64, y0: f64, x1: f64, y1: f64) -> [f64; 4] {
    [x0 * K, (H - y1) * K, x1 * K, (H - y0) * K]
}

/// One A4 page with `content`, fonts F1 (Helvetica, no widths), F2 (widths A=500 B=600 C=700),
/// F3 (Identity-H, 2-byte codes, /W) and a form XObject X1 drawing a 10×10 square.
fn page_with(content: &str, media: [f64; 4], rotate: Option<i64>) -> PageContent {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let f1 = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let f2 = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Custom",
        "FirstChar" => 65, "LastChar" => 67, "Widths" => vec![500.into(), 600.into(), 700.into()],
        "Encoding" => dictionary! { "Differences" => vec![66.into(), Object::Name(b"eacute".to_vec())] },
    });
    let to_unicode = doc.add_object(Stream::new(
        Dictionary::new(),
        TO_UNICODE.as_bytes().to_vec(),
    ));
    let cid_font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "CIDFontType2", "BaseFont" => "Test",
        "DW" => 1000,
        "W" => vec![36.into(), vec![400.into(), 450.into()].into(), 68.into(), 70.into(), 250.into()],
        "FontDescriptor" => dictionary! { "Ascent" => 900, "Descent" => -200 },
    });
    let f3 = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type0", "BaseFont" => "Test",
        "Encoding" => "Identity-H", "DescendantFonts" => vec![cid_font.into()],
        "ToUnicode" => to_unicode,
    });
    let form = doc.add_object(Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Form",
            "BBox" => vec![0.into(), 0.into(), 5.into(), 10.into()],
            "Matrix" => vec![2.into(), 0.into(), 0.into(), 2.into(), 100.into(), 100.into()],
        },
        b"0 g 0 0 10 10 re f".to_vec(),
    ));
    let content_id = doc.add_object(Stream::new(Dictionary::new(), content.as_bytes().to_vec()));
    let mut page = dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        "MediaBox" => media.iter().map(|v| Object::Real(*v as f32)).collect::<Vec<_>>(),
        "Resources" => dictionary! {
            "Font" => dictionary! { "F1" => f1, "F2" => f2, "F3" => f3 },
            "XObject" => dictionary! { "X1" => form },
            "ExtGState" => dictionary! { "Clear" => dictionary! { "ca" => 0 } },
        },
    };
    if let Some(rotate) = rotate {
        page.set("Rotate", rotate);
    }
    let page_id = doc.add_object(page);
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 },
        ),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).expect("saved");
    let file = PdfFile::parse(&bytes).expect("parses");
    file.scanner().scan_page(0).expect("scans")
}

fn a4(content: &str) -> PageContent {
    page_with(content, [0.0, 0.0, 595.28, H], None)
}

#[test]
fn cm_applies_before_the_current_matrix() {
    // The second cm acts inside the first: translate by (10, 10) at scale 2.
    let page = a4("2 0 0 2 0 0 cm 1 0 0 1 10 10 cm 0 g 0 0 10 10 re f");
    assert_eq!(page.marks.len(), 1);
    assert_rect(&page.marks[0], display(20.0, 20.0, 40.0, 40.0));
}

#[test]
fn q_and_capital_q_restore_the_state() {
    let page = a4("q 2 0 0 2 0 0 cm 1 g Q 0 0 10 10 re f q 1 g 20 20 5 5 re f Q 30 30 5 5 re f");
    assert_eq!(page.marks.len(), 2, "{:?}", page.marks);
    assert_rect(&page.marks[0], display(0.0, 0.0, 10.0, 10.0));
    assert_rect(&page.marks[1], display(30.0, 30.0, 35.0, 35.0));
}

#[test]
fn white_and_transparent_paint_leave_no_marks() {
    for ops in [
        "1 g 0 0 100 100 re f",
        "1 1 1 rg 0 0 100 100 re f",
        "0 0 0 0 k 0 0 100 100 re f",
        "/DeviceRGB cs 1 1 1 sc 0 0 100 100 re f",
        "/Clear gs 0 0 100 100 re f",
        "1 G 5 w 0 0 m 100 100 l S",
        "0 0 100 100 re n",
        "0 0 m 100 0 l f",
        "BT 3 Tr /F1 12 Tf 10 10 Td (hidden) Tj ET",
        "BT 1 g /F1 12 Tf 10 10 Td (white) Tj ET",
        "BT 1 Tr 1 G /F1 12 Tf 10 10 Td (white outline) Tj ET",
    ] {
        assert!(a4(ops).marks.is_empty(), "{ops}");
    }
    // Invisible text is still text.
    assert_eq!(
        a4("BT 3 Tr /F1 12 Tf 10 10 Td (hidden) Tj ET").glyphs.len(),
        6
    );
}

#[test]
fn strokes_are_widened_by_half_the_line_width() {
    let page = a4("4 w 0 G 100 100 m 200 100 l S");
    assert_rect(&page.marks[0], display(98.0, 98.0, 202.0, 102.0));
}

#[test]
fn clipping_limits_marks() {
    let page = a4("q 0 0 50 50 re W n 0 g 0 0 595 842 re f Q 0 0 1 1 re f");
    assert_rect(&page.marks[0], display(0.0, 0.0, 50.0, 50.0));
    assert_rect(&page.marks[1], display(0.0, 0.0, 1.0, 1.0));
    // Off the page is not printed.
    let off = a4("0 g -100 -100 50 50 re f 500 800 200 200 re f");
    assert_eq!(off.marks.len(), 1);
    assert_rect(&off.marks[0], display(500.0, 800.0, 595.28, H));
}

#[test]
fn forms_use_their_matrix_and_bbox() {
    // Square 0..10 scaled by 2 at (100, 100), clipped by the BBox 0..5 × 0..10.
    let page = a4("q 1 0 0 1 50 0 cm /X1 Do Q");
    assert_eq!(page.marks.len(), 1);
    assert_rect(&page.marks[0], display(150.0, 100.0, 160.0, 120.0));
}

#[test]
fn images_fill_the_unit_square() {
    let page = a4("q 100 0 0 50 10 20 cm BI /W 1 /H 1 /BPC 8 /CS /G ID A EI Q");
    assert_rect(&page.marks[0], display(10.0, 20.0, 110.0, 70.0));
}

#[test]
fn text_follows_td_tstar_and_widths() {
    let page = a4("BT /F2 10 Tf 12 TL 100 700 Td (AC) Tj T* (A) Tj 50 0 Td (A) Tj ET");
    let origins: Vec<(f64, f64)> = page
        .glyphs
        .iter()
        .map(|g| (g.bbox.x0 / K, H - g.baseline / K))
        .collect();
    let expected = [
        (100.0, 700.0),
        (105.0, 700.0),
        (100.0, 688.0),
        (150.0, 688.0),
    ];
    assert_eq!(origins.len(), expected.len());
    for ((x, y), (ex, ey)) in origins.iter().zip(expected) {
        assert!(close(*x, ex) && close(*y, ey), "{origins:?}");
    }
    // Width 700/1000 at 10 pt for C.
    assert!(close(page.glyphs[1].bbox.width() / K, 7.0));
    assert!(close(page.glyphs[0].size, 10.0 * K));
}

#[test]
fn td_capital_sets_the_leading() {
    let page = a4("BT /F2 10 Tf 100 700 Td 0 -20 TD (A) Tj T* (A) Tj ET");
    let baselines: Vec<f64> = page.glyphs.iter().map(|g| H - g.baseline / K).collect();
    assert!(
        close(baselines[0], 680.0) && close(baselines[1], 660.0),
        "{baselines:?}"
    );
}

#[test]
fn tj_adjustments_spacing_and_scaling() {
    // -1000 moves right by one em; Tc adds to every glyph; Tz scales advances and widths.
    let page = a4("BT /F2 10 Tf 100 700 Td [(A) -1000 (A)] TJ 2 Tc (A) Tj 50 Tz (A) Tj ET");
    let x: Vec<f64> = page.glyphs.iter().map(|g| g.bbox.x0 / K).collect();
    assert!(close(x[0], 100.0) && close(x[1], 115.0), "{x:?}");
    assert!(close(x[2], 120.0), "{x:?}");
    assert!(close(x[3], 127.0), "{x:?}");
    assert!(close(page.glyphs[3].bbox.width() / K, 2.5));
}

#[test]
fn tm_replaces_the_text_matrix_and_rise_lifts_glyphs() {
    let page = a4("BT /F2 10 Tf 100 100 Td 2 0 0 2 300 400 Tm (A) Tj 5 Ts (B) Tj ET");
    let a = &page.glyphs[0];
    assert!(close(a.bbox.x0 / K, 300.0) && close(H - a.baseline / K, 400.0));
    assert!(close(a.size, 20.0 * K));
    let b = &page.glyphs[1];
    // After A (500 × 10 pt × 2), lifted 5 pt in text space (10 pt on the page).
    assert!(close(b.bbox.x0 / K, 310.0) && close(H - b.baseline / K, 410.0));
}

#[test]
fn word_spacing_applies_to_single_byte_spaces() {
    let page = a4("BT /F1 10 Tf 10 Tw 100 700 Td (a b) Tj ET");
    let x: Vec<f64> = page.glyphs.iter().map(|g| g.bbox.x0 / K).collect();
    // a 556, space 278 + 10 pt word spacing.
    assert!(
        close(x[1], 105.56) && close(x[2], 100.0 + 5.56 + 2.78 + 10.0),
        "{x:?}"
    );
}

#[test]
fn simple_font_encodings_decode() {
    let page = a4("BT /F2 10 Tf 0 0 Td (ABC) Tj /F1 10 Tf (\\222\\351) Tj ET");
    let text: String = page.glyphs.iter().map(|g| g.text.as_str()).collect();
    // F2 maps B to é through /Differences. F1 (Type 1, no /Encoding) is StandardEncoding,
    // where 0x92 is undefined and 0xE9 is Ø.
    assert_eq!(text, "AéC\u{fffd}Ø");
}

#[test]
fn composite_fonts_use_two_byte_codes_tounicode_and_w() {
    let page = a4("BT /F3 10 Tf 100 700 Td <0024000300440046005000510099> Tj ET");
    let text: Vec<&str> = page.glyphs.iter().map(|g| g.text.as_str()).collect();
    assert_eq!(text, ["A", " ", "a", "c", "é", "fi", "\u{fffd}"]);
    let widths: Vec<f64> = page
        .glyphs
        .iter()
        .map(|g| g.bbox.width() / K / 10.0)
        .collect();
    // CID 36 from the W list, 3 from DW, 68..70 from the range.
    assert!(close(widths[0], 0.4) && close(widths[1], 1.0) && close(widths[2], 0.25));
    // Ascent and descent come from the descriptor.
    assert!(close(page.glyphs[0].bbox.height() / K, 11.0));
}

#[test]
fn rotated_pages_map_to_the_portrait_display() {
    let landscape = [0.0, 0.0, H, 595.28];
    // Rotate 90: user (x, y) shows at (y, x).
    let page = page_with("0 g 10 20 30 40 re f", landscape, Some(90));
    assert_rect(&page.marks[0], [20.0 * K, 10.0 * K, 60.0 * K, 40.0 * K]);
    // Rotate 270: user (x, y) shows at (ury − y, urx − x).
    let page = page_with("0 g 10 20 30 40 re f", landscape, Some(270));
    assert_rect(
        &page.marks[0],
        [
            (595.28 - 60.0) * K,
            (H - 40.0) * K,
            (595.28 - 20.0) * K,
            (H - 10.0) * K,
        ],
    );
    // Rotate 180 on portrait.
    let page = page_with("0 g 10 20 30 40 re f", [0.0, 0.0, 595.28, H], Some(180));
    assert_rect(
        &page.marks[0],
        [(595.28 - 40.0) * K, 20.0 * K, (595.28 - 10.0) * K, 60.0 * K],
    );
}

#[test]
fn content_budget_is_enforced() {
    let mut ops = String::new();
    for _ in 0..(MAX_PAGE_OPERATIONS / 4 + 1) {
        ops.push_str("q Q q Q ");
    }
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let content = doc.add_object(Stream::new(Dictionary::new(), ops.into_bytes()));
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1 },
        ),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    doc.trailer.set(
        "ID",
        vec![Object::String(b"x".to_vec(), StringFormat::Literal)],
    );
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).expect("saved");
    let file = PdfFile::parse(&bytes).expect("parses");
    assert_eq!(file.scanner().scan_page(0), Err(PdfError::TooComplex(1)));
}
