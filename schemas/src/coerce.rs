//! Coercion of a JSON value to a declared field's type, only where no
//! information is lost: `"42"` becomes 42, `42.0` becomes 42, `500` becomes
//! `"500"` for a string field; `42.5` never becomes 42 and `"fast"` never a
//! number. A failed coercion hands the value back so it can stay in
//! `attributes` unchanged.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::record::{TypedValue, Value};
use crate::schema::FieldType;
use crate::timestamp::{self, DefaultZone, EpochUnit};

/// Largest integer an `f64` holds exactly.
const F64_EXACT_INTEGER: u64 = 1 << 53;

/// Coerces `value` to `field_type`, or returns it untouched.
pub(crate) fn coerce<'a>(
    value: Value<'a>,
    field_type: FieldType,
    zone: &DefaultZone,
) -> Result<TypedValue<'a>, Value<'a>> {
    let coerced = match (field_type, &value) {
        (FieldType::String | FieldType::Text, Value::String(s)) => Some(TypedValue::String(s.clone())),
        (FieldType::String | FieldType::Text, Value::I64(n)) => Some(TypedValue::String(Cow::Owned(n.to_string()))),
        (FieldType::String | FieldType::Text, Value::U64(n)) => Some(TypedValue::String(Cow::Owned(n.to_string()))),
        (FieldType::String | FieldType::Text, Value::F64(n)) => Some(TypedValue::String(Cow::Owned(n.to_string()))),
        (FieldType::String | FieldType::Text, Value::Bool(b)) => Some(TypedValue::String(Cow::Owned(b.to_string()))),

        (FieldType::I64, Value::I64(n)) => Some(TypedValue::I64(*n)),
        (FieldType::I64, Value::U64(n)) => i64::try_from(*n).ok().map(TypedValue::I64),
        (FieldType::I64, Value::F64(n)) => whole_f64(*n).and_then(|n| i64::try_from(n).ok()).map(TypedValue::I64),
        (FieldType::I64, Value::String(s)) => canonical_integer::<i64>(s).map(TypedValue::I64),

        (FieldType::U64, Value::U64(n)) => Some(TypedValue::U64(*n)),
        (FieldType::U64, Value::I64(n)) => u64::try_from(*n).ok().map(TypedValue::U64),
        (FieldType::U64, Value::F64(n)) => whole_f64(*n).and_then(|n| u64::try_from(n).ok()).map(TypedValue::U64),
        (FieldType::U64, Value::String(s)) => canonical_integer::<u64>(s).map(TypedValue::U64),

        (FieldType::F64, Value::F64(n)) => Some(TypedValue::F64(*n)),
        (FieldType::F64, Value::I64(n)) => {
            (n.unsigned_abs() <= F64_EXACT_INTEGER).then_some(TypedValue::F64(*n as f64))
        }
        (FieldType::F64, Value::U64(n)) => (*n <= F64_EXACT_INTEGER).then_some(TypedValue::F64(*n as f64)),
        (FieldType::F64, Value::String(s)) => s.parse::<f64>().ok().filter(|n| n.is_finite()).map(TypedValue::F64),

        (FieldType::Bool, Value::Bool(b)) => Some(TypedValue::Bool(*b)),
        (FieldType::Bool, Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(TypedValue::Bool(true)),
        (FieldType::Bool, Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(TypedValue::Bool(false)),

        (FieldType::Timestamp, Value::String(s)) => {
            timestamp::parse_text(s, EpochUnit::Auto, zone).ok().map(TypedValue::Timestamp)
        }
        (FieldType::Timestamp, Value::I64(n)) => {
            timestamp::from_epoch_i64(*n, EpochUnit::Auto).ok().map(TypedValue::Timestamp)
        }
        (FieldType::Timestamp, Value::U64(n)) => i64::try_from(*n)
            .ok()
            .and_then(|n| timestamp::from_epoch_i64(n, EpochUnit::Auto).ok())
            .map(TypedValue::Timestamp),
        (FieldType::Timestamp, Value::F64(n)) => {
            timestamp::from_epoch_f64(*n, EpochUnit::Auto).ok().map(TypedValue::Timestamp)
        }

        (FieldType::Ip, Value::String(s)) => s.parse::<IpAddr>().ok().map(TypedValue::Ip),
        _ => None,
    };
    coerced.ok_or(value)
}

/// An `f64` with no fractional part, as an `i128` to range-check against both integer types.
fn whole_f64(n: f64) -> Option<i128> {
    (n.is_finite() && n.fract() == 0.0 && n.abs() < 1.9e19).then_some(n as i128)
}

/// Parses an integer only when printing it back gives the same text, so
/// `"042"` or `"+42"` (which would not round-trip) stay strings.
fn canonical_integer<T: std::str::FromStr + ToString>(text: &str) -> Option<T> {
    let parsed = text.parse::<T>().ok()?;
    (parsed.to_string() == text).then_some(parsed)
}

/// A short, printable rendering of a value for notes.
pub(crate) fn preview(value: &Value<'_>) -> String {
    const MAX_CHARS: usize = 64;
    let text = serde_json::to_string(value).unwrap_or_default();
    if text.chars().count() <= MAX_CHARS {
        text
    } else {
        let cut: String = text.chars().take(MAX_CHARS).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: Value<'static>, field_type: FieldType, expected: Option<TypedValue<'static>>) {
        let got = coerce(value.clone(), field_type, &DefaultZone::Utc);
        match expected {
            Some(expected) => assert_eq!(got, Ok(expected), "{value:?} as {field_type}"),
            None => assert_eq!(got, Err(value), "{field_type} must refuse"),
        }
    }

    fn s(text: &'static str) -> Value<'static> {
        Value::String(Cow::Borrowed(text))
    }

    #[test]
    fn lossless_coercions_happen() {
        check(s("42"), FieldType::I64, Some(TypedValue::I64(42)));
        check(s("-42"), FieldType::I64, Some(TypedValue::I64(-42)));
        check(Value::F64(42.0), FieldType::I64, Some(TypedValue::I64(42)));
        check(Value::U64(7), FieldType::I64, Some(TypedValue::I64(7)));
        check(s("18446744073709551615"), FieldType::U64, Some(TypedValue::U64(u64::MAX)));
        check(Value::I64(3), FieldType::U64, Some(TypedValue::U64(3)));
        check(s("2.5"), FieldType::F64, Some(TypedValue::F64(2.5)));
        check(Value::I64(3), FieldType::F64, Some(TypedValue::F64(3.0)));
        check(s("TRUE"), FieldType::Bool, Some(TypedValue::Bool(true)));
        check(Value::I64(500), FieldType::String, Some(TypedValue::String(Cow::Borrowed("500"))));
        check(Value::Bool(false), FieldType::Text, Some(TypedValue::String(Cow::Borrowed("false"))));
        check(s("10.0.0.1"), FieldType::Ip, Some(TypedValue::Ip("10.0.0.1".parse().unwrap())));
        check(s("::1"), FieldType::Ip, Some(TypedValue::Ip("::1".parse().unwrap())));
        check(
            s("2024-01-02T03:04:05Z"),
            FieldType::Timestamp,
            Some(TypedValue::Timestamp(crate::Timestamp::from_nanos(1_704_164_645_000_000_000))),
        );
    }

    #[test]
    fn lossy_coercions_are_refused() {
        check(Value::F64(42.5), FieldType::I64, None);
        check(s("fast"), FieldType::I64, None);
        check(s("042"), FieldType::I64, None);
        check(s("+42"), FieldType::U64, None);
        check(Value::I64(-1), FieldType::U64, None);
        check(Value::U64(u64::MAX), FieldType::I64, None);
        check(Value::I64(i64::MAX), FieldType::F64, None);
        check(s("NaN"), FieldType::F64, None);
        check(s("yes"), FieldType::Bool, None);
        check(Value::I64(1), FieldType::Bool, None);
        check(s("10.0.0.256"), FieldType::Ip, None);
        check(Value::Array(vec![]), FieldType::String, None);
        check(Value::Null, FieldType::String, None);
        check(s("soon"), FieldType::Timestamp, None);
    }

    #[test]
    fn preview_is_short_json() {
        assert_eq!(preview(&s("fast")), "\"fast\"");
        let long = Value::String(Cow::Owned("x".repeat(100)));
        assert_eq!(preview(&long).chars().count(), 65);
    }
}
