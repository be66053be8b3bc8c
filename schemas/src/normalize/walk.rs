//! The walk over a simd-json tape: flattening objects into dotted paths
//! and offering each value to the slot its path is bound to.

use std::borrow::Cow;

use simd_json::{Node, StaticNode};

use crate::plan::{Binding, Plan};
use crate::producer::{Role, marker_of};
use crate::record::Value;

pub(super) fn node_kind(node: &Node<'_>) -> &'static str {
    match node {
        Node::String(_) => "a string",
        Node::Object { .. } => "an object",
        Node::Array { .. } => "an array",
        Node::Static(StaticNode::Null) => "null",
        Node::Static(StaticNode::Bool(_)) => "a boolean",
        Node::Static(_) => "a number",
    }
}

/// Nodes a value occupies on the tape, itself included.
#[inline]
fn node_count(node: &Node<'_>) -> usize {
    match node {
        Node::Object { count, .. } | Node::Array { count, .. } => count + 1,
        _ => 1,
    }
}

pub(super) fn top_level_markers(nodes: &[Node<'_>]) -> u32 {
    object_keys(nodes).fold(0, |markers, key| markers | marker_of(key))
}

/// Converts a tape subtree to a [`Value`]; leaves (most values) inline.
#[inline]
fn to_value<'a>(nodes: &[Node<'a>]) -> Value<'a> {
    match nodes.first() {
        Some(Node::String(s)) => Value::String(Cow::Borrowed(s)),
        Some(Node::Static(StaticNode::I64(n))) => Value::I64(*n),
        Some(Node::Static(StaticNode::U64(n))) => i64::try_from(*n).map_or(Value::U64(*n), Value::I64),
        Some(Node::Static(StaticNode::F64(n))) => Value::F64(*n),
        Some(Node::Static(StaticNode::Bool(b))) => Value::Bool(*b),
        Some(Node::Static(StaticNode::Null)) | None => Value::Null,
        Some(Node::Object { .. } | Node::Array { .. }) => to_value_nested(nodes),
    }
}

#[inline(never)]
fn to_value_nested<'a>(nodes: &[Node<'a>]) -> Value<'a> {
    fn convert<'a>(nodes: &[Node<'a>], index: &mut usize) -> Value<'a> {
        let Some(node) = nodes.get(*index) else { return Value::Null };
        *index += 1;
        match *node {
            Node::String(s) => Value::String(Cow::Borrowed(s)),
            Node::Static(StaticNode::Null) => Value::Null,
            Node::Static(StaticNode::Bool(b)) => Value::Bool(b),
            Node::Static(StaticNode::I64(n)) => Value::I64(n),
            // simd-json reads every non-negative integer as u64; keep one
            // integer type wherever it fits so columns stay one type.
            Node::Static(StaticNode::U64(n)) => i64::try_from(n).map_or(Value::U64(n), Value::I64),
            Node::Static(StaticNode::F64(n)) => Value::F64(n),
            Node::Array { len, .. } => Value::Array((0..len).map(|_| convert(nodes, index)).collect()),
            Node::Object { len, .. } => Value::Object(
                (0..len)
                    .map(|_| {
                        let key = match nodes.get(*index) {
                            Some(Node::String(k)) => *k,
                            _ => "",
                        };
                        *index += 1;
                        (Cow::Borrowed(key), convert(nodes, index))
                    })
                    .collect(),
            ),
        }
    }
    convert(nodes, &mut 0)
}

/// The canonical slots a record fills.
#[derive(Clone, Copy)]
pub(super) enum Slot {
    Timestamp,
    TimestampSeconds,
    TimestampNanos,
    Level,
    SeverityNumber,
    Message,
    Service,
    Host,
    TraceId,
    SpanId,
}
const SLOT_COUNT: usize = 10;

fn slot_of(role: Role) -> Option<Slot> {
    Some(match role {
        Role::Timestamp(_) => Slot::Timestamp,
        Role::TimestampSeconds => Slot::TimestampSeconds,
        Role::TimestampNanos => Slot::TimestampNanos,
        Role::Level(_) => Slot::Level,
        Role::SeverityNumber => Slot::SeverityNumber,
        Role::Message => Slot::Message,
        Role::Service => Slot::Service,
        Role::Host => Slot::Host,
        Role::TraceId => Slot::TraceId,
        Role::SpanId => Slot::SpanId,
        Role::Declared(_) | Role::Container(_) | Role::OtlpAttributes => return None,
    })
}

