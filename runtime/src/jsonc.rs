//! Get and set a top-level key of a VS Code settings document (JSONC), keeping every other byte.
//!
//! VS Code's `settings.json` is JSON with comments and trailing commas, curated by hand. An edit
//! by dw must be surgical, so the contract is:
//!
//! - every byte outside the edited value stays as it was: comments, blank lines, trailing commas,
//!   indentation (tabs or spaces), line endings (LF, CRLF), a UTF-8 byte order mark;
//! - a key that is present gets a new value in place; when it appears more than once, the last
//!   occurrence is the one VS Code uses, so that one changes and the earlier ones are reported
//!   ([`Edit::duplicate_lines`]);
//! - a key that is absent is inserted as the last property, indented like its siblings, with the
//!   document's line ending, and with a trailing comma when the last property had one;
//! - an empty, whitespace-only or comment-only document becomes an object holding the key (the
//!   comments stay, the object follows them);
//! - anything VS Code would not read as a settings object is an error with a 1-based line and
//!   column, and nothing is changed. Only VS Code's dialect is accepted: comments and trailing
//!   commas, but none of jsonc-parser's other extensions (single quotes, unquoted keys,
//!   hexadecimal numbers, missing commas, …), see [`vscode_parse_options`].
//!
//! Keys are flat strings such as `gitlab.duoWorkflow.dockerSocket`: VS Code settings use dotted
//! names, not nested objects, so a key inside a nested object is never the one edited.
//!
//! How: the text is parsed with jsonc-parser into an AST that knows each node's byte range, and
//! the edit is a list of splices into the original text. jsonc-parser's CST `append` is not used
//! because it rewrites bytes it does not own: it reflows a one-line object onto several lines and
//! drops blank lines after `{` and before `}`. Splicing makes "nothing else changed" true by
//! construction.
//!
//! [`plan_in_file`] and [`set_in_file`] are the file-level glue `dw setup` calls: read (a missing
//! file is an empty document), edit, and write atomically with a backup ([`crate::atomic`]).

use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use jsonc_parser::ast::{self, ObjectProp};
use jsonc_parser::common::Ranged;
use jsonc_parser::errors::{ParseError, ParseErrorKind};
use jsonc_parser::tokens::{Token, TokenAndRange};
use jsonc_parser::{
    CollectOptions, CommentCollectionStrategy, ParseOptions, ParseStringErrorKind, Scanner,
    ScannerOptions,
};
use serde_json::Value;

use crate::atomic::{self, AtomicWriteError, WriteOutcome};

/// The UTF-8 byte order mark some editors put at the start of a file; VS Code reads past it.
const BYTE_ORDER_MARK: &str = "\u{feff}";

/// Indentation for documents that show none: VS Code's default (`editor.tabSize` 4, spaces).
const DEFAULT_INDENT: &str = "    ";

/// The dialect VS Code's parser accepts in settings files: JSON plus comments and trailing
/// commas. Every other leniency of jsonc-parser is off, so that dw never accepts (and then
/// rewrites around) something VS Code would flag as an error.
pub fn vscode_parse_options() -> ParseOptions {
    ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

/// Why a text is not a settings document. Positions are 1-based; columns count characters (not
/// bytes), after the byte order mark if there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsoncError {
    /// The text is not valid JSONC in VS Code's dialect.
    #[error("line {line}, column {column}: {problem}")]
    Syntax {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What is wrong there, and how it is usually fixed.
        problem: String,
    },
    /// The text is valid JSONC, but its value is not an object.
    #[error(
        "line {line}, column {column}: the document is {found}, but VS Code settings are one \
         JSON object: `{{ \"name\": value, … }}`"
    )]
    NotAnObject {
        /// 1-based line where the value starts.
        line: usize,
        /// 1-based column where the value starts.
        column: usize,
        /// What the value is instead, with its article ("an array", "a string", …).
        found: &'static str,
    },
}

impl JsoncError {
    /// 1-based line of the problem.
    pub fn line(&self) -> usize {
        match self {
            JsoncError::Syntax { line, .. } | JsoncError::NotAnObject { line, .. } => *line,
        }
    }

