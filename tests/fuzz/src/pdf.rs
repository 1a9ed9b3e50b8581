//! Precompiled letters: the validation the `letter-scan` worker runs on an upload
//! ([`validate::validate_precompiled`]: lopdf's parse, the content-stream interpreter, page
//! geometry, the address window) and the address read on its own
//! ([`validate::address_lines_in_window`]).
//!
//! Input: the PDF's bytes.

use notify::letters::validate;

pub fn run(data: &[u8]) {
    let _ = validate::validate_precompiled(data, true);
    let _ = validate::address_lines_in_window(data);
}
