//! Request checks worded like upstream's JSON-schema errors (spec §8.2): `<field> <message>`,
//! values shown in Python `repr` form with single quotes removed, every error reported at once.

use serde_json::{Map, Value};
use uuid::Uuid;

pub use crate::python::jsonschema_repr as py_repr;

/// Collects errors for one request object.
pub struct Checker<'a> {
    pub body: &'a Map<String, Value>,
    pub errors: Vec<String>,
}

impl<'a> Checker<'a> {
    pub fn new(body: &'a Map<String, Value>) -> Self {
        Checker {
            body,
            errors: Vec::new(),
        }
    }

    fn push(&mut self, message: String) {
        self.errors.push(message.replace('\'', ""));
    }

    pub fn error(&mut self, field: &str, message: &str) {
        self.push(format!("{field} {message}"));
    }

    pub fn get(&self, field: &str) -> Option<&'a Value> {
        self.body.get(field)
    }

    pub fn required(&mut self, fields: &[&str]) {
        for f in fields {
            if !self.body.contains_key(*f) {
                self.push(format!("{f} is a required property"));
            }
        }
    }

    pub fn no_additional(&mut self, allowed: &[&str]) {
        let extra: Vec<&str> = self
            .body
            .keys()
            .map(String::as_str)
            .filter(|k| !allowed.contains(k))
            .collect();
        if let Some(message) = additional_properties(&extra) {
            self.push(message);
        }
    }

    /// A string field; `None` when absent or of the wrong type (the type error is recorded).
    pub fn string(&mut self, field: &str) -> Option<&'a str> {
        match self.body.get(field)? {
            Value::String(s) => Some(s),
            other => {
                let message = format!("{} is not of type string", py_repr(other));
                self.error(field, &message);
                None
            }
        }
    }

    /// A string or null field.
    pub fn optional_string(&mut self, field: &str) -> Option<&'a str> {
        match self.body.get(field)? {
            Value::Null => None,
            _ => self.string(field),
        }
    }

    pub fn max_length(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(v) = value
            && v.chars().count() > max
        {
            self.error(field, &format!("{v} is too long"));
        }
    }

    /// A UUID field: any problem is `<field> is not a valid UUID`.
    pub fn uuid(&mut self, field: &str) -> Option<Uuid> {
        let v = self.body.get(field)?;
        match v.as_str().and_then(|s| Uuid::parse_str(s.trim()).ok()) {
            Some(id) => Some(id),
            None => {
                self.error(field, "is not a valid UUID");
                None
            }
        }
    }

    /// A UUID-or-null field.
    pub fn optional_uuid(&mut self, field: &str) -> Option<Uuid> {
        match self.body.get(field)? {
            Value::Null => None,
            _ => self.uuid(field),
        }
    }

    /// An object field (personalisation).
    pub fn object(&mut self, field: &str) -> Option<&'a Map<String, Value>> {
        match self.body.get(field)? {
            Value::Object(m) => Some(m),
            other => {
                let message = format!("{} is not of type object", py_repr(other));
                self.error(field, &message);
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), crate::error::AppError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(crate::error::AppError::Validation(self.errors))
        }
    }
}

/// The additionalProperties message for unexpected keys (request bodies and query strings).
pub fn additional_properties(unexpected: &[impl AsRef<str>]) -> Option<String> {
    let names: Vec<&str> = unexpected.iter().map(AsRef::as_ref).collect();
    match names.len() {
        0 => None,
        1 => Some(format!(
            "Additional properties are not allowed ({} was unexpected)",
            names[0]
        )),
        _ => Some(format!(
            "Additional properties are not allowed ({} were unexpected)",
            names.join(", ")
        )),
    }
}

/// Parse a path or query UUID the way upstream does (any form `uuid.UUID()` takes).
pub fn parse_uuid(text: &str) -> Option<Uuid> {
    Uuid::parse_str(text.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_repr_without_quotes() {
        assert_eq!(py_repr(&json!(null)), "None");
        assert_eq!(py_repr(&json!(true)), "True");
        assert_eq!(py_repr(&json!(12345)), "12345");
        assert_eq!(py_repr(&json!(1.5)), "1.5");
        assert_eq!(py_repr(&json!(2.0)), "2.0");
        assert_eq!(py_repr(&json!("it's")), "its");
        assert_eq!(py_repr(&json!([])), "[]");
        assert_eq!(py_repr(&json!({})), "{}");
        assert_eq!(py_repr(&json!(["a", 1])), "[a, 1]");
    }

    #[test]
    fn messages_follow_upstream_wording() {
        let body = json!({"template_id": "nope", "reference": 5, "a": 1, "b": 2});
        let mut c = Checker::new(body.as_object().unwrap());
        c.required(&["phone_number", "template_id"]);
        c.uuid("template_id");
        c.string("reference");
        c.no_additional(&["phone_number", "template_id", "reference"]);
        assert_eq!(
            c.errors,
            vec![
                "phone_number is a required property",
                "template_id is not a valid UUID",
                "reference 5 is not of type string",
                "Additional properties are not allowed (a, b were unexpected)",
            ]
        );
    }

    #[test]
    fn uuids_in_any_python_form() {
        let id = "8b3aa916-ec82-434e-b0c5-d5d9b371d6a3";
        for form in [
            id.to_string(),
            id.to_uppercase(),
            id.replace('-', ""),
            format!("{{{id}}}"),
            format!("urn:uuid:{id}"),
        ] {
            assert_eq!(parse_uuid(&form).unwrap().to_string(), id, "{form}");
        }
        assert!(parse_uuid("1234").is_none());
    }
}
