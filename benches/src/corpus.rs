//! A deterministic generator of benchmark and test corpora: N bytes of
//! mixed-producer JSON log lines with known expected counts.
//!
//! Messages come from real systems: the loghub message templates in
//! `fixtures/loghub/templates.tsv`, weighted by how often each occurred.
//! Each `<*>` slot takes the values it took in loghub's sample
//! (`fixtures/loghub/slot-values.ndjson`): a fresh value shaped like an
//! observed one (new digits and hex letters, the same subnet) with the
//! Good-Turing probability of an unseen value (values seen once / lines),
//! else an observed value weighted by its count. A slot that held one of
//! three values keeps to those; a block id or a pid is new almost every
//! time. zstd -3 takes the messages to 14% of their bytes, loghub's own to
//! 9% (its lines come a system at a time, where a corpus interleaves ten);
//! filling every slot with a uniformly random number, hex id or IP
//! ([`Variables::Uniform`], the generator's first way) gave 26%.
//!
//! Each system is one service written by one producer (sshd via journald,
//! HDFS via log4j2, Spark via bunyan, …), so one corpus mixes nine formats
//! line by line. The timeline spans days with incident bursts.
//!
//! Alongside the lines, [`Expected`] says what a correct ingester must find:
//! accepted and rejected counts by reason, records per level, service and
//! producer, needles that occur exactly once, and traces with their record
//! counts. Same seed, same bytes: the generator uses its own SplitMix64 so the
//! output cannot change with a dependency upgrade.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io::{self, Write};

use serde::Serialize;
use sluice_schemas::Timestamp;

/// What to generate.
#[derive(Clone, Debug)]
pub struct CorpusConfig {
    /// Stop after the first line that reaches this many bytes.
    pub target_bytes: u64,
    pub seed: u64,
    /// Share of lines that are malformed (invalid JSON, not an object,
    /// invalid UTF-8), and half as many blank lines.
    pub malformed_fraction: f64,
    /// Lines over 1 MiB, each rejected as `line_too_long` by default limits.
    pub too_long_lines: u32,
    /// The timeline starts here and spans `days`.
    pub start: Timestamp,
    pub days: u32,
    /// Unique tokens, each planted in exactly one message.
    pub needles: u32,
    /// Traces, each 3 to 12 records across services.
    pub traces: u32,
    /// How template slots are filled.
    pub variables: Variables,
}

/// How the generator fills a template's `<*>` slots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Variables {
    /// With the values loghub's sample shows for that slot, and fresh
    /// values as often as its values seen once suggest.
    #[default]
    Observed,
    /// With a uniformly random number, hex id or IP whatever the slot: the
    /// first corpora's way, kept so their figures can be reproduced.
    Uniform,
}

impl Default for CorpusConfig {
    fn default() -> Self {
        CorpusConfig {
            target_bytes: 16 << 20,
            seed: 1,
            malformed_fraction: 0.001,
            too_long_lines: 0,
            start: Timestamp::from_nanos(1_709_251_200_000_000_000), // 2024-03-01T00:00:00Z
            days: 3,
            needles: 10,
            traces: 20,
            variables: Variables::Observed,
        }
    }
}

/// What a correct ingester finds in the corpus.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Expected {
    pub lines_read: u64,
    pub bytes_read: u64,
    pub accepted: u64,
    pub blank: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
    pub by_level: BTreeMap<String, u64>,
    pub by_service: BTreeMap<String, u64>,
    pub by_producer: BTreeMap<String, u64>,
    /// Each token occurs in exactly one record's message.
    pub needles: Vec<String>,
    /// Trace id → number of records carrying it.
    pub traces: BTreeMap<String, u64>,
    pub first_timestamp: String,
    pub last_timestamp: String,
}

/// SplitMix64: tiny, fast, and its output is fixed forever.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One loghub message template.
struct Template {
    level: &'static str,
    weight: u64,
    text: String,
    /// What its slots took in loghub's sample, when the sample has them all.
    observed: Option<Observed>,
}

/// A template's slots as loghub's sample shows them.
struct Observed {
    /// Lines of the sample with this template.
    seen: u64,
    /// One per `<*>`, in order.
    slots: Vec<Slot>,
}

/// The values one `<*>` slot of a template took in loghub's sample.
#[derive(Clone, serde::Deserialize)]
struct Slot {
    /// Values seen exactly once among the template's `seen` lines.
    once: u64,
    /// The most frequent values, with their counts.
    values: Vec<(String, u64)>,
}

/// A line of `fixtures/loghub/slot-values.ndjson`.
#[derive(serde::Deserialize)]
struct TemplateSlots {
    system: String,
    template: String,
    seen: u64,
    slots: Vec<Slot>,
}

