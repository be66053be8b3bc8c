//! The data directory as the queries see it: the day splits a time range
//! needs, a query parsed against them, hits and counts.

use std::ops::Bound;
use std::path::{Path, PathBuf};

use sluice_index::data_dir::DataDir;
use sluice_index::splits::{day_name, list_splits};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::query_grammar::{UserInputAst, UserInputLeaf};
use tantivy::schema::{Field, FieldType, IndexRecordOption};
use tantivy::{DateTime, DocAddress, Index, IndexReader, Order, ReloadPolicy, Searcher, Term};

use crate::error::QueryError;
use crate::time::TimeRange;

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// One day split, open for reading.
pub struct Split {
    pub day: String,
    pub path: PathBuf,
    pub index: Index,
    reader: IndexReader,
    /// The last committed batch, when this split may hold documents of
    /// later ones (committed to the split, not yet recorded by the
    /// manifest, or never to be: a crash rolls them back). Every query then
    /// leaves them out.
    uncommitted_after: Option<u64>,
    /// Which of the store's data directories it belongs to.
    pub source: u16,
}

impl Split {
    /// Opens a day split for reading, showing only batches up to
    /// `last_batch` (the manifest's, loaded before). The reader is reloaded
    /// by hand (`tail -f` opens new ones): no watcher thread per split.
    ///
    /// A compaction merging the split's segments deletes the old ones once
    /// its new `meta.json` is in place; a reader that read the old one in
    /// between finds a segment file gone, and opens the split again.
    fn open(day: &str, path: &Path, last_batch: u64) -> Result<Split, QueryError> {
        let mut attempt = 0;
        loop {
            match Split::open_once(day, path, last_batch) {
                Err(QueryError::Index { source: tantivy::TantivyError::OpenReadError(_), .. }) if attempt < 3 => {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn open_once(day: &str, path: &Path, last_batch: u64) -> Result<Split, QueryError> {
        let tantivy = |source| QueryError::Index { path: path.to_owned(), source };
        let index = Index::open_in_dir(path).map_err(tantivy)?;
        // The split's commit payload is the last batch committed to it (a
        // recovery's rollback lowers it again). Read before and after the
        // reader opens: only when both are committed batches can the reader
        // hold nothing later, and the filter be left out.
        let payload = |index: &Index| -> Result<Option<u64>, QueryError> {
            Ok(index.load_metas().map_err(tantivy)?.payload.and_then(|p| p.parse::<u64>().ok()))
        };
        let before = payload(&index)?;
        let reader: IndexReader =
            index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(tantivy)?;
        let after = payload(&index)?;
        let uncommitted_after = match (before, after) {
            (Some(before), Some(after)) if before <= last_batch && after <= last_batch => None,
            _ => Some(last_batch),
        };
        Ok(Split { day: day.to_owned(), path: path.to_owned(), index, reader, uncommitted_after, source: 0 })
    }

    /// Whether `field` has a fast column in this split.
    pub(crate) fn is_fast(&self, field: &str) -> bool {
        let schema = self.index.schema();
        schema.get_field(field).is_ok_and(|handle| schema.get_field_entry(handle).is_fast())
    }

    pub(crate) fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    pub(crate) fn field(&self, name: &str) -> Result<Field, QueryError> {
        self.index.schema().get_field(name).map_err(|source| QueryError::Index { path: self.path.clone(), source })
    }

    pub(crate) fn tantivy(&self) -> impl Fn(tantivy::TantivyError) -> QueryError + '_ {
        |source| QueryError::Index { path: self.path.clone(), source }
    }

    /// `text` as a tantivy query over this split, restricted to `range`.
    ///
    /// Bare words search `message`; words are ANDed; `*` matches every
    /// record; `field:value` names a canonical or declared field, and any
    /// other name is an attribute path (`http.status:500` means
    /// `attributes.http.status:500`).
    pub(crate) fn query(&self, text: &str, range: TimeRange) -> Result<Box<dyn Query>, QueryError> {
        let schema = self.index.schema();
        let message = self.field("message")?;
        let mut parser = QueryParser::for_index(&self.index, vec![message]);
        parser.set_conjunction_by_default();
        let bad = |message: String| QueryError::BadQuery { query: text.to_owned(), message };
        let user_query: Box<dyn Query> = if text.trim().is_empty() || text.trim() == "*" {
            Box::new(AllQuery)
        } else {
            // tantivy's parser, and the rewrites below, recurse once per
            // level of parentheses: a deeper query would overflow the stack.
            // tantivy marks the end of a JSON path with U+0000 and separates
            // its segments with U+0001: in a field name they corrupt the term.
            if let Some((at, c)) = text.chars().enumerate().find(|(_, c)| matches!(c, '\u{0}' | '\u{1}')) {
                return Err(bad(format!(
                    "the control character U+{:04X} at character {}: queries cannot contain it",
                    c as u32,
                    at + 1
                )));
            }
            if nesting(text) > MAX_QUERY_NESTING {
                return Err(bad(format!(
                    "parentheses nest more than {MAX_QUERY_NESTING} deep; write the query flatter"
                )));
            }
            let ast = match tantivy::query_grammar::parse_query(text) {
                Ok(ast) => ast,
                Err(_) => return Err(bad(syntax_error(text))),
            };
            let ast = hoist_negations(attributes_by_default(ast, &|name| schema.get_field(name).is_ok()));
            ranges_on_fast_columns(&ast, &schema).map_err(bad)?;
            parser.build_query_from_user_input_ast(ast).map_err(|e| bad(e.to_string()))?
        };
        self.within(user_query, range)
    }

    /// Records whose `field` is exactly `value` (each pair), in `range`:
    /// built from terms, so values need no quoting in a query syntax.
    pub(crate) fn exact_query(&self, pairs: &[(&str, &str)], range: TimeRange) -> Result<Box<dyn Query>, QueryError> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (name, value) in pairs {
            let term = Term::from_field_text(self.field(name)?, value);
            clauses.push((Occur::Must, Box::new(TermQuery::new(term, IndexRecordOption::Basic))));
        }
        let query: Box<dyn Query> =
            if clauses.is_empty() { Box::new(AllQuery) } else { Box::new(BooleanQuery::new(clauses)) };
        self.within(query, range)
    }

    /// `query` restricted to `range` (read from the timestamp column) and
    /// to committed batches.
    pub(crate) fn within(&self, query: Box<dyn Query>, range: TimeRange) -> Result<Box<dyn Query>, QueryError> {
        let query = self.committed_only(query)?;
        if range == TimeRange::ALL {
            return Ok(query);
        }
        let timestamp = self.field("timestamp")?;
        let bound = |nanos: Option<i64>, included: bool| match nanos {
            None => Bound::Unbounded,
            Some(n) => {
                let term = Term::from_field_date(timestamp, DateTime::from_timestamp_nanos(n));
                if included { Bound::Included(term) } else { Bound::Excluded(term) }
            }
        };
        let in_range = RangeQuery::new(bound(range.from, true), bound(range.to, false));
        Ok(Box::new(BooleanQuery::new(vec![(Occur::Must, query), (Occur::Must, Box::new(in_range))])))
    }
}

impl Split {
    /// `query` without documents of batches the manifest does not record.
    pub(crate) fn committed_only(&self, query: Box<dyn Query>) -> Result<Box<dyn Query>, QueryError> {
        let Some(last) = self.uncommitted_after else { return Ok(query) };
        let batch = self.field("batch")?;
        let committed = RangeQuery::new(Bound::Unbounded, Bound::Included(Term::from_field_u64(batch, last)));
        Ok(Box::new(BooleanQuery::new(vec![(Occur::Must, query), (Occur::Must, Box::new(committed))])))
    }

    /// Documents of committed batches in this split.
    pub(crate) fn committed_docs(&self) -> Result<u64, QueryError> {
        if self.uncommitted_after.is_none() {
            return Ok(self.searcher().num_docs());
        }
        let query = self.committed_only(Box::new(AllQuery))?;
        Ok(self.searcher().search(&query, &Count).map_err(self.tantivy())? as u64)
    }
}

/// Where a query stops making sense and why, with a caret under the spot:
/// the strict grammar only says "syntax error", the lenient one says where.
/// The deepest a query's parentheses may nest.
const MAX_QUERY_NESTING: usize = 100;

/// How deep `text`'s parentheses nest (outside quotes): an upper bound on
/// the parser's recursion, whatever else the text holds.
fn nesting(text: &str) -> usize {
    let (mut depth, mut deepest, mut quoted, mut escaped) = (0usize, 0usize, false, false);
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '(' | '[' | '{' if !quoted => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' | ']' | '}' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

fn syntax_error(text: &str) -> String {
    let (_, errors) = tantivy::query_grammar::parse_query_lenient(text);
    let Some(error) = errors.first() else {
        // The lenient grammar accepts a few things the strict one does not.
        let operator = text.split_whitespace().last().into_iter().chain(text.split_whitespace().next());
        if let Some(word) = operator.into_iter().find(|w| matches!(*w, "AND" | "OR" | "NOT")) {
            return format!("`{word}` needs a term on each side");
        }
        if let Some(at) = text.find(": ") {
            let column = text[..at + 1].chars().count();
            return format!(
                "a field name must be followed directly by its value, with no space (`level:error`), at character {}\n  {text}\n  {}^",
                column + 1,
                " ".repeat(column)
            );
        }
        return "syntax error".to_owned();
    };
    let column = text.get(..error.pos.min(text.len())).map_or(0, |before| before.chars().count());
    let what = match error.message.as_str() {
        "unparsed end of query" => "unexpected text (an unclosed `(` or `\"`, or a stray `)`?)".to_owned(),
        "parsed possible invalid field as term" => {
            "a field name must be followed by a value (`field:value`)".to_owned()
        }
        "parsed keyword NOT as term. It should be quoted" => {
            "NOT needs a term after it; quote it to search the word".to_owned()
        }
        "Found unexpected boolean operator before term" => "AND / OR needs a term on both sides".to_owned(),
        message if message.starts_with("missing delimiter") => {
            "a quoted phrase is never closed (missing `\"`)".to_owned()
        }
        other => other.to_owned(),
    };
    format!("{what}, at character {}\n  {text}\n  {}^", column + 1, " ".repeat(column))
}

/// Field names in a query that the schema does not know and that are close
/// to a field it does (`levle:error`): they were searched as attribute
/// paths, which is rarely what a typo meant. `(name, nearest known field)`.
pub(crate) fn unknown_fields(text: &str, known: &[String]) -> Vec<(String, String)> {
    fn walk(ast: &UserInputAst, names: &mut Vec<String>) {
        match ast {
            UserInputAst::Clause(clauses) => clauses.iter().for_each(|(_, ast)| walk(ast, names)),
            UserInputAst::Boost(ast, _) => walk(ast, names),
            UserInputAst::Leaf(leaf) => {
                let name = match leaf.as_ref() {
                    UserInputLeaf::Literal(literal) => literal.field_name.clone(),
                    UserInputLeaf::Range { field, .. }
                    | UserInputLeaf::Set { field, .. }
                    | UserInputLeaf::Regex { field, .. } => field.clone(),
                    UserInputLeaf::Exists { field } => Some(field.clone()),
                    UserInputLeaf::All => None,
                };
                names.extend(name);
            }
        }
    }
    let Ok(ast) = tantivy::query_grammar::parse_query(text) else { return Vec::new() };
    let mut names = Vec::new();
    walk(&ast, &mut names);
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|name| !known.contains(name) && !name.starts_with("attributes."))
        .filter_map(|name| crate::aggregate::nearest(&name, known).map(|near| (name.clone(), near.to_owned())))
        .collect()
}

