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
