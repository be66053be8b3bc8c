use super::ast::*;
use super::*;

fn log(text: &str) -> LogQuery {
    match parse(text) {
        Ok(Expr::Log(query)) => query,
        other => panic!("{text}: {other:?}"),
    }
}

fn metric(text: &str) -> MetricExpr {
    match parse(text) {
        Ok(Expr::Metric(expr)) => expr,
        other => panic!("{text}: {other:?}"),
    }
}

fn matcher(label: &str, op: MatchOp, value: &str) -> Matcher {
    Matcher { label: label.to_owned(), op, value: value.to_owned() }
}

#[test]
fn selectors_and_line_filters() {
    let query = log(
        r#"{service_name="api", level=~"error|warn", host!="", region!~"eu-.*"} |= "timeout" or "refused" != `debug` |~ "(?i)conn\\w+" !~ "x+""#,
    );
    assert_eq!(
        query.selector,
        [
            matcher("service_name", MatchOp::Eq, "api"),
            matcher("level", MatchOp::Re, "error|warn"),
            matcher("host", MatchOp::Ne, ""),
            matcher("region", MatchOp::NotRe, "eu-.*"),
        ]
    );
    assert_eq!(
        query.pipeline,
        [
            Stage::Line { op: LineOp::Contains, values: vec!["timeout".to_owned(), "refused".to_owned()] },
            Stage::Line { op: LineOp::NotContains, values: vec!["debug".to_owned()] },
            Stage::Line { op: LineOp::Matches, values: vec!["(?i)conn\\w+".to_owned()] },
            Stage::Line { op: LineOp::NotMatches, values: vec!["x+".to_owned()] },
        ]
    );
}

#[test]
fn pipeline_stages() {
    let query = log(
        r#"{service="api"} | json | status >= 500 and duration > 250ms or size < 1KiB | method="GET" | line_format "{{.method}} {{.path}}" | keep method, path | drop __error__"#,
    );
    assert_eq!(query.pipeline[0], Stage::Parser(ParserKind::Json));
    let Stage::Filter(LabelFilter::Or(left, right)) = &query.pipeline[1] else { panic!("{:?}", query.pipeline[1]) };
    assert_eq!(
        **left,
        LabelFilter::And(
            Box::new(LabelFilter::Compare { label: "status".to_owned(), op: CompareOp::Ge, value: 500.0 }),
            Box::new(LabelFilter::Compare { label: "duration".to_owned(), op: CompareOp::Gt, value: 0.25 }),
        )
    );
    assert_eq!(**right, LabelFilter::Compare { label: "size".to_owned(), op: CompareOp::Lt, value: 1024.0 });
    assert_eq!(query.pipeline[2], Stage::Filter(LabelFilter::Match(matcher("method", MatchOp::Eq, "GET"))));
    assert_eq!(
        query.pipeline[3],
        Stage::LineFormat(vec![
            TemplatePart::Label("method".to_owned()),
            TemplatePart::Text(" ".to_owned()),
            TemplatePart::Label("path".to_owned()),
        ])
    );
    assert_eq!(query.pipeline[4], Stage::Keep(vec!["method".to_owned(), "path".to_owned()]));
    assert_eq!(query.pipeline[5], Stage::Drop(vec!["__error__".to_owned()]));
}