/// Rewrites field names the schema does not know into attribute paths.
fn attributes_by_default(ast: UserInputAst, known: &dyn Fn(&str) -> bool) -> UserInputAst {
    let rename = |field: Option<String>| match field {
        Some(name) if !known(&name) && !name.starts_with("attributes.") => Some(format!("attributes.{name}")),
        other => other,
    };
    match ast {
        UserInputAst::Clause(clauses) => UserInputAst::Clause(
            clauses.into_iter().map(|(occur, ast)| (occur, attributes_by_default(ast, known))).collect(),
        ),
        UserInputAst::Boost(ast, boost) => UserInputAst::Boost(Box::new(attributes_by_default(*ast, known)), boost),
        UserInputAst::Leaf(leaf) => UserInputAst::Leaf(Box::new(match *leaf {
            UserInputLeaf::Literal(mut literal) => {
                literal.field_name = rename(literal.field_name.take());
                UserInputLeaf::Literal(literal)
            }
            UserInputLeaf::Range { field, lower, upper } => UserInputLeaf::Range { field: rename(field), lower, upper },
            UserInputLeaf::Set { field, elements } => UserInputLeaf::Set { field: rename(field), elements },
            UserInputLeaf::Regex { field, pattern } => UserInputLeaf::Regex { field: rename(field), pattern },
            UserInputLeaf::Exists { field } => UserInputLeaf::Exists { field: rename(Some(field)).unwrap_or_default() },
            UserInputLeaf::All => UserInputLeaf::All,
        })),
    }
}

