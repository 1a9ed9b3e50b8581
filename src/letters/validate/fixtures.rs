//! Generates the letter fixtures in `fixtures/letters/` (listed in its README): small PDFs
//! written with lopdf's object writer (Type 1 Helvetica, WinAnsiEncoding, hand-written content
//! streams, as many real-world precompiled letters are) and one written with krilla (a CID font
//! with a ToUnicode map, as our own templated letters are). Output is deterministic: fixed file
//! identifiers, no dates.

use krilla::geom::Point;
use krilla::page::PageSettings;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use lopdf::{Dictionary, Document, Object, Stream, StringFormat, dictionary};

use crate::letters::pdf_inspect::{HELVETICA_ASCII, MM_PER_PT};

pub(super) struct Fixture {
    pub name: &'static str,
    pub bytes: Vec<u8>,
}

pub(super) const A4: [f64; 4] = [0.0, 0.0, 595.28, 841.89];
const A4_HEIGHT_PT: f64 = 841.89;
const US_LETTER: [f64; 4] = [0.0, 0.0, 612.0, 792.0];
const LIBERATION_SANS: &[u8] = include_bytes!("../fonts/LiberationSans-Regular.ttf");

/// The fixtures that must be validated with the `international_letters` permission.
pub(super) fn allows_international(name: &str) -> bool {
    name.starts_with("valid-international") || name == "fail-not-a-real-uk-postcode-or-country.pdf"
}

/// Address lines read from the window of the valid fixtures.
pub(super) const EXPECTED_ADDRESSES: &[(&str, &[&str])] = &[
    ("valid-1-page.pdf", UK_ADDRESS),
    (
        "valid-3-pages.pdf",
        &["Mr Sam Sample", "12 Sample Road", "Sampleton", "SW1A 2AA"],
    ),
    ("valid-10-pages.pdf", UK_ADDRESS),
    ("valid-international.pdf", FRENCH_ADDRESS_WITH_ACCENTS),
    (
        "valid-krilla.pdf",
        &[
            "Mr Krilla Example",
            "Flat 2",
            "Café Lane",
            "Manchester",
            "M1 1AE",
        ],
    ),
    ("valid-ligatures.pdf", LIGATURE_ADDRESS_READ),
    ("valid-scanned-with-ocr.pdf", UK_ADDRESS),
    (
        "valid-rotated-landscape.pdf",
        &[
            "Dr Turner Example",
            "1 Sideways Street",
            "Exampletown",
            "SW1A 1AA",
        ],
    ),
];

const UK_ADDRESS: &[&str] = &[
    "Ms Jane Example",
    "Flat 4",
    "12 Example Street",
    "Exampletown",
    "SW1A 1AA",
];
const FRENCH_ADDRESS: &[&str] = &[
    "Mme Claire Exemple",
    "12 Rue de la Paix",
    "75002 Paris",
    "France",
];
const FRENCH_ADDRESS_WITH_ACCENTS: &[&str] = &[
    "Mme Claire Exemple",
    "Résidence Étoile",
    "12 Rue de la Paix",
    "75002 Paris",
    "France",
];
const NO_POSTCODE: &[&str] = &["Ms Example", "1 Example Street", "Exampletown"];