    /// 1-based column (in characters) of the problem.
    pub fn column(&self) -> usize {
        match self {
            JsoncError::Syntax { column, .. } | JsoncError::NotAnObject { column, .. } => *column,
        }
    }
}

/// The result of [`set`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The new document. Equal to the input when `changed` is false.
    pub text: String,
    /// Whether the document changed; false when the key already held the value.
    pub changed: bool,
    /// 1-based lines of earlier occurrences of the key, which VS Code ignores (it uses the last
    /// one, which is the one read or edited). Empty when the key appears at most once.
    pub duplicate_lines: Vec<usize>,
}

/// The value of the top-level `key` in a settings document, or `None` when it is absent.
///
/// When the key appears more than once the last occurrence wins, as in VS Code. A key that only
/// appears inside a nested object is absent. An empty or comment-only document has no keys.
pub fn get(text: &str, key: &str) -> Result<Option<Value>, JsoncError> {
    let document = Document::parse(text)?;
    let Some(object) = &document.object else {
        return Ok(None);
    };
    object
        .properties
        .iter()
        .rev()
        .find(|property| property.name.as_str() == key)
        .map(|property| to_json(document.body, &property.value))
        .transpose()
}

/// Sets the top-level `key` of a settings document to `value`, changing no other byte.
///
/// See the module documentation for the full contract. In short: the last occurrence of the key
/// gets the new value; an absent key becomes the last property; an empty, whitespace-only or
/// comment-only document gains an object; setting the value the key already holds is a no-op
/// (`changed: false`); a malformed document is an error and nothing is changed.
pub fn set(text: &str, key: &str, value: &Value) -> Result<Edit, JsoncError> {
    let document = Document::parse(text)?;
    let Some(object) = &document.object else {
        return Ok(Edit {
            text: document.with_new_object(key, value),
            changed: true,
            duplicate_lines: Vec::new(),
        });
    };
    let occurrences: Vec<&ObjectProp> = object
        .properties
        .iter()
        .filter(|property| property.name.as_str() == key)
        .collect();
    let duplicate_lines = occurrences
        .iter()
        .take(occurrences.len().saturating_sub(1))
        .map(|property| line_column(document.body, property.range.start).0)
        .collect();
    let splices = match occurrences.last() {
        Some(property) => {
            // A value dw cannot represent (a number beyond f64) cannot equal `value`.
            let current = to_json(document.body, &property.value).ok();
            if current.as_ref() == Some(value) {
                return Ok(Edit {
                    text: text.to_string(),
                    changed: false,
                    duplicate_lines,
                });
            }
            document.replace_value(object, property, value)
        }
        None => document.insert_property(object, key, value),
    };
    Ok(Edit {
        text: document.apply(splices),
        changed: true,
        duplicate_lines,
    })
}

/// A text replacement at a byte range of the document's body.
struct Splice {
    range: Range<usize>,
    text: String,
}

/// How new text is laid out so that it looks like the text around it.
struct Layout {
    newline: &'static str,
    /// One level of indentation.
    unit: String,
    /// Whether the object is written on one line; new text then stays on that line.
    inline: bool,
}

/// A parsed settings document: its body (the text after any byte order mark), its top-level
/// object (`None` when the body holds only whitespace and comments) and its tokens (comments
/// included), all with byte ranges into the body.
struct Document<'a> {
    byte_order_mark: &'a str,
    body: &'a str,
    object: Option<ast::Object<'a>>,
    tokens: Vec<TokenAndRange<'a>>,
}