/// A value offered to a slot, with where it came from.
pub(super) struct Candidate<'a> {
    pub(super) rank: u16,
    pub(super) role: Role,
    pub(super) key: Cow<'a, str>,
    pub(super) value: Value<'a>,
}

/// Collects a record's pieces during the walk.
pub(super) struct Builder<'a> {
    slots: [Option<Candidate<'a>>; SLOT_COUNT],
    pub(super) declared: Vec<Option<Candidate<'a>>>,
    pub(super) attributes: Vec<(Cow<'a, str>, Value<'a>)>,
    pub(super) deprecated_hits: Vec<u16>,
}

impl<'a> Builder<'a> {
    pub(super) fn new(declared_count: usize, attribute_capacity: usize) -> Builder<'a> {
        let mut declared = Vec::new();
        declared.resize_with(declared_count, || None);
        Builder {
            slots: Default::default(),
            declared,
            attributes: Vec::with_capacity(attribute_capacity),
            deprecated_hits: Vec::new(),
        }
    }

    /// Offers a value to the slot its binding names; the better-ranked of
    /// the old and new values stays, the other becomes an attribute.
    fn offer(&mut self, binding: Binding, key: Cow<'a, str>, value: Value<'a>) {
        if let Some(deprecation) = binding.deprecated {
            self.deprecated_hits.push(deprecation);
        }
        let candidate = Candidate { rank: binding.rank, role: binding.role, key, value };
        let place = match binding.role {
            Role::Declared(index) => self.declared.get_mut(usize::from(index)),
            role => slot_of(role).and_then(|slot| self.slots.get_mut(slot as usize)),
        };
        let Some(place) = place else {
            self.attributes.push((candidate.key, candidate.value));
            return;
        };
        let loser = match place {
            Some(existing) if existing.rank <= candidate.rank => Some(candidate),
            _ => place.replace(candidate),
        };
        if let Some(loser) = loser {
            self.attributes.push((loser.key, loser.value));
        }
    }

    pub(super) fn take(&mut self, slot: Slot) -> Option<Candidate<'a>> {
        self.slots[slot as usize].take()
    }
}

/// Walks a tape object, flattening nested objects into dotted paths.
pub(super) struct Walker<'p> {
    pub(super) plan: &'p Plan,
    /// The current prefix: empty at the top level, else ending in `.`.
    pub(super) path: &'p mut String,
}

impl Walker<'_> {
    pub(super) fn walk_object<'a>(&mut self, builder: &mut Builder<'a>, nodes: &[Node<'a>]) {
        let Some(&Node::Object { len, .. }) = nodes.first() else { return };
        let mut index = 1;
        for _ in 0..len {
            let Some(&Node::String(key)) = nodes.get(index) else { return };
            index += 1;
            let Some(first) = nodes.get(index) else { return };
            let end = index + node_count(first);
            let Some(value_nodes) = nodes.get(index..end) else { return };
            index = end;
            self.visit(builder, key, value_nodes);
        }
    }

    fn visit<'a>(&mut self, builder: &mut Builder<'a>, key: &'a str, value_nodes: &[Node<'a>]) {
        let prefix_len = self.path.len();
        let binding = if prefix_len == 0 {
            self.plan.lookup(key)
        } else {
            self.path.push_str(key);
            self.plan.lookup(self.path)
        };
        let path_key = |path: &str| -> Cow<'a, str> {
            if prefix_len == 0 { Cow::Borrowed(key) } else { Cow::Owned(path.to_owned()) }
        };
        if prefix_len == 0 {
            // Nested visits and containers below build on the key.
            self.path.push_str(key);
        }
        match (value_nodes.first(), binding) {
            (Some(Node::Object { len, .. }), binding) if *len > 0 => match binding {
                Some(Binding { role: Role::Container(prefix), .. }) => {
                    let saved = std::mem::replace(self.path, prefix.to_owned());
                    self.walk_object(builder, value_nodes);
                    *self.path = saved;
                }
                Some(binding) if takes_this_object(binding.role, value_nodes) => {
                    builder.offer(binding, path_key(self.path), to_value(value_nodes));
                }
                _ => {
                    self.path.push('.');
                    self.walk_object(builder, value_nodes);
                }
            },
            (Some(Node::Array { .. }), Some(Binding { role: Role::OtlpAttributes, .. })) => {
                let saved = std::mem::take(self.path);
                self.path.push_str(if saved.starts_with("resource") { "resource." } else { "" });
                self.visit_otlp_attributes(builder, to_value(value_nodes));
                *self.path = saved;
            }
            (_, Some(binding)) if !matches!(binding.role, Role::Container(_) | Role::OtlpAttributes) => {
                builder.offer(binding, path_key(self.path), to_value(value_nodes));
            }
            _ => {
                builder.attributes.push((path_key(self.path), to_value(value_nodes)));
            }
        }
        self.path.truncate(prefix_len);
    }

    /// OTLP/JSON `[{"key": k, "value": AnyValue}]` into attributes at the current prefix.
    fn visit_otlp_attributes<'a>(&mut self, builder: &mut Builder<'a>, list: Value<'a>) {
        let Value::Array(items) = list else { return };
        let prefix_len = self.path.len();
        for item in items {
            let Some((key, value)) = otlp_key_value(item) else { continue };
            self.path.push_str(&key);
            let full = Cow::Owned(self.path.clone());
            match self.plan.lookup(self.path) {
                Some(binding) if slot_of(binding.role).is_some() || matches!(binding.role, Role::Declared(_)) => {
                    builder.offer(binding, full, value);
                }
                _ => builder.attributes.push((full, value)),
            }
            self.path.truncate(prefix_len);
        }
    }
}

