//! Lookups through lopdf's objects: references followed, numbers and rectangles read, page
//! attributes inherited through the page tree.

use lopdf::{Dictionary, Document, Object};

/// Parents followed when a page attribute is inherited, so a cyclic page tree ends.
const MAX_INHERITANCE_DEPTH: usize = 64;

/// Follow references (lopdf bounds the chain).
pub(super) fn resolve<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Object> {
    doc.dereference(object).ok().map(|(_, o)| o)
}

pub(super) fn resolve_dict<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Dictionary> {
    resolve(doc, object)?.as_dict().ok()
}

pub(super) fn dict_entry<'a>(
    doc: &'a Document,
    dict: &'a Dictionary,
    key: &[u8],
) -> Option<&'a Object> {
    resolve(doc, dict.get(key).ok()?)
}

pub(super) fn number(object: &Object) -> Option<f64> {
    match object {
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) => Some(f64::from(*r)).filter(|v| v.is_finite()),
        _ => None,
    }
}

pub(super) fn resolved_number(doc: &Document, object: &Object) -> Option<f64> {
    number(resolve(doc, object)?)
}

pub(super) fn read_box(doc: &Document, object: &Object) -> Option<[f64; 4]> {
    let array = resolve(doc, object)?.as_array().ok()?;
    let [a, b, c, d] = array.as_slice() else {
        return None;
    };
    let v = [
        resolved_number(doc, a)?,
        resolved_number(doc, b)?,
        resolved_number(doc, c)?,
        resolved_number(doc, d)?,
    ];
    Some([
        v[0].min(v[2]),
        v[1].min(v[3]),
        v[0].max(v[2]),
        v[1].max(v[3]),
    ])
}

/// A page attribute, looked up through the page tree as PDF inheritance says.
pub(super) fn inherited<'a>(
    doc: &'a Document,
    page: &'a Dictionary,
    key: &[u8],
) -> Option<&'a Object> {
    let mut node = page;
    for _ in 0..MAX_INHERITANCE_DEPTH {
        if let Ok(value) = node.get(key) {
            return Some(value);
        }
        node = resolve_dict(doc, node.get(b"Parent").ok()?)?;
    }
    None
}