impl<'a> Document<'a> {
    fn parse(text: &'a str) -> Result<Self, JsoncError> {
        let (byte_order_mark, body) = match text.strip_prefix(BYTE_ORDER_MARK) {
            Some(body) => (BYTE_ORDER_MARK, body),
            None => ("", text),
        };
        // Lexical problems come first, in document order, so that a string left open on one
        // line is reported there and not where the parser finally trips over it.
        check_tokens(body)?;
        let collect = CollectOptions {
            comments: CommentCollectionStrategy::AsTokens,
            tokens: true,
        };
        let parsed = jsonc_parser::parse_to_ast(body, &collect, &vscode_parse_options())
            .map_err(|error| syntax_error(body, &error))?;
        let object = match parsed.value {
            None => None,
            Some(ast::Value::Object(object)) => Some(object),
            Some(other) => {
                let (line, column) = line_column(body, other.start());
                return Err(JsoncError::NotAnObject {
                    line,
                    column,
                    found: describe(&other),
                });
            }
        };
        Ok(Self {
            byte_order_mark,
            body,
            object,
            tokens: parsed.tokens.unwrap_or_default(),
        })
    }

    /// The whole text with `splices` applied (in order of position; equal positions keep the
    /// order given).
    fn apply(&self, mut splices: Vec<Splice>) -> String {
        splices.sort_by_key(|splice| splice.range.start);
        let mut text = String::with_capacity(self.byte_order_mark.len() + self.body.len() + 64);
        text.push_str(self.byte_order_mark);
        let mut copied_to = 0;
        for splice in splices {
            text.push_str(&self.body[copied_to..splice.range.start]);
            text.push_str(&splice.text);
            copied_to = splice.range.end;
        }
        text.push_str(&self.body[copied_to..]);
        text
    }

    /// The document with an object holding `key` added: after the comments of a comment-only
    /// body, in place of a whitespace-only one.
    fn with_new_object(&self, key: &str, value: &Value) -> String {
        let layout = Layout {
            newline: newline_of(self.body),
            unit: DEFAULT_INDENT.to_string(),
            inline: false,
        };
        let property = property_text(key, value, DEFAULT_INDENT, &layout);
        let newline = layout.newline;
        let object = format!("{{{newline}{DEFAULT_INDENT}{property}{newline}}}{newline}");
        if self.tokens.is_empty() {
            return format!("{}{object}", self.byte_order_mark);
        }
        // A line comment without a final line break would swallow the object.
        let separator = if self.body.ends_with(['\n', '\r']) {
            ""
        } else {
            newline
        };
        format!("{}{}{separator}{object}", self.byte_order_mark, self.body)
    }

    fn replace_value(
        &self,
        object: &ast::Object,
        property: &ObjectProp,
        value: &Value,
    ) -> Vec<Splice> {
        let layout = self.layout(object);
        let indent = line_indent(self.body, property.range.start);
        let mut text = String::new();
        render(value, indent, &layout, &mut text);
        vec![Splice {
            range: property.value.range().start..property.value.range().end,
            text,
        }]
    }

    fn insert_property(&self, object: &ast::Object, key: &str, value: &Value) -> Vec<Splice> {
        match object.properties.last() {
            Some(last) => self.insert_after(object, last, key, value),
            None => self.insert_into_empty(object, key, value),
        }
    }

