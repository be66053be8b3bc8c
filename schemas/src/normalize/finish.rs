//! Turning the walk's slot candidates into the record's canonical fields:
//! parsing times and levels, checking trace ids, coercing declared fields,
//! enforcing `required` and counting `deprecated` names.

use std::borrow::Cow;

use super::walk::{Builder, Candidate, Slot};
use super::{DeprecatedUsage, RejectReason, Rejection};
use crate::coerce::{coerce, preview};
use crate::level::{self, LevelConvention, LevelOutcome};
use crate::plan::{CompiledSchema, Plan, RequiredField};
use crate::producer::Role;
use crate::record::{Note, NoteCode, Record, Value};
use crate::schema::{CanonicalField, Mode};
use crate::timestamp::{self, DefaultZone, EpochUnit, Timestamp, TimestampError};

/// Turns the collected candidates into the record's canonical fields.
pub(super) fn finish<'a>(
    compiled: &CompiledSchema,
    plan: &Plan,
    default_service: Option<&str>,
    builder: &mut Builder<'a>,
    record: &mut Record<'a>,
    deprecated_usage: &mut DeprecatedUsage,
) -> Result<(), Rejection> {
    let zone = &compiled.schema.time_zone;
    let mut notes = Vec::new();
    let mut back_to_attributes = Vec::new();

    // Time.
    let seconds = builder.take(Slot::TimestampSeconds);
    let nanos = builder.take(Slot::TimestampNanos);
    let mut timestamp_present = false;
    if let Some(candidate) = builder.take(Slot::Timestamp) {
        let unit = match candidate.role {
            Role::Timestamp(unit) => unit,
            _ => EpochUnit::Auto,
        };
        match read_timestamp(&candidate.value, unit, zone) {
            Ok(ts) => {
                record.timestamp = ts;
                timestamp_present = true;
            }
            Err(error) => {
                notes.push(Note {
                    code: NoteCode::TimestampUnparseable,
                    field: candidate.key.to_string(),
                    detail: format!("{error}, found {}; using the observed time", preview(&candidate.value)),
                });
                back_to_attributes.push(candidate);
            }
        }
    }
    if let Some(seconds) = seconds {
        let nanos_value = nanos.as_ref().and_then(|n| as_i64(&n.value)).unwrap_or(0);
        match as_i64(&seconds.value).and_then(|s| Timestamp::from_parts(s, nanos_value)) {
            Some(ts) if !timestamp_present => {
                record.timestamp = ts;
                timestamp_present = true;
                notes.retain(|n: &Note| n.code != NoteCode::TimestampUnparseable);
            }
            _ => back_to_attributes.push(seconds),
        }
        back_to_attributes.extend(nanos.filter(|_| !timestamp_present));
    } else if let Some(nanos) = nanos {
        back_to_attributes.push(nanos);
    }
    if !timestamp_present && notes.is_empty() {
        notes.push(Note {
            code: NoteCode::TimestampMissing,
            field: String::new(),
            detail: "no timestamp field found; using the observed time".into(),
        });
    }

    // Level: a valid OpenTelemetry severity number wins over a level text.
    let number = builder.take(Slot::SeverityNumber);
    let text = builder.take(Slot::Level);
    let parsed_number = number.as_ref().and_then(|c| match read_level(&c.value, LevelConvention::OpenTelemetry) {
        LevelOutcome::Parsed(parsed) => Some(parsed),
        _ => None,
    });
    let parsed_text = text.as_ref().map(|c| {
        let convention = match c.role {
            Role::Level(convention) => convention,
            _ => LevelConvention::Generic,
        };
        read_level(&c.value, convention)
    });
    match (parsed_number, parsed_text) {
        (Some(parsed), _) | (None, Some(LevelOutcome::Parsed(parsed))) => {
            record.level = Some(parsed.level);
            record.severity_number = Some(parsed.severity_number);
        }
        (None, Some(LevelOutcome::Unrecognized)) => {
            if let Some(c) = &text {
                notes.push(Note {
                    code: NoteCode::LevelUnrecognized,
                    field: c.key.to_string(),
                    detail: format!("{} is not a known level; see the level table in the docs", preview(&c.value)),
                });
            }
        }
        (None, Some(LevelOutcome::Unspecified) | None) => {}
    }
    if record.level.is_none() {
        back_to_attributes.extend(text);
    }
    if parsed_number.is_none() {
        back_to_attributes.extend(number);
    }

    // Strings.
    for (slot, target) in
        [(Slot::Message, &mut record.message), (Slot::Service, &mut record.service), (Slot::Host, &mut record.host)]
    {
        let Some(candidate) = builder.take(slot) else { continue };
        match into_text(candidate.value) {
            Ok(text) => {
                *target = Some(match slot {
                    Slot::Message => trim_line_end(text),
                    _ => text,
                });
            }
            Err(value) => back_to_attributes.push(Candidate { value, ..candidate }),
        }
    }

    // Trace context.
    for (slot, target, digits, name) in [
        (Slot::TraceId, &mut record.trace_id, &[32usize, 16][..], "trace id"),
        (Slot::SpanId, &mut record.span_id, &[16usize][..], "span id"),
    ] {
        let Some(candidate) = builder.take(slot) else { continue };
        let normalized = match &candidate.value {
            Value::String(s) => normalize_hex_id(s, digits),
            _ => None,
        };
        match normalized {
            Some(id) => *target = Some(id),
            None => {
                notes.push(Note {
                    code: NoteCode::TraceContextInvalid,
                    field: candidate.key.to_string(),
                    detail: format!(
                        "expected a {name} of {} hexadecimal digits, found {}",
                        digits.iter().map(ToString::to_string).collect::<Vec<_>>().join(" or "),
                        preview(&candidate.value)
                    ),
                });
                back_to_attributes.push(candidate);
            }
        }
    }

    if record.service.is_none() {
        record.service = plan.constant_service.or(default_service).map(|s| Cow::Owned(s.to_owned()));
    }

    // Declared fields.
    for (index, candidate) in builder.declared.iter_mut().enumerate() {
        let Some(candidate) = candidate.take() else { continue };
        let Some(field) = compiled.declared.get(index) else { continue };
        match coerce(candidate.value, field.field_type, zone) {
            Ok(typed) => record.fields.push((field.name.clone(), typed)),
            Err(value) => {
                notes.push(Note {
                    code: NoteCode::TypeMismatch,
                    field: candidate.key.to_string(),
                    detail: format!(
                        "declared as `{}` of type {}, found {} {}; kept in attributes",
                        field.name,
                        field.field_type,
                        value.type_name(),
                        preview(&value)
                    ),
                });
                builder.attributes.push((candidate.key, value));
            }
        }
    }

    // Required fields.
    for required in &compiled.required {
        let (present, name) = match required {
            RequiredField::Canonical(field) => (canonical_present(record, *field, timestamp_present), field.name()),
            RequiredField::Declared(index) => {
                let Some(field) = compiled.declared.get(usize::from(*index)) else { continue };
                (record.field(&field.name).is_some(), &*field.name)
            }
        };
        if present {
            continue;
        }
        if compiled.schema.mode == Mode::Strict {
            return Err(Rejection {
                reason: RejectReason::MissingRequiredField,
                detail: format!("required field `{name}` is missing (schema `{}` is strict)", compiled.schema.name),
            });
        }
        notes.push(Note {
            code: NoteCode::RequiredFieldMissing,
            field: name.to_owned(),
            detail: format!("required field `{name}` is missing"),
        });
    }

    // Deprecated names, counted per sending service.
    for index in builder.deprecated_hits.drain(..) {
        let Some(deprecated) = compiled.deprecations.get(usize::from(index)) else { continue };
        let service = record.service.as_deref().unwrap_or("").to_owned();
        *deprecated_usage.counts.entry((deprecated.name.clone(), service)).or_default() += 1;
        notes.push(Note {
            code: NoteCode::DeprecatedField,
            field: deprecated.name.to_string(),
            detail: format!(
                "`{}` is deprecated: send `{}` instead (sunset {})",
                deprecated.name, deprecated.replacement, deprecated.sunset
            ),
        });
    }

    builder.attributes.extend(back_to_attributes.into_iter().map(|c| (c.key, c.value)));
    record.attributes = std::mem::take(&mut builder.attributes);
    record.notes = notes;
    Ok(())
}

