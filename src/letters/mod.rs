//! The letters pipeline: PDFs for templated letters, precompiled uploads through the virus scan
//! and validation, where each file lives in the blob store, the daily print run and the
//! printer's response files.

pub mod antivirus;
pub mod files;
pub mod names;
pub mod pdf_inspect;
pub mod print_run;
pub mod raster;
pub mod render;
pub mod responses;
pub mod sftp;
pub mod transport;
pub mod validate;