/// Checks that every range (`field:[a TO b]`, `field:>=a`) and every
/// existence test (`field:*`) is on a field with a fast column: tantivy
/// reads them only from there, and on an attribute (a JSON path) or a field
/// without one fails at search time with an error that names neither the
/// field nor the fix.
fn ranges_on_fast_columns(ast: &UserInputAst, schema: &tantivy::schema::Schema) -> Result<(), String> {
    match ast {
        UserInputAst::Clause(clauses) => clauses.iter().try_for_each(|(_, ast)| ranges_on_fast_columns(ast, schema)),
        UserInputAst::Boost(ast, _) => ranges_on_fast_columns(ast, schema),
        UserInputAst::Leaf(leaf) => {
            let (name, searched) = match leaf.as_ref() {
                UserInputLeaf::Range { field: Some(name), .. } => (name, "by range"),
                UserInputLeaf::Exists { field } => (field, "for presence (`:*`)"),
                _ => return Ok(()),
            };
            let fast = schema.find_field(name).is_some_and(|(field, path)| {
                let entry = schema.get_field_entry(field);
                entry.is_fast() && (path.is_empty() || !matches!(entry.field_type(), FieldType::JsonObject(_)))
            });
            if fast {
                return Ok(());
            }
            let shown = name.strip_prefix("attributes.").unwrap_or(name);
            let what = if name.starts_with("attributes.") {
                "an attribute, indexed as text without a column"
            } else {
                "a field without a fast column"
            };
            Err(format!(
                "`{shown}` is {what}, so it cannot be searched {searched}. Search exact values \
                 (`{shown}:500 OR {shown}:503`), or declare it in the schema file with a numeric `type` \
                 (columnar by default) and ingest again; ranges and `:*` work on `timestamp`, \
                 `severity_number` and declared fast fields"
            ))
        }
    }
}

