//! The part of Postgres's `pg_catalog` that clients read on connect and that
//! psql reads for `\dt`, `\d TABLE`, `\dn` and `\l`: its tables, filled from the
//! declared catalog (tables, columns, docs as comments, views' SQL), and the
//! functions those queries call (in `functions.rs`). Tables psql reads that codelake has no use for
//! (indexes, constraints, triggers, policies, publications) are there, empty,
//! so that its queries plan.
//!
//! Object ids are stable for a catalog: namespaces and tables are numbered in
//! the catalog's order, from 16384 as Postgres numbers user objects.

use std::collections::HashMap;
use std::sync::Arc;

use catalog_core::TableSpec;
use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList,
    MemorySchemaProvider, SchemaProvider,
};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};

use crate::encode::{pg_type, type_modifier, type_size};

/// The schema Postgres keeps its catalog in.
pub const SCHEMA: &str = "pg_catalog";

/// The version clients are told, which picks the catalog queries psql sends.
pub const SERVER_VERSION: &str = "15.0";

/// The one role: every client acts as it.
pub(crate) const ROLE: &str = "codelake";
const ROLE_OID: i32 = 10;
const PG_CATALOG_OID: i32 = 11;
const PUBLIC_OID: i32 = 2200;
const INFORMATION_SCHEMA_OID: i32 = 13000;
const FIRST_USER_OID: i32 = 16384;
/// Access methods (source kinds) are numbered from here, below user objects.
const FIRST_ACCESS_METHOD: i32 = 9000;
/// `pg_class`'s own oid: `pg_description.classoid` of a table's comment.
const PG_CLASS_OID: i32 = 1259;

/// The Postgres types the catalog uses: oid, name, length.
pub(crate) const TYPES: &[(i32, &str, i16)] = &[
    (16, "bool", 1),
    (17, "bytea", -1),
    (18, "char", 1),
    (19, "name", 64),
    (20, "int8", 8),
    (21, "int2", 2),
    (23, "int4", 4),
    (25, "text", -1),
    (26, "oid", 4),
    (700, "float4", 4),
    (701, "float8", 8),
    (1043, "varchar", -1),
    (1082, "date", 4),
    (1083, "time", 8),
    (1114, "timestamp", 8),
    (1184, "timestamptz", 8),
    (1700, "numeric", -1),
];

/// The tables of pg_catalog filled from the catalog.
pub const FILLED_TABLES: &[&str] = &[
    "pg_namespace",
    "pg_class",
    "pg_attribute",
    "pg_type",
    "pg_description",
    "pg_am",
    "pg_database",
    "pg_roles",
    "pg_authid",
    "pg_tablespace",
];

/// The tables of pg_catalog psql reads that are empty here: codelake has no
/// indexes, constraints, defaults, inheritance, triggers, rules, policies,
/// statistics objects, publications, collations beyond the default, foreign
/// tables, partitions, sequences, extensions, functions or enums.
pub const EMPTY_TABLES: &[&str] = &[
    "pg_index",
    "pg_constraint",
    "pg_attrdef",
    "pg_inherits",
    "pg_trigger",
    "pg_rewrite",
    "pg_policy",
    "pg_statistic_ext",
    "pg_publication",
    "pg_publication_rel",
    "pg_publication_namespace",
    "pg_collation",
    "pg_foreign_table",
    "pg_partitioned_table",
    "pg_sequence",
    "pg_extension",
    "pg_proc",
    "pg_event_trigger",
    "pg_enum",
    "pg_range",
    "pg_auth_members",
];

/// A table's or a column's comment: (object, column number or 0) → text.
/// Text by `(object, sub-object)`: a table's doc at column 0, a column's at
/// its number, a view's SQL at [`VIEW_DEFINITION`].
pub(crate) type Comments = HashMap<(i64, i64), String>;

/// The sub-object under which a view's SQL is kept, for `pg_get_viewdef`.
pub(crate) const VIEW_DEFINITION: i64 = -1;

