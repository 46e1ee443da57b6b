//! `#[derive(Table)]` for codelake catalogs.
//!
//! This crate is a shim: parsing, checking and code generation live in
//! `catalog-derive-internals` as plain functions, which `cargo xtask
//! gen-catalog` calls too, so the compiler and the catalog generator read a
//! declaration the same way. The attributes are listed in
//! `docs/reference/table-attributes.md`; `catalog_core`'s crate docs have an
//! example.
//!
//! What it must not know: DataFusion and query execution; and any logic of its
//! own, which gen-catalog could not share.

use proc_macro::TokenStream;

/// Derives `catalog_core::Table`: the table's spec as a `static`, its Arrow
/// schema, a `&str` constant per column, and typed row conversion to and from
/// Arrow record batches.
#[proc_macro_derive(Table, attributes(table, column))]
pub fn derive_table(input: TokenStream) -> TokenStream {
    // rustc runs in the workspace root and names files relative to it; a
    // view's `.sql` file is found beside the file that declares it.
    let root = std::env::current_dir().unwrap_or_default();
    let origin = catalog_derive_internals::Origin {
        file: proc_macro::Span::call_site()
            .local_file()
            .map(|file| root.join(file)),
        root,
    };
    catalog_derive_internals::expand(input.into(), &origin).into()
}