/// Whether a role takes this object whole (rather than its members being
/// flattened): a time object must have seconds, a message object must be an
/// OTLP `AnyValue`. ECS's `"log": {"level": …}` is not a message.
fn takes_this_object(role: Role, nodes: &[Node<'_>]) -> bool {
    let mut keys = object_keys(nodes);
    match role {
        Role::Timestamp(_) => keys.any(|k| k == "seconds" || k == "epochSecond"),
        Role::Message => {
            let first = keys.next();
            first.is_some_and(|k| k.ends_with("Value")) && keys.next().is_none()
        }
        _ => false,
    }
}

/// The keys of a tape object.
fn object_keys<'n, 'a>(nodes: &'n [Node<'a>]) -> impl Iterator<Item = &'a str> + 'n {
    let len = match nodes.first() {
        Some(Node::Object { len, .. }) => *len,
        _ => 0,
    };
    let mut index = 1;
    (0..len).filter_map(move |_| {
        let key = match nodes.get(index) {
            Some(Node::String(k)) => Some(*k),
            _ => None,
        };
        index += 1;
        index += nodes.get(index).map_or(1, node_count);
        key
    })
}

/// One OTLP/JSON `KeyValue`, `{"key": k, "value": AnyValue}`, unwrapped.
fn otlp_key_value(item: Value<'_>) -> Option<(Cow<'_, str>, Value<'_>)> {
    let Value::Object(entries) = item else { return None };
    let mut key = None;
    let mut value = Value::Null;
    for (k, v) in entries {
        match (&*k, v) {
            ("key", Value::String(s)) => key = Some(s),
            ("value", v) => value = otlp_any_value(v),
            _ => {}
        }
    }
    Some((key?, value))
}

/// OTLP/JSON `AnyValue` (`{"stringValue": "x"}`, `{"intValue": "5"}`, …) to a plain value.
fn otlp_any_value(value: Value<'_>) -> Value<'_> {
    let Value::Object(mut entries) = value else { return value };
    if entries.len() != 1 {
        return Value::Object(entries);
    }
    let Some((kind, inner)) = entries.pop() else { return Value::Null };
    match (&*kind, inner) {
        ("intValue", Value::String(s)) => s.parse::<i64>().map_or(Value::String(s), Value::I64),
        ("stringValue" | "boolValue" | "intValue" | "doubleValue" | "bytesValue", v) => v,
        ("arrayValue", Value::Object(mut fields)) => match fields.pop() {
            Some((_, Value::Array(items))) => Value::Array(items.into_iter().map(otlp_any_value).collect()),
            _ => Value::Array(Vec::new()),
        },
        ("kvlistValue", Value::Object(mut fields)) => match fields.pop() {
            Some((_, Value::Array(items))) => Value::Object(items.into_iter().filter_map(otlp_key_value).collect()),
            _ => Value::Object(Vec::new()),
        },
        (kind, inner) => Value::Object(vec![(Cow::Owned(kind.to_owned()), inner)]),
    }
}