impl Slot {
    /// A new value shaped like an observed one with the Good-Turing
    /// estimate of a new value's probability (values seen once / lines), else
    /// an observed value by its count. A slot that took one value 85 times
    /// keeps it; one whose every value was new stays new; one seen on a
    /// single line is taken as new, the likelier kind in logs.
    fn fill(&self, rng: &mut Rng, seen: u64, out: &mut String) {
        if self.values.iter().all(|(_, count)| *count == 0) {
            return;
        }
        let fresh = self.once as f64 / seen.max(1) as f64;
        if rng.unit() < fresh {
            let (like, _) = &self.values[rng.below(self.values.len() as u64) as usize];
            fresh_like(rng, like, out);
        } else {
            out.push_str(&self.values[pick_weighted(rng, self.values.iter().map(|(_, count)| *count))].0);
        }
    }
}

/// A value shaped like `like`: an IPv4 address keeps its first two octets
/// (its network); elsewhere, in each alphanumeric run that holds a digit,
/// digits and hex letters are redrawn (so `blk_-6952295868487656571`,
/// `PopupWindow:9b04807` and `core.3543` stay what they are, with new ids),
/// and runs without a digit (words) are kept.
fn fresh_like(rng: &mut Rng, like: &str, out: &mut String) {
    let octets: Vec<&str> = like.split('.').collect();
    if octets.len() == 4
        && octets.iter().all(|o| !o.is_empty() && o.len() <= 3 && o.bytes().all(|b| b.is_ascii_digit()))
    {
        let _ = write!(out, "{}.{}.{}.{}", octets[0], octets[1], rng.below(256), 1 + rng.below(254));
        return;
    }
    let bytes = like.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        let alphanumeric = bytes[start].is_ascii_alphanumeric();
        let end = bytes[start..]
            .iter()
            .position(|b| b.is_ascii_alphanumeric() != alphanumeric)
            .map_or(bytes.len(), |n| start + n);
        let run = &like[start..end];
        if alphanumeric && run.bytes().any(|b| b.is_ascii_digit()) {
            for (i, b) in run.bytes().enumerate() {
                out.push(match b {
                    b'0'..=b'9' if i == 0 && b != b'0' => char::from(b'1' + rng.below(9) as u8),
                    b'0'..=b'9' => char::from(b'0' + rng.below(10) as u8),
                    b'a'..=b'f' => char::from(b'a' + rng.below(6) as u8),
                    b'A'..=b'F' => char::from(b'A' + rng.below(6) as u8),
                    other => char::from(other),
                });
            }
        } else {
            out.push_str(run);
        }
        start = end;
    }
}

/// A loghub system as a service written by one producer.
struct System {
    service: &'static str,
    shape: Shape,
    templates: Vec<Template>,
    total_weight: u64,
}

/// The JSON shape (producer) a system's lines are written in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Journald,
    EcsFlat,
    EcsNested,
    Log4j2,
    Logstash,
    PythonJsonLogger,
    Bunyan,
    Generic,
    ZapDevelopment,
    OpenTelemetry,
}

impl Shape {
    fn producer(self) -> &'static str {
        match self {
            Shape::Journald => "journald",
            Shape::EcsFlat | Shape::EcsNested => "ecs",
            Shape::Log4j2 => "log4j2",
            Shape::Logstash => "logstash",
            Shape::PythonJsonLogger => "python_json_logger",
            Shape::Bunyan => "bunyan",
            Shape::Generic => "generic",
            Shape::ZapDevelopment => "zap_development",
            Shape::OpenTelemetry => "opentelemetry",
        }
    }

    /// Journald has no trace fields in its profile.
    fn carries_traces(self) -> bool {
        self != Shape::Journald
    }

    /// The level this shape can write for a template's level: syslog
    /// priorities and zap's development encoder have no `trace`.
    fn expressible(self, level: &'static str) -> &'static str {
        match (self, level) {
            (Shape::Journald | Shape::ZapDevelopment, "trace") => "debug",
            _ => level,
        }
    }
}

fn system_for(name: &str) -> Option<(&'static str, Shape)> {
    Some(match name {
        "OpenSSH" => ("sshd", Shape::Journald),
        "Apache" => ("apache", Shape::EcsFlat),
        "BGL" => ("bgl-ras", Shape::EcsNested),
        "HDFS" => ("hdfs-datanode", Shape::Log4j2),
        "Hadoop" => ("hadoop-mapreduce", Shape::Logstash),
        "OpenStack" => ("nova-compute", Shape::PythonJsonLogger),
        "Spark" => ("spark-executor", Shape::Bunyan),
        "Zookeeper" => ("zookeeper", Shape::Generic),
        "Android" => ("android-system", Shape::ZapDevelopment),
        "Windows" => ("windows-cbs", Shape::OpenTelemetry),
        _ => return None,
    })
}

