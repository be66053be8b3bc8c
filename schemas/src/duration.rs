//! Durations as people write them in flags and schema files: `500ms`,
//! `1s`, `1.5s`, `2m`, `1h`, `30d`, `2w`.

use std::time::Duration;

/// A number and a unit (`ms`, `s`, `m`, `h`, `d`, `w`); the error says what
/// was expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let expected =
        || format!("`{text}` is not a duration: expected a number and a unit, like 500ms, 1s, 2m, 1h or 30d");
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(expected)?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| expected())?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        "d" => number * 86_400.0,
        "w" => number * 604_800.0,
        _ => return Err(expected()),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| expected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_their_unit_and_mistakes_say_what_was_expected() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(
            parse_duration("30"),
            Err("`30` is not a duration: expected a number and a unit, like 500ms, 1s, 2m, 1h or 30d".to_owned())
        );
        assert!(parse_duration("3y").is_err());
        assert!(parse_duration("d").is_err());
    }
}
