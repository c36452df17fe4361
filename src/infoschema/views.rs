//! The views of INFORMATION_SCHEMA and their columns: names, types (only `STRING` and `INT`)
//! and nullability as Confluent Cloud documents them, in the order Confluent's own service
//! declares them (what `SELECT *` returns).
//!
//! `TABLES.IS_MATERIALIZED` is not on the documentation page but dbt-confluent 0.4.1 reads it
//! (to tell a materialized table from a table); the gateway has no materialized tables, so it
//! is always `NO`.

/// A column's type: the documentation allows only these two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// `STRING`.
    Str,
    /// `INT`.
    Int,
}

/// One column of a view.
#[derive(Debug, Clone, Copy)]
pub struct ColumnDef {
    /// Its name (upper case, as documented).
    pub name: &'static str,
    /// Its type.
    pub ty: Ty,
    /// Whether it may be NULL.
    pub nullable: bool,
}

/// One view.
#[derive(Debug)]
pub struct View {
    /// Its name.
    pub name: &'static str,
    /// Whether it is global (every catalog's INFORMATION_SCHEMA has the same rows, across
    /// catalogs): only `CATALOGS`.
    pub global: bool,
    /// Its columns, in order.
    pub columns: &'static [ColumnDef],
}

const fn s(name: &'static str) -> ColumnDef {
    ColumnDef {
        name,
        ty: Ty::Str,
        nullable: false,
    }
}
const fn s_null(name: &'static str) -> ColumnDef {
    ColumnDef {
        name,
        ty: Ty::Str,
        nullable: true,
    }
}
const fn i(name: &'static str) -> ColumnDef {
    ColumnDef {
        name,
        ty: Ty::Int,
        nullable: false,
    }
}
const fn i_null(name: &'static str) -> ColumnDef {
    ColumnDef {
        name,
        ty: Ty::Int,
        nullable: true,
    }
}

const CATALOG_COLUMNS: &[ColumnDef] = &[s("CATALOG_ID"), s("CATALOG_NAME")];
const SCHEMATA_COLUMNS: &[ColumnDef] = &[
    s("CATALOG_ID"),
    s("CATALOG_NAME"),
    s("SCHEMA_ID"),
    s("SCHEMA_NAME"),
];

/// Every view, `DATABASES` being `SCHEMATA` by another name.
pub const VIEWS: &[View] = &[
    View {
        name: "CATALOGS",
        global: true,
        columns: CATALOG_COLUMNS,
    },
    View {
        name: "INFORMATION_SCHEMA_CATALOG_NAME",
        global: false,
        columns: CATALOG_COLUMNS,
    },
    View {
        name: "SCHEMATA",
        global: false,
        columns: SCHEMATA_COLUMNS,
    },
    View {
        name: "DATABASES",
        global: false,
        columns: SCHEMATA_COLUMNS,
    },
    View {
        name: "TABLES",
        global: false,
        columns: &[
            s("TABLE_CATALOG_ID"),
            s("TABLE_CATALOG"),
            s("TABLE_SCHEMA_ID"),
            s("TABLE_SCHEMA"),
            s("TABLE_NAME"),
            s("TABLE_TYPE"),
            s("IS_DISTRIBUTED"),
            s_null("DISTRIBUTION_ALGORITHM"),
            i_null("DISTRIBUTION_BUCKETS"),
            s("IS_WATERMARKED"),
            s_null("WATERMARK_COLUMN"),
            s_null("WATERMARK_EXPRESSION"),
            s_null("WATERMARK_IS_HIDDEN"),
            s_null("COMMENT"),
            s("IS_MATERIALIZED"),
        ],
    },
    View {
        name: "TABLE_OPTIONS",
        global: false,
        columns: &[
            s("TABLE_CATALOG_ID"),
            s("TABLE_CATALOG"),
            s("TABLE_SCHEMA_ID"),
            s("TABLE_SCHEMA"),
            s("TABLE_NAME"),
            s("OPTION_KEY"),
            s("OPTION_VALUE"),
        ],
    },
    View {
        name: "COLUMNS",
        global: false,
        columns: &[
            s("TABLE_CATALOG_ID"),
            s("TABLE_CATALOG"),
            s("TABLE_SCHEMA_ID"),
            s("TABLE_SCHEMA"),
            s("TABLE_NAME"),
            s("COLUMN_NAME"),
            i("ORDINAL_POSITION"),
            s("IS_NULLABLE"),
            s("DATA_TYPE"),
            s("FULL_DATA_TYPE"),
            s("IS_HIDDEN"),
            s("IS_GENERATED"),
            s_null("GENERATION_EXPRESSION"),
            s("IS_METADATA"),
            s_null("METADATA_KEY"),
            s("IS_PERSISTED"),
            i_null("DISTRIBUTION_ORDINAL_POSITION"),
            s_null("COMMENT"),
        ],
    },
    View {
        name: "TABLE_CONSTRAINTS",
        global: false,
        columns: &[
            s("CONSTRAINT_CATALOG_ID"),
            s("CONSTRAINT_CATALOG"),
            s("CONSTRAINT_SCHEMA_ID"),
            s("CONSTRAINT_SCHEMA"),
            s("CONSTRAINT_NAME"),
            s("TABLE_CATALOG_ID"),
            s("TABLE_CATALOG"),
            s("TABLE_SCHEMA_ID"),
            s("TABLE_SCHEMA"),
            s("TABLE_NAME"),
            s("CONSTRAINT_TYPE"),
            s("ENFORCED"),
        ],
    },
    View {
        name: "KEY_COLUMN_USAGE",
        global: false,
        columns: &[
            s("CONSTRAINT_CATALOG_ID"),
            s("CONSTRAINT_CATALOG"),
            s("CONSTRAINT_SCHEMA_ID"),
            s("CONSTRAINT_SCHEMA"),
            s("CONSTRAINT_NAME"),
            s("TABLE_CATALOG_ID"),
            s("TABLE_CATALOG"),
            s("TABLE_SCHEMA_ID"),
            s("TABLE_SCHEMA"),
            s("TABLE_NAME"),
            s("COLUMN_NAME"),
            i("ORDINAL_POSITION"),
        ],
    },
];

/// The view called `name` (exact, case-sensitive, as Flink names are).
pub fn find(name: &str) -> Option<&'static View> {
    VIEWS.iter().find(|v| v.name == name)
}

/// Every view's name.
pub fn names() -> Vec<&'static str> {
    VIEWS.iter().map(|v| v.name).collect()
}

/// Whether a view's rows describe tables (and so need the catalog's tables listed).
pub(crate) fn needs_tables(view: &str) -> bool {
    matches!(
        view,
        "TABLES" | "TABLE_OPTIONS" | "COLUMNS" | "TABLE_CONSTRAINTS" | "KEY_COLUMN_USAGE"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_view_is_there_with_unique_columns() {
        for v in VIEWS {
            let mut names: Vec<_> = v.columns.iter().map(|c| c.name).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), v.columns.len(), "{}", v.name);
        }
        for name in [
            "CATALOGS",
            "COLUMNS",
            "INFORMATION_SCHEMA_CATALOG_NAME",
            "KEY_COLUMN_USAGE",
            "SCHEMATA",
            "DATABASES",
            "TABLES",
            "TABLE_CONSTRAINTS",
            "TABLE_OPTIONS",
        ] {
            assert!(find(name).is_some(), "{name}");
        }
        assert!(find("tables").is_none(), "names are case-sensitive");
    }
}