/// Parses `fixtures/loghub/templates.tsv` (system, level, count, template),
/// with each template's slot values from `slot-values.ndjson` when
/// `slot_values` is given.
fn load_systems(tsv: &str, slot_values: Option<&str>) -> io::Result<Vec<System>> {
    let mut observed: BTreeMap<(String, String), (u64, Vec<Slot>)> = BTreeMap::new();
    for line in slot_values.unwrap_or("").lines().filter(|l| !l.is_empty()) {
        let entry: TemplateSlots = serde_json::from_str(line).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("fixtures/loghub/slot-values.ndjson: {e}"))
        })?;
        observed.insert((entry.system, entry.template), (entry.seen, entry.slots));
    }
    let mut systems: Vec<System> = Vec::new();
    for line in tsv.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let mut fields = line.splitn(4, '\t');
        let (Some(name), Some(level), Some(count), Some(text)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Some((service, shape)) = system_for(name) else { continue };
        let level = match level {
            "trace" => "trace",
            "debug" => "debug",
            "info" => "info",
            "warn" => "warn",
            "error" => "error",
            "fatal" => "fatal",
            _ => continue,
        };
        let weight = count.parse().unwrap_or(1);
        // A template listed at two levels has the same slots at both.
        let observed = observed
            .get(&(name.to_owned(), text.to_owned()))
            .filter(|(_, slots)| slots.len() == text.matches("<*>").count())
            .map(|(seen, slots)| Observed { seen: *seen, slots: slots.clone() });
        let template = Template { level, weight, text: text.to_owned(), observed };
        match systems.iter_mut().find(|s| s.service == service) {
            Some(system) => {
                system.total_weight += weight;
                system.templates.push(template);
            }
            None => systems.push(System { service, shape, templates: vec![template], total_weight: weight }),
        }
    }
    Ok(systems)
}

/// A record to be written: canonical values the ingester must recover.
struct Event {
    nanos: i64,
    system: usize,
    level: &'static str,
    message: String,
    host: String,
    pid: u64,
    trace: Option<(String, String)>,
}

/// Generates the corpus into `out` and returns what it contains.
pub fn generate(config: &CorpusConfig, out: &mut dyn Write) -> io::Result<Expected> {
    let tsv = std::fs::read_to_string(crate::fixtures_dir().join("loghub/templates.tsv"))?;
    let slot_values = match config.variables {
        Variables::Observed => Some(std::fs::read_to_string(crate::fixtures_dir().join("loghub/slot-values.ndjson"))?),
        Variables::Uniform => None,
    };
    let systems = load_systems(&tsv, slot_values.as_deref())?;
    if systems.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "fixtures/loghub/templates.tsv has no templates"));
    }
    let system_weights: Vec<u64> = systems.iter().map(|s| s.total_weight).collect();
    let mut rng = Rng(config.seed ^ 0x5eed_c0de);
    let mut expected = Expected::default();
    let span_nanos = i64::from(config.days.max(1)) * 86_400 * 1_000_000_000;
    let start = config.start.as_nanos();
    // Incident windows: 20 minutes each, 10x the rate and 8x the error share.
    let bursts: Vec<i64> =
        (0..2 * config.days.max(1)).map(|_| start + (rng.unit() * span_nanos as f64) as i64).collect();
    let burst_len = 20 * 60 * 1_000_000_000i64;
    let mut clock = start;
    let mut mean_line_bytes = 320.0f64;
    let mut pending_traces: VecDeque<Event> = VecDeque::new();
    let mut traces_started = 0u32;
    let mut needles_planted = 0u32;
    let mut too_long_written = 0u32;
    let mut line = Vec::with_capacity(4096);
    // Bytes left for events once the over-long lines are paid for, so the
    // clock's pace spreads the events over the whole span.
    let event_bytes = config
        .target_bytes
        .saturating_sub(u64::from(config.too_long_lines) * ((1 << 20) + 115))
        .max(config.target_bytes / 4)
        .max(1);
    // Bursts run at 10x the rate, so they spend nine extra windows' worth of
    // lines each: the pace outside them makes up for it.
    let paced_nanos = span_nanos as f64 + 9.0 * bursts.len() as f64 * burst_len as f64;
    let mut first = i64::MAX;
    let mut last = i64::MIN;

    while expected.bytes_read < config.target_bytes {
        line.clear();
        let progress = expected.bytes_read as f64 / config.target_bytes as f64;
        // Malformed and blank lines.
        let roll = rng.unit();
        if roll < config.malformed_fraction * 1.5 && expected.lines_read > 0 {
            if roll < config.malformed_fraction * 0.5 {
                expected.blank += 1;
                line.extend_from_slice(if rng.below(2) == 0 { b"" } else { b"   " });
            } else {
                let reason = write_malformed(&mut rng, &mut line);
                *expected.rejected_by_reason.entry(reason.to_owned()).or_default() += 1;
            }
        } else if too_long_written < config.too_long_lines
            && progress >= f64::from(too_long_written + 1) / f64::from(config.too_long_lines + 1)
        {
            too_long_written += 1;
            line.extend_from_slice(b"{\"message\":\"");
            line.resize(line.len() + (1 << 20) + 100, b'x');
            line.extend_from_slice(b"\"}");
            *expected.rejected_by_reason.entry("line_too_long".to_owned()).or_default() += 1;
        } else {
            // Advance the clock: mean gap sized so the corpus spans `days`.
            let expected_lines = event_bytes as f64 / mean_line_bytes;
            let mut gap = paced_nanos / expected_lines * -rng.unit().max(1e-12).ln();
            let in_burst = bursts.iter().any(|&b| clock >= b && clock < b + burst_len);
            if in_burst {
                gap /= 10.0;
            }
            clock = clock.saturating_add(gap.min(1e15) as i64);
            // Start a trace now and then: its records come due over the next seconds.
            if traces_started < config.traces && progress >= f64::from(traces_started) / f64::from(config.traces.max(1))
            {
                traces_started += 1;
                let trace_id = format!("{:016x}{:016x}", rng.next(), rng.next() | 1);
                let records = 3 + rng.below(10);
                for k in 0..records {
                    let mut event = random_event(&mut rng, &systems, &system_weights, clock, in_burst);
                    while !systems[event.system].shape.carries_traces() {
                        event = random_event(&mut rng, &systems, &system_weights, clock, in_burst);
                    }
                    event.nanos = clock + (k as i64) * 150_000_000 + rng.below(100_000_000) as i64;
                    event.trace = Some((trace_id.clone(), format!("{:016x}", rng.next() | 1)));
                    pending_traces.push_back(event);
                }
                *expected.traces.entry(trace_id).or_default() += records;
            }
            let trace_due = pending_traces.front().is_some_and(|due| due.nanos <= clock);
            let mut event = match trace_due.then(|| pending_traces.pop_front()).flatten() {
                Some(due) => due,
                None => {
                    let mut event = random_event(&mut rng, &systems, &system_weights, clock, in_burst);
                    // Up to two seconds out of order, as collected logs are.
                    event.nanos += rng.below(2_000_000_000) as i64 - 1_000_000_000;
                    event
                }
            };
            if needles_planted < config.needles
                && progress >= (f64::from(needles_planted) + 0.5) / f64::from(config.needles)
            {
                let needle = format!("needle{:08x}q{needles_planted}", config.seed as u32);
                event.message.push_str(" ref=");
                event.message.push_str(&needle);
                expected.needles.push(needle);
                needles_planted += 1;
            }
            let system = &systems[event.system];
            let nanos = write_event(&mut line, system, &event);
            first = first.min(nanos);
            last = last.max(nanos);
            expected.accepted += 1;
            *expected.by_level.entry(event.level.to_owned()).or_default() += 1;
            *expected.by_service.entry(system.service.to_owned()).or_default() += 1;
            *expected.by_producer.entry(system.shape.producer().to_owned()).or_default() += 1;
        }
        line.push(b'\n');
        out.write_all(&line)?;
        expected.lines_read += 1;
        expected.bytes_read += line.len() as u64;
        mean_line_bytes = mean_line_bytes * 0.99 + line.len().min(4096) as f64 * 0.01;
    }
    // Traces still pending when the size is reached are written too, so
    // every trace is complete.
    while let Some(event) = pending_traces.pop_front() {
        line.clear();
        let system = &systems[event.system];
        let nanos = write_event(&mut line, system, &event);
        first = first.min(nanos);
        last = last.max(nanos);
        line.push(b'\n');
        out.write_all(&line)?;
        expected.lines_read += 1;
        expected.bytes_read += line.len() as u64;
        expected.accepted += 1;
        *expected.by_level.entry(event.level.to_owned()).or_default() += 1;
        *expected.by_service.entry(system.service.to_owned()).or_default() += 1;
        *expected.by_producer.entry(system.shape.producer().to_owned()).or_default() += 1;
    }
    if first <= last {
        expected.first_timestamp = Timestamp::from_nanos(first).to_string();
        expected.last_timestamp = Timestamp::from_nanos(last).to_string();
    }
    Ok(expected)
}

