//! Email addresses (§10.2).

use std::sync::LazyLock;

use regex::Regex;

use super::text::clean_recipient;
use crate::python::py_isspace;

/// An invalid email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Not a valid email address")]
pub struct EmailError;

const VALID_LOCAL_CHARS: &str = ".!#$%&'*+/=?^_`{|}~-";

static HOSTNAME_PART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?i-u:xn|[a-z0-9]+)(?i-u:-?-[a-z0-9]+)*$").expect("valid regex")
});
static TLD_PART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?i-u:[a-z]{2,63}|xn--(?:[a-z0-9]+-)*[a-z0-9]+)$").expect("valid regex")
});

/// Validate an email address (§10.2). Returns the cleaned address in its original case.
pub fn validate_email_address(s: &str) -> Result<String, EmailError> {
    let email = clean_recipient(s);
    let (local, host) = email.split_once('@').ok_or(EmailError)?;
    if local.is_empty()
        || !local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || VALID_LOCAL_CHARS.contains(c))
    {
        return Err(EmailError);
    }
    let mut host_chars = host.chars();
    match host_chars.next() {
        Some(first) if first != '.' && first != '@' => {}
        _ => return Err(EmailError),
    }
    let rest: Vec<char> = host_chars.collect();
    if rest.is_empty() || rest.iter().any(|&c| c == '@' || py_isspace(c)) {
        return Err(EmailError);
    }
    if email.chars().count() > 320 || email.contains("..") {
        return Err(EmailError);
    }
    // Python's "idna" codec: ASCII labels are kept as they are, others are converted.
    let hostname = if host.is_ascii() {
        host.to_string()
    } else {
        host.split(['.', '\u{3002}', '\u{FF0E}', '\u{FF61}'])
            .map(|label| {
                if label.is_ascii() {
                    Ok(label.to_string())
                } else {
                    idna::domain_to_ascii(label).map_err(|_| EmailError)
                }
            })
            .collect::<Result<Vec<_>, _>>()?
            .join(".")
    };
    let parts: Vec<&str> = hostname.split('.').collect();
    if hostname.chars().count() > 253 || parts.len() < 2 {
        return Err(EmailError);
    }
    if parts
        .iter()
        .any(|p| p.is_empty() || p.len() > 63 || !HOSTNAME_PART.is_match(p))
    {
        return Err(EmailError);
    }
    if !parts.last().is_some_and(|tld| TLD_PART.is_match(tld)) {
        return Err(EmailError);
    }
    Ok(email)
}

/// The normalised form of an email address (guest-list and simulated-address matching):
/// cleaned and lower-cased.
pub fn normalise_email(s: &str) -> String {
    clean_recipient(s).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_email_examples() {
        for ok in [
            "a@b.com",
            "first.o'last@x.co.uk",
            "a@xn--r8jz45g.xn--zckzah",
            "a@例え.テスト",
        ] {
            assert_eq!(validate_email_address(ok), Ok(ok.to_string()), "{ok}");
        }
        for bad in [
            "a..b@x.com",
            "a@b",
            "a@b.c",
            "a\"b@x.com",
            "a@-x.com",
            "a@x_y.com",
            "a b@x.com",
            "用户@例子.广告",
            "",
            "@b.com",
            "a@.b.com",
            "a@b.com.",
            "a@b.com@c.com",
        ] {
            let e = validate_email_address(bad).expect_err(bad);
            assert_eq!(e.to_string(), "Not a valid email address");
        }
    }

    #[test]
    fn email_clean_up_length_and_case() {
        assert_eq!(
            validate_email_address("\u{200B} Test.User@Example.COM\u{00A0}\n"),
            Ok("Test.User@Example.COM".to_string())
        );
        assert_eq!(
            validate_email_address("te\u{202F}st@exa\u{2060}mple.com"),
            Ok("test@example.com".to_string())
        );
        assert_eq!(
            normalise_email(" Test.User@Example.COM "),
            "test.user@example.com"
        );
        let long_label = format!("a@{}.com", "x".repeat(64));
        assert!(validate_email_address(&long_label).is_err());
        assert!(validate_email_address(&format!("a@{}.com", "x".repeat(63))).is_ok());
        let too_long = format!("{}@b.com", "a".repeat(315));
        assert!(validate_email_address(&too_long).is_err());
        assert!(validate_email_address("a@bücher.de").is_ok());
        assert!(validate_email_address("x@y.xn--p1ai").is_ok());
        assert!(validate_email_address("a@b---c.com").is_err());
        assert!(validate_email_address("a@b--c.com").is_ok());
    }
}