    /// Inserts the property after `last`: after its trailing comma and any comment on the same
    /// line, so that a comment stays with the property it describes.
    fn insert_after(
        &self,
        object: &ast::Object,
        last: &ObjectProp,
        key: &str,
        value: &Value,
    ) -> Vec<Splice> {
        let body = self.body;
        let layout = self.layout(object);
        let value_end = last.value.range().end;
        let mut insert_at = value_end;
        let mut had_trailing_comma = false;
        for token in self.tokens_between(value_end, object.range.end - 1) {
            if body[insert_at..token.range.start].contains(['\n', '\r']) {
                break;
            }
            match token.token {
                Token::Comma => had_trailing_comma = true,
                Token::CommentLine(_) | Token::CommentBlock(_) => {}
                _ => break,
            }
            insert_at = token.range.end;
        }
        let indent = object
            .properties
            .iter()
            .rev()
            .find_map(|property| indent_before(body, property.range.start))
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}{}", line_indent(body, object.range.start), layout.unit));
        let property = property_text(key, value, &indent, &layout);
        // The new property ends the object, so it takes over the trailing comma style.
        let comma = if had_trailing_comma { "," } else { "" };
        let text = if layout.inline {
            format!(" {property}{comma}")
        } else {
            format!("{}{indent}{property}{comma}", layout.newline)
        };
        let mut splices = Vec::with_capacity(2);
        if !had_trailing_comma {
            // Right after the value, before any comment on its line. A comma further down (a
            // trailing comma on a line of its own) then trails the new property instead.
            splices.push(Splice {
                range: value_end..value_end,
                text: ",".to_string(),
            });
        }
        splices.push(Splice {
            range: insert_at..insert_at,
            text,
        });
        splices
    }

    /// Inserts the property into an object without properties (`{}`, or only comments inside),
    /// on its own line just above the closing brace.
    fn insert_into_empty(&self, object: &ast::Object, key: &str, value: &Value) -> Vec<Splice> {
        let body = self.body;
        let layout = Layout {
            inline: false,
            ..self.layout(object)
        };
        let open = object.range.start;
        let close = object.range.end - 1;
        let brace_indent = line_indent(body, open);
        let indent = format!("{brace_indent}{}", layout.unit);
        let property = property_text(key, value, &indent, &layout);
        let newline = layout.newline;
        // Only a line break after the last comment is a place to start a line: one inside a
        // block comment is not.
        let after_comments = self
            .tokens_between(open + 1, close)
            .last()
            .map_or(open + 1, |token| token.range.end);
        let splice = match body[after_comments..close].rfind(['\n', '\r']) {
            Some(offset) => {
                let line_start = after_comments + offset + 1;
                Splice {
                    range: line_start..line_start,
                    text: format!("{indent}{property}{newline}"),
                }
            }
            None => Splice {
                range: close..close,
                text: format!("{newline}{indent}{property}{newline}{brace_indent}"),
            },
        };
        vec![splice]
    }

    fn tokens_between(&self, start: usize, end: usize) -> impl Iterator<Item = &TokenAndRange<'a>> {
        self.tokens
            .iter()
            .filter(move |token| token.range.start >= start && token.range.end <= end)
    }

    fn layout(&self, object: &ast::Object) -> Layout {
        let body = self.body;
        let brace_indent = line_indent(body, object.range.start);
        // The first line inside the object that starts with a property (or else a comment) shows
        // one level of indentation relative to the brace.
        let property_starts = object
            .properties
            .iter()
            .map(|property| property.range.start);
        let comment_starts = self
            .tokens_between(object.range.start, object.range.end)
            .filter(|token| matches!(token.token, Token::CommentLine(_) | Token::CommentBlock(_)))
            .map(|token| token.range.start);
        let unit = property_starts
            .chain(comment_starts)
            .filter_map(|start| indent_before(body, start))
            .filter_map(|indent| indent.strip_prefix(brace_indent))
            .find(|unit| !unit.is_empty())
            .unwrap_or(DEFAULT_INDENT);
        Layout {
            newline: newline_of(body),
            unit: unit.to_string(),
            inline: !body[object.range.start..object.range.end].contains(['\n', '\r']),
        }
    }
}

/// `"key": value`, the value laid out as if the property started after `indent`.
fn property_text(key: &str, value: &Value, indent: &str, layout: &Layout) -> String {
    let mut text = Value::from(key).to_string();
    text.push_str(": ");
    render(value, indent, layout, &mut text);
    text
}

/// Writes `value` as JSON: scalars and empty containers compactly, other containers one entry per
/// line, indented one level deeper than `indent` (or all on one line in an inline layout).
fn render(value: &Value, indent: &str, layout: &Layout, out: &mut String) {
    let is_empty_container = match value {
        Value::Array(items) => items.is_empty(),
        Value::Object(entries) => entries.is_empty(),
        _ => true,
    };
    if layout.inline || is_empty_container {
        out.push_str(&value.to_string());
        return;
    }
    let inner = format!("{indent}{}", layout.unit);
    let entry_start = |index: usize, out: &mut String| {
        if index > 0 {
            out.push(',');
        }
        out.push_str(layout.newline);
        out.push_str(&inner);
    };
    match value {
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                entry_start(index, out);
                render(item, &inner, layout, out);
            }
            out.push_str(layout.newline);
            out.push_str(indent);
            out.push(']');
        }
        Value::Object(entries) => {
            out.push('{');
            for (index, (key, item)) in entries.iter().enumerate() {
                entry_start(index, out);
                out.push_str(&property_text(key, item, &inner, layout));
            }
            out.push_str(layout.newline);
            out.push_str(indent);
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The first line break of the text, or LF when it has none.
fn newline_of(text: &str) -> &'static str {
    match text.find(['\n', '\r']).map(|index| &text[index..]) {
        Some(rest) if rest.starts_with("\r\n") => "\r\n",
        Some(rest) if rest.starts_with('\r') => "\r",
        _ => "\n",
    }
}

