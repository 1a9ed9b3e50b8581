//! Notify's Markdown dialect for emails, rendered to the HTML body and to the
//! plain-text body that the email provider sends.
//!
//! Upstream runs mistune 0.8 with Notify's grammar changes and renderers.
//! This is a small parser written to give the same output for the same
//! input:
//!
//! - paragraphs, with every line break kept (`<br>`);
//! - headings: `#` (with or without a space) is the main heading, `##` a
//!   sub-heading; deeper levels are paragraphs. Setext (`===`/`---`
//!   underlines) works too;
//! - lists with `*`, `-` or `•` bullets, or `1.` numbers (a space after the
//!   marker is optional); `+` is **not** a bullet;
//! - `---`, `***` or `___` for a horizontal rule;
//! - `^` at the start of a line for inset text;
//! - `[text](url "title")` links and bare `http://`/`https://` URLs, which
//!   become links;
//! - no emphasis, no inline code, no images (removed), no tables (removed);
//!   fenced and indented code blocks are output as their raw text.
//!
//! The input must already be HTML-escaped for the HTML renderer (upstream
//! escapes template text and values before Markdown runs); the plain-text
//! renderer takes unescaped text.
//!
//! Not implemented, as no Notify template relies on them: reference-style
//! links (definitions are dropped), footnotes (dropped) and block-level raw
//! HTML in the plain-text body (kept as text).
//!
//! Sources: UTILS `notifications_utils/markdown.py`,
//! `tests/test_markdown.py`; mistune 0.8.4 (`BlockGrammar`, `InlineGrammar`,
//! `Markdown.output`).

use std::sync::LazyLock;

use regex::Regex;

use super::typography::markdown_escape;
use crate::python::{is_word, py_isspace, py_strip};

/// Inline style of links.
pub(crate) const LINK_STYLE: &str = "word-wrap: break-word; color: #1D70B8;";

const PARAGRAPH_OPEN: &str =
    r#"<p style="Margin: 0 0 20px 0; font-size: 19px; line-height: 25px; color: #0B0C0C;">"#;
const H2_OPEN: &str = r#"<h2 style="Margin: 0 0 15px 0; padding: 10px 0 0 0; font-size: 27px; line-height: 35px; font-weight: bold; color: #0B0C0C;">"#;
const H3_OPEN: &str = r#"<h3 style="Margin: 0 0 15px 0; padding: 10px 0 0 0; font-size: 19px; line-height: 25px; font-weight: bold; color: #0B0C0C;">"#;
const HR: &str =
    r#"<hr style="border: 0; height: 1px; background: #B1B4B6; Margin: 30px 0 30px 0;">"#;
const LIST_OPEN: &str = r#"<table role="presentation" style="padding: 0 0 20px 0;"><tr><td style="font-family: Helvetica, Arial, sans-serif;">"#;
const LIST_CLOSE: &str = "</td></tr></table>";
const OL_OPEN: &str = r#"<ol style="Margin: 0 0 0 20px; padding: 0; list-style-type: decimal;">"#;
const UL_OPEN: &str = r#"<ul style="Margin: 0 0 0 20px; padding: 0; list-style-type: disc;">"#;
const LI_OPEN: &str = r#"<li style="Margin: 5px 0 5px; padding: 0 0 0 5px; font-size: 19px;line-height: 25px; color: #0B0C0C;">"#;
const BLOCKQUOTE_OPEN: &str = r#"<blockquote style="Margin: 0 0 20px 0; border-left: 10px solid #B1B4B6;padding: 15px 0 0.1px 15px; font-size: 19px; line-height: 25px;">"#;

/// Width of the rules under headings in plain text.
const COLUMN_WIDTH: usize = 65;

/// Longest link text and link URL looked at, in bytes. Upstream has no
/// limit; these keep pathological input (thousands of `[`) from taking
/// quadratic time. Real links are far shorter.
const MAX_LINK_TEXT: usize = 1024;
const MAX_LINK_URL: usize = 8192;

/// How deep lists and inset text may nest before their content is kept as
/// plain text (mistune's `_max_recursive_depth`).
const MAX_DEPTH: usize = 6;

/// Renders Notify email Markdown to HTML (upstream `notify_email_markdown`).
/// `source` must already be HTML-escaped.
pub fn notify_email_markdown(source: &str) -> String {
    render_document(source, &EmailHtml)
}

/// Renders Notify email Markdown to plain text (upstream
/// `notify_plain_text_email_markdown`). Text is escaped as the HTML
/// renderer does; callers unescape the result (as upstream does).
pub fn notify_plain_text_email_markdown(source: &str) -> String {
    render_document(source, &PlainText)
}

fn render_document(source: &str, renderer: &dyn Renderer) -> String {
    let text = preprocess(source);
    let blocks = parse_blocks(&text, Rules::Top, 0);
    render_blocks(&blocks, renderer)
}

// ---------------------------------------------------------------------------
// Block parsing
// ---------------------------------------------------------------------------

#[derive(Debug)]
enum Block {
    Paragraph(String),
    Heading(usize, String),
    Hrule,
    Code(String),
    Quote(Vec<Block>),
    List { ordered: bool, items: Vec<Item> },
    Text(String),
    Newline,
}

