//! Placeholders and personalisation (spec §11.1 and §11.2).
//!
//! - A placeholder is `((` + one or more characters other than `(` and `)` +
//!   `))`. A conditional placeholder is `((name??text))`: its name is the part
//!   before the first `??`, its text everything after.
//! - Names match personalisation keys insensitively to case, spaces, `_` and
//!   `-` ([`normalise_key`]).
//! - Values become text Python-style ([`value_to_text`]); `null` counts as
//!   missing.
//!
//! Sources: UTILS `notifications_utils/field.py` (Placeholder, Field,
//! str2bool), `notifications_utils/insensitive_dict.py`,
//! `notifications_utils/template.py` (Template.missing_data).

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::{Map, Value};

use super::typography::{escape_html, strip_and_remove_obscure_whitespace, unescape_strict};
use crate::python::python_str;

/// `((name))` or `((name??text))`; group 1 is the body.
static PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\(\(([^()]+)\)\)").expect("valid regex"));

/// Normalises a placeholder name or personalisation key for matching:
/// spaces, `_` and `-` are removed and the rest is lower-cased, so
/// `First Name`, `first_name` and `FIRST-NAME` are the same key.
pub fn normalise_key(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .collect::<String>()
        .to_lowercase()
}

/// Splits a placeholder body into its name and, for a conditional
/// placeholder, the text after the first `??`.
pub(crate) fn split_placeholder(body: &str) -> (&str, Option<&str>) {
    match body.split_once("??") {
        Some((name, text)) => (name, Some(text)),
        None => (body, None),
    }
}

/// The placeholder names used in `text`, in order of first use, spelt as in
/// the template. Names that normalise the same ([`normalise_key`]) are
/// listed once, with their first spelling. A conditional placeholder
/// `((name??text))` gives `name`.
///
/// ```
/// use notify::templates::placeholders::placeholder_names;
/// assert_eq!(
///     placeholder_names("Hi ((Name)), ((name)) ((show??Extra text))"),
///     vec!["Name", "show"],
/// );
/// ```
pub fn placeholder_names(text: &str) -> Vec<String> {
    placeholder_names_in(&[text])
}

/// Like [`placeholder_names`], over several parts of a template taken in
/// order (for example subject then body), de-duplicated across all of them.
pub fn placeholder_names_in(parts: &[&str]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut names = Vec::new();
    for part in parts {
        for caps in PLACEHOLDER.captures_iter(part) {
            let (name, _) = split_placeholder(caps.get(1).map_or("", |m| m.as_str()));
            if seen.insert(normalise_key(name)) {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// The placeholders of a template that have no value (absent or `null`), in
/// template order and spelt as in the template.
///
/// Pass the template's parts in the order upstream checks them:
/// - SMS: `[body]`;
/// - email: `[subject, body]`;
/// - letter: `[contact_block, welsh_subject, subject, welsh_body, body]`
///   (upstream puts the Welsh part of each pair first; leave out parts the
///   template does not have).
///
/// The API turns a non-empty result into 400 `BadRequestError`
/// `Missing personalisation: <names joined with ", ">`.
pub fn missing(parts: &[&str], values: &Personalisation) -> Vec<String> {
    placeholder_names_in(parts)
        .into_iter()
        .filter(|name| values.get(name).is_none())
        .collect()
}

/// Whether a conditional placeholder shows its text: the value's text,
/// lower-cased, is one of `yes, y, true, t, 1, include, show`.
pub fn is_truthy(text: &str) -> bool {
    matches!(
        text.to_lowercase().as_str(),
        "yes" | "y" | "true" | "t" | "1" | "include" | "show"
    )
}

/// How a list value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStyle {
    /// Email and letter bodies: a Markdown bulleted list, `\n\n* a\n* b`.
    Markdown,
    /// SMS and subjects: `a, b and c`.
    Prose,
}

/// The text a personalisation value is replaced with, or `None` for `null`
/// (a missing value).
///
/// - strings as they are;
/// - numbers and booleans Python-style: `1`, `1.5`, `1e+16`, `True`, `False`;
/// - lists: `null` items dropped, each item written as text, stripped, empty
///   ones dropped, then joined as the [`ListStyle`] says (`""` if nothing is
///   left);
/// - objects: Python's `repr` of the dict, as upstream's `str()` gives.
pub fn value_to_text(value: &Value, lists: ListStyle) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .filter(|item| !item.is_null())
                .map(|item| strip_and_remove_obscure_whitespace(&python_str(item)))
                .filter(|item| !item.is_empty())
                .collect();
            Some(format_list(&items, lists))
        }
        other => Some(python_str(other)),
    }
}