/// Byte offset where the line holding `position` starts.
fn line_start(text: &str, position: usize) -> usize {
    text[..position]
        .rfind(['\n', '\r'])
        .map_or(0, |index| index + 1)
}

/// The spaces and tabs that start the line holding `position`.
fn line_indent(text: &str, position: usize) -> &str {
    let start = line_start(text, position);
    let line = &text[start..];
    let end = line.find(|c| c != ' ' && c != '\t').unwrap_or(line.len());
    &line[..end]
}

/// The indentation before `position` when it is the first thing on its line.
fn indent_before(text: &str, position: usize) -> Option<&str> {
    let before = &text[line_start(text, position)..position];
    before
        .chars()
        .all(|c| c == ' ' || c == '\t')
        .then_some(before)
}

/// 1-based line and column (in characters) of a byte offset, counting line breaks the way
/// jsonc-parser does (LF, CRLF, and a lone CR).
fn line_column(text: &str, position: usize) -> (usize, usize) {
    let before = &text[..position];
    let line = before.matches('\n').count() + before.matches('\r').count()
        - before.matches("\r\n").count();
    let column = before[line_start(text, position)..].chars().count();
    (line + 1, column + 1)
}

/// Scans every token once, stopping at the first lexical error in document order, and rejects
/// raw control characters in strings, which jsonc-parser accepts but JSON and VS Code do not.
fn check_tokens(body: &str) -> Result<(), JsoncError> {
    let options = ScannerOptions {
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let mut scanner = Scanner::new(body, &options);
    loop {
        match scanner.scan() {
            Ok(None) => return Ok(()),
            Ok(Some(Token::String(_))) => {
                check_string(body, scanner.token_start(), scanner.token_end())?;
            }
            Ok(Some(_)) => {}
            Err(error) => return Err(syntax_error(body, &error)),
        }
    }
}

fn check_string(body: &str, start: usize, end: usize) -> Result<(), JsoncError> {
    let Some((offset, character)) = body[start..end]
        .char_indices()
        .find(|(_, c)| u32::from(*c) < 0x20)
    else {
        return Ok(());
    };
    // A line break means the string was not closed on its line: point at the string itself.
    let (position, problem) = match character {
        '\n' | '\r' => (
            start,
            "unterminated string: this string is not closed before the end of its line; add the \
             closing `\"` (a line break inside a string is written `\\n`)"
                .to_string(),
        ),
        '\t' => (
            start + offset,
            "tab character inside a string: JSON strings cannot contain raw tabs; write it as `\\t`"
                .to_string(),
        ),
        other => (
            start + offset,
            format!(
                "control character U+{:04X} inside a string: JSON strings cannot contain it raw; \
                 write it as `\\u{:04x}`",
                other as u32, other as u32
            ),
        ),
    };
    let (line, column) = line_column(body, position);
    Err(JsoncError::Syntax {
        line,
        column,
        problem,
    })
}

fn syntax_error(body: &str, error: &ParseError) -> JsoncError {
    let range = error.range();
    // jsonc-parser points a number error at the character after the bad number (`-}`, or the
    // end of the text): what the user wrote, and where, is the number before it.
    let (offending, (line, column)) = match error.kind() {
        ParseErrorKind::ExpectedDigit
        | ParseErrorKind::ExpectedDigitFollowingNegativeSign
        | ParseErrorKind::ExpectedPlusMinusOrDigitInNumberLiteral => {
            let number = number_before(body, range.start);
            (number, line_column(body, range.start - number.len()))
        }
        _ => (
            body.get(range.start..range.end).unwrap_or(""),
            (error.line_display(), error.column_display()),
        ),
    };
    // Quoted in a message for a terminal: a control character is shown as its JSON escape.
    let found: String = offending
        .chars()
        .take(24)
        .map(|character| match character {
            control if control.is_control() => format!("\\u{:04x}", u32::from(control)),
            visible => visible.to_string(),
        })
        .collect();
    let problem = match unquoted_property_name(body, range.start) {
        Some(name) => {
            format!("property name `{name}` is not in double quotes: write it as \"{name}\"")
        }
        None => describe_problem(error.kind(), &found),
    };
    JsoncError::Syntax {
        line,
        column,
        problem,
    }
}

/// The characters of a number literal that end at `position` (it starts with `-` or a digit).
fn number_before(body: &str, position: usize) -> &str {
    let before = body.get(..position).unwrap_or("");
    let start = before
        .trim_end_matches(|c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        .len();
    before[start..].trim_start_matches(|c: char| c != '-' && !c.is_ascii_digit())
}

/// The bare word at `position` when a `:` follows it: a property name written without quotes
/// (JavaScript style), which jsonc-parser reports as an unexpected token or word.
fn unquoted_property_name(body: &str, position: usize) -> Option<&str> {
    let rest = body.get(position..)?;
    let length = rest
        .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '$' | '.' | '-')))
        .unwrap_or(rest.len());
    let (name, after) = rest.split_at(length);
    let starts_like_a_name = name.starts_with(|c: char| c.is_alphabetic() || c == '_' || c == '$');
    (starts_like_a_name && after.trim_start_matches([' ', '\t']).starts_with(':')).then_some(name)
}