#[derive(Debug)]
struct Item {
    loose: bool,
    blocks: Vec<Block>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rules {
    Top,
    ListItem,
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid regex")
}

static NEWLINE: LazyLock<Regex> = LazyLock::new(|| regex(r"^\n+"));
static HRULE: LazyLock<Regex> = LazyLock::new(|| regex(r"^ {0,3}[-*_](?: *[-*_]){2,} *(?:\n+|$)"));
static BLOCK_CODE: LazyLock<Regex> = LazyLock::new(|| regex(r"^(?: {4}[^\n]+\n*)+"));
static BLOCK_CODE_LEADING: LazyLock<Regex> = LazyLock::new(|| regex(r"(?m)^ {4}"));
static HEADING: LazyLock<Regex> = LazyLock::new(|| regex(r"^ *(#{1,6}) *([^\n]+?) *#* *(?:\n+|$)"));
static NPTABLE: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^ *(\S.*\|.*)\n *([-:]+ *\|[-| :]*)\n((?:.*\|.*(?:\n|$))*)\n*"));
static LHEADING: LazyLock<Regex> = LazyLock::new(|| regex(r"^([^\n]+)\n *(=|-)+ *(?:\n+|$)"));
static BLOCK_QUOTE: LazyLock<Regex> = LazyLock::new(|| regex(r"^(?: *\^[^\n]+(?:\n[^\n]+)*\n*)+"));
static BLOCK_QUOTE_LEADING: LazyLock<Regex> = LazyLock::new(|| regex(r"(?m)^ *\^ ?"));
static DEF_LINKS: LazyLock<Regex> = LazyLock::new(|| {
    regex(r#"^ *\[([^^\]]+)\]: *<?([^\s>]+)>?(?: +["(]([^\n]+)[")])? *(?:\n+|$)"#)
});
static DEF_FOOTNOTES: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^\[\^([^\]]+)\]: *([^\n]*(?:\n+|$)(?: {1,}[^\n]*(?:\n+|$))*)"));
static TABLE: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^ *\|(.+)\n *\|( *[-:]+[-| :]*)\n((?: *\|.*(?:\n|$))*)\n*"));
static TEXT: LazyLock<Regex> = LazyLock::new(|| regex(r"^[^\n]+"));
/// mistune's original list grammar, which (unlike Notify's) still decides
/// where a paragraph stops: `+` counts and a space after the marker is
/// needed.
static PARAGRAPH_LIST_BREAK: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^ *(?:[*+-](?:\d+\.)?|\d+\.) [\s\S]"));
/// mistune's original `>` block quote, which also still stops paragraphs.
static PARAGRAPH_QUOTE_BREAK: LazyLock<Regex> = LazyLock::new(|| regex(r"^ *>[^\n]+"));

/// mistune's `preprocessing`: newlines normalised, tabs expanded to 4
/// columns, lines of spaces emptied.
fn preprocess(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut expanded = String::with_capacity(text.len());
    let mut column = 0;
    for c in text.chars() {
        match c {
            '\t' => {
                let spaces = 4 - column % 4;
                expanded.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            '\n' => {
                expanded.push(c);
                column = 0;
            }
            '\u{2424}' => {
                expanded.push('\n');
                column = 0;
            }
            _ => {
                expanded.push(c);
                column += 1;
            }
        }
    }
    expanded
        .split('\n')
        .map(|line| {
            if line.bytes().all(|b| b == b' ') {
                ""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn parse_blocks(text: &str, rules: Rules, depth: usize) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut rest = text.trim_end_matches('\n');
    while !rest.is_empty() {
        let consumed = parse_block(rest, rules, depth, &mut blocks);
        rest = &rest[consumed.max(1).min(rest.len())..];
    }
    blocks
}

fn match_len(re: &Regex, s: &str) -> Option<usize> {
    re.find(s).map(|m| m.end())
}

/// Parses one block at the start of `s`, returning how many bytes it used.
fn parse_block(s: &str, rules: Rules, depth: usize, blocks: &mut Vec<Block>) -> usize {
    if let Some(len) = match_len(&NEWLINE, s) {
        if len > 1 {
            blocks.push(Block::Newline);
        }
        return len;
    }
    if rules == Rules::Top
        && let Some(len) = match_len(&HRULE, s)
    {
        blocks.push(Block::Hrule);
        return len;
    }
    if let Some(len) = match_len(&BLOCK_CODE, s) {
        let code = BLOCK_CODE_LEADING.replace_all(&s[..len], "");
        blocks.push(Block::Code(code.into_owned()));
        return len;
    }
    if let Some((len, code)) = match_fences(s) {
        blocks.push(Block::Code(code.to_string()));
        return len;
    }
    if rules == Rules::Top {
        if let Some(caps) = HEADING.captures(s) {
            blocks.push(Block::Heading(caps[1].len(), caps[2].to_string()));
            return caps[0].len();
        }
        if let Some(len) = match_len(&NPTABLE, s) {
            return len;
        }
    }
    if let Some(caps) = LHEADING.captures(s) {
        let level = if &caps[2] == "=" { 1 } else { 2 };
        blocks.push(Block::Heading(level, caps[1].to_string()));
        return caps[0].len();
    }
    if rules == Rules::ListItem
        && let Some(len) = match_len(&HRULE, s)
    {
        blocks.push(Block::Hrule);
        return len;
    }
    if let Some(len) = match_len(&BLOCK_QUOTE, s) {
        let cap = &s[..len];
        if depth >= MAX_DEPTH {
            blocks.push(Block::Text(cap.to_string()));
        } else {
            let inner = BLOCK_QUOTE_LEADING.replace_all(cap, "");
            blocks.push(Block::Quote(parse_blocks(&inner, Rules::Top, depth + 1)));
        }
        return len;
    }
    if let Some((len, ordered)) = match_list_block(s) {
        let cap = &s[..len];
        if depth >= MAX_DEPTH {
            let item = Item {
                loose: false,
                blocks: vec![Block::Text(cap.to_string())],
            };
            blocks.push(Block::List {
                ordered,
                items: vec![item],
            });
        } else {
            blocks.push(Block::List {
                ordered,
                items: parse_list_items(cap, depth),
            });
        }
        return len;
    }
    if rules == Rules::Top {
        if let Some(len) = match_len(&DEF_LINKS, s).or_else(|| match_len(&DEF_FOOTNOTES, s)) {
            return len;
        }
        if let Some(len) = match_len(&TABLE, s) {
            return len;
        }
        if let Some((len, text)) = match_paragraph(s) {
            blocks.push(Block::Paragraph(text.to_string()));
            return len;
        }
    }
    let len = match_len(&TEXT, s).unwrap_or(1);
    blocks.push(Block::Text(s[..len].to_string()));
    len
}

/// Number of leading bytes of `s` that are `byte`.
fn run_of(s: &str, byte: u8) -> usize {
    s.bytes().take_while(|&b| b == byte).count()
}

/// Length of a list marker (`•`, `*`, `-` or digits and `.`) at the start.
fn bullet_len(s: &str) -> Option<usize> {
    if s.starts_with('•') {
        return Some('•'.len_utf8());
    }
    if s.starts_with(['*', '-']) {
        return Some(1);
    }
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    (digits > 0 && s[digits..].starts_with('.')).then_some(digits + 1)
}

/// A fenced code block: returns its length and the code inside.
fn match_fences(s: &str) -> Option<(usize, &str)> {
    let indent = run_of(s, b' ');
    let rest = &s[indent..];
    let fence_byte = *rest.as_bytes().first()?;
    if fence_byte != b'`' && fence_byte != b'~' {
        return None;
    }
    let longest = run_of(rest, fence_byte);
    // Upstream's regex may give back fence characters to the info string.
    (3..=longest).rev().find_map(|fence_len| {
        let fence = &rest[..fence_len];
        let mut pos = indent + fence_len;
        pos += run_of(&s[pos..], b' ');
        pos += s[pos..]
            .chars()
            .take_while(|&c| !py_isspace(c))
            .map(char::len_utf8)
            .sum::<usize>();
        pos += run_of(&s[pos..], b' ');
        if !s[pos..].starts_with('\n') {
            return None;
        }
        let body_start = pos + 1;
        let first_len = s[body_start..].chars().next()?.len_utf8();
        let mut search = body_start;
        while let Some(offset) = s[search..].find(fence) {
            let found = search + offset;
            search = found + 1;
            let ws_start = s[..found]
                .char_indices()
                .rev()
                .take_while(|&(_, c)| py_isspace(c))
                .last()
                .map_or(found, |(i, _)| i);
            let body_end = ws_start.max(body_start + first_len);
            if body_end > found {
                continue;
            }
            let mut end = found + fence_len;
            end += run_of(&s[end..], b' ');
            if end == s.len() || s[end..].starts_with('\n') {
                end += run_of(&s[end..], b'\n');
                return Some((end, &s[body_start..body_end]));
            }
        }
        None
    })
}

/// Notify's list grammar: returns the length of the list block and whether
/// it is ordered.
fn match_list_block(s: &str) -> Option<(usize, bool)> {
    let indent = run_of(s, b' ');
    let bullet = bullet_len(&s[indent..])?;
    let ordered = s[indent..indent + bullet].ends_with('.');
    let body_start = indent + bullet;
    let first_len = s[body_start..].chars().next()?.len_utf8();
    let min_end = body_start + first_len;
    let trailing_ws_start = s
        .char_indices()
        .rev()
        .take_while(|&(_, c)| py_isspace(c))
        .last()
        .map_or(s.len(), |(i, _)| i);
    let indent_str = &s[..indent];
    let mut e = min_end;
    loop {
        if e >= trailing_ws_start {
            return Some((s.len(), ordered));
        }
        if s.as_bytes()[e] == b'\n'
            && let Some(end) = list_terminator(s, e, indent_str)
        {
            return Some((end, ordered));
        }
        e += s[e..].chars().next().map_or(1, char::len_utf8);
    }
}

/// The ways a list block can end at the newline at `e`; returns the end of
/// the block.
fn list_terminator(s: &str, e: usize, indent: &str) -> Option<usize> {
    let newlines = run_of(&s[e..], b'\n');
    let after = e + newlines;
    // A horizontal rule follows.
    for prefix in [indent, ""] {
        if let Some(line) = s[after..].strip_prefix(prefix)
            && is_list_hrule(line)
        {
            return Some(after);
        }
    }
    // A link or footnote definition follows.
    if DEF_LINKS.is_match(&s[after..]) || DEF_FOOTNOTES.is_match(&s[after..]) {
        return Some(after);
    }
    // A blank line not followed by an indented line or another item.
    for k in (2..=newlines).rev() {
        let rest = &s[e + k..];
        let next_is_item = rest
            .strip_prefix(indent)
            .and_then(|r| bullet_len(r).map(|b| r[b..].starts_with(' ')))
            .unwrap_or(false);
        if !rest.starts_with(' ') && !next_is_item {
            return Some(after);
        }
    }
    None
}

/// `(?:[-*_] *){3,}(?:\n+|$)` at the start of `line`.
fn is_list_hrule(line: &str) -> bool {
    let mut marks = 0;
    let mut rest = line;
    while let Some(r) = rest.strip_prefix(['-', '*', '_']) {
        marks += 1;
        rest = r.trim_start_matches(' ');
    }
    marks >= 3 && (rest.is_empty() || rest.starts_with('\n'))
}

/// Splits a list block into items and parses each (mistune's
/// `_process_list_item`).
fn parse_list_items(cap: &str, depth: usize) -> Vec<Item> {
    let lines: Vec<&str> = cap.split('\n').collect();
    let mut raw_items: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let indent = run_of(lines[i], b' ');
        if bullet_len(&lines[i][indent..]).is_none() {
            i += 1;
            continue;
        }
        let marker = &lines[i][..indent];
        let mut j = i + 1;
        while j < lines.len()
            && lines[j]
                .strip_prefix(marker)
                .is_none_or(|r| bullet_len(r).is_none())
        {
            j += 1;
        }
        raw_items.push(lines[i..j].join("\n"));
        i = j;
    }

    let count = raw_items.len();
    let mut items = Vec::with_capacity(count);
    let mut next_loose = false;
    for (index, raw) in raw_items.into_iter().enumerate() {
        let indent = run_of(&raw, b' ');
        let bullet = bullet_len(&raw[indent..]).unwrap_or(0);
        let removed = indent + bullet;
        let mut item = raw[removed..].to_string();
        if item.contains("\n ") {
            let space = raw[..removed].chars().count();
            item = outdent(&item, space);
        }
        let mut loose = next_loose;
        if !loose && has_inner_blank_line(&item) {
            loose = true;
        }
        if index != count - 1 && !item.is_empty() {
            next_loose = item.ends_with('\n');
            if !loose {
                loose = next_loose;
            }
        }
        items.push(Item {
            loose,
            blocks: parse_blocks(&item, Rules::ListItem, depth + 1),
        });
    }
    items
}

/// Removes up to `max` leading spaces from every line.
fn outdent(text: &str, max: usize) -> String {
    text.split('\n')
        .map(|line| {
            let spaces = run_of(line, b' ').min(max);
            &line[spaces..]
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `\n\n(?!\s*$)`: a blank line with something after it.
fn has_inner_blank_line(item: &str) -> bool {
    item.match_indices("\n\n")
        .any(|(i, _)| !item[i + 2..].chars().all(py_isspace))
}

/// mistune's paragraph rule: lines up to a blank line or up to a line that
/// starts another block. Returns the length used and the paragraph text.
fn match_paragraph(s: &str) -> Option<(usize, &str)> {
    let mut pos = 0;
    loop {
        let line_end = s[pos..].find('\n').map_or(s.len(), |i| pos + i);
        if line_end == pos {
            break;
        }
        if line_end == s.len() {
            pos = line_end;
            break;
        }
        let next = line_end + 1;
        if interrupts_paragraph(&s[next..]) {
            pos = line_end;
            break;
        }
        pos = next;
        if s[pos..].starts_with('\n') || pos == s.len() {
            break;
        }
    }
    if pos == 0 {
        return None;
    }
    let text = s[..pos].trim_end_matches('\n');
    let end = pos + run_of(&s[pos..], b'\n');
    Some((end, text))
}

/// Whether a line starting at `s` ends the paragraph before it.
fn interrupts_paragraph(s: &str) -> bool {
    match_fences(s).is_some()
        || PARAGRAPH_LIST_BREAK.is_match(s)
        || HRULE.is_match(s)
        || HEADING.is_match(s)
        || LHEADING.is_match(s)
        || PARAGRAPH_QUOTE_BREAK.is_match(s)
        || DEF_LINKS.is_match(s)
        || DEF_FOOTNOTES.is_match(s)
        || starts_block_tag(s)
}

/// A block-level HTML tag (only possible in the unescaped plain-text input).
fn starts_block_tag(s: &str) -> bool {
    const INLINE_TAGS: [&str; 32] = [
        "a", "em", "strong", "small", "s", "cite", "q", "dfn", "abbr", "data", "time", "code",
        "var", "samp", "kbd", "sub", "sup", "i", "b", "u", "mark", "ruby", "rt", "rp", "bdi",
        "bdo", "span", "br", "wbr", "ins", "del", "img",
    ];
    let Some(rest) = s.strip_prefix('<') else {
        return false;
    };
    let name_len: usize = rest
        .chars()
        .take_while(|&c| is_word(c))
        .map(char::len_utf8)
        .sum();
    if name_len == 0 || INLINE_TAGS.contains(&&rest[..name_len]) || &rest[..name_len] == "font" {
        return false;
    }
    let after = &rest[name_len..];
    if after.starts_with(":/") {
        return false;
    }
    let symbols: usize = after
        .chars()
        .take_while(|&c| !is_word(c) && !py_isspace(c) && c != '@')
        .map(char::len_utf8)
        .sum();
    !after[symbols..].starts_with('@')
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

trait Renderer {
    fn paragraph(&self, text: &str) -> String;
    fn heading(&self, text: &str, level: usize) -> String;
    fn hrule(&self) -> String;
    fn linebreak(&self) -> String;
    fn list(&self, body: &str, ordered: bool) -> String;
    fn list_item(&self, text: &str) -> String;
    fn block_quote(&self, text: &str) -> String;
    fn link(&self, url: &str, title: Option<&str>, text: &str) -> String;
    fn autolink(&self, url: &str, is_email: bool) -> String;
}

fn render_blocks(blocks: &[Block], r: &dyn Renderer) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < blocks.len() {
        match &blocks[i] {
            Block::Paragraph(text) => out.push_str(&r.paragraph(&inline(text, r))),
            Block::Heading(level, text) => out.push_str(&r.heading(&inline(text, r), *level)),
            Block::Hrule => out.push_str(&r.hrule()),
            Block::Code(code) => out.push_str(code),
            Block::Quote(children) => out.push_str(&r.block_quote(&render_blocks(children, r))),
            Block::List { ordered, items } => {
                let body: String = items.iter().map(|item| render_item(item, r)).collect();
                out.push_str(&r.list(&body, *ordered));
            }
            Block::Text(_) => {
                let (text, used) = merged_text(&blocks[i..]);
                out.push_str(&r.paragraph(&inline(&text, r)));
                i += used;
                continue;
            }
            Block::Newline => out.push_str(&r.linebreak()),
        }
        i += 1;
    }
    out
}

/// Joins consecutive text blocks with `\n`; returns the text and how many
/// blocks it used.
fn merged_text(blocks: &[Block]) -> (String, usize) {
    let texts: Vec<&str> = blocks
        .iter()
        .map_while(|b| match b {
            Block::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    (texts.join("\n"), texts.len())
}

fn render_item(item: &Item, r: &dyn Renderer) -> String {
    if item.loose {
        return r.list_item(&render_blocks(&item.blocks, r));
    }
    let mut body = String::new();
    let mut i = 0;
    while i < item.blocks.len() {
        if let Block::Text(_) = item.blocks[i] {
            let (text, used) = merged_text(&item.blocks[i..]);
            body.push_str(&inline(&text, r));
            i += used;
        } else {
            body.push_str(&render_blocks(&item.blocks[i..=i], r));
            i += 1;
        }
    }
    r.list_item(&body)
}

// ---------------------------------------------------------------------------
// Inline parsing
// ---------------------------------------------------------------------------

fn inline(text: &str, r: &dyn Renderer) -> String {
    render_inline(text, r, false)
}

fn render_inline(text: &str, r: &dyn Renderer, in_link: bool) -> String {
    const ESCAPABLE: &str = "\\`*{}[]()#+-.!_>~|";
    let mut out = String::with_capacity(text.len() + 16);
    let mut pos = 0;
    while pos < text.len() {
        let s = &text[pos..];
        // Backslash escapes.
        if let Some(rest) = s.strip_prefix('\\')
            && let Some(c) = rest.chars().next().filter(|&c| ESCAPABLE.contains(c))
        {
            out.push_str(&markdown_escape(&c.to_string()));
            pos += 1 + c.len_utf8();
            continue;
        }
        // Upstream's highlighted missing placeholder is raw inline HTML.
        if s.starts_with("<span class='placeholder")
            && let Some(end) = s.find("</span>")
        {
            let end = end + "</span>".len();
            out.push_str(&s[..end]);
            pos += end;
            continue;
        }
        // <http://...> and <someone@example.com>.
        if let Some((len, url, is_email)) = match_autolink(s) {
            out.push_str(&r.autolink(url, is_email));
            pos += len;
            continue;
        }
        // Bare URLs.
        if let Some(len) = match_url(s) {
            let url = &s[..len];
            if in_link {
                out.push_str(&markdown_escape(url));
            } else {
                out.push_str(&r.autolink(url, false));
            }
            pos += len;
            continue;
        }
        // [text](url "title") and ![alt](src).
        if let Some(link) = match_link(s) {
            if !link.is_image {
                let content = render_inline(link.text, r, true);
                out.push_str(&r.link(link.url, link.title, &content));
            }
            pos += link.len;
            continue;
        }
        // Hard line breaks.
        if let Some(len) = match_linebreak(s) {
            out.push_str(&r.linebreak());
            pos += len;
            continue;
        }
        let len = text_run_len(s);
        out.push_str(&markdown_escape(&s[..len]));
        pos += len;
    }
    out
}

/// `^<([^ >]+(@|:)[^ >]+)>`: returns the length, the link and whether it is
/// an email address.
fn match_autolink(s: &str) -> Option<(usize, &str, bool)> {
    let rest = s.strip_prefix('<')?;
    let end = rest.find(['>', ' '])?;
    if !rest[end..].starts_with('>') {
        return None;
    }
    let inner = &rest[..end];
    let (_, c) = inner
        .char_indices()
        .rfind(|&(i, c)| (c == '@' || c == ':') && i > 0 && i + 1 < inner.len())?;
    Some((end + 2, inner, c == '@'))
}

/// Notify's bare-URL rule: `https?://[^\s<]+[^<.,:"')\]\s]`.
fn match_url(s: &str) -> Option<usize> {
    let scheme = if s.starts_with("https://") {
        8
    } else if s.starts_with("http://") {
        7
    } else {
        return None;
    };
    let run: Vec<(usize, char)> = s[scheme..]
        .char_indices()
        .take_while(|&(_, c)| !py_isspace(c) && c != '<')
        .collect();
    (1..run.len())
        .rev()
        .find(|&k| !matches!(run[k].1, '.' | ',' | ':' | '"' | '\'' | ')' | ']'))
        .map(|k| scheme + run[k].0 + run[k].1.len_utf8())
}

/// `^ *\n(?!\s*$)`.
fn match_linebreak(s: &str) -> Option<usize> {
    let spaces = run_of(s, b' ');
    if !s[spaces..].starts_with('\n') {
        return None;
    }
    let len = spaces + 1;
    (!s[len..].chars().all(py_isspace)).then_some(len)
}

/// mistune's text rule (hard-wrap version): at least one character, up to
/// the next character that may start another rule.
fn text_run_len(s: &str) -> usize {
    for (i, c) in s.char_indices().skip(1) {
        if "\\<![_*`~".contains(c) {
            return i;
        }
        let rest = &s[i..];
        if rest.starts_with("https://") || rest.starts_with("http://") {
            return i;
        }
        if (c == ' ' || c == '\n') && rest.trim_start_matches(' ').starts_with('\n') {
            return i;
        }
    }
    s.len()
}

struct LinkMatch<'a> {
    len: usize,
    is_image: bool,
    text: &'a str,
    url: &'a str,
    title: Option<&'a str>,
}

/// mistune's inline link rule:
/// `!?\[(inside)\]\(\s*(<)?([\s\S]*?)(?(2)>)(?:\s+['"]([\s\S]*?)['"])?\s*\)`.
fn match_link(s: &str) -> Option<LinkMatch<'_>> {
    let is_image = s.starts_with("![");
    let open = if is_image {
        2
    } else if s.starts_with('[') {
        1
    } else {
        return None;
    };
    let mut limit = s.len().min(open + MAX_LINK_TEXT);
    while !s.is_char_boundary(limit) {
        limit -= 1;
    }
    let search_end = s.len().min(limit + 2);
    if !s.as_bytes()[open..search_end]
        .windows(2)
        .any(|w| w == b"](")
    {
        return None;
    }
    let reachable = link_text_ends(&s[..limit], open);
    for &close in reachable.iter().rev() {
        if !s[close..].starts_with("](") {
            continue;
        }
        if let Some((end, url, title)) = link_destination(s, close + 2) {
            return Some(LinkMatch {
                len: end,
                is_image,
                text: &s[open..close],
                url,
                title,
            });
        }
    }
    None
}

/// The positions where mistune's link text
/// `(?:\[[^^\]]*\]|[^\[\]]|\](?=[^\[]*\]))*` can end, in increasing order.
fn link_text_ends(s: &str, start: usize) -> Vec<usize> {
    let mut reachable = vec![false; s.len() + 1];
    reachable[start] = true;
    let mut ends = Vec::new();
    for q in start..=s.len() {
        if !reachable[q] || !s.is_char_boundary(q) {
            continue;
        }
        ends.push(q);
        let Some(c) = s[q..].chars().next() else {
            continue;
        };
        let next = q + c.len_utf8();
        match c {
            '[' => {
                let inner = &s[next..];
                if let Some(close) = inner.find([']', '^'])
                    && inner[close..].starts_with(']')
                {
                    reachable[next + close + 1] = true;
                }
            }
            ']' => {
                let ahead = &s[next..];
                if let Some(k) = ahead.find(['[', ']'])
                    && ahead[k..].starts_with(']')
                {
                    reachable[next] = true;
                }
            }
            _ => reachable[next] = true,
        }
    }
    ends
}

/// The part after `](`: returns the end of the link, its URL and title.
fn link_destination(s: &str, start: usize) -> Option<(usize, &str, Option<&str>)> {
    let url_start = skip_whitespace(s, start);
    let options: &[bool] = if s[url_start..].starts_with('<') {
        &[true, false]
    } else {
        &[false]
    };
    for &angle in options {
        let href_start = url_start + usize::from(angle);
        let mut e = href_start;
        while e - href_start <= MAX_LINK_URL {
            let after_href = match angle {
                true => s[e..].starts_with('>').then_some(e + 1),
                false => Some(e),
            };
            if let Some(r) = after_href {
                if let Some((end, title)) = link_title(s, r) {
                    return Some((end, &s[href_start..e], Some(title)));
                }
                let after = skip_whitespace(s, r);
                if s[after..].starts_with(')') {
                    return Some((after + 1, &s[href_start..e], None));
                }
            }
            match s[e..].chars().next() {
                Some(c) => e += c.len_utf8(),
                None => break,
            }
        }
    }
    None
}

/// The position after any (Python) whitespace at `from`.
fn skip_whitespace(s: &str, from: usize) -> usize {
    from + s[from..]
        .chars()
        .take_while(|&c| py_isspace(c))
        .map(char::len_utf8)
        .sum::<usize>()
}

/// `\s+['"]([\s\S]*?)['"]\s*\)` at `r`: returns the end and the title.
fn link_title(s: &str, r: usize) -> Option<(usize, &str)> {
    let quote = skip_whitespace(s, r);
    if quote == r || !s[quote..].starts_with(['\'', '"']) {
        return None;
    }
    let title_start = quote + 1;
    let mut search = title_start;
    while let Some(offset) = s[search..].find(['\'', '"']) {
        let close = search + offset;
        let after = skip_whitespace(s, close + 1);
        if s[after..].starts_with(')') {
            return Some((after + 1, &s[title_start..close]));
        }
        search = close + 1;
    }
    None
}

// ---------------------------------------------------------------------------
// Renderers
// ---------------------------------------------------------------------------

/// Upstream `NotifyEmailMarkdownRenderer`.
struct EmailHtml;

impl Renderer for EmailHtml {
    fn paragraph(&self, text: &str) -> String {
        if py_strip(text).is_empty() {
            return String::new();
        }
        format!("{PARAGRAPH_OPEN}{text}</p>")
    }

    fn heading(&self, text: &str, level: usize) -> String {
        match level {
            1 => format!("{H2_OPEN}{text}</h2>"),
            2 => format!("{H3_OPEN}{text}</h3>"),
            _ => self.paragraph(text),
        }
    }

    fn hrule(&self) -> String {
        HR.to_string()
    }

    fn linebreak(&self) -> String {
        "<br>".to_string()
    }

    fn list(&self, body: &str, ordered: bool) -> String {
        let (open, close) = if ordered {
            (OL_OPEN, "</ol>")
        } else {
            (UL_OPEN, "</ul>")
        };
        format!("{LIST_OPEN}{open}{body}{close}{LIST_CLOSE}")
    }

    fn list_item(&self, text: &str) -> String {
        format!("{LI_OPEN}{}</li>", py_strip(text))
    }

    fn block_quote(&self, text: &str) -> String {
        format!("{BLOCKQUOTE_OPEN}{text}</blockquote>")
    }

    fn link(&self, url: &str, title: Option<&str>, text: &str) -> String {
        html_link(url, title, text)
    }

    fn autolink(&self, url: &str, is_email: bool) -> String {
        if is_email {
            return url.to_string();
        }
        html_link(url, None, url)
    }
}

/// Upstream `create_sanitised_html_for_url`: `http://` is added when the URL
/// has no known scheme, and the URL is percent-encoded for the `href`
/// (existing `%xx` escapes are kept).
fn html_link(url: &str, title: Option<&str>, text: &str) -> String {
    const SCHEMES: [&str; 6] = ["ftp:", "file:", "http:", "https:", "mailto:", "tel:"];
    let lower = url.to_lowercase();
    let full = if SCHEMES.iter().any(|s| lower.starts_with(s)) {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let href = percent_encode(&full, ":/?#=&;%");
    match title.filter(|t| !t.is_empty()) {
        Some(title) => {
            format!(r#"<a style="{LINK_STYLE}" href="{href}" title="{title}">{text}</a>"#)
        }
        None => format!(r#"<a style="{LINK_STYLE}" href="{href}">{text}</a>"#),
    }
}

/// Python's `urllib.parse.quote(value, safe=safe)`.
fn percent_encode(value: &str, safe: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        let c = b as char;
        if b.is_ascii_alphanumeric() || "_.-~".contains(c) || (b.is_ascii() && safe.contains(c)) {
            out.push(c);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Upstream `NotifyPlainTextEmailMarkdownRenderer`.
struct PlainText;

/// Stands in for list markers until the list knows its numbering.
const LIST_MARKER: &str = "\u{1f1ec}\u{1f1e7}\u{1f426}\u{2709}\u{fe0f}";

impl Renderer for PlainText {
    fn paragraph(&self, text: &str) -> String {
        if py_strip(text).is_empty() {
            return String::new();
        }
        format!("\n\n{text}")
    }

    fn heading(&self, text: &str, level: usize) -> String {
        match level {
            1 => format!("\n\n\n{text}\n{}", "=".repeat(COLUMN_WIDTH)),
            2 => format!("\n\n\n{text}\n{}", "-".repeat(COLUMN_WIDTH)),
            _ => self.paragraph(text),
        }
    }

    fn hrule(&self) -> String {
        let rule: String = "=-".chars().cycle().take(COLUMN_WIDTH).collect();
        self.paragraph(&rule)
    }

    fn linebreak(&self) -> String {
        "\n".to_string()
    }

    fn list(&self, body: &str, ordered: bool) -> String {
        let mut out = String::from("\n");
        let mut number = 0;
        let mut rest = body;
        while let Some(i) = rest.find(LIST_MARKER) {
            out.push_str(&rest[..i]);
            number += 1;
            if ordered {
                out.push_str(&format!("{number}."));
            } else {
                out.push('•');
            }
            rest = &rest[i + LIST_MARKER.len()..];
        }
        out.push_str(rest);
        out
    }

    fn list_item(&self, text: &str) -> String {
        format!("\n{LIST_MARKER} {}", py_strip(text))
    }

    fn block_quote(&self, text: &str) -> String {
        text.to_string()
    }

    fn link(&self, url: &str, title: Option<&str>, text: &str) -> String {
        match title.filter(|t| !t.is_empty()) {
            Some(title) => format!("{text} ({title}): {url}"),
            None => format!("{text}: {url}"),
        }
    }

    fn autolink(&self, url: &str, _is_email: bool) -> String {
        url.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = PARAGRAPH_OPEN;

    fn link(url: &str) -> String {
        format!(r#"<a style="{LINK_STYLE}" href="{url}">{url}</a>"#)
    }

    #[test]
    fn paragraphs_and_line_breaks() {
        let cases = [
            (
                "line one\nline two\n\nnew paragraph",
                format!("{P}line one<br>line two</p>{P}new paragraph</p>"),
                "\n\nline one\nline two\n\nnew paragraph",
            ),
            (
                "before\n\n\n\n\n\nafter",
                format!("{P}before</p>{P}after</p>"),
                "\n\nbefore\n\nafter",
            ),
        ];
        for (source, html, plain) in cases {
            assert_eq!(notify_email_markdown(source), html);
            assert_eq!(notify_plain_text_email_markdown(source), plain);
        }
    }

    #[test]
    fn headings() {
        let h1 = format!("{H2_OPEN}heading</h2>");
        assert_eq!(notify_email_markdown("# heading"), h1);
        assert_eq!(notify_email_markdown("#heading"), h1);
        assert_eq!(
            notify_plain_text_email_markdown("# heading"),
            format!("\n\n\nheading\n{}", "=".repeat(65))
        );
        assert_eq!(
            notify_email_markdown("## heading"),
            format!("{H3_OPEN}heading</h3>")
        );
        assert_eq!(
            notify_plain_text_email_markdown("## heading"),
            format!("\n\n\nheading\n{}", "-".repeat(65))
        );
        assert_eq!(
            notify_email_markdown("### inset text"),
            format!("{P}inset text</p>")
        );
        assert_eq!(
            notify_plain_text_email_markdown("### inset text"),
            "\n\ninset text"
        );
        assert_eq!(
            notify_email_markdown("Title\n==="),
            format!("{H2_OPEN}Title</h2>")
        );
    }

    #[test]
    fn horizontal_rules() {
        let html = format!("{P}a</p>{HR}{P}b</p>");
        let plain = format!("\n\na\n\n{}\n\nb", "=-".repeat(32) + "=");
        for source in ["a\n\n***\n\nb", "a\n\n---\n\nb"] {
            assert_eq!(notify_email_markdown(source), html);
            assert_eq!(notify_plain_text_email_markdown(source), plain);
        }
    }

    #[test]
    fn inset_text() {
        assert_eq!(
            notify_email_markdown("^ inset text"),
            format!("{BLOCKQUOTE_OPEN}{P}inset text</p></blockquote>")
        );
        assert_eq!(
            notify_plain_text_email_markdown("^ inset text"),
            "\n\ninset text"
        );
    }

    #[test]
    fn ordered_lists() {
        let li = |t: &str| format!("{LI_OPEN}{t}</li>");
        let html = format!(
            "{LIST_OPEN}{OL_OPEN}{}{}{}</ol>{LIST_CLOSE}",
            li("one"),
            li("two"),
            li("three")
        );
        for source in ["1. one\n2. two\n3. three\n", "1.one\n2.two\n3.three\n"] {
            assert_eq!(notify_email_markdown(source), html, "source {source:?}");
            assert_eq!(
                notify_plain_text_email_markdown(source),
                "\n\n1. one\n2. two\n3. three"
            );
        }
    }

    #[test]
    fn unordered_lists() {
        let li = |t: &str| format!("{LI_OPEN}{t}</li>");
        let html = format!(
            "{LIST_OPEN}{UL_OPEN}{}{}{}</ul>{LIST_CLOSE}",
            li("one"),
            li("two"),
            li("three")
        );
        let sources = [
            "*one\n*two\n*three\n",
            "* one\n* two\n* three\n",
            "*  one\n*  two\n*  three\n",
            "*\tone\n*\ttwo\n*\tthree\n",
            "- one\n- two\n- three\n",
            "• one\n• two\n• three\n",
        ];
        for source in sources {
            assert_eq!(notify_email_markdown(source), html, "source {source:?}");
            assert_eq!(
                notify_plain_text_email_markdown(source),
                "\n\n• one\n• two\n• three"
            );
        }
    }

    #[test]
    fn pluses_are_not_lists() {
        assert_eq!(
            notify_email_markdown("+ one\n+ two\n+ three\n"),
            format!("{P}+ one</p>{P}+ two</p>{P}+ three</p>")
        );
        assert_eq!(
            notify_plain_text_email_markdown("+ one\n+ two\n+ three\n"),
            "\n\n+ one\n\n+ two\n\n+ three"
        );
    }

    #[test]
    fn list_after_paragraph_and_loose_items() {
        let li = |t: &str| format!("{LI_OPEN}{t}</li>");
        assert_eq!(
            notify_email_markdown("Intro\n\n* a\n* b"),
            format!(
                "{P}Intro</p>{LIST_OPEN}{UL_OPEN}{}{}</ul>{LIST_CLOSE}",
                li("a"),
                li("b")
            )
        );
        assert_eq!(
            notify_email_markdown("Intro\n* a\n* b"),
            format!(
                "{P}Intro</p>{LIST_OPEN}{UL_OPEN}{}{}</ul>{LIST_CLOSE}",
                li("a"),
                li("b")
            )
        );
        assert_eq!(
            notify_email_markdown("* a\n\n* b"),
            format!(
                "{LIST_OPEN}{UL_OPEN}{}{}</ul>{LIST_CLOSE}",
                li(&format!("{P} a</p>")),
                li(&format!("{P} b</p>"))
            )
        );
        assert_eq!(
            notify_plain_text_email_markdown("* a\n  * b\n* c"),
            "\n\n• a\n\n• b\n• c"
        );
    }

    #[test]
    fn links() {
        let a =
            |href: &str, text: &str| format!(r#"<a style="{LINK_STYLE}" href="{href}">{text}</a>"#);
        assert_eq!(
            notify_email_markdown("[Example](http://example.com)"),
            format!("{P}{}</p>", a("http://example.com", "Example"))
        );
        assert_eq!(
            notify_plain_text_email_markdown("[Example](http://example.com)"),
            "\n\nExample: http://example.com"
        );
        assert_eq!(
            notify_email_markdown("Visit our [website](www.example.com/xyz)."),
            format!(
                "{P}Visit our {}.</p>",
                a("http://www.example.com/xyz", "website")
            )
        );
        assert_eq!(
            notify_plain_text_email_markdown("Visit our [website](www.example.com/xyz)."),
            "\n\nVisit our website: www.example.com/xyz."
        );
        assert_eq!(
            notify_email_markdown("[Example](http://example.com \"An example URL\")"),
            format!(
                r#"{P}<a style="{LINK_STYLE}" href="http://example.com" title="An example URL">Example</a></p>"#
            )
        );
        assert_eq!(
            notify_plain_text_email_markdown(
                "Visit our [website](https://www.example.com/xyz 'Link Title')."
            ),
            "\n\nVisit our website (Link Title): https://www.example.com/xyz."
        );
        assert_eq!(
            notify_email_markdown("Unusual [link](tel:+44123)"),
            format!("{P}Unusual {}</p>", a("tel:%2B44123", "link"))
        );
        assert_eq!(
            notify_email_markdown("Unusual [link](mailto:unsubscribe@example.com)"),
            format!(
                "{P}Unusual {}</p>",
                a("mailto:unsubscribe%40example.com", "link")
            )
        );
    }

    #[test]
    fn bare_urls_become_links() {
        for url in [
            "http://example.com",
            "https://www.gov.uk/",
            "http://service.gov.uk/blah.ext?q=a%20b%20c&order=desc#fragment",
        ] {
            assert_eq!(notify_email_markdown(url), format!("{P}{}</p>", link(url)));
        }
        assert_eq!(
            notify_email_markdown("this link is in brackets (http://example.com)"),
            format!(
                "{P}this link is in brackets ({})</p>",
                link("http://example.com")
            )
        );
        assert_eq!(
            notify_email_markdown("a link http://example.com in the middle"),
            format!("{P}a link {} in the middle</p>", link("http://example.com"))
        );
        for text in [
            "example.com",
            "www.example.com",
            "ftp://example.com",
            "test@example.com",
        ] {
            assert_eq!(notify_email_markdown(text), format!("{P}{text}</p>"));
        }
        assert_eq!(
            notify_email_markdown("https://example.com\"onclick=\"alert('hi')"),
            format!(
                r#"{P}<a style="{LINK_STYLE}" href="https://example.com%22onclick=%22alert%28%27hi">https://example.com"onclick="alert('hi</a>')</p>"#
            )
        );
        assert_eq!(
            notify_plain_text_email_markdown("https://example.com\n\nNext paragraph"),
            "\n\nhttps://example.com\n\nNext paragraph"
        );
    }

    #[test]
    fn unsupported_syntax_is_literal_or_removed() {
        let cases = [
            ("variable called `thing`", "variable called `thing`"),
            ("something **important**", "something **important**"),
            ("something *important*", "something *important*"),
            ("before_after", "before_after"),
            ("foo ****** bar", "foo ****** bar"),
            ("~~Strike~~", "~~Strike~~"),
        ];
        for (source, text) in cases {
            assert_eq!(notify_email_markdown(source), format!("{P}{text}</p>"));
            assert_eq!(
                notify_plain_text_email_markdown(source),
                format!("\n\n{text}")
            );
        }
        assert_eq!(
            notify_email_markdown("![alt text](http://example.com/image.png)"),
            ""
        );
        assert_eq!(
            notify_email_markdown("col | col\n----|----\nval | val\n"),
            ""
        );
        assert_eq!(
            notify_email_markdown("```\nprint(\"hello\")\n```"),
            "print(\"hello\")"
        );
        assert_eq!(
            notify_email_markdown("    indented\n    code"),
            "indented\ncode"
        );
    }

    #[test]
    fn escapes_and_headings_inside_paragraphs() {
        assert_eq!(
            notify_email_markdown("This is an escaped heading: \n \\# This is heading 1"),
            format!("{P}This is an escaped heading:<br> # This is heading 1</p>")
        );
        assert_eq!(
            notify_email_markdown("This is an unescaped heading: \n # This is heading 1"),
            format!("{P}This is an unescaped heading: </p>{H2_OPEN}This is heading 1</h2>")
        );
        assert_eq!(
            notify_email_markdown("a &lt;b&gt; &amp; c"),
            format!("{P}a &lt;b&gt; &amp; c</p>")
        );
        assert_eq!(
            notify_email_markdown(
                "http://example.com/?token=<span class='placeholder'>&#40;&#40;token&#41;&#41;</span>&key=1"
            ),
            format!(
                "{P}{}<span class='placeholder'>&#40;&#40;token&#41;&#41;</span>&amp;key=1</p>",
                link("http://example.com/?token=")
            )
        );
    }
}
