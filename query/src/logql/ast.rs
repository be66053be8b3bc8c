//! What a LogQL query says, as Sluice understands it: the subset that
//! [`super::parse`] accepts. Every type is plain data.

/// A parsed query: lines, or numbers computed from them.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Log(LogQuery),
    Metric(MetricExpr),
}

impl Expr {
    /// Adds `matcher` to every stream selector of the query (a tenant's
    /// scope).
    pub fn restrict(&mut self, matcher: &Matcher) {
        match self {
            Expr::Log(query) => query.selector.push(matcher.clone()),
            Expr::Metric(metric) => metric.restrict(matcher),
        }
    }
}

impl MetricExpr {
    fn restrict(&mut self, matcher: &Matcher) {
        match self {
            MetricExpr::Range(range) => range.query.selector.push(matcher.clone()),
            MetricExpr::Vector(aggregation) => aggregation.inner.restrict(matcher),
            MetricExpr::Binary { left, right, .. } => {
                left.restrict(matcher);
                right.restrict(matcher);
            }
            MetricExpr::Number(_) | MetricExpr::Vector1(_) => {}
        }
    }
}

/// `{selector} pipeline...`: the lines of the matching streams.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LogQuery {
    pub selector: Vec<Matcher>,
    pub pipeline: Vec<Stage>,
}

/// `label op "value"` in a stream selector or a label filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matcher {
    pub label: String,
    pub op: MatchOp,
    pub value: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `=~`: the whole value matches the regular expression.
    Re,
    /// `!~`
    NotRe,
}

/// A line filter's operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineOp {
    /// `|=`: the line contains the text (case-sensitive).
    Contains,
    /// `!=`
    NotContains,
    /// `|~`: the regular expression matches somewhere in the line.
    Matches,
    /// `!~`
    NotMatches,
}

/// One stage of a log pipeline, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    /// `|= "text"` and the like; `or` alternatives are each a value.
    Line { op: LineOp, values: Vec<String> },
    /// `| json` or `| logfmt`: a record's attributes become labels (they
    /// are already structured, so nothing is parsed).
    Parser(ParserKind),
    /// `| label op value`, `and`/`or`-combined.
    Filter(LabelFilter),
    /// `| line_format "template"`: `{{.label}}` references only.
    LineFormat(Vec<TemplatePart>),
    /// `| keep a, b`
    Keep(Vec<String>),
    /// `| drop a, b`
    Drop(Vec<String>),
    /// `| unwrap label`: only while parsing; a range function takes it
    /// out of its query into [`RangeAggregation::unwrap`].
    Unwrap(Unwrap),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParserKind {
    Json,
    Logfmt,
}

/// A piece of a `line_format` template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplatePart {
    Text(String),
    /// `{{.name}}`
    Label(String),
}

/// A label filter.
#[derive(Clone, Debug, PartialEq)]
pub enum LabelFilter {
    Match(Matcher),
    /// A number, a duration (in seconds) or a byte size compared with the
    /// label's value read the same way.
    Compare {
        label: String,
        op: CompareOp,
        value: f64,
    },
    And(Box<LabelFilter>, Box<LabelFilter>),
    Or(Box<LabelFilter>, Box<LabelFilter>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            CompareOp::Eq => left == right,
            CompareOp::Ne => left != right,
            CompareOp::Gt => left > right,
            CompareOp::Ge => left >= right,
            CompareOp::Lt => left < right,
            CompareOp::Le => left <= right,
        }
    }
}

/// `| unwrap label`, `| unwrap duration(label)`, `| unwrap bytes(label)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unwrap {
    pub label: String,
    pub conversion: Conversion,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    Number,
    /// A duration, as seconds.
    Duration,
    /// A byte size, as bytes.
    Bytes,
}

/// A query that computes numbers.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricExpr {
    /// `count_over_time({…} […])` and the other functions over a range.
    Range(RangeAggregation),
    /// `sum by (level) (…)`, `topk(5, …)`.
    Vector(VectorAggregation),
    /// `a + b` and the like, between numbers and vectors.
    Binary { op: BinaryOp, left: Box<MetricExpr>, right: Box<MetricExpr> },
    /// A literal number.
    Number(f64),
    /// `vector(n)`: one sample of value `n`, with no labels.
    Vector1(f64),
}

#[derive(Clone, Debug, PartialEq)]
pub struct RangeAggregation {
    pub function: RangeFunction,
    /// `quantile_over_time`'s φ.
    pub parameter: Option<f64>,
    pub query: LogQuery,
    /// Only with the functions over unwrapped values.
    pub unwrap: Option<Unwrap>,
    /// The window, in nanoseconds.
    pub range: i64,
    /// `… by (labels)` after the parentheses (unwrapped functions only).
    pub grouping: Option<Grouping>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeFunction {
    CountOverTime,
    Rate,
    BytesOverTime,
    BytesRate,
    SumOverTime,
    AvgOverTime,
    MinOverTime,
    MaxOverTime,
    QuantileOverTime,
}

impl RangeFunction {
    pub const ALL: [(&'static str, RangeFunction); 9] = [
        ("count_over_time", RangeFunction::CountOverTime),
        ("rate", RangeFunction::Rate),
        ("bytes_over_time", RangeFunction::BytesOverTime),
        ("bytes_rate", RangeFunction::BytesRate),
        ("sum_over_time", RangeFunction::SumOverTime),
        ("avg_over_time", RangeFunction::AvgOverTime),
        ("min_over_time", RangeFunction::MinOverTime),
        ("max_over_time", RangeFunction::MaxOverTime),
        ("quantile_over_time", RangeFunction::QuantileOverTime),
    ];

    /// Whether it reads the values of `| unwrap` rather than counting lines.
    pub fn unwraps(self) -> bool {
        matches!(
            self,
            RangeFunction::SumOverTime
                | RangeFunction::AvgOverTime
                | RangeFunction::MinOverTime
                | RangeFunction::MaxOverTime
                | RangeFunction::QuantileOverTime
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct VectorAggregation {
    pub op: VectorOp,
    /// `topk`'s and `bottomk`'s k.
    pub parameter: Option<f64>,
    pub grouping: Option<Grouping>,
    pub inner: Box<MetricExpr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Topk,
    Bottomk,
}

impl VectorOp {
    pub const ALL: [(&'static str, VectorOp); 7] = [
        ("sum", VectorOp::Sum),
        ("avg", VectorOp::Avg),
        ("min", VectorOp::Min),
        ("max", VectorOp::Max),
        ("count", VectorOp::Count),
        ("topk", VectorOp::Topk),
        ("bottomk", VectorOp::Bottomk),
    ];
}

/// `by (a, b)` or `without (a, b)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grouping {
    pub without: bool,
    pub labels: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

impl BinaryOp {
    pub fn apply(self, left: f64, right: f64) -> f64 {
        match self {
            BinaryOp::Add => left + right,
            BinaryOp::Sub => left - right,
            BinaryOp::Mul => left * right,
            BinaryOp::Div => left / right,
            BinaryOp::Mod => left % right,
            BinaryOp::Pow => left.powf(right),
        }
    }
}