/// `state` with `pg_catalog` and `information_schema` beside the catalog's
/// databases, and the functions Postgres clients call.
pub fn extend(state: &SessionState, catalog: &[TableSpec]) -> SessionState {
    let default_catalog = state.config_options().catalog.default_catalog.clone();
    let mut config = state.config().clone();
    config.options_mut().catalog.information_schema = true;
    // The same schemas (the catalog's tables, shared), plus pg_catalog, in a
    // catalog list of this front end's own.
    let wrapped = MemoryCatalogProvider::new();
    if let Some(inner) = state.catalog_list().catalog(&default_catalog) {
        for name in inner.schema_names() {
            if let Some(schema) = inner.schema(&name) {
                let _ = wrapped.register_schema(&name, schema);
            }
        }
    }
    let (tables, comments) = tables(catalog, &default_catalog);
    let _ = wrapped.register_schema(SCHEMA, tables);
    let list = MemoryCatalogProviderList::new();
    list.register_catalog(default_catalog.clone(), Arc::new(wrapped));
    let mut builder = SessionStateBuilder::new_from_existing(state.clone())
        .with_config(config)
        .with_catalog_list(Arc::new(list));
    let functions = builder.scalar_functions().get_or_insert_with(Vec::new);
    functions.extend(crate::functions::udfs(&default_catalog, Arc::new(comments)));
    builder.build()
}

