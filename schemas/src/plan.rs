//! A schema compiled for the hot path: for each producer, one hash map from
//! a field path to what it means ([`Binding`]).
//!
//! Priority between names that feed the same field is a rank, lowest
//! first: the user's own aliases and declared fields, then the producer's
//! profile, then the default schema's generic aliases, then deprecated
//! names (so a record that sends both the old and the new name keeps the
//! new one).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use rustc_hash::FxHasher;

use crate::level::LevelConvention;
use crate::producer::{self, Producer, Role};
use crate::schema::{CanonicalField, FieldDecl, FieldType, Schema};
use crate::timestamp::EpochUnit;

type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// What one path means under one producer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Binding {
    pub(crate) role: Role,
    /// Lower wins when several paths feed one field.
    pub(crate) rank: u16,
    /// Set when the path is a deprecated name (index into [`Plan::deprecations`] of the compiled schema).
    pub(crate) deprecated: Option<u16>,
}

const RANK_USER: u16 = 0;
const RANK_PROFILE: u16 = 1_000;
const RANK_GENERIC: u16 = 2_000;
const RANK_DEPRECATED: u16 = 3_000;

/// The bindings for one producer.
pub(crate) struct Plan {
    bindings: FxHashMap<Box<str>, Binding>,
    /// A 4096-bit filter over (length, first byte, last byte) of every bound
    /// path. Most keys of a line are plain attributes with no binding; the
    /// filter turns those lookups away without hashing the key. (A full
    /// table indexed by this hash was tried and lost: 8 KiB of buckets per
    /// producer crowd the L1 cache.)
    filter: Box<[u64; 64]>,
    pub(crate) constant_service: Option<&'static str>,
}

#[inline]
fn filter_bit(path: &str) -> usize {
    let bytes = path.as_bytes();
    let first = usize::from(bytes.first().copied().unwrap_or(0));
    let last = usize::from(bytes.last().copied().unwrap_or(0));
    (bytes.len().wrapping_mul(0x9E37) ^ first.wrapping_mul(0x45) ^ last.wrapping_mul(0x1F3)) & 4095
}

impl Plan {
    fn new(bindings: FxHashMap<Box<str>, Binding>, constant_service: Option<&'static str>) -> Plan {
        let mut filter = Box::new([0u64; 64]);
        for path in bindings.keys() {
            let bit = filter_bit(path);
            filter[bit / 64] |= 1 << (bit % 64);
        }
        Plan { bindings, filter, constant_service }
    }

    #[inline]
    pub(crate) fn lookup(&self, path: &str) -> Option<Binding> {
        let bit = filter_bit(path);
        if self.filter[bit / 64] & (1 << (bit % 64)) == 0 {
            return None;
        }
        self.bindings.get(path).copied()
    }
}

/// A declared (non-canonical) field, as the normalizer needs it.
pub(crate) struct DeclaredField {
    pub(crate) name: Arc<str>,
    pub(crate) field_type: FieldType,
}

/// A deprecated name and where its values go.
#[derive(Clone, Debug)]
pub struct DeprecatedName {
    pub name: Arc<str>,
    pub replacement: String,
    pub sunset: String,
}

/// A field that every record must have.
pub(crate) enum RequiredField {
    Canonical(CanonicalField),
    Declared(u16),
}

/// A [`Schema`] turned into per-producer plans. Build once, share by `Arc`.
pub struct CompiledSchema {
    pub(crate) schema: Schema,
    plans: Vec<Plan>,
    pub(crate) declared: Vec<DeclaredField>,
    pub(crate) deprecations: Vec<DeprecatedName>,
    pub(crate) required: Vec<RequiredField>,
}