/// The index of one weight, picked with probability weight / sum of the
/// weights; the last index when they are all 0. Takes the weights as an
/// iterator so callers need not collect them (it runs per line and slot).
fn pick_weighted<I>(rng: &mut Rng, weights: I) -> usize
where
    I: IntoIterator<Item = u64>,
    I::IntoIter: Clone,
{
    let weights = weights.into_iter();
    let mut roll = rng.below(weights.clone().sum());
    let mut last = 0;
    for (i, w) in weights.enumerate() {
        if roll < w {
            return i;
        }
        roll -= w;
        last = i;
    }
    last
}

fn random_event(rng: &mut Rng, systems: &[System], system_weights: &[u64], nanos: i64, in_burst: bool) -> Event {
    let system_index = pick_weighted(rng, system_weights.iter().copied());
    let system = &systems[system_index];
    let weights = system
        .templates
        .iter()
        .map(|t| if in_burst && matches!(t.level, "warn" | "error" | "fatal") { t.weight * 8 } else { t.weight });
    let template = &system.templates[pick_weighted(rng, weights)];
    Event {
        nanos,
        system: system_index,
        level: system.shape.expressible(template.level),
        message: match &template.observed {
            Some(observed) => fill_observed(rng, &template.text, observed),
            None => fill_template(rng, &template.text),
        },
        host: format!("{}-{:02}", system.service, rng.below(12)),
        pid: 1000 + rng.below(60_000),
        trace: None,
    }
}