/// `a AND NOT b` as Lucene means it: the grammar reads it as `+a +(-b)`,
/// and a clause of exclusions alone matches nothing in tantivy, so the
/// whole query would match nothing. Exclusion-only clauses required by
/// their parent are merged into it: `+a -b`.
fn hoist_negations(ast: UserInputAst) -> UserInputAst {
    match ast {
        UserInputAst::Clause(clauses) => {
            let mut out = Vec::with_capacity(clauses.len());
            for (occur, child) in clauses {
                match hoist_negations(child) {
                    UserInputAst::Clause(inner)
                        if matches!(occur, Some(Occur::Must))
                            && !inner.is_empty()
                            && inner.iter().all(|(o, _)| matches!(o, Some(Occur::MustNot))) =>
                    {
                        out.extend(inner);
                    }
                    child => out.push((occur, child)),
                }
            }
            UserInputAst::Clause(out)
        }
        UserInputAst::Boost(ast, boost) => UserInputAst::Boost(Box::new(hoist_negations(*ast)), boost),
        leaf => leaf,
    }
}

/// Builds a split's query (field handles differ from split to split).
pub(crate) type SplitQuery<'a> = dyn Fn(&Split) -> Result<Box<dyn Query>, QueryError> + 'a;

/// A matching record: where it is in the archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub timestamp: i64,
    pub batch: u64,
    pub row: u64,
    /// Which of the store's data directories holds it (0 for the first).
    pub source: u16,
}

