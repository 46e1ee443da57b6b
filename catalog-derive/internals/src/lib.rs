//! Parse, check and expand `#[derive(Table)]`, as plain functions.
//!
//! The pipeline reads in module order: [`attr`] reads the `#[table]` and
//! `#[column]` keys, [`ast`] models the struct (keeping syn nodes for spans),
//! `check` turns it into a validated [`TableDef`] — whose heart is an owned
//! [`catalog_core::TableSpec`] — and `expand` writes the impl. `catalog-derive`
//! calls [`expand`]; `cargo xtask gen-catalog` calls [`table_def`] on every
//! struct of `tables/src`, so both read a declaration identically.
//!
//! Nothing here panics on bad input: every problem becomes a spanned
//! `syn::Error`, all of them are reported at once, and [`expand`] still emits a
//! stub impl so one mistake is one compiler error.

pub mod ast;
pub mod attr;
mod check;
mod contract;
mod expand;
pub mod types;
pub mod view;

use proc_macro2::{Span, TokenStream};

pub use ast::{FieldDef, TableDef};
pub use view::Origin;

/// The derive's whole job: tokens of a struct in, tokens of its impl out.
/// Errors come out as `compile_error!` beside a stub impl.
/// `origin` says which file declares the struct, for a view's `.sql` file.
pub fn expand(input: TokenStream, origin: &Origin) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    match table_def(&input, origin) {
        Ok(def) => expand::table_impl(&def),
        Err(error) => {
            let mut tokens = error.to_compile_error();
            tokens.extend(expand::stub_impl(&input));
            tokens
        }
    }
}

/// Parses and checks one `#[derive(Table)]` struct, declared in `origin`.
/// Every problem found is in the error (see [`syn::Error::into_iter`]).
pub fn table_def(input: &syn::DeriveInput, origin: &Origin) -> syn::Result<TableDef> {
    let mut errors = Errors::default();
    let parsed = ast::Input::from_syn(input, &mut errors);
    let def = parsed.and_then(|parsed| check::check(parsed, origin, &mut errors));
    errors.finish()?;
    // `finish` only succeeds when nothing was reported, and every path that
    // returns `None` reports something first.
    def.ok_or_else(|| syn::Error::new(Span::call_site(), "invalid table"))
}

/// Whether a struct derives `Table`: `#[derive(Table)]` or `#[derive(catalog_derive::Table)]`.
pub fn derives_table(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("derive"))
        .any(|attr| {
            let mut found = false;
            // A derive list that does not parse is the compiler's to report.
            let _ = attr.parse_nested_meta(|meta| {
                found |= meta
                    .path
                    .segments
                    .last()
                    .is_some_and(|segment| segment.ident == "Table");
                Ok(())
            });
            found
        })
}

/// Every problem found so far; reported together.
#[derive(Debug, Default)]
pub struct Errors(Vec<syn::Error>);

impl Errors {
    /// Records `message` at `span`.
    pub fn push(&mut self, span: Span, message: String) {
        self.0.push(syn::Error::new(span, message));
    }

    /// Records an error syn produced.
    pub fn push_error(&mut self, error: syn::Error) {
        self.0.push(error);
    }

    /// How many problems were recorded so far.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no problem was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn finish(self) -> syn::Result<()> {
        let mut errors = self.0.into_iter();
        let Some(mut first) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            first.combine(error);
        }
        Err(first)
    }
}