fn format_list(items: &[String], lists: ListStyle) -> String {
    if items.is_empty() {
        return String::new();
    }
    match lists {
        ListStyle::Markdown => {
            let bullets: Vec<String> = items.iter().map(|item| format!("* {item}")).collect();
            format!("\n\n{}", bullets.join("\n"))
        }
        ListStyle::Prose => match items {
            [only] => only.clone(),
            [first @ .., last] => format!("{} and {last}", first.join(", ")),
            [] => String::new(),
        },
    }
}

/// The personalisation of a notification, looked up insensitively to case,
/// spaces, `_` and `-` ([`normalise_key`]).
///
/// When two keys normalise the same, the later one in the map wins (as
/// upstream's dict does). Note that a `serde_json::Map` without the
/// `preserve_order` feature iterates in key order, not request order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Personalisation {
    values: HashMap<String, Value>,
    /// Original keys, in iteration order, for HTML-escaped lookups.
    keys: Vec<String>,
}

impl Personalisation {
    /// Builds the lookup from a request's `personalisation` object.
    pub fn new(map: &Map<String, Value>) -> Self {
        let mut p = Self::default();
        for (key, value) in map {
            p.insert(key, value.clone());
        }
        p
    }

    /// Builds the lookup from an optional JSON value; anything but an object
    /// gives an empty personalisation.
    pub fn from_value(value: Option<&Value>) -> Self {
        match value {
            Some(Value::Object(map)) => Self::new(map),
            _ => Self::default(),
        }
    }

    /// Sets a value (replacing any key that normalises the same), for
    /// example the download link that replaces an uploaded file.
    pub fn insert(&mut self, key: &str, value: Value) {
        let normalised = normalise_key(key);
        if !self.values.contains_key(&normalised) {
            self.keys.push(key.to_string());
        }
        self.values.insert(normalised, value);
    }

    /// The value for a placeholder name, or `None` when it is absent or
    /// `null` (missing).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values
            .get(&normalise_key(name))
            .filter(|v| !v.is_null())
    }

    /// Lookup for a name read from HTML-escaped template text: upstream
    /// escapes the keys too, so `a&amp;b` finds the key `a&b`.
    fn get_escaped(&self, name: &str) -> Option<&Value> {
        if let Some(value) = self.get(name) {
            return Some(value);
        }
        if !name.contains('&') {
            return None;
        }
        let wanted = normalise_key(name);
        self.keys
            .iter()
            .find(|key| normalise_key(&escape_html(key)) == wanted)
            .and_then(|key| self.get(key))
            .or_else(|| self.get(&unescape_strict(name)))
    }

    /// Whether there are no values at all.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl From<&Map<String, Value>> for Personalisation {
    fn from(map: &Map<String, Value>) -> Self {
        Self::new(map)
    }
}

/// Substitutes the values into `content` with no escaping: missing values
/// stay as written (`((name))`), conditional placeholders show their text
/// when the value is truthy ([`is_truthy`]), lists are written as `lists`
/// says. This is the plain building block of the renderers.
pub fn substitute(content: &str, values: &Personalisation, lists: ListStyle) -> String {
    fill(content, values, lists, Escaping::Passthrough)
}

/// Whether the text is HTML-escaped (template text and values) or passed
/// through as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escaping {
    Passthrough,
    Html,
}

