//! Why a LogQL query is refused: the text Loki's clients show their user.

/// What Sluice answers, for the message that names what it does not.
pub const SUPPORTED: &str = "stream selectors over service_name (or service), host, level (or detected_level) and \
attributes with =, !=, =~, !~; line filters |=, !=, |~, !~ (chained, `or` alternatives); | json and | logfmt; label \
filters (strings with = != =~ !~, numbers, durations and byte sizes with == != > >= < <=, and/or); | line_format with \
{{.label}} references; | keep and | drop; | unwrap (with duration() and bytes()); count_over_time, rate, \
bytes_over_time, bytes_rate, sum_over_time, avg_over_time, min_over_time, max_over_time, quantile_over_time; sum, avg, \
min, max, count, topk, bottomk with by or without; + - * / % ^ between numbers and vectors; vector(n)";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogqlError {
    /// Not LogQL: the message says where and what was expected. Worded as
    /// Loki's parse errors begin, which Grafana shows as they are.
    #[error("parse error at line {line}, col {column}: {message}")]
    Syntax { line: usize, column: usize, message: String },
    /// LogQL, but outside what Sluice answers.
    #[error("unsupported LogQL: {construct} is not supported by Sluice. Supported: {SUPPORTED}")]
    Unsupported { construct: String },
}
