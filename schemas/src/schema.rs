//! Schema files: the fields a team declares, their types, aliases and
//! storage flags, and the contract rules (`required`, `deprecated`).
//!
//! A [`Schema`] is only ever built by validating TOML, so holding one proves
//! the file was well-formed: types known, names unique, replacements
//! declared, sunset dates real. Every schema extends the built-in
//! `default.toml`; see that file for the format.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::error::ErrorKind;
use crate::timestamp::DefaultZone;

/// The built-in schema's source, embedded so a fresh install needs no files.
pub const DEFAULT_SCHEMA_TOML: &str = include_str!("../default.toml");

/// A field's value type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// An exact term: ids, names, enum-like values.
    String,
    /// Tokenized full text.
    Text,
    I64,
    U64,
    F64,
    Bool,
    Timestamp,
    /// An IPv4 or IPv6 address.
    Ip,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Text => "text",
            FieldType::I64 => "i64",
            FieldType::U64 => "u64",
            FieldType::F64 => "f64",
            FieldType::Bool => "bool",
            FieldType::Timestamp => "timestamp",
            FieldType::Ip => "ip",
        }
    }

    /// Numbers, times, booleans and addresses are columnar ("fast") by default.
    fn fast_by_default(self) -> bool {
        !matches!(self, FieldType::String | FieldType::Text)
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The canonical fields a schema may declare aliases and flags for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CanonicalField {
    Timestamp,
    Level,
    SeverityNumber,
    Message,
    Service,
    Host,
    TraceId,
    SpanId,
}

impl CanonicalField {
    pub const ALL: [CanonicalField; 8] = [
        CanonicalField::Timestamp,
        CanonicalField::Level,
        CanonicalField::SeverityNumber,
        CanonicalField::Message,
        CanonicalField::Service,
        CanonicalField::Host,
        CanonicalField::TraceId,
        CanonicalField::SpanId,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CanonicalField::Timestamp => "timestamp",
            CanonicalField::Level => "level",
            CanonicalField::SeverityNumber => "severity_number",
            CanonicalField::Message => "message",
            CanonicalField::Service => "service",
            CanonicalField::Host => "host",
            CanonicalField::TraceId => "trace_id",
            CanonicalField::SpanId => "span_id",
        }
    }

    pub fn from_name(name: &str) -> Option<CanonicalField> {
        CanonicalField::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The only type the canonical field can have.
    pub fn field_type(self) -> FieldType {
        match self {
            CanonicalField::Timestamp => FieldType::Timestamp,
            CanonicalField::SeverityNumber => FieldType::U64,
            CanonicalField::Message => FieldType::Text,
            _ => FieldType::String,
        }
    }
}

/// Names no schema may declare: they are produced by Sluice itself.
const RESERVED_NAMES: &[&str] = &["observed_timestamp", "attributes", "notes", "producer"];

/// How the normalizer treats a record that misses a `required` field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Keep the record with a `required_field_missing` note.
    #[default]
    Lenient,
    /// Reject the record to the dead-letter file.
    Strict,
}

/// A field name that is on its way out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deprecation {
    /// The name values are mapped to.
    pub replacement: String,
    /// `YYYY-MM-DD`: after it, senders are expected to have moved.
    pub sunset: String,
}

/// One declared field after validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDecl {
    pub name: Arc<str>,
    pub field_type: FieldType,
    /// Other names producers use for this field; tried in order.
    pub aliases: Vec<String>,
    pub indexed: bool,
    pub fast: bool,
    pub stored: bool,
    pub required: bool,
    pub deprecated: Option<Deprecation>,
}

impl FieldDecl {
    pub fn canonical(&self) -> Option<CanonicalField> {
        CanonicalField::from_name(&self.name)
    }
}

/// A validated schema: the default's fields merged with a user's.
#[derive(Clone, Debug)]
pub struct Schema {
    pub name: String,
    pub time_zone: DefaultZone,
    pub mode: Mode,
    /// Canonical fields first (as the default declares them), then the
    /// user's, in file order.
    pub fields: Vec<FieldDecl>,
    /// Aliases for canonical fields that came from the user's file: they
    /// outrank the producer profiles, where the default's aliases do not.
    pub user_canonical_aliases: HashMap<CanonicalField, Vec<String>>,
    /// How long each named service's records are kept, overriding
    /// `--retention` for them (`[retention.services]`): shorter for a
    /// chatty debug stream, longer for an audit trail.
    pub service_retention: BTreeMap<String, Duration>,
}

/// A schema file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("cannot read schema file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// The file's text is wrong; the message names the line, key and what was expected.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid { path: PathBuf, line: usize, column: usize, message: String },
}