/// A sentence for the user: what is wrong, in JSON terms, and the usual fix.
fn describe_problem(kind: &ParseErrorKind, found: &str) -> String {
    use ParseErrorKind as Kind;
    let text = match kind {
        Kind::String(ParseStringErrorKind::UnterminatedStringLiteral) => {
            "unterminated string: the closing `\"` is missing"
        }
        Kind::String(ParseStringErrorKind::ExpectedFourHexDigits) => {
            "invalid `\\u` escape in a string: it needs four hexadecimal digits, like `\\u00e9`"
        }
        Kind::String(_) => {
            "invalid escape in a string: JSON allows only \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \
             \\uXXXX (write a backslash as `\\\\`)"
        }
        Kind::UnterminatedCommentBlock => "unterminated block comment: `/*` without a closing `*/`",
        Kind::UnterminatedObject => "unterminated object: this `{` has no closing `}`",
        Kind::UnterminatedArray => "unterminated array: this `[` has no closing `]`",
        Kind::MultipleRootJsonValues => {
            return format!(
                "unexpected `{found}` after the settings object: a settings file holds exactly one \
                 `{{ … }}` object, and only comments may follow it"
            );
        }
        Kind::SingleQuotedStringsNotAllowed => {
            "single-quoted string: JSON strings use double quotes, like \"name\""
        }
        Kind::ExpectedStringObjectProperty => {
            "expected a property name in double quotes, like \"name\": value"
        }
        Kind::ExpectedComma => "missing comma between two properties or values",
        Kind::ExpectedColonAfterObjectKey => "missing `:` after the property name",
        Kind::ExpectedObjectValue => "missing value after `:`",
        Kind::HexadecimalNumbersNotAllowed => {
            "hexadecimal number: JSON numbers are decimal (write 0x1F as 31)"
        }
        Kind::UnaryPlusNumbersNotAllowed => {
            "number with a leading `+`: JSON numbers have no plus sign"
        }
        Kind::BareDecimalPointNumbersNotAllowed => {
            "number with a bare decimal point: write `.5` as `0.5` and `5.` as `5.0`"
        }
        Kind::NonFiniteNumbersNotAllowed => "Infinity and NaN are not JSON numbers",
        Kind::ExpectedDigit
        | Kind::ExpectedDigitFollowingNegativeSign
        | Kind::ExpectedPlusMinusOrDigitInNumberLiteral => {
            return format!(
                "invalid number `{found}`: {}",
                lowercase_first(&kind.to_string())
            );
        }
        Kind::UnexpectedToken | Kind::UnexpectedWord => {
            return format!(
                "unexpected `{found}`: a JSON value is a string in double quotes, a number, true, \
                 false, null, an object or an array"
            );
        }
        Kind::UnexpectedTokenInObject => {
            return format!(
                "unexpected `{found}` in an object: expected a property (\"name\": value) or `}}`"
            );
        }
        Kind::UnexpectedCloseBrace
        | Kind::UnexpectedCloseBracket
        | Kind::UnexpectedColon
        | Kind::UnexpectedComma => return format!("unexpected `{found}`"),
        Kind::NestingDepthExceeded => "objects and arrays are nested too deeply",
        other => return lowercase_first(&other.to_string()),
    };
    text.to_string()
}

