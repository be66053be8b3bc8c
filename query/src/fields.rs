//! `sluice fields`: the fields present, their JSON types and how often
//! they occur.
//!
//! Like Kibana's field list, it looks at a sample: the newest `sample`
//! matching records, read back from the archive. Counts are exact when
//! there are no more matches than that. Attribute paths are listed by
//! their dotted names (`http.status`), each JSON type apart.

use std::collections::BTreeMap;

use sluice_index::archive::ArchiveLayout;

use crate::error::QueryError;
use crate::fetch::fetch;
use crate::store::Store;
use crate::time::TimeRange;

/// A field (or attribute path) and a JSON type it has.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FieldCount {
    pub name: String,
    /// `string`, `number`, `bool`, `array`, `object` or `null`.
    pub kind: &'static str,
    /// Records of the sample that have it with that type.
    pub records: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FieldsReport {
    /// Matches in all.
    pub total: u64,
    /// Records looked at: the newest `sample` matches.
    pub sampled: u64,
    /// Canonical fields first, in record order, then declared fields, then
    /// attribute paths, by name.
    pub fields: Vec<FieldCount>,
}

impl Store {
    pub fn fields(&self, text: &str, range: TimeRange, sample: usize) -> Result<FieldsReport, QueryError> {
        let (hits, total) = self.search(text, range, sample, false)?;
        let records = fetch(self, &hits)?;
        let mut counts: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
        let mut attributes: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
        for record in &records {
            let Ok(serde_json::Value::Object(object)) = serde_json::from_str::<serde_json::Value>(&record.json) else {
                continue;
            };
            for (name, value) in &object {
                if name == "attributes" {
                    for (path, value) in value.as_object().into_iter().flatten() {
                        *attributes.entry((path.clone(), kind(value))).or_default() += 1;
                    }
                    continue;
                }
                *counts.entry((name.clone(), kind(value))).or_default() += 1;
            }
        }
        let mut top_level: Vec<((String, &'static str), u64)> = counts.into_iter().collect();
        // The canonical fields in the archive's column order (records print
        // in that order too); declared fields after them, by name.
        let layout = ArchiveLayout::new(&sluice_schemas::Schema::builtin());
        let place = |name: &str| layout.arrow_schema().index_of(name).unwrap_or(usize::MAX);
        top_level.sort_by(|((a, _), _), ((b, _), _)| place(a).cmp(&place(b)).then_with(|| a.cmp(b)));
        let fields = top_level
            .into_iter()
            .chain(attributes)
            .map(|((name, kind), records)| FieldCount { name, kind, records })
            .collect();
        Ok(FieldsReport { total, sampled: records.len() as u64, fields })
    }
}

fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}