/// The `pg_catalog` schema for `catalog`, and the comments its tables carry.
fn tables(catalog: &[TableSpec], database: &str) -> (Arc<dyn SchemaProvider>, Comments) {
    use ScalarValue as V;
    let text = |value: &str| V::Utf8(Some(value.to_owned()));
    let oid = |value: i32| V::Int32(Some(value));
    let small = |value: i16| V::Int16(Some(value));
    let flag = |value: bool| V::Boolean(Some(value));
    let none = V::Utf8(None);

    let mut databases: Vec<&str> = catalog.iter().map(|spec| &*spec.database).collect();
    databases.dedup();
    databases.sort_unstable();
    databases.dedup();
    let namespace_oid =
        |name: &str| FIRST_USER_OID + databases.iter().position(|d| *d == name).unwrap_or(0) as i32;

    let mut namespaces = vec![
        vec![
            oid(PG_CATALOG_OID),
            text(SCHEMA),
            oid(ROLE_OID),
            none.clone(),
        ],
        vec![oid(PUBLIC_OID), text("public"), oid(ROLE_OID), none.clone()],
        vec![
            oid(INFORMATION_SCHEMA_OID),
            text("information_schema"),
            oid(ROLE_OID),
            none.clone(),
        ],
    ];
    for name in &databases {
        namespaces.push(vec![
            oid(namespace_oid(name)),
            text(name),
            oid(ROLE_OID),
            none.clone(),
        ]);
    }

    // Each source kind is an "access method", so psql's `\dt+` shows it.
    let mut sources: Vec<&str> = catalog.iter().map(|spec| &*spec.source).collect();
    sources.sort_unstable();
    sources.dedup();
    let access_method = |source: &str| {
        FIRST_ACCESS_METHOD + sources.iter().position(|s| *s == source).unwrap_or(0) as i32
    };
    let first_table = FIRST_USER_OID + databases.len() as i32;
    let mut classes = Vec::new();
    let mut attributes = Vec::new();
    let mut descriptions = Vec::new();
    let mut comments = Comments::new();
    for (index, spec) in catalog.iter().enumerate() {
        let relation = first_table + index as i32;
        let schema = spec.query_schema();
        classes.push(vec![
            oid(relation),
            text(&spec.name),
            oid(namespace_oid(&spec.database)),
            oid(0),
            oid(0),
            oid(ROLE_OID),
            oid(access_method(&spec.source)),
            oid(0),
            oid(0),
            V::Int32(Some(0)),
            V::Float32(Some(-1.0)),
            oid(0),
            flag(false),
            flag(false),
            text("p"),
            // psql's `\dv` and `\dm` list views and materialized views, `\dt` the rest.
            text(match &spec.view {
                Some(view) if view.materialize.is_some() => "m",
                Some(_) => "v",
                None => "r",
            }),
            small(schema.fields().len() as i16),
            small(0),
            flag(false),
            flag(false),
            flag(false),
            flag(false),
            flag(false),
            flag(false),
            flag(true),
            text("d"),
            none.clone(),
            none.clone(),
            none.clone(),
        ]);
        if let Some(view) = &spec.view {
            comments.insert((i64::from(relation), VIEW_DEFINITION), view.sql.to_string());
        }
        if !spec.doc.is_empty() {
            comments.insert((i64::from(relation), 0), spec.doc.to_string());
            descriptions.push(vec![
                oid(relation),
                oid(PG_CLASS_OID),
                V::Int32(Some(0)),
                text(&spec.doc),
            ]);
        }
        for (position, field) in schema.fields().iter().enumerate() {
            let number = position as i16 + 1;
            let pg = pg_type(field.data_type());
            let not_null = spec
                .columns
                .iter()
                .find(|column| *column.name == **field.name())
                .map_or(!field.is_nullable(), |column| !column.nullable);
            attributes.push(vec![
                oid(relation),
                text(field.name()),
                oid(pg.oid() as i32),
                V::Int32(Some(-1)),
                small(type_size(&pg)),
                small(number),
                V::Int32(Some(0)),
                V::Int32(Some(type_modifier(field.data_type()))),
                flag(type_size(&pg) > 0),
                // Postgres keeps fixed-width values plain, the others extended.
                text(if type_size(&pg) > 0 { "p" } else { "x" }),
                text(""),
                flag(not_null),
                flag(false),
                flag(false),
                text(""),
                text(""),
                flag(false),
                flag(true),
                V::Int32(Some(0)),
                oid(0),
                none.clone(),
                none.clone(),
            ]);
            if let Some(column) = spec.columns.iter().find(|c| *c.name == **field.name())
                && !column.doc.is_empty()
            {
                comments.insert(
                    (i64::from(relation), i64::from(number)),
                    column.doc.to_string(),
                );
                descriptions.push(vec![
                    oid(relation),
                    oid(PG_CLASS_OID),
                    V::Int32(Some(i32::from(number))),
                    text(&column.doc),
                ]);
            }
        }
    }

    let types: Vec<Vec<ScalarValue>> = TYPES
        .iter()
        .map(|(type_oid, name, length)| {
            vec![
                oid(*type_oid),
                text(name),
                oid(PG_CATALOG_OID),
                oid(ROLE_OID),
                small(*length),
                flag(*length > 0 && *length <= 8),
                text("b"),
                text("U"),
                flag(true),
                text(","),
                oid(0),
                oid(0),
                oid(0),
                oid(0),
                V::Int32(Some(-1)),
                flag(false),
                oid(0),
            ]
        })
        .collect();

    let schema = MemorySchemaProvider::new();
    let register = |name: &str, columns: &[(&str, DataType)], rows: Vec<Vec<ScalarValue>>| {
        let table = mem_table(columns, rows);
        let _ = schema.register_table(name.to_owned(), Arc::new(table));
    };
    use DataType::{Boolean as B, Float32 as F, Int16 as S, Int32 as I, Utf8 as T};
    register(
        "pg_namespace",
        &[("oid", I), ("nspname", T), ("nspowner", I), ("nspacl", T)],
        namespaces,
    );
    register(
        "pg_class",
        &[
            ("oid", I),
            ("relname", T),
            ("relnamespace", I),
            ("reltype", I),
            ("reloftype", I),
            ("relowner", I),
            ("relam", I),
            ("relfilenode", I),
            ("reltablespace", I),
            ("relpages", I),
            ("reltuples", F),
            ("reltoastrelid", I),
            ("relhasindex", B),
            ("relisshared", B),
            ("relpersistence", T),
            ("relkind", T),
            ("relnatts", S),
            ("relchecks", S),
            ("relhasrules", B),
            ("relhastriggers", B),
            ("relhassubclass", B),
            ("relrowsecurity", B),
            ("relforcerowsecurity", B),
            ("relispartition", B),
            ("relispopulated", B),
            ("relreplident", T),
            ("reloptions", T),
            ("relacl", T),
            ("relpartbound", T),
        ],
        classes,
    );
    register(
        "pg_attribute",
        &[
            ("attrelid", I),
            ("attname", T),
            ("atttypid", I),
            ("attstattarget", I),
            ("attlen", S),
            ("attnum", S),
            ("attndims", I),
            ("atttypmod", I),
            ("attbyval", B),
            ("attstorage", T),
            ("attcompression", T),
            ("attnotnull", B),
            ("atthasdef", B),
            ("atthasmissing", B),
            ("attidentity", T),
            ("attgenerated", T),
            ("attisdropped", B),
            ("attislocal", B),
            ("attinhcount", I),
            ("attcollation", I),
            ("attacl", T),
            ("attoptions", T),
        ],
        attributes,
    );
    register(
        "pg_type",
        &[
            ("oid", I),
            ("typname", T),
            ("typnamespace", I),
            ("typowner", I),
            ("typlen", S),
            ("typbyval", B),
            ("typtype", T),
            ("typcategory", T),
            ("typisdefined", B),
            ("typdelim", T),
            ("typrelid", I),
            ("typelem", I),
            ("typarray", I),
            ("typbasetype", I),
            ("typtypmod", I),
            ("typnotnull", B),
            ("typcollation", I),
        ],
        types,
    );
    register(
        "pg_description",
        &[
            ("objoid", I),
            ("classoid", I),
            ("objsubid", I),
            ("description", T),
        ],
        descriptions,
    );
    register(
        "pg_am",
        &[("oid", I), ("amname", T), ("amtype", T)],
        sources
            .iter()
            .map(|source| vec![oid(access_method(source)), text(source), text("t")])
            .collect(),
    );
    register(
        "pg_database",
        &[
            ("oid", I),
            ("datname", T),
            ("datdba", I),
            ("encoding", I),
            ("datcollate", T),
            ("datctype", T),
            ("daticulocale", T),
            ("datlocprovider", T),
            ("datistemplate", B),
            ("datallowconn", B),
            ("datconnlimit", I),
            ("dattablespace", I),
            ("datacl", T),
        ],
        vec![vec![
            oid(1),
            text(database),
            oid(ROLE_OID),
            V::Int32(Some(6)),
            text("C"),
            text("C"),
            none.clone(),
            text("c"),
            flag(false),
            flag(true),
            V::Int32(Some(-1)),
            oid(1663),
            none.clone(),
        ]],
    );
    let role_columns: &[(&str, DataType)] = &[
        ("oid", I),
        ("rolname", T),
        ("rolsuper", B),
        ("rolinherit", B),
        ("rolcreaterole", B),
        ("rolcreatedb", B),
        ("rolcanlogin", B),
        ("rolreplication", B),
        ("rolbypassrls", B),
        ("rolconnlimit", I),
        ("rolvaliduntil", T),
        ("rolconfig", T),
    ];
    let role = vec![vec![
        oid(ROLE_OID),
        text(ROLE),
        flag(false),
        flag(true),
        flag(false),
        flag(false),
        flag(true),
        flag(false),
        flag(false),
        V::Int32(Some(-1)),
        none.clone(),
        none.clone(),
    ]];
    register("pg_roles", role_columns, role.clone());
    register("pg_authid", role_columns, role);
    register(
        "pg_tablespace",
        &[("oid", I), ("spcname", T), ("spcowner", I)],
        vec![vec![oid(1663), text("pg_default"), oid(ROLE_OID)]],
    );
    let empty: &[(&str, &[(&str, DataType)])] = &[
        (
            "pg_index",
            &[
                ("indexrelid", I),
                ("indrelid", I),
                ("indisprimary", B),
                ("indisunique", B),
            ],
        ),
        (
            "pg_constraint",
            &[
                ("oid", I),
                ("conname", T),
                ("conrelid", I),
                ("contype", T),
                ("conparentid", I),
                ("confrelid", I),
            ],
        ),
        (
            "pg_attrdef",
            &[("oid", I), ("adrelid", I), ("adnum", S), ("adbin", T)],
        ),
        (
            "pg_inherits",
            &[
                ("inhrelid", I),
                ("inhparent", I),
                ("inhseqno", I),
                ("inhdetachpending", B),
            ],
        ),
        (
            "pg_trigger",
            &[
                ("oid", I),
                ("tgrelid", I),
                ("tgname", T),
                ("tgisinternal", B),
                ("tgenabled", T),
                ("tgparentid", I),
            ],
        ),
        (
            "pg_rewrite",
            &[
                ("oid", I),
                ("rulename", T),
                ("ev_class", I),
                ("ev_type", T),
                ("ev_enabled", T),
            ],
        ),
        (
            "pg_policy",
            &[
                ("oid", I),
                ("polname", T),
                ("polrelid", I),
                ("polcmd", T),
                ("polpermissive", B),
                ("polroles", T),
                ("polqual", T),
                ("polwithcheck", T),
            ],
        ),
        (
            "pg_statistic_ext",
            &[
                ("oid", I),
                ("stxrelid", I),
                ("stxname", T),
                ("stxnamespace", I),
                ("stxkeys", T),
                ("stxkind", T),
                ("stxstattarget", I),
            ],
        ),
        (
            "pg_publication",
            &[
                ("oid", I),
                ("pubname", T),
                ("puballtables", B),
                ("pubviaroot", B),
            ],
        ),
        (
            "pg_publication_rel",
            &[
                ("oid", I),
                ("prpubid", I),
                ("prrelid", I),
                ("prqual", T),
                ("prattrs", T),
            ],
        ),
        (
            "pg_publication_namespace",
            &[("oid", I), ("pnpubid", I), ("pnnspid", I)],
        ),
        (
            "pg_collation",
            &[("oid", I), ("collname", T), ("collnamespace", I)],
        ),
        (
            "pg_foreign_table",
            &[("ftrelid", I), ("ftserver", I), ("ftoptions", T)],
        ),
        (
            "pg_partitioned_table",
            &[("partrelid", I), ("partstrat", T)],
        ),
        ("pg_sequence", &[("seqrelid", I)]),
        (
            "pg_extension",
            &[
                ("oid", I),
                ("extname", T),
                ("extnamespace", I),
                ("extversion", T),
            ],
        ),
        (
            "pg_proc",
            &[
                ("oid", I),
                ("proname", T),
                ("pronamespace", I),
                ("prokind", T),
                ("prorettype", I),
            ],
        ),
        ("pg_event_trigger", &[("oid", I), ("evtname", T)]),
        (
            "pg_enum",
            &[
                ("oid", I),
                ("enumtypid", I),
                ("enumsortorder", F),
                ("enumlabel", T),
            ],
        ),
        ("pg_range", &[("rngtypid", I), ("rngsubtype", I)]),
        (
            "pg_auth_members",
            &[
                ("roleid", I),
                ("member", I),
                ("grantor", I),
                ("admin_option", B),
            ],
        ),
    ];
    debug_assert_eq!(
        empty.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        EMPTY_TABLES
    );
    for (name, columns) in empty {
        register(name, columns, Vec::new());
    }
    (Arc::new(schema), comments)
}

/// A table of `columns` holding `rows`.
fn mem_table(columns: &[(&str, DataType)], rows: Vec<Vec<ScalarValue>>) -> MemTable {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, data_type)| Field::new(*name, data_type.clone(), true))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .enumerate()
        .map(|(index, (_, data_type))| {
            let values = rows.iter().map(|row| row[index].clone());
            if rows.is_empty() {
                Ok(datafusion::arrow::array::new_empty_array(data_type))
            } else {
                ScalarValue::iter_to_array(values)
            }
        })
        .collect::<Result<_>>()
        .expect("the catalog's rows match its columns");
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays)
        .expect("the catalog's rows match its columns");
    MemTable::try_new(schema, vec![vec![batch]]).expect("one batch of the table's schema")
}