/// Upstream `Field`: substitutes the values into `content`.
///
/// - A missing value leaves the placeholder as written (`((name))`), or for
///   HTML upstream's highlighted `<span class='placeholder'>` form.
/// - A conditional placeholder shows its text when the value is truthy.
/// - With [`Escaping::Html`], the template text and the values are
///   HTML-escaped first (upstream `escape_html`).
pub(crate) fn fill(
    content: &str,
    values: &Personalisation,
    lists: ListStyle,
    escaping: Escaping,
) -> String {
    let escaped;
    let source = match escaping {
        Escaping::Html => {
            escaped = escape_html(content);
            escaped.as_str()
        }
        Escaping::Passthrough => content,
    };
    PLACEHOLDER
        .replace_all(source, |caps: &Captures| {
            let (name, conditional) = split_placeholder(caps.get(1).map_or("", |m| m.as_str()));
            let value = match escaping {
                Escaping::Html => values.get_escaped(name),
                Escaping::Passthrough => values.get(name),
            };
            let Some(text) = value.and_then(|v| value_to_text(v, lists)) else {
                return format_missing(name, conditional, escaping);
            };
            let text = match escaping {
                Escaping::Html => escape_html(&text),
                Escaping::Passthrough => text,
            };
            match conditional {
                Some(shown) if is_truthy(&text) => shown.to_string(),
                Some(_) => String::new(),
                None => text,
            }
        })
        .into_owned()
}