fn lowercase_first(text: &str) -> String {
    let mut characters = text.chars();
    characters.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(characters).collect()
    })
}

fn describe(value: &ast::Value) -> &'static str {
    match value {
        ast::Value::Array(_) => "an array",
        ast::Value::StringLit(_) => "a string",
        ast::Value::NumberLit(_) => "a number",
        ast::Value::BooleanLit(_) => "a boolean",
        ast::Value::NullKeyword(_) => "null",
        ast::Value::Object(_) => "an object",
    }
}

/// The JSON value of an AST node. Duplicate keys in nested objects resolve as in VS Code: the
/// last one wins.
fn to_json(body: &str, value: &ast::Value) -> Result<Value, JsoncError> {
    Ok(match value {
        ast::Value::StringLit(string) => Value::String(string.value.to_string()),
        ast::Value::NumberLit(number) => Value::Number(number.value.parse().map_err(|_| {
            let (line, column) = line_column(body, number.range.start);
            JsoncError::Syntax {
                line,
                column,
                problem: format!(
                    "the number {} is out of range: dw reads numbers up to about 1.8e308",
                    number.value
                ),
            }
        })?),
        ast::Value::BooleanLit(boolean) => Value::Bool(boolean.value),
        ast::Value::NullKeyword(_) => Value::Null,
        ast::Value::Array(array) => Value::Array(
            array
                .elements
                .iter()
                .map(|element| to_json(body, element))
                .collect::<Result<_, _>>()?,
        ),
        ast::Value::Object(object) => Value::Object(
            object
                .properties
                .iter()
                .map(|property| {
                    Ok((
                        property.name.as_str().to_string(),
                        to_json(body, &property.value)?,
                    ))
                })
                .collect::<Result<_, JsoncError>>()?,
        ),
    })
}

/// An edit of one settings file, computed by [`plan_in_file`] and written by
/// [`FileEdit::apply`] (or both at once by [`set_in_file`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdit {
    /// The settings file as given (possibly a symbolic link; the write goes to its target).
    pub path: PathBuf,
    /// The file's text when it was read; `None` when it did not exist.
    pub before: Option<String>,
    /// The text the file will hold (or holds, after [`FileEdit::apply`]).
    pub after: String,
    /// Whether `after` differs from `before` (a missing file always changes).
    pub changed: bool,
    /// 1-based lines of earlier occurrences of the key, which VS Code ignores.
    pub duplicate_lines: Vec<usize>,
}

