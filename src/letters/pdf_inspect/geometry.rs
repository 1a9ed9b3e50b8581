//! Affine transforms, rectangles and a page's geometry: from PDF user space (points, origin
//! bottom-left) to millimetres on the page as displayed.

use lopdf::Object;

use super::MM_PER_PT;
use super::objects::number;

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
    pub(super) fn mean_scale(&self) -> f64 {
        (self.a * self.d - self.b * self.c).abs().sqrt()
    }

    pub(super) fn from_numbers(objects: &[Object]) -> Option<Matrix> {
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in super::super) fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-3
    }

    pub(in super::super) fn assert_rect(actual: &Rect, expected: [f64; 4]) {
        let got = [actual.x0, actual.y0, actual.x1, actual.y1];
        assert!(
            got.iter().zip(&expected).all(|(a, b)| close(*a, *b)),
            "{got:?} != {expected:?}"
        );
    }

    const H: f64 = 841.89;

    #[test]
    fn matrices_compose_in_pdf_order() {
        let scale = Matrix::new(2.0, 0.0, 0.0, 2.0, 0.0, 0.0);
        let shift = Matrix::translate(10.0, 5.0);
        // Scale first, then shift.
        assert_eq!(scale.then(&shift).apply(1.0, 1.0), (12.0, 7.0));
        assert_eq!(shift.then(&scale).apply(1.0, 1.0), (22.0, 12.0));
        let rotate = Matrix::new(0.0, 1.0, -1.0, 0.0, 0.0, 0.0);
        let (x, y) = rotate.apply(1.0, 0.0);
        assert!(close(x, 0.0) && close(y, 1.0));
        assert_rect(
            &Rect::new(0.0, 0.0, 2.0, 1.0).transform(&rotate),
            [-1.0, 0.0, 0.0, 2.0],
        );
    }

    #[test]
    fn geometry_reads_boxes_and_rotation() {
        let geometry = PageGeometry {
            box_pt: [0.0, 0.0, H, 595.28],
            rotate: Some(90),
        };
        let (w, h) = geometry.display_size_mm();
        assert!((w - 210.0).abs() < 0.01 && (h - 297.0).abs() < 0.01);
        assert!((geometry.box_width_mm() - 297.0).abs() < 0.01);
    }
}