fn format_missing(name: &str, conditional: Option<&str>, escaping: Escaping) -> String {
    match (escaping, conditional) {
        (Escaping::Passthrough, None) => format!("(({name}))"),
        (Escaping::Passthrough, Some(text)) => format!("(({name}??{text}))"),
        (Escaping::Html, None) => {
            format!("<span class='placeholder'>&#40;&#40;{name}&#41;&#41;</span>")
        }
        (Escaping::Html, Some(text)) => format!(
            "<span class='placeholder-conditional'>&#40;&#40;{name}??</span>{text}&#41;&#41;"
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn values(v: Value) -> Personalisation {
        Personalisation::from_value(Some(&v))
    }

    #[test]
    fn normalises_keys() {
        let cases = [
            ("First Name", "firstname"),
            ("first_name", "firstname"),
            ("FIRST-NAME", "firstname"),
            (" Name", "name"),
            ("name\t", "name\t"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalise_key(input), expected);
        }
    }

    #[test]
    fn lists_placeholder_names_in_order() {
        let cases: [(&str, &[&str]); 6] = [
            ("Hello ((name))", &["name"]),
            ("((a)) ((b)) ((A))", &["a", "b"]),
            ("((First Name)) ((first_name))", &["First Name"]),
            ("((show??Some text)) ((show))", &["show"]),
            ("(((a))) ((b)", &["a"]),
            ("((a??b??c))", &["a"]),
        ];
        for (text, expected) in cases {
            assert_eq!(placeholder_names(text), expected, "text {text:?}");
        }
        assert_eq!(
            placeholder_names_in(&["((x)) ((y))", "((Y)) ((z))"]),
            ["x", "y", "z"]
        );
    }

    #[test]
    fn missing_is_in_template_order() {
        let p = values(json!({"b": "1", "d": null}));
        assert_eq!(
            missing(&["Subject ((a)) ((b))", "Body ((c)) ((d)) ((A))"], &p),
            ["a", "c", "d"]
        );
        let letter = ["((contact))", "((subject_thing))", "((body thing))"];
        assert_eq!(
            missing(&letter, &Personalisation::default()),
            ["contact", "subject_thing", "body thing"]
        );
        let p = values(json!({"name": "x", "show": "no"}));
        assert!(missing(&["((Name)) ((show??text))"], &p).is_empty());
        assert_eq!(missing(&["((cond??text))"], &p), ["cond"]);
    }

    #[test]
    fn matches_keys_insensitively() {
        let cases = [
            ("((First Name))", json!({"first_name": "Ann"}), "Ann"),
            ("(( Name))", json!({" Name": "Bo"}), "Bo"),
            ("(( Name))", json!({"name": "Cy"}), "Cy"),
            ("((NAME))", json!({"na-me": "Di"}), "Di"),
        ];
        for (content, personalisation, expected) in cases {
            let text = fill(
                content,
                &values(personalisation),
                ListStyle::Prose,
                Escaping::Passthrough,
            );
            assert_eq!(text, expected, "content {content:?}");
        }
    }

    #[test]
    fn converts_values_python_style() {
        let cases = [
            (json!("text"), "text"),
            (json!(1), "1"),
            (json!(-7), "-7"),
            (json!(1.5), "1.5"),
            (json!(2.0), "2.0"),
            (json!(1e16), "1e+16"),
            (json!(0.00001), "1e-05"),
            (json!(0.0001), "0.0001"),
            (json!(123456.789), "123456.789"),
            (json!(true), "True"),
            (json!(false), "False"),
            (
                json!({"a": 1, "b": [true, null, "x'y"]}),
                "{'a': 1, 'b': [True, None, \"x'y\"]}",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(
                value_to_text(&value, ListStyle::Prose).as_deref(),
                Some(expected)
            );
        }
        assert_eq!(value_to_text(&Value::Null, ListStyle::Prose), None);
    }

    #[test]
    fn formats_list_values() {
        let cases = [
            (json!(["a", "b", "c"]), "a, b and c", "\n\n* a\n* b\n* c"),
            (json!(["a", "", null, "  b "]), "a and b", "\n\n* a\n* b"),
            (json!(["only"]), "only", "\n\n* only"),
            (json!([]), "", ""),
            (json!(["", null]), "", ""),
            (
                json!([1, true, 2.5]),
                "1, True and 2.5",
                "\n\n* 1\n* True\n* 2.5",
            ),
        ];
        for (value, prose, markdown) in cases {
            assert_eq!(
                value_to_text(&value, ListStyle::Prose).as_deref(),
                Some(prose)
            );
            assert_eq!(
                value_to_text(&value, ListStyle::Markdown).as_deref(),
                Some(markdown)
            );
        }
    }

    #[test]
    fn conditional_placeholders() {
        let truthy = ["yes", "Y", "true", "T", "1", "include", "SHOW", "True"];
        let falsy = ["no", "false", "0", "", "maybe", "1.0", "hide"];
        for value in truthy {
            let p = values(json!({ "show": value }));
            let text = fill("a((show??B))c", &p, ListStyle::Prose, Escaping::Passthrough);
            assert_eq!(text, "aBc", "value {value:?}");
        }
        for value in falsy {
            let p = values(json!({ "show": value }));
            let text = fill("a((show??B))c", &p, ListStyle::Prose, Escaping::Passthrough);
            assert_eq!(text, "ac", "value {value:?}");
        }
        let p = values(json!({"show": true, "num": 1, "list": ["yes"]}));
        let text = fill(
            "((show??x))((num??y))((list??z))",
            &p,
            ListStyle::Markdown,
            Escaping::Passthrough,
        );
        assert_eq!(text, "xy");
        assert_eq!(
            fill(
                "((a??b??c))",
                &values(json!({"a": "yes"})),
                ListStyle::Prose,
                Escaping::Passthrough
            ),
            "b??c"
        );
    }

    #[test]
    fn missing_values_stay_as_written() {
        let p = values(json!({"other": "x"}));
        assert_eq!(
            fill(
                "((a)) ((b??t))",
                &p,
                ListStyle::Prose,
                Escaping::Passthrough
            ),
            "((a)) ((b??t))"
        );
        assert_eq!(
            fill("((a))", &p, ListStyle::Prose, Escaping::Html),
            "<span class='placeholder'>&#40;&#40;a&#41;&#41;</span>"
        );
    }

    #[test]
    fn html_escaping_covers_text_and_values() {
        let p = values(json!({"name": "<b>Tom & Jerry</b>", "a&b": "amp"}));
        assert_eq!(
            fill(
                "<i>((name))</i> ((a&b))",
                &p,
                ListStyle::Prose,
                Escaping::Html
            ),
            "&lt;i&gt;&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;&lt;/i&gt; amp"
        );
        assert_eq!(
            fill(
                "<i>((name))</i>",
                &p,
                ListStyle::Prose,
                Escaping::Passthrough
            ),
            "<i><b>Tom & Jerry</b></i>"
        );
    }

    #[test]
    fn later_duplicate_keys_win() {
        let mut p = Personalisation::default();
        p.insert("Name", json!("first"));
        p.insert("name", json!("second"));
        assert_eq!(p.get("NAME"), Some(&json!("second")));
        p.insert("name", Value::Null);
        assert_eq!(p.get("name"), None);
    }
}