impl SchemaError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            SchemaError::Read { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                ErrorKind::OperatorFixable
            }
            SchemaError::Read { .. } | SchemaError::Invalid { .. } => ErrorKind::UserFixable,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaFile {
    name: Option<String>,
    time_zone: Option<Spanned<String>>,
    mode: Option<Mode>,
    #[serde(default)]
    field: Vec<Spanned<FieldEntry>>,
    retention: Option<RetentionEntry>,
}

/// `[retention]`: `services = { "nginx-debug" = "3d", audit = "400d" }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionEntry {
    #[serde(default)]
    services: BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldEntry {
    name: Spanned<String>,
    #[serde(rename = "type")]
    field_type: Option<Spanned<FieldType>>,
    #[serde(default)]
    aliases: Vec<Spanned<String>>,
    indexed: Option<bool>,
    fast: Option<bool>,
    stored: Option<bool>,
    #[serde(default)]
    required: bool,
    deprecated: Option<Spanned<DeprecatedEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeprecatedEntry {
    replacement: Spanned<String>,
    sunset: Spanned<String>,
}

impl Schema {
    /// The built-in `default` schema.
    pub fn builtin() -> Schema {
        let mut schema = Schema {
            name: String::new(),
            time_zone: DefaultZone::Utc,
            mode: Mode::Lenient,
            fields: Vec::new(),
            user_canonical_aliases: HashMap::new(),
            service_retention: BTreeMap::new(),
        };
        let merged = schema.merge_source(Path::new("<built-in default.toml>"), DEFAULT_SCHEMA_TOML, false);
        debug_assert!(merged.is_ok(), "the built-in schema is invalid: {merged:?}");
        schema
    }

    /// Reads a user's schema file and merges it onto the built-in default.
    pub fn from_file(path: &Path) -> Result<Schema, SchemaError> {
        let source =
            std::fs::read_to_string(path).map_err(|source| SchemaError::Read { path: path.to_owned(), source })?;
        Schema::from_toml(path, &source)
    }

    /// Parses schema text; `path` is used in error messages only.
    pub fn from_toml(path: &Path, source: &str) -> Result<Schema, SchemaError> {
        let mut schema = Schema::builtin();
        schema.merge_source(path, source, true)?;
        Ok(schema)
    }

    /// The declared field with this name.
    pub fn field(&self, name: &str) -> Option<&FieldDecl> {
        self.fields.iter().find(|f| &*f.name == name)
    }

    /// Declared fields beyond the canonical ones.
    pub fn extra_fields(&self) -> impl Iterator<Item = &FieldDecl> {
        self.fields.iter().filter(|f| f.canonical().is_none())
    }

    fn merge_source(&mut self, path: &Path, source: &str, is_user: bool) -> Result<(), SchemaError> {
        let invalid = |span: Range<usize>, message: String| {
            let (line, column) = line_and_column(source, span.start);
            SchemaError::Invalid { path: path.to_owned(), line, column, message }
        };
        let file: SchemaFile = toml::from_str(source).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let message = describe_toml_error(source, &span, e.message());
            invalid(span, message)
        })?;
        if let Some(name) = file.name {
            self.name = name;
        }
        if let Some(zone) = file.time_zone {
            self.time_zone = DefaultZone::parse(zone.get_ref())
                .map_err(|message| invalid(zone.span(), format!("key `time_zone`: {message}")))?;
        }
        if let Some(mode) = file.mode {
            self.mode = mode;
        }
        for (service, keep) in file.retention.iter().flat_map(|retention| &retention.services) {
            let duration = crate::duration::parse_duration(keep.get_ref())
                .ok()
                .filter(|duration| !duration.is_zero())
                .ok_or_else(|| {
                    invalid(
                        keep.span(),
                        format!(
                            "key `retention.services.{service}`: expected how long its records are kept, like \"3d\" or \"400d\", found `{}`",
                            keep.get_ref()
                        ),
                    )
                })?;
            self.service_retention.insert(service.clone(), duration);
        }
        let first_new = self.fields.len();
        let mut seen_in_file: HashMap<String, Range<usize>> = HashMap::new();
        for entry in &file.field {
            let entry_span = entry.span();
            let entry = entry.get_ref();
            let name = entry.name.get_ref().trim();
            let at_name = |message: String| invalid(entry.name.span(), message);
            if name.is_empty() {
                return Err(at_name("key `name`: a field name cannot be empty".into()));
            }
            if RESERVED_NAMES.contains(&name) {
                return Err(at_name(format!(
                    "key `name`: `{name}` is reserved (Sluice sets it itself); choose another name"
                )));
            }
            if let Some(first) = seen_in_file.insert(name.to_owned(), entry_span) {
                let (line, _) = line_and_column(source, first.start);
                return Err(at_name(format!("key `name`: field `{name}` is declared twice (first at line {line})")));
            }
            let canonical = CanonicalField::from_name(name);
            let declared_type = entry.field_type.as_ref().map(|t| *t.get_ref());
            let field_type = match (canonical, &entry.field_type) {
                (Some(c), Some(t)) if *t.get_ref() != c.field_type() => {
                    return Err(invalid(
                        t.span(),
                        format!(
                            "key `type`: the canonical field `{name}` has type `{}`, found `{}`",
                            c.field_type(),
                            t.get_ref()
                        ),
                    ));
                }
                (Some(c), _) => c.field_type(),
                (None, Some(_)) => declared_type.unwrap_or(FieldType::String),
                (None, None) => match self.field(name) {
                    Some(existing) => existing.field_type,
                    None => {
                        return Err(at_name(format!(
                            "field `{name}` has no `type`: expected one of string, text, i64, u64, f64, bool, timestamp, ip"
                        )));
                    }
                },
            };
            let aliases: Vec<String> = entry.aliases.iter().map(|a| a.get_ref().clone()).collect();
            if is_user && let Some(canonical) = canonical {
                self.user_canonical_aliases.entry(canonical).or_default().extend(aliases.iter().cloned());
            }
            let deprecated = match &entry.deprecated {
                None => None,
                Some(d) => {
                    let sunset = d.get_ref().sunset.get_ref();
                    if !is_calendar_date(sunset) {
                        return Err(invalid(
                            d.get_ref().sunset.span(),
                            format!("key `sunset`: expected a date YYYY-MM-DD, found `{sunset}`"),
                        ));
                    }
                    Some(Deprecation {
                        replacement: d.get_ref().replacement.get_ref().trim().to_owned(),
                        sunset: sunset.clone(),
                    })
                }
            };
            match self.fields.iter_mut().find(|f| &*f.name == name) {
                Some(existing) => {
                    // Re-declaring a field: the newer aliases are tried first.
                    let mut merged = aliases;
                    merged.append(&mut existing.aliases);
                    existing.aliases = merged;
                    existing.field_type = field_type;
                    existing.indexed = entry.indexed.unwrap_or(existing.indexed);
                    existing.fast = entry.fast.unwrap_or(existing.fast);
                    existing.stored = entry.stored.unwrap_or(existing.stored);
                    existing.required |= entry.required;
                    existing.deprecated = deprecated.or(existing.deprecated.take());
                }
                None => self.fields.push(FieldDecl {
                    name: Arc::from(name),
                    field_type,
                    aliases,
                    indexed: entry.indexed.unwrap_or(true),
                    fast: entry.fast.unwrap_or(field_type.fast_by_default()),
                    stored: entry.stored.unwrap_or(true),
                    required: entry.required,
                    deprecated,
                }),
            }
        }
        // Replacements must name a field that exists once the file is merged.
        for entry in &file.field {
            let Some(d) = &entry.get_ref().deprecated else { continue };
            let replacement = d.get_ref().replacement.get_ref().trim();
            let name = entry.get_ref().name.get_ref().trim();
            if replacement == name {
                return Err(invalid(
                    d.get_ref().replacement.span(),
                    format!("key `replacement`: field `{name}` cannot be its own replacement"),
                ));
            }
            if self.field(replacement).is_none() {
                let known: Vec<&str> = self.fields.iter().map(|f| &*f.name).collect();
                return Err(invalid(
                    d.get_ref().replacement.span(),
                    format!(
                        "key `replacement`: field `{name}` is replaced by `{replacement}`, which is not declared; declared fields: {}",
                        known.join(", ")
                    ),
                ));
            }
        }
        // One alias cannot feed two fields.
        let mut owners: HashMap<&str, &str> = HashMap::new();
        for field in &self.fields {
            for alias in &field.aliases {
                if let Some(other) = owners.insert(alias, &field.name)
                    && other != &*field.name
                {
                    let span = file
                        .field
                        .iter()
                        .flat_map(|e| e.get_ref().aliases.iter())
                        .find(|a| a.get_ref() == alias)
                        .map_or(0..0, |a| a.span());
                    return Err(invalid(
                        span,
                        format!(
                            "key `aliases`: `{alias}` is an alias of both `{other}` and `{}`; an alias can feed one field only",
                            field.name
                        ),
                    ));
                }
            }
        }
        debug_assert!(self.fields.len() >= first_new);
        Ok(())
    }
}

