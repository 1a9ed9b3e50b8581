//! Pages rendered to pixels with hayro (a pure-Rust PDF rasteriser): the precompiled-letter
//! check for ink outside the printable area, as upstream judges it on poppler's rendering, and
//! tests that read rendered letters back (QR codes).
//!
//! Upstream (template-preview, `_get_out_of_bounds_pages`) paints the allowed areas white over
//! each page, renders it at 200 dpi (pdf2image's default) and fails any page with a pixel that
//! is not exactly white. [`ink_outside`] does the same with hayro: the page, then white
//! rectangles over the allowed areas, then a look for any non-white pixel.

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_interpret::util::TransformExt;
use hayro::hayro_syntax::Pdf;
use hayro::kurbo::{Affine, Rect as PixelRect};
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::vello_cpu::{Pixmap, RasterizerSettings, RenderContext, Resources, TargetInit};
use hayro::{RenderCache, RenderSettings, render_into};

use super::pdf_inspect::{MM_PER_PT, Rect};

/// pdf2image renders at 200 dpi unless told otherwise; upstream does not tell it.
pub const UPSTREAM_DPI: f64 = 200.0;

/// The largest page we will render, in pixels a side (A4 at 200 dpi is 1654 × 2339).
const MAX_SIDE_PX: f64 = 8000.0;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RasterError {
    #[error("the rasteriser cannot read the PDF")]
    Unreadable,
    #[error("page {0} is not in the PDF")]
    NoSuchPage(u32),
    #[error("page {0} is too large to render")]
    TooLarge(u32),
}

/// A rendered page: RGB, 3 bytes a pixel, rows top to bottom.
#[derive(Debug, Clone)]
pub struct RenderedPage {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl RenderedPage {
    /// The page as 8-bit grey (luma), for decoders that want it.
    pub fn luma(&self) -> Vec<u8> {
        self.rgb
            .chunks_exact(3)
            .map(|p| {
                let y = 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]);
                y.round().clamp(0.0, 255.0) as u8
            })
            .collect()
    }
}

/// A PDF opened for rendering; pages share hayro's caches (fonts, images).
pub struct Rasteriser {
    pdf: Pdf,
}

impl Rasteriser {
    pub fn open(bytes: &[u8]) -> Result<Self, RasterError> {
        let pdf = Pdf::new(bytes.to_vec()).map_err(|_| RasterError::Unreadable)?;
        Ok(Self { pdf })
    }

    pub fn page_count(&self) -> usize {
        self.pdf.pages().len()
    }

    /// Renders page `index` (0-based) at `dpi` on white, then paints `whiten` (mm from the
    /// displayed page's top-left) white over it.
    pub fn render(
        &self,
        index: usize,
        dpi: f64,
        whiten: &[Rect],
    ) -> Result<RenderedPage, RasterError> {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let pages = self.pdf.pages();
        let page = pages.get(index).ok_or(RasterError::NoSuchPage(number))?;
        let scale = dpi / 72.0;
        let (width_pt, height_pt) = page.render_dimensions();
        let width = (f64::from(width_pt) * scale).round();
        let height = (f64::from(height_pt) * scale).round();
        if !(1.0..=MAX_SIDE_PX).contains(&width) || !(1.0..=MAX_SIDE_PX).contains(&height) {
            return Err(RasterError::TooLarge(number));
        }
        let (width, height) = (width as u16, height as u16);
        let mut ctx = RenderContext::new(width, height);
        let cache = RenderCache::new();
        let transform = Affine::scale(scale) * page.initial_transform(true).to_kurbo();
        render_into(
            page,
            &cache,
            &InterpreterSettings::default(),
            &RenderSettings::default(),
            &mut ctx,
            transform,
        );
        // The allowed areas, painted over the page as upstream's overlay does.
        ctx.reset_transform();
        ctx.set_paint(WHITE);
        let px_per_mm = scale / MM_PER_PT;
        for area in whiten {
            ctx.fill_rect(&PixelRect::new(
                area.x0 * px_per_mm,
                area.y0 * px_per_mm,
                area.x1 * px_per_mm,
                area.y1 * px_per_mm,
            ));
        }
        ctx.flush();
        let mut pixmap = Pixmap::new(width, height);
        ctx.render_with(
            &mut pixmap,
            &mut Resources::default(),
            RasterizerSettings {
                target_init: TargetInit::Clear(WHITE),
                ..Default::default()
            },
        );
        // Composited over an opaque white background, so every pixel is opaque and its
        // premultiplied components are the colour itself.
        let rgb = pixmap.data().iter().flat_map(|p| [p.r, p.g, p.b]).collect();
        Ok(RenderedPage {
            width: u32::from(width),
            height: u32::from(height),
            rgb,
        })
    }

    /// Upstream's verdict for one page: is any pixel outside `allowed` not pure white?
    pub fn ink_outside(&self, index: usize, allowed: &[Rect]) -> Result<bool, RasterError> {
        let page = self.render(index, UPSTREAM_DPI, allowed)?;
        Ok(page.rgb.iter().any(|&c| c != 255))
    }
}