pub(super) fn all() -> Vec<Fixture> {
    let plain = Options::default();
    let fixture = |name, bytes| Fixture { name, bytes };
    let with_address = |address: &[&str]| build(&[first_page(Some(address), "", 1)], &plain);
    vec![
        fixture("valid-1-page.pdf", valid_one_page()),
        fixture("valid-3-pages.pdf", valid_three_pages()),
        fixture(
            "valid-10-pages.pdf",
            letter(
                10,
                &Options {
                    compress: true,
                    ..plain
                },
            ),
        ),
        fixture(
            "valid-international.pdf",
            with_address(FRENCH_ADDRESS_WITH_ACCENTS),
        ),
        fixture("valid-krilla.pdf", krilla_letter()),
        fixture("valid-rotated-landscape.pdf", rotated_landscape()),
        fixture("valid-ligatures.pdf", ligature_letter()),
        fixture("valid-scanned-with-ocr.pdf", scanned(true, false)),
        fixture("fail-address-is-empty--scanned.pdf", scanned(false, false)),
        fixture(
            "fail-content-outside-printable-area--scanned-smudge.pdf",
            scanned(true, true),
        ),
        fixture(
            "fail-too-many-address-lines--white-fill.pdf",
            white_fill_then_long_address(),
        ),
        fixture(
            "fail-unable-to-read-the-file.pdf",
            garbage(2048, 0x2545_4F46),
        ),
        fixture("fail-letter-too-long.pdf", letter(11, &plain)),
        fixture(
            "fail-letter-not-a4-portrait-oriented.pdf",
            second_page_us_letter(),
        ),
        fixture(
            "fail-content-outside-printable-area.pdf",
            outside_on_page_two(),
        ),
        fixture("fail-notify-tag-found-in-content.pdf", tag_on_page_two()),
        fixture(
            "fail-address-is-empty.pdf",
            build(&[first_page(None, "", 1)], &plain),
        ),
        fixture(
            "fail-not-enough-address-lines.pdf",
            with_address(&["Ms Example", "SW1A 1AA"]),
        ),
        fixture(
            "fail-too-many-address-lines.pdf",
            with_address(&[
                "Ms Example",
                "Flat 1",
                "Example House",
                "1 Example Street",
                "Example Village",
                "Example District",
                "Exampletown",
                "SW1A 1AA",
            ]),
        ),
        fixture(
            "fail-invalid-address-line-1-or-2.pdf",
            with_address(&["Ms Example", "***", "Exampletown", "SW1A 1AA"]),
        ),
        fixture(
            "fail-has-country-for-bfpo-address.pdf",
            with_address(&["Sgt A Example", "Unit 1234", "BFPO 61", "France"]),
        ),
        fixture("fail-not-a-real-uk-postcode.pdf", with_address(NO_POSTCODE)),
        fixture(
            "fail-cant-send-international-letters.pdf",
            with_address(FRENCH_ADDRESS),
        ),
        fixture(
            "fail-not-a-real-uk-postcode-or-country.pdf",
            with_address(NO_POSTCODE),
        ),
        fixture(
            "fail-invalid-char-in-address.pdf",
            with_address(&[
                "Ms Example",
                "1 Example Street",
                "(Exampletown)",
                "SW1A 1AA",
            ]),
        ),
        fixture(
            "fail-no-fixed-abode-address.pdf",
            with_address(&["Mr Example", "No fixed abode", "Exampletown", "SW1A 1AA"]),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Content streams (positions in mm from the top-left of an A4 portrait page)
// ---------------------------------------------------------------------------------------------

fn x_pt(mm: f64) -> f64 {
    mm / MM_PER_PT
}

fn y_pt(mm_from_top: f64) -> f64 {
    A4_HEIGHT_PT - mm_from_top / MM_PER_PT
}

/// A literal string in WinAnsiEncoding.
fn pdf_string(text: &str) -> Vec<u8> {
    let mut out = vec![b'('];
    for c in text.chars() {
        let byte = match c {
            '’' => 0x92,
            '‘' => 0x91,
            '–' => 0x96,
            '€' => 0x80,
            c => u8::try_from(u32::from(c)).unwrap_or(b'?'),
        };
        if matches!(byte, b'(' | b')' | b'\\') {
            out.push(b'\\');
        }
        out.push(byte);
    }
    out.push(b')');
    out
}

#[derive(Default)]
pub(super) struct Content(Vec<u8>);

impl Content {
    pub(super) fn raw(&mut self, ops: &str) -> &mut Self {
        self.0.extend_from_slice(ops.as_bytes());
        self.0.push(b'\n');
        self
    }

    fn show(&mut self, text: &str, operator: &str) -> &mut Self {
        self.0.extend(pdf_string(text));
        self.raw(&format!(" {operator}"))
    }

    pub(super) fn text(&mut self, size: f64, x_mm: f64, baseline_mm: f64, text: &str) -> &mut Self {
        self.raw(&format!(
            "BT /F1 {size} Tf {:.2} {:.2} Td",
            x_pt(x_mm),
            y_pt(baseline_mm)
        ))
        .show(text, "Tj")
        .raw("ET")
    }

    /// Lines set with a leading: the first with `Tj`, the rest with `'`.
    fn lines(
        &mut self,
        size: f64,
        leading_mm: f64,
        x_mm: f64,
        baseline_mm: f64,
        lines: &[&str],
    ) -> &mut Self {
        self.raw(&format!(
            "BT /F1 {size} Tf {:.2} TL {:.2} {:.2} Td",
            x_pt(leading_mm),
            x_pt(x_mm),
            y_pt(baseline_mm)
        ));
        for (i, line) in lines.iter().enumerate() {
            self.show(line, if i == 0 { "Tj" } else { "'" });
        }
        self.raw("ET")
    }

    /// The white "NOTIFY" tag a sanitised letter carries (6 pt, top-left margin).
    fn notify_tag(&mut self) -> &mut Self {
        self.raw("BT 1 g /F1 6 Tf 10.26 824.45 Td (NOTIFY) Tj ET 0 g")
    }
}

const SERVICE_ADDRESS: &[&str] = &["Example Service", "PO Box 1234", "Exampletown", "EX1 1EX"];
const BODY: &[&str] = &[
    "We are writing to tell you about the example you asked for.",
    "This paragraph is here so the page has a body, as real letters do, set in",
    "10 point Helvetica with a comfortable leading and well inside the margins.",
    "",
    "If you have any questions, call us on 0300 123 4567 (Monday to Friday).",
];

/// Page 1: logo, service address and date, the address in the window, the body and a footer.
fn first_page(address: Option<&[&str]>, extra: &str, pages: usize) -> PageSpec {
    let mut c = Content::default();
    c.text(14.0, 20.0, 18.0, "Department for Examples")
        .lines(9.0, 4.0, 130.0, 12.0, SERVICE_ADDRESS)
        .text(9.0, 130.0, 80.0, "1 January 2024");
    if let Some(address) = address {
        // 8 pt with a 3.4 mm leading: eight lines still fit the window.
        c.lines(8.0, 3.4, 25.0, 42.0, address);
    }
    c.text(12.0, 20.0, 105.0, "Your example letter")
        .lines(10.0, 5.0, 20.0, 115.0, BODY)
        .text(8.0, 100.0, 285.0, &format!("Page 1 of {pages}"))
        .raw(extra);
    PageSpec::a4(c)
}

fn continuation_page(number: usize, pages: usize) -> PageSpec {
    let mut c = Content::default();
    c.text(12.0, 20.0, 20.0, &format!("Continued ({number})"))
        .lines(10.0, 5.0, 20.0, 30.0, BODY)
        .raw("0.5 w 0.6 G 42.6 600 m 552 600 l S 0 G")
        .text(8.0, 100.0, 285.0, &format!("Page {number} of {pages}"));
    PageSpec::a4(c)
}

fn letter(pages: usize, options: &Options) -> Vec<u8> {
    let mut specs = vec![first_page(Some(UK_ADDRESS), "", pages)];
    specs.extend((2..=pages).map(|n| continuation_page(n, pages)));
    build(&specs, options)
}

fn valid_one_page() -> Vec<u8> {
    let mut page = first_page(Some(UK_ADDRESS), "", 1);
    // A letter Notify already tagged may be sent again: the tag on page 1 is fine.
    let mut tag = Content::default();
    tag.notify_tag();
    page.content.extend(tag.0);
    build(&[page], &Options::default())
}

/// Exercises inherited MediaBox and Resources, /Widths, a form XObject logo, white and
/// invisible marks in the margins, `cm` transforms and a TJ-spaced address line.
fn valid_three_pages() -> Vec<u8> {
    let mut c = Content::default();
    c.raw("1 1 1 rg 0 0 595.28 841.89 re f 0 g")
        .raw("q 1 0 0 1 56.69 760 cm /Logo Do Q")
        .lines(9.0, 4.0, 130.0, 12.0, SERVICE_ADDRESS)
        .raw(&format!(
            "BT /F1 8 Tf {:.2} TL {:.2} {:.2} Td",
            x_pt(3.4),
            x_pt(25.0),
            y_pt(42.0)
        ))
        .raw("(Mr Sam Sample) Tj T* [(12) -278 (Sample) -278 (Road)] TJ T* (Sampleton) Tj T* (SW1A 2AA) Tj ET")
        .raw("BT 3 Tr /F1 8 Tf 5 5 Td (invisible text in the margin) Tj 0 Tr ET")
        .raw("q 1 1 1 RG 2 w 0 0 m 595 842 l S Q")
        .text(12.0, 20.0, 105.0, "Your example letter")
        .lines(10.0, 5.0, 20.0, 115.0, BODY)
        .raw("q 0.2 0.2 0.2 rg 42.6 400 510 1 re f Q")
        .text(8.0, 100.0, 285.0, "Page 1 of 3");
    let mut second = Content::default();
    second
        .raw("q 0.5 0 0 0.5 42.52 420.94 cm")
        .raw("BT /F1 20 Tf 0 700 Td (Set at half scale) Tj ET Q")
        .lines(10.0, 5.0, 20.0, 30.0, BODY)
        .text(8.0, 100.0, 285.0, "Page 2 of 3");
    let options = Options {
        inherited: true,
        widths: true,
        logo_form: true,
        ..Options::default()
    };
    build(
        &[
            PageSpec::a4(c),
            PageSpec::a4(second),
            continuation_page(3, 3),
        ],
        &options,
    )
}

/// A4 landscape media turned a quarter clockwise for display: portrait as printed.
fn rotated_landscape() -> Vec<u8> {
    let mut c = Content::default();
    let mut text = |size: f64, x_mm: f64, baseline_mm: f64, s: &str| {
        c.raw(&format!(
            "BT /F1 {size} Tf 0 1 -1 0 {:.2} {:.2} Tm",
            x_pt(baseline_mm),
            x_pt(x_mm)
        ))
        .show(s, "Tj")
        .raw("ET");
    };
    text(14.0, 20.0, 18.0, "Department for Examples");
    for (i, line) in [
        "Dr Turner Example",
        "1 Sideways Street",
        "Exampletown",
        "SW1A 1AA",
    ]
    .iter()
    .enumerate()
    {
        text(8.0, 25.0, 42.0 + 3.4 * i as f64, line);
    }
    text(
        10.0,
        20.0,
        110.0,
        "This page is stored landscape and shown portrait.",
    );
    let page = PageSpec {
        media: [A4[0], A4[1], A4[3], A4[2]],
        rotate: Some(90),
        content: c.0,
    };
    build(&[page], &Options::default())
}

fn second_page_us_letter() -> Vec<u8> {
    let mut second = continuation_page(2, 2);
    second.media = US_LETTER;
    build(
        &[first_page(Some(UK_ADDRESS), "", 2), second],
        &Options::default(),
    )
}

fn outside_on_page_two() -> Vec<u8> {
    let mut second = continuation_page(2, 2);
    let mut c = Content::default();
    c.text(9.0, 5.0, 150.0, "Ref: ABC123");
    second.content.extend(c.0);
    build(
        &[first_page(Some(UK_ADDRESS), "", 2), second],
        &Options::default(),
    )
}

fn tag_on_page_two() -> Vec<u8> {
    let mut first = first_page(Some(UK_ADDRESS), "", 2);
    let mut second = continuation_page(2, 2);
    let mut tag = Content::default();
    tag.notify_tag();
    first.content.extend(tag.0.iter().copied());
    second.content.extend(tag.0);
    build(&[first, second], &Options::default())
}

/// A grey A4 page as a 50 dpi scanner gives it: white paper (exactly 255, as scanning software
/// that whitens the background writes it), dark blocks where the text lines are, all inside
/// the printable areas; `smudge` adds a dark mark in the left margin.
fn scanned_page(smudge: bool) -> (i64, i64, Vec<u8>) {
    const DPI: f64 = 50.0;
    let px = |mm: f64| (mm / 25.4 * DPI).round() as usize;
    let (width, height) = (px(210.0), px(297.0));
    let mut pixels = vec![255u8; width * height];
    let mut block = |x0: f64, y0: f64, x1: f64, y1: f64, grey: u8| {
        for y in px(y0)..px(y1).min(height) {
            for x in px(x0)..px(x1).min(width) {
                pixels[y * width + x] = grey;
            }
        }
    };
    // Logo, the service's address, the body's lines; 3 mm or more inside each area.
    block(20.0, 10.0, 80.0, 24.0, 40);
    for i in 0..4 {
        let y = 12.0 + 5.0 * f64::from(i);
        block(130.0, y, 175.0, y + 2.5, 60);
    }
    for i in 0..30 {
        let y = 105.0 + 6.0 * f64::from(i);
        block(22.0, y, if i % 5 == 4 { 120.0 } else { 185.0 }, y + 3.0, 30);
    }
    if smudge {
        block(4.0, 150.0, 9.0, 160.0, 90);
    }
    (width as i64, height as i64, pixels)
}

/// ToUnicode for the ligature codes: each to its Unicode ligature character.
fn ligature_to_unicode() -> Vec<u8> {
    let mut map = String::from(
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
         /CMapName /Notify-Ligatures def /CMapType 2 def\n\
         1 begincodespacerange <00> <FF> endcodespacerange\n",
    );
    map.push_str("5 beginbfchar\n");
    // fi, fl, ff, ffi, ffl.
    for (code, ligature) in [
        (0x80, 0xFB01),
        (0x81, 0xFB02),
        (0x82, 0xFB00),
        (0x83, 0xFB03),
        (0x84, 0xFB04),
    ] {
        map.push_str(&format!("<{code:02X}> <{ligature:04X}>\n"));
    }
    map.push_str("endbfchar\n");
    // The rest of the codes read as WinAnsi (Latin-1 for the letters used here).
    map.push_str("1 beginbfrange\n<20> <7E> <0020>\nendbfrange\n");
    map.push_str("endcmap CMapName currentdict /CMap defineresource pop end end\n");
    map.into_bytes()
}

/// Address lines written with ligature glyphs: code 0x80 is fi, 0x82 ff, 0x83 ffi.
const LIGATURE_ADDRESS: &[&str] = &[
    "Ms Jo Gri\u{83}n",
    "The Post O\u{83}ce",
    "Cli\u{82}ord Street",
    "Lower Fi\u{80}eld",
    "SW1A 1AA",
];

/// What upstream reads from [`LIGATURE_ADDRESS`]: NFKD gives plain letters.
const LIGATURE_ADDRESS_READ: &[&str] = &[
    "Ms Jo Griffin",
    "The Post Office",
    "Clifford Street",
    "Lower Fifield",
    "SW1A 1AA",
];

/// An address written with ligatures: upstream reads plain letters and accepts it.
fn ligature_letter() -> Vec<u8> {
    build(
        &[first_page(Some(LIGATURE_ADDRESS), "", 1)],
        &Options {
            ligatures: true,
            ..Options::default()
        },
    )
}

/// Page 1 painted white all over (a "paper" rectangle) in a palette colour space, which the
/// content reader cannot judge, then eight address lines: only white pixels outside the
/// areas, so the finding is the address.
fn white_fill_then_long_address() -> Vec<u8> {
    let mut page = first_page(
        Some(&[
            "Ms Example",
            "Flat 1",
            "Example House",
            "1 Example Street",
            "Example Village",
            "Example District",
            "Exampletown",
            "SW1A 1AA",
        ]),
        "",
        1,
    );
    let mut paper = b"q /CS0 cs 0 sc 0 0 595.28 841.89 re f Q\n".to_vec();
    paper.append(&mut page.content);
    page.content = paper;
    build(
        &[page],
        &Options {
            indexed_space: true,
            ..Options::default()
        },
    )
}

/// A scanned letter: one full-page image. `ocr` adds the address as invisible text, as OCR
/// software does; without it there is no text and so no address.
fn scanned(ocr: bool, smudge: bool) -> Vec<u8> {
    let mut c = Content::default();
    c.raw("q 595.28 0 0 841.89 0 0 cm /Scan Do Q");
    if ocr {
        c.raw("3 Tr");
        c.lines(8.0, 3.4, 25.0, 42.0, UK_ADDRESS);
        c.raw("0 Tr");
    }
    build(
        &[PageSpec::a4(c)],
        &Options {
            scan: Some(smudge),
            ..Options::default()
        },
    )
}

/// Deterministic pseudo-random bytes behind a PDF header.
pub(super) fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut state = seed;
    for _ in 0..len {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        out.push((state >> 33) as u8);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Writing PDFs with lopdf
// ---------------------------------------------------------------------------------------------

pub(super) struct PageSpec {
    pub media: [f64; 4],
    pub rotate: Option<i64>,
    pub content: Vec<u8>,
}

impl PageSpec {
    pub(super) fn a4(content: Content) -> Self {
        Self {
            media: A4,
            rotate: None,
            content: content.0,
        }
    }
}

#[derive(Default, Clone, Copy)]
pub(super) struct Options {
    /// MediaBox and Resources on the page tree root instead of each page.
    pub inherited: bool,
    /// Give the font /FirstChar, /LastChar and /Widths.
    pub widths: bool,
    /// Compress content streams with FlateDecode.
    pub compress: bool,
    /// A form XObject `/Logo` in the resources.
    pub logo_form: bool,
    /// An image XObject `/Scan`: a page scanned at 50 dpi (see [`scanned_page`]); `true`
    /// adds a smudge in the left margin.
    pub scan: Option<bool>,
    /// A colour space `/CS0`: a two-colour palette (indexed RGB), white then near-black.
    pub indexed_space: bool,
    /// `/F1` maps codes 128–132 to the ligature glyphs (fi, fl, ff, ffi, ffl), with a
    /// ToUnicode map that gives the ligature characters (U+FB00–FB04), as many producers do.
    pub ligatures: bool,
}

fn reals(values: &[f64]) -> Object {
    Object::Array(values.iter().map(|v| Object::Real(*v as f32)).collect())
}

pub(super) fn build(pages: &[PageSpec], options: &Options) -> Vec<u8> {
    let mut doc = Document::with_version("1.4");
    let pages_id = doc.new_object_id();
    let mut font = dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    };
    if options.ligatures {
        font.set(
            "Encoding",
            dictionary! {
                "Type" => "Encoding",
                "BaseEncoding" => "WinAnsiEncoding",
                "Differences" => vec![
                    Object::Integer(128),
                    Object::Name(b"fi".to_vec()),
                    Object::Name(b"fl".to_vec()),
                    Object::Name(b"ff".to_vec()),
                    Object::Name(b"ffi".to_vec()),
                    Object::Name(b"ffl".to_vec()),
                ],
            },
        );
        let to_unicode = doc.add_object(Stream::new(Dictionary::new(), ligature_to_unicode()));
        font.set("ToUnicode", to_unicode);
    }
    if options.widths {
        font.set("FirstChar", 32);
        font.set("LastChar", 126);
        font.set(
            "Widths",
            Object::Array(
                HELVETICA_ASCII
                    .iter()
                    .map(|w| Object::Integer(i64::from(*w)))
                    .collect(),
            ),
        );
    }
    let font_id = doc.add_object(font);
    let mut resources = dictionary! { "Font" => dictionary! { "F1" => font_id } };
    if options.logo_form {
        let logo = Stream::new(
            dictionary! {
                "Type" => "XObject",
                "Subtype" => "Form",
                "BBox" => reals(&[0.0, 0.0, 100.0, 40.0]),
                "Resources" => dictionary! { "Font" => dictionary! { "F1" => font_id } },
            },
            b"0.2 0.3 0.6 rg 0 0 100 40 re f 1 g BT /F1 10 Tf 8 15 Td (LOGO) Tj ET".to_vec(),
        );
        let logo_id = doc.add_object(logo);
        resources.set("XObject", dictionary! { "Logo" => logo_id });
    }
    if let Some(smudge) = options.scan {
        let (width, height, pixels) = scanned_page(smudge);
        let mut image = Stream::new(
            dictionary! {
                "Type" => "XObject",
                "Subtype" => "Image",
                "Width" => width,
                "Height" => height,
                "ColorSpace" => "DeviceGray",
                "BitsPerComponent" => 8,
            },
            pixels,
        );
        image.compress().expect("image compresses");
        let image_id = doc.add_object(image);
        resources.set("XObject", dictionary! { "Scan" => image_id });
    }
    if options.indexed_space {
        let palette = Object::String(
            vec![0xFF, 0xFF, 0xFF, 0x0B, 0x0C, 0x0C],
            StringFormat::Hexadecimal,
        );
        resources.set(
            "ColorSpace",
            dictionary! { "CS0" => vec![
                Object::Name(b"Indexed".to_vec()),
                Object::Name(b"DeviceRGB".to_vec()),
                Object::Integer(1),
                palette,
            ] },
        );
    }
    let resources_id = doc.add_object(resources);

    let mut kids = Vec::new();
    for page in pages {
        let mut stream = Stream::new(Dictionary::new(), page.content.clone());
        if options.compress {
            stream.compress().expect("content compresses");
        }
        let content_id = doc.add_object(stream);
        let mut dict = dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
        };
        if !options.inherited || page.media != A4 {
            dict.set("MediaBox", reals(&page.media));
        }
        if !options.inherited {
            dict.set("Resources", resources_id);
        }
        if let Some(rotate) = page.rotate {
            dict.set("Rotate", rotate);
        }
        kids.push(Object::Reference(doc.add_object(dict)));
    }
    let count = kids.len() as i64;
    let mut tree = dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count };
    if options.inherited {
        tree.set("MediaBox", reals(&A4));
        tree.set("Resources", resources_id);
    }
    doc.objects.insert(pages_id, Object::Dictionary(tree));
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let id = Object::String(b"notify-letter-fixture".to_vec(), StringFormat::Hexadecimal);
    doc.trailer.set("ID", Object::Array(vec![id.clone(), id]));
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("lopdf writes the PDF");
    out
}

// ---------------------------------------------------------------------------------------------
// Writing a PDF with krilla
// ---------------------------------------------------------------------------------------------

fn draw(
    surface: &mut Surface<'_>,
    font: &Font,
    size: f32,
    x_mm: f64,
    baseline_mm: f64,
    text: &str,
) {
    // krilla's page space has its origin at the top-left, y downwards, in points.
    let at = Point::from_xy(x_pt(x_mm) as f32, (baseline_mm / MM_PER_PT) as f32);
    surface.draw_text(at, font.clone(), size, text, false, TextDirection::Auto);
}

fn krilla_letter() -> Vec<u8> {
    let font = Font::new(krilla::Data::from(LIBERATION_SANS), 0).expect("the font loads");
    let mut document = krilla::Document::new();
    let settings = PageSettings::from_wh(A4[2] as f32, A4[3] as f32).expect("A4 is a page size");
    let mut page = document.start_page_with(settings);
    let mut surface = page.surface();
    draw(
        &mut surface,
        &font,
        14.0,
        20.0,
        18.0,
        "Department for Examples",
    );
    for (i, line) in SERVICE_ADDRESS.iter().enumerate() {
        draw(&mut surface, &font, 9.0, 130.0, 12.0 + 4.0 * i as f64, line);
    }
    for (i, line) in [
        "Mr Krilla Example",
        "Flat 2",
        "Café Lane",
        "Manchester",
        "M1 1AE",
    ]
    .iter()
    .enumerate()
    {
        draw(&mut surface, &font, 8.0, 25.0, 42.0 + 3.4 * i as f64, line);
    }
    draw(
        &mut surface,
        &font,
        12.0,
        20.0,
        105.0,
        "Your example letter",
    );
    for (i, line) in BODY.iter().enumerate() {
        draw(
            &mut surface,
            &font,
            10.0,
            20.0,
            115.0 + 5.0 * i as f64,
            line,
        );
    }
    draw(&mut surface, &font, 8.0, 100.0, 285.0, "Page 1 of 1");
    surface.finish();
    page.finish();
    document.finish().expect("krilla writes the PDF")
}
