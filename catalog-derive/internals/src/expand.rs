//! Code generation: the `Table` impl and the column constants.
//!
//! Every path is absolute (`::catalog_core`, `::std`) so the output means the
//! same in any module, whatever it has imported or shadowed.

use catalog_core::{Accelerate, ColumnSpec, ColumnType, Contract, TableSpec};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::ast::TableDef;

/// The impl of a valid table.
pub fn table_impl(def: &TableDef) -> TokenStream {
    let ident = &def.ident;
    let spec = spec_tokens(&def.spec);
    let constants = def.fields.iter().map(|field| {
        let (constant, name) = (&field.constant, &*field.column.name);
        let doc = format!("Column `{name}`: {}", first_line(&field.column.doc));
        quote! { #[doc = #doc] pub const #constant: &'static str = #name; }
    });
    let field_idents: Vec<_> = def.fields.iter().map(|field| &field.ident).collect();
    let field_types: Vec<_> = def.fields.iter().map(|field| &field.ty).collect();
    let iters: Vec<_> = (0..def.fields.len())
        .map(|i| format_ident!("__column_{}", i))
        .collect();
    let indices = 0..def.fields.len();
    // The compiler tracks files it includes: editing the SQL rebuilds the spec.
    let tracked = def.sql_path.as_ref().map(|path| {
        let path = path.to_string_lossy();
        quote! { const _: &str = ::std::include_str!(#path); }
    });

    quote! {
        const _: () = {
            static SPEC: ::catalog_core::TableSpec = #spec;
            #tracked

            #[automatically_derived]
            impl ::catalog_core::Table for #ident {
                const SPEC: &'static ::catalog_core::TableSpec = &SPEC;

                fn schema() -> ::catalog_core::arrow_schema::SchemaRef {
                    static SCHEMA: ::std::sync::OnceLock<::catalog_core::arrow_schema::SchemaRef> =
                        ::std::sync::OnceLock::new();
                    ::std::clone::Clone::clone(SCHEMA.get_or_init(|| {
                        ::std::sync::Arc::new(SPEC.arrow_schema())
                    }))
                }

                fn to_record_batch(
                    __rows: &[Self],
                ) -> ::catalog_core::Result<::catalog_core::arrow_array::RecordBatch> {
                    let __columns: ::std::vec::Vec<::catalog_core::arrow_array::ArrayRef> = ::std::vec::Vec::from([
                        #(
                            <#field_types as ::catalog_core::rows::ColumnValue>::to_array(
                                __rows.iter().map(|__row| &__row.#field_idents),
                            ),
                        )*
                    ]);
                    ::catalog_core::rows::__private::build_batch(
                        &SPEC,
                        <Self as ::catalog_core::Table>::schema(),
                        __columns,
                    )
                }

                fn from_record_batch(
                    __batch: &::catalog_core::arrow_array::RecordBatch,
                ) -> ::catalog_core::Result<::std::vec::Vec<Self>> {
                    #(
                        let mut #iters = ::std::iter::IntoIterator::into_iter(
                            ::catalog_core::rows::__private::read_column::<#field_types>(__batch, &SPEC, #indices)?,
                        );
                    )*
                    let mut __rows = ::std::vec::Vec::with_capacity(__batch.num_rows());
                    // Every column has `num_rows` values, so all iterators end together.
                    while let (#(::std::option::Option::Some(#field_idents),)*) = (#(#iters.next(),)*) {
                        __rows.push(Self { #(#field_idents,)* });
                    }
                    ::std::result::Result::Ok(__rows)
                }
            }

            #[automatically_derived]
            impl #ident {
                #(#constants)*
            }
        };
    }
}