/// Replaces each `<*>` with a value its slot took in loghub's sample, or a
/// fresh one like it (see [`Slot::fill`]).
fn fill_observed(rng: &mut Rng, template: &str, observed: &Observed) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut pieces = template.split("<*>");
    out.push_str(pieces.next().unwrap_or(""));
    for (slot, piece) in observed.slots.iter().zip(pieces) {
        slot.fill(rng, observed.seen, &mut out);
        out.push_str(piece);
    }
    out
}

/// Replaces each `<*>` with a uniformly random value that suits its
/// context ([`Variables::Uniform`]), for templates without observed slots.
fn fill_template(rng: &mut Rng, template: &str) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(at) = rest.find("<*>") {
        let before = &rest[..at];
        out.push_str(before);
        let context = out.get(out.len().saturating_sub(12)..).unwrap_or("").to_ascii_lowercase();
        if context.ends_with("blk_") {
            let _ = write!(out, "{}", rng.next() as i64 % 9_000_000_000_000_000_000);
        } else if context.contains("user") || context.contains("for ") {
            const USERS: &[&str] =
                &["root", "admin", "test", "oracle", "guest", "ubuntu", "postgres", "git", "steve", "alice"];
            out.push_str(USERS[rng.below(USERS.len() as u64) as usize]);
        } else if context.contains("port") {
            let _ = write!(out, "{}", 1024 + rng.below(64_000));
        } else {
            match rng.below(4) {
                0 | 1 => {
                    let _ = write!(out, "{}", rng.below(100_000));
                }
                2 => {
                    let _ = write!(out, "{:x}", rng.next() >> 16);
                }
                _ => {
                    let _ = write!(out, "10.{}.{}.{}", rng.below(256), rng.below(256), 1 + rng.below(254));
                }
            }
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    out
}

/// A malformed line; returns the reject reason the ingester must give.
fn write_malformed(rng: &mut Rng, line: &mut Vec<u8>) -> &'static str {
    match rng.below(4) {
        0 => {
            line.extend_from_slice(b"{\"timestamp\":\"2024-03-01T00:00:00Z\",\"message\":\"connection reset by pe");
            "invalid_json"
        }
        1 => {
            line.extend_from_slice(b"Mar  1 00:00:00 host sshd[42]: plain syslog text, not JSON");
            "invalid_json"
        }
        2 => {
            line.extend_from_slice(b"[\"an\",\"array\",\"of\",\"strings\"]");
            "not_an_object"
        }
        _ => {
            line.extend_from_slice(b"{\"message\":\"caf\xe9 latin-1 bytes\"}");
            "invalid_utf8"
        }
    }
}