/// `YYYY-MM-DD` naming a real day.
fn is_calendar_date(text: &str) -> bool {
    text.len() == 10
        && crate::timestamp::parse_text(text, crate::timestamp::EpochUnit::Seconds, &DefaultZone::Utc).is_ok()
}

/// 1-based line and column (in characters) of a byte offset.
fn line_and_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(1, |s| s.chars().count() + 1);
    (line, column)
}

/// Turns toml's message into ours: which key, in which `[[field]]`, what was wrong.
fn describe_toml_error(source: &str, span: &Range<usize>, message: &str) -> String {
    let message = message.trim().trim_end_matches('.');
    let line_start = source.get(..span.start).and_then(|s| s.rfind('\n')).map_or(0, |i| i + 1);
    let line_end = source.get(span.start..).and_then(|s| s.find('\n')).map_or(source.len(), |i| span.start + i);
    let line = source.get(line_start..line_end).unwrap_or("");
    let key = line.split_once('=').map(|(k, _)| k.trim().trim_matches('"')).filter(|k| {
        !k.is_empty() && !k.starts_with('[') && k.chars().all(|c| c.is_alphanumeric() || "_-.".contains(c))
    });
    let field = enclosing_field_name(source, span.start);
    match (key, field) {
        (Some(key), Some(field)) => format!("key `{key}` of field `{field}`: {message}"),
        (Some(key), None) => format!("key `{key}`: {message}"),
        (None, Some(field)) => format!("field `{field}`: {message}"),
        (None, None) => message.to_owned(),
    }
}