fn canonical_present(record: &Record<'_>, field: CanonicalField, timestamp_present: bool) -> bool {
    match field {
        CanonicalField::Timestamp => timestamp_present,
        CanonicalField::Level => record.level.is_some(),
        CanonicalField::SeverityNumber => record.severity_number.is_some(),
        CanonicalField::Message => record.message.is_some(),
        CanonicalField::Service => record.service.is_some(),
        CanonicalField::Host => record.host.is_some(),
        CanonicalField::TraceId => record.trace_id.is_some(),
        CanonicalField::SpanId => record.span_id.is_some(),
    }
}

fn as_i64(value: &Value<'_>) -> Option<i64> {
    match value {
        Value::I64(n) => Some(*n),
        Value::U64(n) => i64::try_from(*n).ok(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Reads any timestamp form: text, an epoch number, or a `{seconds, nanos}`-shaped object.
fn read_timestamp(value: &Value<'_>, unit: EpochUnit, zone: &DefaultZone) -> Result<Timestamp, TimestampError> {
    match value {
        Value::String(s) => timestamp::parse_text(s, unit, zone),
        Value::I64(n) => timestamp::from_epoch_i64(*n, unit),
        Value::U64(n) => i64::try_from(*n)
            .map_err(|_| TimestampError("timestamp outside 1677-09-21..2262-04-11"))
            .and_then(|n| timestamp::from_epoch_i64(n, unit)),
        Value::F64(n) => timestamp::from_epoch_f64(*n, unit),
        Value::Object(entries) => {
            let get =
                |names: &[&str]| entries.iter().find(|(k, _)| names.contains(&k.as_ref())).and_then(|(_, v)| as_i64(v));
            let seconds = get(&["seconds", "epochSecond"]);
            let nanos = get(&["nanos", "nanoOfSecond"]).unwrap_or(0);
            seconds.and_then(|s| Timestamp::from_parts(s, nanos)).ok_or(TimestampError(
                "expected an object with `seconds` and `nanos` (or `epochSecond` and `nanoOfSecond`)",
            ))
        }
        _ => Err(TimestampError("expected a string, a number or a {seconds, nanos} object")),
    }
}

fn read_level(value: &Value<'_>, convention: LevelConvention) -> LevelOutcome {
    match value {
        Value::String(s) => level::parse_level_text(s, convention),
        Value::I64(n) => level::parse_level_number(*n, convention),
        Value::U64(n) => {
            i64::try_from(*n).map_or(LevelOutcome::Unrecognized, |n| level::parse_level_number(n, convention))
        }
        Value::F64(n) if n.fract() == 0.0 && n.abs() < 1e6 => level::parse_level_number(*n as i64, convention),
        _ => LevelOutcome::Unrecognized,
    }
}

/// Strings stay as they are; numbers and booleans become their JSON text.
/// An OTLP `{"stringValue": …}` body is unwrapped.
fn into_text(value: Value<'_>) -> Result<Cow<'_, str>, Value<'_>> {
    match value {
        Value::String(s) => Ok(s),
        Value::I64(n) => Ok(Cow::Owned(n.to_string())),
        Value::U64(n) => Ok(Cow::Owned(n.to_string())),
        Value::F64(n) => Ok(Cow::Owned(n.to_string())),
        Value::Bool(b) => Ok(Cow::Owned(b.to_string())),
        Value::Object(entries) if entries.len() == 1 && entries[0].0 == "stringValue" => {
            match entries.into_iter().next() {
                Some((_, Value::String(s))) => Ok(s),
                Some((k, v)) => Err(Value::Object(vec![(k, v)])),
                None => Err(Value::Null),
            }
        }
        other => Err(other),
    }
}

/// Drops one trailing `\n` or `\r\n` (Docker's `log`, journald's `MESSAGE`).
fn trim_line_end(text: Cow<'_, str>) -> Cow<'_, str> {
    let trimmed_len = text.strip_suffix('\n').map_or(text.len(), |t| t.strip_suffix('\r').unwrap_or(t).len());
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(&s[..trimmed_len]),
        Cow::Owned(mut s) => {
            s.truncate(trimmed_len);
            Cow::Owned(s)
        }
    }
}

/// Lowercase hex of one of the accepted lengths, not all zeros (W3C's
/// invalid id). GCP's `projects/P/traces/ID` form is reduced to `ID`.
fn normalize_hex_id<'a>(text: &Cow<'a, str>, digits: &[usize]) -> Option<Cow<'a, str>> {
    if digits.contains(&text.len()) && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return text.bytes().any(|b| b != b'0').then(|| text.clone());
    }
    // GCP: `projects/P/traces/ID`. A byte search for the last `/` (memrchr)
    // rather than a substring search, which costs a searcher set-up per id.
    let id_start = match text.rfind('/') {
        Some(slash) if text[..slash].ends_with("/traces") => slash + 1,
        _ => 0,
    };
    let id: Cow<'a, str> = match text {
        Cow::Borrowed(s) => Cow::Borrowed(&s[id_start..]),
        Cow::Owned(s) => Cow::Owned(s[id_start..].to_owned()),
    };
    let valid =
        digits.contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit()) && id.bytes().any(|b| b != b'0');
    if !valid {
        return None;
    }
    if id.bytes().any(|b| b.is_ascii_uppercase()) { Some(Cow::Owned(id.to_ascii_lowercase())) } else { Some(id) }
}