/// One or more data directories, open for queries: for each, a consistent
/// view of what its manifest recorded when it was opened. Several data
/// directories (several ingesters, `sluice --data-dir A --data-dir B`) are
/// one corpus: their splits of the same day are searched together, and
/// hits merged by time.
pub struct Store {
    /// The first data directory.
    pub dir: DataDir,
    dirs: Vec<DataDir>,
    /// Each data directory's last batch, in `dirs` order.
    last_batches: Vec<u64>,
    /// In day order, then data directory order.
    pub(crate) splits: Vec<Split>,
}

/// At most this many data directories are queried together.
pub const MAX_DATA_DIRS: usize = 64;

impl Store {
    /// Opens the splits that overlap `range`. An empty or missing data
    /// directory is an error that says how to ingest.
    pub fn open(root: &Path, range: TimeRange) -> Result<Store, QueryError> {
        Store::open_many(&[root.to_owned()], range)
    }

    /// [`Store::open`] over several data directories at once, as one corpus.
    pub fn open_many(roots: &[PathBuf], range: TimeRange) -> Result<Store, QueryError> {
        if roots.is_empty() || roots.len() > MAX_DATA_DIRS {
            return Err(QueryError::TooManyDataDirs { given: roots.len(), max: MAX_DATA_DIRS });
        }
        let mut dirs = Vec::new();
        let mut last_batches = Vec::new();
        let mut wanted: Vec<(u16, String, PathBuf)> = Vec::new();
        for (source, root) in roots.iter().enumerate() {
            let dir = DataDir::at(root);
            // Loaded before the splits are listed and opened: whatever they
            // hold beyond it is left out, and a split created after it holds
            // only later batches. Refuses a directory in another on-disk
            // format before opening it.
            last_batches.push(dir.load_manifest()?.last_batch);
            let all = list_splits(&dir.index())?;
            if all.is_empty() {
                return Err(QueryError::EmptyDataDir { dir: root.to_owned() });
            }
            wanted.extend(
                all.into_iter()
                    .filter(|(day, _)| day_start(day).is_some_and(|start| range.overlaps(start, start + NANOS_PER_DAY)))
                    .map(|(day, path)| (source as u16, day, path)),
            );
            dirs.push(dir);
        }
        wanted.sort_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
        // Opening a split maps and checks every file of every segment: mostly
        // system time, so the splits open side by side.
        let opened: Vec<Result<Split, QueryError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = wanted
                .iter()
                .map(|(source, day, path)| {
                    let last_batch = last_batches[usize::from(*source)];
                    scope.spawn(move || {
                        Split::open(day, path, last_batch).map(|split| Split { source: *source, ..split })
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        });
        let splits = opened.into_iter().collect::<Result<Vec<Split>, QueryError>>()?;
        Ok(Store { dir: dirs[0].clone(), dirs, last_batches, splits })
    }

    /// The data directories, in the order given.
    pub fn dirs(&self) -> &[DataDir] {
        &self.dirs
    }

    /// The last batch this store shows of each data directory, in order.
    pub fn last_batches(&self) -> &[u64] {
        &self.last_batches
    }

    /// The last batch this store shows (the manifest's when it was opened).
    /// (Of the first data directory.)
    pub fn last_batch(&self) -> u64 {
        self.last_batches[0]
    }

    /// The newest `limit` matches (oldest first with `oldest_first`) and
    /// the number of matches in all.
    pub fn search(
        &self,
        text: &str,
        range: TimeRange,
        limit: usize,
        oldest_first: bool,
    ) -> Result<(Vec<Hit>, u64), QueryError> {
        self.search_by(&|split: &Split| split.query(text, range), limit, oldest_first)
    }

    /// [`Store::search`] for a query built per split.
    pub(crate) fn search_by(
        &self,
        query: &SplitQuery<'_>,
        limit: usize,
        oldest_first: bool,
    ) -> Result<(Vec<Hit>, u64), QueryError> {
        let mut hits: Vec<Hit> = Vec::new();
        let mut total = 0u64;
        let order = if oldest_first { Order::Asc } else { Order::Desc };
        // A day's splits (one per data directory holding that day), newest
        // (or oldest) day first.
        let mut days: Vec<&[Split]> = self.splits.chunk_by(|a, b| a.day == b.day).collect();
        if !oldest_first {
            days.reverse();
        }
        for day in days {
            // Days do not overlap: once `limit` hits are in hand, older (or
            // newer) days only add to the count.
            let want = limit.saturating_sub(hits.len());
            let first = hits.len();
            for split in day {
                let query = query(split)?;
                let searcher = split.searcher();
                // tantivy sizes its top-N heap by the limit: no more than
                // the split holds (`--limit 1000000000000` must not
                // allocate for a trillion).
                let want = want.min(usize::try_from(searcher.num_docs()).unwrap_or(usize::MAX));
                if want == 0 {
                    total += searcher.search(&query, &Count).map_err(split.tantivy())? as u64;
                    continue;
                }
                let top = TopDocs::with_limit(want).order_by_fast_field::<DateTime>("timestamp", order);
                let (found, count) = searcher.search(&query, &(top, Count)).map_err(split.tantivy())?;
                total += count as u64;
                for (_, address) in found {
                    hits.push(locate(&searcher, address, split)?);
                }
            }
            // Doc ids group similar records rather than follow time (see
            // `sluice_index::fields::GroupKey`), so records of the same
            // instant come back in archive order, not doc-id order; and
            // several data directories' hits of one day are merged by time.
            let day_hits = &mut hits[first..];
            day_hits.sort_unstable_by_key(|hit| (hit.timestamp, hit.source, hit.batch, hit.row));
            if !oldest_first {
                day_hits.reverse();
            }
            hits.truncate(first + want);
        }
        Ok((hits, total))
    }

    /// How many records match.
    /// For a query that matched nothing: a note naming each field that was
    /// read as an attribute path but looks like a typo of a record field.
    pub fn empty_result_hint(&self, text: &str) -> Option<String> {
        let split = self.splits.first()?;
        let known: Vec<String> = split
            .index
            .schema()
            .fields()
            .map(|(_, entry)| entry.name().to_owned())
            .filter(|name| !["batch", "row", "attributes"].contains(&name.as_str()))
            .collect();
        let notes: Vec<String> = unknown_fields(text, &known)
            .into_iter()
            .map(|(name, near)| {
                format!("`{name}` is not a record field, so it was searched as the attribute path `{name}`; did you mean `{near}`?")
            })
            .collect();
        (!notes.is_empty()).then(|| format!("{}\nrecord fields: {}", notes.join("\n"), known.join(", ")))
    }

    pub fn count(&self, text: &str, range: TimeRange) -> Result<u64, QueryError> {
        let mut total = 0;
        for split in &self.splits {
            let query = split.query(text, range)?;
            total += split.searcher().search(&query, &Count).map_err(split.tantivy())? as u64;
        }
        Ok(total)
    }
}

/// A hit's timestamp, batch and row, from the fast columns.
fn locate(searcher: &Searcher, address: DocAddress, split: &Split) -> Result<Hit, QueryError> {
    let segment = searcher.segment_reader(address.segment_ord);
    let fast = segment.fast_fields();
    let tantivy = split.tantivy();
    let timestamp = fast.date("timestamp").map_err(&tantivy)?.first(address.doc_id);
    let batch = fast.u64("batch").map_err(&tantivy)?.first(address.doc_id);
    let row = fast.u64("row").map_err(&tantivy)?.first(address.doc_id);
    match (timestamp, batch, row) {
        (Some(timestamp), Some(batch), Some(row)) => {
            Ok(Hit { timestamp: timestamp.into_timestamp_nanos(), batch, row, source: split.source })
        }
        _ => Err(QueryError::Archive {
            path: split.path.clone(),
            message: format!("document {address:?} has no timestamp, batch or row"),
        }),
    }
}

/// The first instant of a split's day (`YYYY-MM-DD`).
fn day_start(day: &str) -> Option<i64> {
    let start = sluice_schemas::timestamp::parse_text(
        &format!("{day}T00:00:00Z"),
        sluice_schemas::timestamp::EpochUnit::Seconds,
        &sluice_schemas::timestamp::DefaultZone::Utc,
    )
    .ok()?
    .as_nanos();
    (day_name(start.div_euclid(NANOS_PER_DAY)) == day).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_become_attribute_paths() {
        let ast = tantivy::query_grammar::parse_query("level:error http.status:500 user:steve refused").unwrap();
        let rewritten = attributes_by_default(ast, &|name| matches!(name, "level" | "message"));
        let text = format!("{rewritten:?}");
        assert!(text.contains("\"level\":"), "{text}");
        assert!(text.contains("\"attributes.http.status\":"), "{text}");
        assert!(text.contains("\"attributes.user\":"), "{text}");
        assert!(!text.contains("\"attributes.level\""), "{text}");
    }

    #[test]
    fn and_not_excludes() {
        let ast = tantivy::query_grammar::parse_query("service:api AND NOT level:error").unwrap();
        assert_eq!(format!("{:?}", hoist_negations(ast)), r#"(+"service":api -"level":error)"#);
        let ast = tantivy::query_grammar::parse_query("a AND NOT b OR c").unwrap();
        assert_eq!(format!("{:?}", hoist_negations(ast)), "(?(+a -b) ?c)");
    }

    #[test]
    fn syntax_errors_point_at_the_spot() {
        assert_eq!(syntax_error("level:(error"), "expected ')', at character 13\n  level:(error\n              ^");
        assert_eq!(
            syntax_error("\"connection refused"),
            "a quoted phrase is never closed (missing `\"`), at character 20\n  \"connection refused\n                     ^"
        );
        assert_eq!(syntax_error("refused AND"), "`AND` needs a term on each side");
        assert_eq!(
            syntax_error("level: error"),
            "a field name must be followed directly by its value, with no space (`level:error`), at character 7\n  level: error\n        ^"
        );
        assert_eq!(
            syntax_error("(a OR b))"),
            "unexpected text (an unclosed `(` or `\"`, or a stray `)`?), at character 9\n  (a OR b))\n          ^"
        );
    }

    #[test]
    fn typos_of_record_fields_are_named() {
        let known: Vec<String> = ["level", "service", "host", "message", "trace_id"].map(String::from).to_vec();
        assert_eq!(
            unknown_fields("levle:error AND servce:api AND http.status:500 AND user:steve", &known),
            [("levle".to_owned(), "level".to_owned()), ("servce".to_owned(), "service".to_owned())]
        );
        assert!(unknown_fields("level:error refused", &known).is_empty());
        assert_eq!(unknown_fields("traceid:abc", &known), [("traceid".to_owned(), "trace_id".to_owned())]);
    }

    #[test]
    fn day_starts() {
        assert_eq!(day_start("2024-03-01"), Some(1_709_251_200_000_000_000));
        assert_eq!(day_start("2024-13-01"), None);
    }
}
