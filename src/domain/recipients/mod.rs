//! Recipient validation, compatible with GOV.UK Notify (spec §10 and §3).
//!
//! * Phone numbers (§10.1, `phone`): [`validate_phone_number`] does the schema-level check
//!   (syntax, parse, number type, billed country) and returns a [`PhoneNumber`];
//!   [`check_phone_permissions`] applies the service permissions when sending.
//! * Email addresses (§10.2, `email`): [`validate_email_address`], [`normalise_email`].
//! * Postal addresses (§10.3, `postal`): [`validate_postal_address`], with the country list
//!   and postage zones in `countries`.
//! * Smoke-test recipients (§3, `simulated`): [`is_simulated_phone`], [`is_simulated_email`].
//! * Guest lists and team members compare recipients by [`format_recipient`].
//!
//! Phone parsing follows Notify, which uses libphonenumber (Python `phonenumbers`) with
//! default region GB: `libphonenumber` re-implements the parsing steps Notify relies on, on
//! top of the metadata shipped with the `phonenumber` crate. `text` has the clean-up every
//! recipient shares ([`clean_recipient`], upstream's ASCII downgrade).
//!
//! Data files (parsed on first use): `data/sms_rates.txt` (billed country prefixes and rate
//! multipliers, `sms_rates`) and `data/countries.tsv` (country and territory names with
//! synonyms, and their postage zone, `countries`).

mod countries;
mod email;
mod libphonenumber;
mod phone;
mod postal;
mod simulated;
mod sms_rates;
mod text;

pub use email::{EmailError, normalise_email, validate_email_address};
pub use phone::{
    PERMISSION_INTERNATIONAL_SMS, PERMISSION_SMS_TO_UK_LANDLINES, PhoneError, PhoneNumber,
    PhonePermissionError, check_phone_permissions, format_recipient, validate_phone_number,
};
pub use postal::{AddressError, PostalAddress, format_postcode, validate_postal_address};
pub use simulated::{
    SIMULATED_EMAIL_ADDRESSES, SIMULATED_PHONE_NUMBERS, is_simulated_email, is_simulated_phone,
};
pub use text::clean_recipient;