impl CompiledSchema {
    pub fn new(schema: Schema) -> CompiledSchema {
        let declared_decls: Vec<&FieldDecl> = schema.extra_fields().filter(|f| f.deprecated.is_none()).collect();
        let declared: Vec<DeclaredField> =
            declared_decls.iter().map(|f| DeclaredField { name: f.name.clone(), field_type: f.field_type }).collect();
        let role_of_name = |name: &str| -> Option<Role> {
            if let Some(canonical) = CanonicalField::from_name(name) {
                return Some(canonical_role(canonical));
            }
            declared.iter().position(|d| &*d.name == name).map(|i| Role::Declared(i as u16))
        };
        let deprecated_decls: Vec<&FieldDecl> = schema.fields.iter().filter(|f| f.deprecated.is_some()).collect();
        let deprecations: Vec<DeprecatedName> = deprecated_decls
            .iter()
            .filter_map(|f| {
                let d = f.deprecated.as_ref()?;
                Some(DeprecatedName {
                    name: f.name.clone(),
                    replacement: d.replacement.clone(),
                    sunset: d.sunset.clone(),
                })
            })
            .collect();
        let required = schema
            .fields
            .iter()
            .filter(|f| f.required)
            .filter_map(|f| match f.canonical() {
                Some(c) => Some(RequiredField::Canonical(c)),
                None => declared.iter().position(|d| d.name == f.name).map(|i| RequiredField::Declared(i as u16)),
            })
            .collect();

        let plans = Producer::ALL
            .into_iter()
            .map(|producer| {
                let profile = producer::profile(producer);
                let mut bindings: FxHashMap<Box<str>, Binding> = FxHashMap::default();
                let mut add = |path: &str, role: Role, rank: u16, deprecated: Option<u16>| {
                    bindings.entry(path.into()).or_insert(Binding { role, rank, deprecated });
                };
                for (canonical, aliases) in &schema.user_canonical_aliases {
                    for (i, alias) in aliases.iter().enumerate() {
                        add(alias, canonical_role(*canonical), RANK_USER + i as u16, None);
                    }
                }
                for (index, field) in declared_decls.iter().enumerate() {
                    let role = Role::Declared(index as u16);
                    add(&field.name, role, RANK_USER, None);
                    for (i, alias) in field.aliases.iter().enumerate() {
                        add(alias, role, RANK_USER + 1 + i as u16, None);
                    }
                }
                for (i, &(path, role)) in profile.paths.iter().enumerate() {
                    add(path, role, RANK_PROFILE + i as u16, None);
                }
                if profile.generic_aliases {
                    for field in schema.fields.iter() {
                        let Some(canonical) = field.canonical() else { continue };
                        let role = canonical_role(canonical);
                        add(&field.name, role, RANK_GENERIC, None);
                        for (i, alias) in field.aliases.iter().enumerate() {
                            add(alias, role, RANK_GENERIC + 1 + i as u16, None);
                        }
                    }
                }
                for (index, field) in deprecated_decls.iter().enumerate() {
                    let Some(role) = field.deprecated.as_ref().and_then(|d| role_of_name(&d.replacement)) else {
                        continue;
                    };
                    let index = Some(index as u16);
                    add(&field.name, role, RANK_DEPRECATED, index);
                    for (i, alias) in field.aliases.iter().enumerate() {
                        add(alias, role, RANK_DEPRECATED + 1 + i as u16, index);
                    }
                }
                Plan::new(bindings, profile.constant_service)
            })
            .collect();
        CompiledSchema { schema, plans, declared, deprecations, required }
    }

    pub(crate) fn plan(&self, producer: Producer) -> &Plan {
        &self.plans[producer.index()]
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The deprecated names this schema maps, in declaration order.
    pub fn deprecated_names(&self) -> &[DeprecatedName] {
        &self.deprecations
    }
}

/// The role generic names of a canonical field play.
fn canonical_role(field: CanonicalField) -> Role {
    match field {
        CanonicalField::Timestamp => Role::Timestamp(EpochUnit::Auto),
        CanonicalField::Level => Role::Level(LevelConvention::Generic),
        CanonicalField::SeverityNumber => Role::SeverityNumber,
        CanonicalField::Message => Role::Message,
        CanonicalField::Service => Role::Service,
        CanonicalField::Host => Role::Host,
        CanonicalField::TraceId => Role::TraceId,
        CanonicalField::SpanId => Role::SpanId,
    }
}