/// The `name` of the `[[field]]` table around a byte offset, if any.
fn enclosing_field_name(source: &str, offset: usize) -> Option<String> {
    let before = source.get(..offset)?;
    let header = before.rfind("[[field]]")?;
    // Give up if another table header starts between it and the offset.
    if before.get(header + 9..)?.lines().any(|l| l.trim_start().starts_with('[')) {
        return None;
    }
    let table_end = source.get(header + 9..)?.find("\n[").map_or(source.len(), |i| header + 9 + i);
    source.get(header..table_end)?.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "name").then(|| value.trim().trim_matches('"').to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_error(source: &str, expected: &str) {
        let error = Schema::from_toml(Path::new("team.toml"), source).unwrap_err();
        assert_eq!(error.to_string(), expected);
        assert_eq!(error.kind(), ErrorKind::UserFixable);
    }

    #[test]
    fn builtin_declares_the_canonical_fields() {
        let schema = Schema::builtin();
        assert_eq!(schema.name, "default");
        assert_eq!(schema.mode, Mode::Lenient);
        let names: Vec<&str> = schema.fields.iter().map(|f| &*f.name).collect();
        assert_eq!(names, ["timestamp", "level", "message", "service", "host", "trace_id", "span_id"]);
        let timestamp = schema.field("timestamp").unwrap();
        assert!(timestamp.fast && timestamp.indexed && timestamp.stored);
        assert_eq!(timestamp.aliases[0], "@timestamp");
        assert!(schema.user_canonical_aliases.is_empty());
    }

    #[test]
    fn per_service_retention_is_read_and_a_bad_duration_named() {
        let schema = Schema::from_toml(
            Path::new("team.toml"),
            "[retention]\nservices = { \"nginx-debug\" = \"3d\", audit = \"400d\" }\n",
        )
        .unwrap();
        assert_eq!(
            schema.service_retention.into_iter().collect::<Vec<_>>(),
            [
                ("audit".to_owned(), Duration::from_secs(400 * 86_400)),
                ("nginx-debug".to_owned(), Duration::from_secs(3 * 86_400))
            ]
        );
        assert!(Schema::builtin().service_retention.is_empty());
        check_error(
            "[retention.services]\naudit = \"forever\"\n",
            "team.toml:2:9: key `retention.services.audit`: expected how long its records are kept, like \"3d\" or \"400d\", found `forever`",
        );
        check_error(
            "[retention.services]\naudit = \"0d\"\n",
            "team.toml:2:9: key `retention.services.audit`: expected how long its records are kept, like \"3d\" or \"400d\", found `0d`",
        );
    }

    #[test]
    fn user_fields_extend_the_default() {
        let schema = Schema::from_toml(
            Path::new("team.toml"),
            r#"
name = "payments"
time_zone = "Europe/Berlin"
mode = "strict"

[[field]]
name = "http.status"
type = "u64"
aliases = ["status", "status_code"]
required = true

[[field]]
name = "service"
aliases = ["svc"]

[[field]]
name = "userId"
type = "string"
deprecated = { replacement = "user.id", sunset = "2027-03-01" }

[[field]]
name = "user.id"
type = "string"
fast = true
"#,
        )
        .unwrap();
        assert_eq!(schema.name, "payments");
        assert_eq!(schema.mode, Mode::Strict);
        assert!(matches!(schema.time_zone, DefaultZone::Named(_)));
        let status = schema.field("http.status").unwrap();
        assert_eq!(status.field_type, FieldType::U64);
        assert!(status.required && status.fast && status.indexed && status.stored);
        assert_eq!(schema.field("service").unwrap().aliases[0], "svc");
        assert_eq!(schema.user_canonical_aliases[&CanonicalField::Service], ["svc"]);
        let deprecated = schema.field("userId").unwrap().deprecated.clone().unwrap();
        assert_eq!(deprecated, Deprecation { replacement: "user.id".into(), sunset: "2027-03-01".into() });
        let extra: Vec<&str> = schema.extra_fields().map(|f| &*f.name).collect();
        assert_eq!(extra, ["http.status", "userId", "user.id"]);
    }

    #[test]
    fn bad_files_name_line_key_and_expectation() {
        check_error(
            "[[field]]\nname = \"latency\"\ntype = \"float\"\n",
            "team.toml:3:8: key `type` of field `latency`: unknown variant `float`, expected one of `string`, `text`, `i64`, `u64`, `f64`, `bool`, `timestamp`, `ip`",
        );
        check_error(
            "[[field]]\nname = \"latency\"\ntype = \"f64\"\nfast = \"yes\"\n",
            "team.toml:4:8: key `fast` of field `latency`: invalid type: string \"yes\", expected a boolean",
        );
        check_error(
            "[[field]]\nname = \"latency\"\ntpye = \"f64\"\n",
            "team.toml:3:1: key `tpye` of field `latency`: unknown field `tpye`, expected one of `name`, `type`, `aliases`, `indexed`, `fast`, `stored`, `required`, `deprecated`",
        );
        check_error(
            "[[field]]\nname = \"latency\"\n",
            "team.toml:2:8: field `latency` has no `type`: expected one of string, text, i64, u64, f64, bool, timestamp, ip",
        );
        check_error(
            "[[field]]\nname = \"level\"\ntype = \"u64\"\n",
            "team.toml:3:8: key `type`: the canonical field `level` has type `string`, found `u64`",
        );
        check_error(
            "time_zone = \"Mars/Olympus\"\n",
            "team.toml:1:13: key `time_zone`: unknown time zone `Mars/Olympus`: expected UTC, an offset such as +02:00, or an IANA name such as Europe/Berlin",
        );
        check_error(
            "mode = \"paranoid\"\n",
            "team.toml:1:8: key `mode`: unknown variant `paranoid`, expected `lenient` or `strict`",
        );
        check_error(
            "[[field]]\nname = \"attributes\"\ntype = \"string\"\n",
            "team.toml:2:8: key `name`: `attributes` is reserved (Sluice sets it itself); choose another name",
        );
        check_error(
            "[[field]]\nname = \"a\"\ntype = \"string\"\n[[field]]\nname = \"a\"\ntype = \"u64\"\n",
            "team.toml:5:8: key `name`: field `a` is declared twice (first at line 1)",
        );
        check_error(
            "[[field]]\nname = \"old\"\ntype = \"string\"\ndeprecated = { replacement = \"new\", sunset = \"2027-02-30\" }\n",
            "team.toml:4:46: key `sunset`: expected a date YYYY-MM-DD, found `2027-02-30`",
        );
        check_error(
            "[[field]]\nname = \"old\"\ntype = \"string\"\ndeprecated = { replacement = \"new\", sunset = \"2027-02-01\" }\n",
            "team.toml:4:30: key `replacement`: field `old` is replaced by `new`, which is not declared; declared fields: timestamp, level, message, service, host, trace_id, span_id, old",
        );
        check_error(
            "[[field]]\nname = \"region\"\ntype = \"string\"\naliases = [\"host\"]\n",
            "team.toml:4:12: key `aliases`: `host` is an alias of both `host` and `region`; an alias can feed one field only",
        );
        check_error("name = \n", "team.toml:1:8: key `name`: string values must be quoted, expected literal string");
    }

    #[test]
    fn unreadable_file_is_reported_with_its_path() {
        let error = Schema::from_file(Path::new("/nonexistent/team.toml")).unwrap_err();
        assert!(error.to_string().starts_with("cannot read schema file /nonexistent/team.toml: "), "{error}");
        assert_eq!(error.kind(), ErrorKind::UserFixable);
    }
}
