//! Loki's request parameters, read as Loki reads them: from the URL's query
//! and, for POST, a form body; times as nanoseconds, seconds or RFC 3339.

use std::collections::HashMap;

/// A request's parameters (the last value of each; `match[]` keeps all).
#[derive(Debug, Default)]
pub struct Params {
    values: HashMap<String, Vec<String>>,
}

/// A parameter that could not be read: Loki's 400, worded like it.
#[derive(Debug)]
pub struct BadParam(pub String);

impl Params {
    pub fn parse(query: Option<&str>, form: Option<&[u8]>) -> Result<Params, BadParam> {
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        for source in [query.map(str::as_bytes), form].into_iter().flatten() {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(source)
                .map_err(|error| BadParam(format!("invalid request parameters: {error}")))?;
            for (name, value) in pairs {
                values.entry(name).or_default().push(value);
            }
        }
        Ok(Params { values })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|v| v.last()).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }

    /// A time parameter in ns since the epoch, `default` when absent.
    pub fn time(&self, name: &str, default: i64) -> Result<i64, BadParam> {
        match self.get(name) {
            None => Ok(default),
            Some(text) => parse_time(text).ok_or_else(|| {
                BadParam(format!("invalid parameter \"{name}\": cannot parse \"{text}\" to a valid timestamp"))
            }),
        }
    }

    /// `limit` (lines), `default` when absent.
    pub fn limit(&self, default: usize, max: usize) -> Result<usize, BadParam> {
        match self.get("limit") {
            None => Ok(default),
            Some(text) => match text.parse::<usize>() {
                Ok(0) => Err(BadParam("limit must be a positive value".to_owned())),
                Ok(limit) if limit > max => Err(BadParam(format!(
                    "max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > {max})"
                ))),
                Ok(limit) => Ok(limit),
                Err(_) => Err(BadParam(format!("invalid parameter \"limit\": cannot parse \"{text}\" as a number"))),
            },
        }
    }

    /// `direction`: `backward` (newest first, the default) or `forward`.
    pub fn forward(&self) -> Result<bool, BadParam> {
        match self.get("direction").map(str::to_ascii_lowercase).as_deref() {
            None | Some("backward") => Ok(false),
            Some("forward") => Ok(true),
            Some(other) => Err(BadParam(format!("invalid direction '{other}'"))),
        }
    }

    /// `step` in ns: seconds (`15`, `0.5`) or a duration (`15s`); Loki's
    /// default makes about 250 points over the range.
    pub fn step(&self, start: i64, end: i64) -> Result<i64, BadParam> {
        match self.get("step") {
            None => Ok(default_step(start, end)),
            Some(text) => {
                let nanos = text
                    .parse::<f64>()
                    .ok()
                    .map(|seconds| (seconds * 1e9) as i64)
                    .or_else(|| crate::logql::duration_nanos(text))
                    .ok_or_else(|| {
                        BadParam(format!("invalid parameter \"step\": cannot parse \"{text}\" to a valid duration"))
                    })?;
                if nanos <= 0 {
                    return Err(BadParam(
                        "zero or negative query resolution step widths are not accepted. Try a positive integer"
                            .to_owned(),
                    ));
                }
                Ok(nanos)
            }
        }
    }
}

/// Loki's default step: the range over 250, whole seconds, at least 1 s.
pub fn default_step(start: i64, end: i64) -> i64 {
    ((end - start) / 250 / 1_000_000_000).max(1) * 1_000_000_000
}

/// Loki's timestamps: a number with a `.` is seconds; an integer of up to
/// 10 digits is seconds, a longer one nanoseconds; else RFC 3339.
pub fn parse_time(text: &str) -> Option<i64> {
    if text.contains('.')
        && let Ok(seconds) = text.parse::<f64>()
    {
        let whole = seconds.trunc();
        let fraction = ((seconds - whole) * 1000.0).round() / 1000.0;
        return Some((whole as i64).checked_mul(1_000_000_000)? + (fraction * 1e9) as i64);
    }
    if let Ok(number) = text.parse::<i64>() {
        return Some(if text.trim_start_matches('-').len() <= 10 {
            number.checked_mul(1_000_000_000)?
        } else {
            number
        });
    }
    let timestamp: jiff::Timestamp = text.parse().ok()?;
    i64::try_from(timestamp.as_nanosecond()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_loki_reads_them() {
        assert_eq!(parse_time("1700000000"), Some(1_700_000_000_000_000_000));
        assert_eq!(parse_time("1700000000123456789"), Some(1_700_000_000_123_456_789));
        assert_eq!(parse_time("1700000000.5"), Some(1_700_000_000_500_000_000));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Some(1_700_000_000_000_000_000));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(default_step(0, 3_600_000_000_000), 14_000_000_000);
    }

    #[test]
    fn query_and_form_are_both_read() {
        let params =
            Params::parse(Some("query=%7Ba%3D%22b%22%7D&limit=5"), Some(b"direction=forward&match[]=x&match[]=y"))
                .unwrap();
        assert_eq!(params.get("query"), Some("{a=\"b\"}"));
        assert_eq!(params.limit(100, 5000).unwrap(), 5);
        assert!(params.forward().unwrap());
        assert_eq!(params.all("match[]"), ["x", "y"]);
    }
}