/// Why a settings file could not be edited. In every case the file was left untouched.
#[derive(Debug, thiserror::Error)]
pub enum SettingsFileError {
    /// Reading failed (other than the file not existing, which is an empty document).
    #[error(
        "could not read {}: {source}; the file was left untouched. Check that it is a regular file \
         you can read",
        path.display()
    )]
    Read {
        /// The settings file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The file is not UTF-8 text.
    #[error(
        "{} is not UTF-8 text (invalid bytes at line {line}, column {column}{encoding}); the file \
         was left untouched. VS Code settings are UTF-8: open the file in VS Code, use \"Save with \
         Encoding\" → UTF-8, and run dw again",
        path.display()
    )]
    NotUtf8 {
        /// The settings file.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: usize,
        /// 1-based column of the first invalid byte.
        column: usize,
        /// A guess at the real encoding, as a clause to append (", which looks like UTF-16"), or
        /// empty.
        encoding: &'static str,
    },
    /// The file is not a VS Code settings document.
    #[error(
        "{} is not a valid settings file: {error}. The file was left untouched: fix that spot (VS \
         Code underlines it when you open the file) and run dw again",
        path.display()
    )]
    Malformed {
        /// The settings file.
        path: PathBuf,
        /// What is wrong, and where.
        error: JsoncError,
    },
    /// The file changed between [`plan_in_file`] and [`FileEdit::apply`].
    #[error(
        "{} changed after dw read it (another program wrote it); nothing was written. Run dw \
         again to edit the current version",
        path.display()
    )]
    ChangedSincePlanned {
        /// The settings file.
        path: PathBuf,
    },
    /// Writing failed; see [`AtomicWriteError`] for what was and was not written.
    #[error(transparent)]
    Write(#[from] AtomicWriteError),
}

/// Computes the edit that sets `key` to `value` in the settings file at `path`, without writing.
///
/// A missing file is an empty document (the edit creates it). The result carries the text before
/// and after, for a dry run's diff. Errors when the file cannot be read, is not UTF-8, or is not
/// a settings document (naming the path, line and column).
pub fn plan_in_file(path: &Path, key: &str, value: &Value) -> Result<FileEdit, SettingsFileError> {
    let before = read_settings(path)?;
    let edit = set(before.as_deref().unwrap_or(""), key, value).map_err(|error| {
        SettingsFileError::Malformed {
            path: path.to_path_buf(),
            error,
        }
    })?;
    Ok(FileEdit {
        path: path.to_path_buf(),
        before,
        after: edit.text,
        changed: edit.changed,
        duplicate_lines: edit.duplicate_lines,
    })
}

/// Sets `key` to `value` in the settings file at `path`: [`plan_in_file`], then
/// [`FileEdit::apply`]. Writes only when the text changes, atomically and after a backup; a
/// malformed file is an error and stays untouched (bytes and modification time).
pub fn set_in_file(
    path: &Path,
    key: &str,
    value: &Value,
) -> Result<(FileEdit, WriteOutcome), SettingsFileError> {
    let edit = plan_in_file(path, key, value)?;
    let outcome = edit.apply()?;
    Ok((edit, outcome))
}

impl FileEdit {
    /// Writes `after` with [`atomic::replace`] when the edit changes the file; does nothing
    /// otherwise ([`WriteOutcome::Unchanged`]). Refuses, writing nothing, when the file no longer
    /// holds `before` (another program wrote it since it was read).
    pub fn apply(&self) -> Result<WriteOutcome, SettingsFileError> {
        if !self.changed {
            return Ok(WriteOutcome::Unchanged);
        }
        if read_settings(&self.path)? != self.before {
            return Err(SettingsFileError::ChangedSincePlanned {
                path: self.path.clone(),
            });
        }
        Ok(atomic::replace(&self.path, self.after.as_bytes())?)
    }
}

/// The file's text, or `None` when it does not exist (nor does a symbolic link's target).
fn read_settings(path: &Path) -> Result<Option<String>, SettingsFileError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if atomic::is_missing(&error) => return Ok(None),
        Err(source) => {
            return Err(SettingsFileError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    String::from_utf8(bytes).map(Some).map_err(|error| {
        let bytes = error.as_bytes();
        let valid = String::from_utf8_lossy(&bytes[..error.utf8_error().valid_up_to()]);
        let (line, column) = line_column(&valid, valid.len());
        let encoding = if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
            ", which looks like UTF-16"
        } else {
            ""
        };
        SettingsFileError::NotUtf8 {
            path: path.to_path_buf(),
            line,
            column,
            encoding,
        }
    })
}