#[test]
fn metric_queries() {
    let MetricExpr::Vector(sum) =
        metric(r#"sum by (level) (count_over_time({service_name=~".+"} | drop __error__ [1m]))"#)
    else {
        panic!()
    };
    assert_eq!(sum.op, VectorOp::Sum);
    assert_eq!(sum.grouping, Some(Grouping { without: false, labels: vec!["level".to_owned()] }));
    let MetricExpr::Range(range) = *sum.inner else { panic!() };
    assert_eq!((range.function, range.range), (RangeFunction::CountOverTime, 60_000_000_000));

    let MetricExpr::Range(q) =
        metric(r#"quantile_over_time(0.99, {service="api"} | json | unwrap duration(latency) [5m]) by (path)"#)
    else {
        panic!()
    };
    assert_eq!(q.parameter, Some(0.99));
    assert_eq!(q.unwrap, Some(Unwrap { label: "latency".to_owned(), conversion: Conversion::Duration }));
    assert_eq!(q.grouping, Some(Grouping { without: false, labels: vec!["path".to_owned()] }));
    assert_eq!(q.query.pipeline, [Stage::Parser(ParserKind::Json)]);

    let MetricExpr::Vector(top) = metric(r#"topk(3, sum without (host) (rate({host=~"h.*"}[30s])))"#) else { panic!() };
    assert_eq!((top.op, top.parameter), (VectorOp::Topk, Some(3.0)));

    assert_eq!(
        metric("vector(1)+vector(1)"),
        MetricExpr::Binary {
            op: BinaryOp::Add,
            left: Box::new(MetricExpr::Vector1(1.0)),
            right: Box::new(MetricExpr::Vector1(1.0))
        }
    );
    // * binds tighter than +.
    assert_eq!(
        metric("1 + 2 * 3"),
        MetricExpr::Binary {
            op: BinaryOp::Add,
            left: Box::new(MetricExpr::Number(1.0)),
            right: Box::new(MetricExpr::Binary {
                op: BinaryOp::Mul,
                left: Box::new(MetricExpr::Number(2.0)),
                right: Box::new(MetricExpr::Number(3.0))
            })
        }
    );
}

#[test]
fn unsupported_constructs_are_named() {
    for (query, construct) in [
        (r#"{a="b"} | regexp "(?P<x>.*)""#, "`| regexp`"),
        (r#"{a="b"} | pattern "<_> <x>""#, "`| pattern`"),
        (r#"{a="b"} | label_format x=y"#, "`| label_format`"),
        (r#"{a="b"} |> "<_> x""#, "pattern line filters (`|>`, `!>`)"),
        (r#"absent_over_time({a="b"}[5m])"#, "the function `absent_over_time`"),
        (r#"count_over_time({a="b"}[5m] offset 1h)"#, "`offset`"),
        (r#"sum(rate({a="b"}[1m])) > 5"#, "the comparison `>` between vectors"),
        (r#"rate({a="b"}[1m]) and rate({c="d"}[1m])"#, "the set operator `and`"),
    ] {
        let error = parse(query).unwrap_err();
        assert_eq!(error, LogqlError::Unsupported { construct: construct.to_owned() }, "{query}");
        assert!(error.to_string().starts_with(&format!(
            "unsupported LogQL: {construct} is not supported by Sluice. Supported: stream selectors"
        )));
    }
}

#[test]
fn syntax_errors_say_where() {
    let error = |q: &str| parse(q).unwrap_err().to_string();
    assert_eq!(
        error(r#"{a="b""#),
        "parse error at line 1, col 7: expected `}` or `,` in the stream selector, found the end of the query"
    );
    assert_eq!(error(r#"{a=b}"#), "parse error at line 1, col 4: expected a quoted value, found `b`");
    assert_eq!(
        error(r#"count_over_time({a="b"})"#),
        "parse error at line 1, col 24: expected `[` and a range such as [5m], found `)`"
    );
    assert_eq!(
        error(r#"{a=~"("}"#),
        "parse error at line 1, col 5: invalid regular expression \"(\": regex parse error:\n    (\n    ^\nerror: unclosed group"
    );
    assert_eq!(
        error("{}"),
        "parse error at line 1, col 3: a stream selector needs at least one matcher, such as {service_name=~\".+\"}"
    );
    assert_eq!(
        error(r#"avg_over_time({a="b"}[5m])"#),
        "parse error at line 1, col 27: avg_over_time needs the values to read: add `| unwrap LABEL` before the range"
    );
    // Deep nesting is refused, not a stack overflow.
    let deep = format!("{}vector(1){}", "sum(".repeat(200), ")".repeat(200));
    assert!(error(&deep).contains("nests more than 64 deep"));
}

#[test]
fn durations() {
    assert_eq!(duration_nanos("1h30m"), Some(5_400_000_000_000));
    assert_eq!(duration_nanos("250ms"), Some(250_000_000));
    assert_eq!(duration_nanos("5x"), None);
    assert_eq!(bytes("1.5KB"), Some(1500.0));
}
