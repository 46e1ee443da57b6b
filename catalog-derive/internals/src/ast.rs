//! The struct as read, and the table it declares once checked.

use catalog_core::{ColumnSpec, TableSpec};
use proc_macro2::Span;

use crate::Errors;
use crate::attr::{self, ColumnAttrs, TableAttrs};

/// A `#[derive(Table)]` struct as written, before any rule is checked.
pub struct Input<'a> {
    /// The struct's name.
    pub ident: &'a syn::Ident,
    /// Its generics; a table must have none.
    pub generics: &'a syn::Generics,
    /// Its `///` doc comment.
    pub doc: String,
    /// Its `#[table(..)]` keys.
    pub attrs: TableAttrs,
    /// Its named fields, in order.
    pub fields: Vec<Field<'a>>,
}

/// A field as written.
pub struct Field<'a> {
    /// The field's name.
    pub ident: &'a syn::Ident,
    /// The field's type.
    pub ty: &'a syn::Type,
    /// Its `///` doc comment.
    pub doc: String,
    /// Its `#[column(..)]` keys.
    pub attrs: ColumnAttrs,
}

impl<'a> Input<'a> {
    /// Reads a struct with named fields; anything else is reported and gives `None`.
    pub fn from_syn(input: &'a syn::DeriveInput, errors: &mut Errors) -> Option<Self> {
        // Attributes are read even when the shape is wrong, so their mistakes are reported too.
        let attrs = attr::table_attrs(&input.attrs, errors);
        let named = match &input.data {
            syn::Data::Struct(syn::DataStruct {
                fields: syn::Fields::Named(named),
                ..
            }) => named,
            syn::Data::Struct(data) => {
                let shape = if matches!(data.fields, syn::Fields::Unit) {
                    "a unit struct"
                } else {
                    "a tuple struct"
                };
                errors.push(
                    input.ident.span(),
                    format!("`#[derive(Table)]` needs named fields, one per column, but `{}` is {shape}", input.ident),
                );
                return None;
            }
            syn::Data::Enum(data) => {
                errors.push(data.enum_token.span, "`#[derive(Table)]` works on structs, not enums: a table is a struct whose fields are its columns".into());
                return None;
            }
            syn::Data::Union(data) => {
                errors.push(data.union_token.span, "`#[derive(Table)]` works on structs, not unions: a table is a struct whose fields are its columns".into());
                return None;
            }
        };
        let fields = named
            .named
            .iter()
            .filter_map(|field| {
                Some(Field {
                    ident: field.ident.as_ref()?,
                    ty: &field.ty,
                    doc: doc_comment(&field.attrs),
                    attrs: attr::column_attrs(&field.attrs, errors),
                })
            })
            .collect();
        Some(Self {
            ident: &input.ident,
            generics: &input.generics,
            doc: doc_comment(&input.attrs),
            attrs,
            fields,
        })
    }

    /// Where to point errors about the whole `#[table(..)]`.
    pub fn table_span(&self) -> Span {
        self.attrs.span.unwrap_or_else(|| self.ident.span())
    }
}

/// A checked table: its spec, and the fields that produce its columns.
#[derive(Clone)]
pub struct TableDef {
    /// The struct's name.
    pub ident: syn::Ident,
    /// The spec; `rust_type` holds the struct's name only (the derive prefixes
    /// `module_path!()`, xtask the module it found the struct in).
    pub spec: TableSpec,
    /// One per column, in order.
    pub fields: Vec<FieldDef>,
    /// A view's `.sql` file, absolute: the derive makes the compiler track it.
    pub sql_path: Option<std::path::PathBuf>,
}

/// A checked field.
#[derive(Clone)]
pub struct FieldDef {
    /// The field's name.
    pub ident: syn::Ident,
    /// The field's type.
    pub ty: syn::Type,
    /// The constant naming the column, e.g. `P_PARTKEY`.
    pub constant: syn::Ident,
    /// The column it declares; the same as `TableDef::spec.columns[i]`.
    pub column: ColumnSpec,
}

/// The constant that names a field's column: `p_partkey` → `P_PARTKEY`, `r#type` → `TYPE`.
pub fn column_constant(field: &syn::Ident) -> String {
    syn::ext::IdentExt::unraw(field).to_string().to_uppercase()
}

/// The string of a `#[name = "…"]` attribute, such as `#[doc = "…"]` or `#[path = "…"]`.
pub fn string_value(attr: &syn::Attribute) -> Option<String> {
    match &attr.meta {
        syn::Meta::NameValue(syn::MetaNameValue {
            value:
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(text),
                    ..
                }),
            ..
        }) => Some(text.value()),
        _ => None,
    }
}

/// The `///` comment of an item: lines joined, one leading space stripped, trimmed.
pub fn doc_comment(attrs: &[syn::Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(string_value)
        .map(|line| {
            line.strip_prefix(' ')
                .map(str::to_owned)
                .unwrap_or(line)
                .trim_end()
                .to_owned()
        })
        .collect();
    lines.join("\n").trim().to_owned()
}