/// What is emitted beside `compile_error!`: an impl that type-checks, so code
/// using the table reports no second error. It is never run.
pub fn stub_impl(input: &syn::DeriveInput) -> TokenStream {
    // A stub for a generic or non-struct type would need bounds we cannot know.
    let is_struct = matches!(input.data, syn::Data::Struct(_));
    if !input.generics.params.is_empty() || !is_struct {
        return TokenStream::new();
    }
    let ident = &input.ident;
    let mut seen = std::collections::BTreeSet::new();
    let constants = match &input.data {
        syn::Data::Struct(syn::DataStruct {
            fields: syn::Fields::Named(named),
            ..
        }) => named
            .named
            .iter()
            .filter_map(|field| field.ident.as_ref())
            .filter_map(|field| {
                let constant = crate::ast::column_constant(field);
                (constant != "SPEC" && seen.insert(constant.clone())).then(|| {
                    let constant = syn::Ident::new(&constant, field.span());
                    let name = syn::ext::IdentExt::unraw(field).to_string();
                    quote! { pub const #constant: &'static str = #name; }
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    quote! {
        const _: () = {
            #[automatically_derived]
            impl ::catalog_core::Table for #ident {
                const SPEC: &'static ::catalog_core::TableSpec = &::catalog_core::rows::__private::STUB_SPEC;
                fn schema() -> ::catalog_core::arrow_schema::SchemaRef {
                    ::std::unreachable!()
                }
                fn to_record_batch(_: &[Self]) -> ::catalog_core::Result<::catalog_core::arrow_array::RecordBatch> {
                    ::std::unreachable!()
                }
                fn from_record_batch(
                    _: &::catalog_core::arrow_array::RecordBatch,
                ) -> ::catalog_core::Result<::std::vec::Vec<Self>> {
                    ::std::unreachable!()
                }
            }
            #[automatically_derived]
            impl #ident {
                #(#constants)*
            }
        };
    }
}

fn first_line(doc: &str) -> &str {
    doc.lines().next().unwrap_or_default()
}

fn cow_str(text: &str) -> TokenStream {
    quote! { ::std::borrow::Cow::Borrowed(#text) }
}

fn option<T>(value: &Option<T>, tokens: impl FnOnce(&T) -> TokenStream) -> TokenStream {
    match value {
        Some(value) => {
            let inner = tokens(value);
            quote! { ::std::option::Option::Some(#inner) }
        }
        None => quote! { ::std::option::Option::None },
    }
}

/// The spec as a constant expression.
fn spec_tokens(spec: &TableSpec) -> TokenStream {
    let database = cow_str(&spec.database);
    let name = cow_str(&spec.name);
    let doc = cow_str(&spec.doc);
    let rust_type = format!("::{}", spec.rust_type);
    let source = cow_str(&spec.source);
    let options = spec.options.iter().map(|option| {
        let (key, value) = (cow_str(&option.key), cow_str(&option.value));
        quote! { ::catalog_core::SourceOption { key: #key, value: #value } }
    });
    let owner = option(&spec.owner, |owner| cow_str(owner));
    let expectations = &spec.expectations;
    let freshness = option(&expectations.freshness, |freshness| {
        let (text, seconds) = (cow_str(&freshness.text), freshness.seconds);
        quote! { ::catalog_core::Freshness { text: #text, seconds: #seconds } }
    });
    let freshness_column = option(&expectations.freshness_column, |column| cow_str(column));
    let min_rows = option(&expectations.min_rows, |min| quote! { #min });
    let max_rows = option(&expectations.max_rows, |max| quote! { #max });
    let columns = spec.columns.iter().map(column_tokens);
    let view = option(&spec.view, |view| {
        let (sql, file) = (cow_str(&view.sql), cow_str(&view.file));
        let materialize = option(&view.materialize, |location| cow_str(location));
        quote! { ::catalog_core::ViewSpec { sql: #sql, file: #file, materialize: #materialize } }
    });
    let accelerate = option(&spec.accelerate, |kind| match kind {
        Accelerate::Memory => quote! { ::catalog_core::Accelerate::Memory },
    });
    let refresh = option(&spec.refresh, |refresh| {
        let (text, seconds) = (cow_str(&refresh.text), refresh.seconds);
        quote! { ::catalog_core::Interval { text: #text, seconds: #seconds } }
    });
    let contract = contract_tokens(&spec.contract);
    quote! {
        ::catalog_core::TableSpec {
            database: #database,
            name: #name,
            doc: #doc,
            rust_type: ::std::borrow::Cow::Borrowed(::std::concat!(::std::module_path!(), #rust_type)),
            source: #source,
            options: ::std::borrow::Cow::Borrowed(&[#(#options),*]),
            owner: #owner,
            expectations: ::catalog_core::Expectations {
                freshness: #freshness,
                freshness_column: #freshness_column,
                min_rows: #min_rows,
                max_rows: #max_rows,
            },
            columns: ::std::borrow::Cow::Borrowed(&[#(#columns),*]),
            view: #view,
            accelerate: #accelerate,
            refresh: #refresh,
            contract: #contract,
        }
    }
}

/// The contract as a constant expression; `Contract::NONE` when nothing is declared.
fn contract_tokens(contract: &Contract) -> TokenStream {
    if contract.is_none() {
        return quote! { ::catalog_core::Contract::NONE };
    }
    let version = contract.version;
    let allow = contract.allow_breaking.iter().map(|entry| cow_str(entry));
    let replaces = option(&contract.replaces, |table| cow_str(table));
    quote! {
        ::catalog_core::Contract {
            version: #version,
            allow_breaking: ::std::borrow::Cow::Borrowed(&[#(#allow),*]),
            replaces: #replaces,
        }
    }
}

fn column_tokens(column: &ColumnSpec) -> TokenStream {
    let name = cow_str(&column.name);
    let doc = cow_str(&column.doc);
    let ty = column_type_tokens(column.ty);
    let (nullable, unique) = (column.nullable, column.unique);
    let min = option(&column.min, |min| quote! { #min });
    let max = option(&column.max, |max| quote! { #max });
    quote! {
        ::catalog_core::ColumnSpec {
            name: #name,
            ty: #ty,
            nullable: #nullable,
            doc: #doc,
            unique: #unique,
            min: #min,
            max: #max,
        }
    }
}

fn column_type_tokens(ty: ColumnType) -> TokenStream {
    let variant = |name: &str| {
        let name = format_ident!("{}", name);
        quote! { ::catalog_core::ColumnType::#name }
    };
    match ty {
        ColumnType::Timestamp { utc } => {
            quote! { ::catalog_core::ColumnType::Timestamp { utc: #utc } }
        }
        ColumnType::Decimal128 { precision, scale } => {
            quote! { ::catalog_core::ColumnType::Decimal128 { precision: #precision, scale: #scale } }
        }
        // Every other variant is a unit variant whose name is its `Debug` form.
        other => variant(&format!("{other:?}")),
    }
}