fn json_string(out: &mut Vec<u8>, text: &str) {
    // Serializing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

fn iso(nanos: i64, fraction_digits: usize) -> String {
    let full = Timestamp::from_nanos(nanos).to_string(); // ....ss.nnnnnnnnnZ
    let dot = full.len() - 11;
    let mut text = full[..dot + 1 + fraction_digits].to_owned();
    if fraction_digits == 0 {
        text.pop();
    }
    text
}

/// Writes one event in its system's shape; returns the timestamp in the
/// precision the shape carries (what the ingester will read back).
fn write_event(line: &mut Vec<u8>, system: &System, event: &Event) -> i64 {
    let level = event.level;
    let service = system.service;
    let (seconds, nanos_of_second) = (event.nanos.div_euclid(1_000_000_000), event.nanos.rem_euclid(1_000_000_000));
    let truncate = |unit: i64| event.nanos - event.nanos.rem_euclid(unit);
    let (trace_id, span_id) = match &event.trace {
        Some((t, s)) => (Some(t.as_str()), Some(s.as_str())),
        None => (None, None),
    };
    let mut push = |s: &str| line.extend_from_slice(s.as_bytes());
    match system.shape {
        Shape::Journald => {
            let priority = match level {
                "fatal" => 0,
                "error" => 3,
                "warn" => 4,
                "info" => 6,
                _ => 7,
            };
            let micros = event.nanos.div_euclid(1000);
            push(&format!(
                "{{\"__REALTIME_TIMESTAMP\":\"{micros}\",\"PRIORITY\":\"{priority}\",\"_HOSTNAME\":\"{}\",\"SYSLOG_IDENTIFIER\":\"{service}\",\"_PID\":\"{}\",\"_TRANSPORT\":\"syslog\",\"MESSAGE\":",
                event.host, event.pid
            ));
            json_string(line, &event.message);
            line.push(b'}');
            micros * 1000
        }
        Shape::EcsFlat | Shape::EcsNested => {
            let ts = iso(event.nanos, 3);
            if system.shape == Shape::EcsFlat {
                push(&format!("{{\"@timestamp\":\"{ts}Z\",\"log.level\":\"{level}\",\"message\":"));
                json_string(line, &event.message);
                line.extend_from_slice(
                    format!(
                        ",\"service.name\":\"{service}\",\"host.hostname\":\"{}\",\"ecs.version\":\"8.11.0\"",
                        event.host
                    )
                    .as_bytes(),
                );
                if let (Some(t), Some(s)) = (trace_id, span_id) {
                    line.extend_from_slice(format!(",\"trace.id\":\"{t}\",\"span.id\":\"{s}\"").as_bytes());
                }
            } else {
                push(&format!(
                    "{{\"@timestamp\":\"{ts}Z\",\"log\":{{\"level\":\"{}\"}},\"message\":",
                    level.to_uppercase()
                ));
                json_string(line, &event.message);
                line.extend_from_slice(
                    format!(
                        ",\"service\":{{\"name\":\"{service}\"}},\"host\":{{\"name\":\"{}\"}},\"ecs\":{{\"version\":\"8.11.0\"}},\"process\":{{\"pid\":{}}}",
                        event.host, event.pid
                    )
                    .as_bytes(),
                );
                if let (Some(t), Some(s)) = (trace_id, span_id) {
                    line.extend_from_slice(
                        format!(",\"trace\":{{\"id\":\"{t}\"}},\"span\":{{\"id\":\"{s}\"}}").as_bytes(),
                    );
                }
            }
            line.push(b'}');
            truncate(1_000_000)
        }
        Shape::Log4j2 => {
            push(&format!(
                "{{\"instant\":{{\"epochSecond\":{seconds},\"nanoOfSecond\":{nanos_of_second}}},\"thread\":\"DataXceiver for client at /{}\",\"level\":\"{}\",\"loggerName\":\"org.apache.hadoop.hdfs.server.datanode.DataNode\",\"message\":",
                event.host,
                level.to_uppercase()
            ));
            json_string(line, &event.message);
            let mut context = format!("\"service\":\"{service}\",\"host\":\"{}\"", event.host);
            if let (Some(t), Some(s)) = (trace_id, span_id) {
                let _ = write!(context, ",\"trace_id\":\"{t}\",\"span_id\":\"{s}\"");
            }
            line.extend_from_slice(
                format!(",\"endOfBatch\":false,\"loggerFqcn\":\"org.apache.logging.log4j.spi.AbstractLogger\",\"contextMap\":{{{context}}},\"threadId\":{},\"threadPriority\":5}}", event.pid % 400)
                    .as_bytes(),
            );
            event.nanos
        }
        Shape::Logstash => {
            let ts = iso(event.nanos, 3);
            push(&format!("{{\"@version\":1,\"@timestamp\":\"{ts}+00:00\",\"message\":"));
            json_string(line, &event.message);
            line.extend_from_slice(
                format!(
                    ",\"logger_name\":\"org.apache.hadoop.mapreduce.v2.app.MRAppMaster\",\"thread_name\":\"main\",\"level\":\"{}\",\"source_host\":\"{}\",\"app\":\"{service}\"",
                    level.to_uppercase(),
                    event.host
                )
                .as_bytes(),
            );
            if let (Some(t), Some(s)) = (trace_id, span_id) {
                line.extend_from_slice(format!(",\"trace_id\":\"{t}\",\"span_id\":\"{s}\"").as_bytes());
            }
            line.push(b'}');
            truncate(1_000_000)
        }
        Shape::PythonJsonLogger => {
            let micros = event.nanos.div_euclid(1000);
            let asctime = iso(event.nanos, 3).replacen('T', " ", 1).replacen('.', ",", 1);
            let levelname = match level {
                "warn" => "WARNING".to_owned(),
                "fatal" => "CRITICAL".to_owned(),
                other => other.to_uppercase(),
            };
            push(&format!(
                "{{\"asctime\": \"{asctime}\", \"created\": {}.{:06}, \"levelname\": \"{levelname}\", \"name\": \"nova.compute.manager\", \"message\": ",
                micros.div_euclid(1_000_000),
                micros.rem_euclid(1_000_000)
            ));
            json_string(line, &event.message);
            line.extend_from_slice(
                format!(", \"otelServiceName\": \"{service}\", \"hostname\": \"{}\"", event.host).as_bytes(),
            );
            if let (Some(t), Some(s)) = (trace_id, span_id) {
                line.extend_from_slice(format!(", \"otelTraceID\": \"{t}\", \"otelSpanID\": \"{s}\"").as_bytes());
            }
            line.push(b'}');
            micros * 1000
        }
        Shape::Bunyan => {
            let number = match level {
                "trace" => 10,
                "debug" => 20,
                "info" => 30,
                "warn" => 40,
                "error" => 50,
                _ => 60,
            };
            push(&format!(
                "{{\"name\":\"{service}\",\"hostname\":\"{}\",\"pid\":{},\"level\":{number},\"msg\":",
                event.host, event.pid
            ));
            json_string(line, &event.message);
            if let (Some(t), Some(s)) = (trace_id, span_id) {
                line.extend_from_slice(format!(",\"trace_id\":\"{t}\",\"span_id\":\"{s}\"").as_bytes());
            }
            line.extend_from_slice(format!(",\"time\":\"{}Z\",\"v\":0}}", iso(event.nanos, 3)).as_bytes());
            truncate(1_000_000)
        }
        Shape::Generic => {
            push(&format!(
                "{{\"timestamp\":\"{}Z\",\"level\":\"{}\",\"message\":",
                iso(event.nanos, 6),
                level.to_uppercase()
            ));
            json_string(line, &event.message);
            line.extend_from_slice(
                format!(
                    ",\"service\":\"{service}\",\"host\":\"{}\",\"thread\":\"SyncThread:{}\"",
                    event.host,
                    event.pid % 8
                )
                .as_bytes(),
            );
            if let (Some(t), Some(s)) = (trace_id, span_id) {
                line.extend_from_slice(format!(",\"trace_id\":\"{t}\",\"span_id\":\"{s}\"").as_bytes());
            }
            line.push(b'}');
            truncate(1_000)
        }
        Shape::ZapDevelopment => {
            let letter = match level {
                "trace" | "debug" => "DEBUG",
                "info" => "INFO",
                "warn" => "WARN",
                "error" => "ERROR",
                _ => "FATAL",
            };
            push(&format!(
                "{{\"L\":\"{letter}\",\"T\":\"{}+0000\",\"N\":\"ActivityManager\",\"C\":\"am/activity.go:{}\",\"M\":",
                iso(event.nanos, 3),
                event.pid % 900
            ));
            json_string(line, &event.message);
            line.extend_from_slice(format!(",\"service\":\"{service}\",\"host\":\"{}\"", event.host).as_bytes());
            if let (Some(t), Some(s)) = (trace_id, span_id) {
                line.extend_from_slice(format!(",\"trace_id\":\"{t}\",\"span_id\":\"{s}\"").as_bytes());
            }
            line.push(b'}');
            truncate(1_000_000)
        }
        Shape::OpenTelemetry => {
            let (text, number) = match level {
                "trace" => ("Trace", 1),
                "debug" => ("Debug", 5),
                "info" => ("Information", 9),
                "warn" => ("Warning", 13),
                "error" => ("Error", 17),
                _ => ("Critical", 21),
            };
            push(&format!(
                "{{\"Timestamp\":\"{}\",\"SeverityText\":\"{text}\",\"SeverityNumber\":{number},\"Body\":",
                event.nanos
            ));
            json_string(line, &event.message);
            line.extend_from_slice(
                format!(
                    ",\"Resource\":{{\"service.name\":\"{service}\",\"host.name\":\"{}\"}},\"Attributes\":{{\"process.pid\":{}}}",
                    event.host, event.pid
                )
                .as_bytes(),
            );
            if let (Some(t), Some(s)) = (trace_id, span_id) {
                line.extend_from_slice(format!(",\"TraceId\":\"{t}\",\"SpanId\":\"{s}\"").as_bytes());
            }
            line.push(b'}');
            event.nanos
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use sluice_schemas::{LineBuffer, Normalizer, Timestamp};

    use super::*;

    fn small() -> CorpusConfig {
        CorpusConfig {
            target_bytes: 3 << 20,
            seed: 7,
            malformed_fraction: 0.01,
            too_long_lines: 1,
            needles: 5,
            traces: 6,
            ..CorpusConfig::default()
        }
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let mut c = Vec::new();
        let config = CorpusConfig { target_bytes: 256 << 10, too_long_lines: 0, ..small() };
        assert_eq!(generate(&config, &mut a).unwrap(), generate(&config, &mut b).unwrap());
        assert_eq!(a, b);
        generate(&CorpusConfig { seed: 8, ..config }, &mut c).unwrap();
        assert_ne!(a, c);
    }

    /// The expected counts are what the real normalizer finds in the corpus.
    #[test]
    fn expected_counts_match_the_normalizer() {
        let mut corpus = Vec::new();
        let expected = generate(&small(), &mut corpus).unwrap();
        assert!(expected.bytes_read >= 3 << 20);
        assert_eq!(expected.bytes_read, corpus.len() as u64);

        let mut normalizer = Normalizer::with_default_schema();
        let mut buffer = LineBuffer::new();
        let mut found = Expected { bytes_read: corpus.len() as u64, ..Expected::default() };
        let mut needle_hits: BTreeMap<String, u64> = BTreeMap::new();
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        let lines: Vec<&[u8]> = corpus.strip_suffix(b"\n").unwrap_or(&corpus).split(|&b| b == b'\n').collect();
        for line in lines {
            found.lines_read += 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                found.blank += 1;
                continue;
            }
            if line.len() > 1 << 20 {
                *found.rejected_by_reason.entry("line_too_long".into()).or_default() += 1;
                continue;
            }
            buffer.fill(line);
            match normalizer.normalize_buffer(&mut buffer, Timestamp::now()) {
                Err(rejection) => {
                    *found.rejected_by_reason.entry(rejection.reason.as_str().into()).or_default() += 1;
                }
                Ok(record) => {
                    assert!(record.notes.is_empty(), "{:?} in {}", record.notes, String::from_utf8_lossy(line));
                    found.accepted += 1;
                    let level = record.level.map_or("none", |l| l.as_str());
                    *found.by_level.entry(level.into()).or_default() += 1;
                    *found.by_service.entry(record.service.as_deref().unwrap_or("none").into()).or_default() += 1;
                    *found.by_producer.entry(record.producer.as_str().into()).or_default() += 1;
                    if let Some(trace) = &record.trace_id {
                        *found.traces.entry(trace.to_string()).or_default() += 1;
                    }
                    let message = record.message.as_deref().unwrap_or("");
                    for needle in &expected.needles {
                        if message.contains(needle.as_str()) {
                            *needle_hits.entry(needle.clone()).or_default() += 1;
                        }
                    }
                    first = first.min(record.timestamp.as_nanos());
                    last = last.max(record.timestamp.as_nanos());
                }
            }
        }
        found.needles = expected.needles.clone();
        found.first_timestamp = Timestamp::from_nanos(first).to_string();
        found.last_timestamp = Timestamp::from_nanos(last).to_string();
        assert_eq!(found, expected);
        assert_eq!(needle_hits.len(), 5);
        assert!(needle_hits.values().all(|&n| n == 1), "{needle_hits:?}");
        // Every reason and every producer shape occurs; traces span 3-12 records.
        assert_eq!(expected.rejected_by_reason.len(), 4, "{:?}", expected.rejected_by_reason);
        assert_eq!(expected.by_producer.len(), 9, "{:?}", expected.by_producer);
        assert_eq!(expected.traces.len(), 6);
        assert!(expected.traces.values().all(|&n| (3..=12).contains(&n)));
        assert!(expected.blank > 0);
        // The timeline spans the configured days.
        assert!(
            expected.first_timestamp.starts_with("2024-03-01") || expected.first_timestamp.starts_with("2024-02-29")
        );
        assert!(expected.last_timestamp.as_str() >= "2024-03-03T12", "{}", expected.last_timestamp);
    }

    #[test]
    fn a_fresh_value_keeps_the_shape_of_an_observed_one() {
        let mut rng = Rng(3);
        let fresh = |rng: &mut Rng, like: &str| {
            let mut out = String::new();
            fresh_like(rng, like, &mut out);
            out
        };
        for _ in 0..50 {
            let block = fresh(&mut rng, "blk_-6952295868487656571");
            assert_eq!(block.len(), 24, "{block}");
            assert!(block.starts_with("blk_-") && block[5..].bytes().all(|b| b.is_ascii_digit()), "{block}");
            assert_ne!(&block[5..6], "0", "{block}");

            let ip = fresh(&mut rng, "10.251.214.67");
            let octets: Vec<u32> = ip.split('.').map(|o| o.parse().unwrap()).collect();
            assert_eq!(&octets[..2], &[10, 251], "{ip}");
            assert!(octets[2] < 256 && (1..255).contains(&octets[3]), "{ip}");

            let window = fresh(&mut rng, "PopupWindow:9b04807");
            assert!(window.starts_with("PopupWindow:") && window.len() == 19, "{window}");
            assert!(window[12..].bytes().all(|b| b.is_ascii_hexdigit()), "{window}");
        }
        assert_eq!(fresh(&mut rng, "InputMethod"), "InputMethod");
        assert_eq!(fresh(&mut rng, "attempt_1445144423722_0020_m_000000_0").len(), 37);
    }

    /// Slots repeat as loghub's sample did: a slot that held one value keeps
    /// it, a pid slot is new nearly every time, a slot number stays small.
    #[test]
    fn observed_slots_have_the_cardinality_of_the_sample() {
        let mut corpus = Vec::new();
        generate(&CorpusConfig { target_bytes: 4 << 20, ..small() }, &mut corpus).unwrap();
        let text = String::from_utf8_lossy(&corpus);
        let after = |marker: &str| -> Vec<String> {
            text.match_indices(marker)
                .map(|(at, _)| {
                    let rest = &text[at + marker.len()..];
                    rest[..rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len())].to_owned()
                })
                .collect()
        };
        let brightness = after("HBM brightnessIn =");
        assert!(brightness.len() > 20, "{}", brightness.len());
        assert!(brightness.iter().all(|v| v == "38"), "{brightness:?}");

        let children = after("Found child ");
        let distinct: std::collections::BTreeSet<&String> = children.iter().collect();
        assert!(children.len() > 200, "{}", children.len());
        assert!(distinct.len() * 10 > children.len() * 9, "{} of {}", distinct.len(), children.len());

        let slots: std::collections::BTreeSet<String> = after("in scoreboard slot ").into_iter().collect();
        // loghub saw 8 slot numbers, 6 to 13; a fresh one is shaped like them.
        assert!(slots.len() <= 24, "{slots:?}");
        assert!(slots.iter().all(|v| v.len() <= 2 && v.bytes().all(|b| b.is_ascii_digit())), "{slots:?}");

        // Uniform filling, the first corpora's way, does not repeat them.
        let mut uniform = Vec::new();
        generate(&CorpusConfig { target_bytes: 4 << 20, variables: Variables::Uniform, ..small() }, &mut uniform)
            .unwrap();
        let text = String::from_utf8_lossy(&uniform);
        assert!(text.matches("HBM brightnessIn =38\"").count() < 3);
    }
}
