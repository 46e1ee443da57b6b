//! Rust field types to column types, read from syntax.
//!
//! The derive and `cargo xtask gen-catalog` both call [`column_type`], so the
//! compiled spec and the generated `catalog.json` agree. Types are matched by
//! the last segment of their path (`chrono::NaiveDate` and `NaiveDate` both
//! work); a type alias is not followed, because syntax is all a derive sees.

use catalog_core::ColumnType;

/// The field types `#[derive(Table)]` accepts, for error messages and docs.
pub const SUPPORTED: &str = "i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, bool, String, \
     Vec<u8>, chrono::NaiveDate, chrono::NaiveDateTime, chrono::DateTime<Utc>, \
     catalog_core::Decimal<P, S>, or Option<T> of any of these";

/// The column type of a field type, and whether it is nullable (`Option<T>`).
pub fn column_type(ty: &syn::Type) -> syn::Result<(ColumnType, bool)> {
    if let Some(inner) = generic_arg(ty, "Option") {
        if generic_arg(inner, "Option").is_some() {
            return Err(syn::Error::new_spanned(
                ty,
                "`Option<Option<T>>` has no column type: a column is either nullable or not; use `Option<T>`",
            ));
        }
        return Ok((scalar(inner)?, true));
    }
    Ok((scalar(ty)?, false))
}

fn scalar(ty: &syn::Type) -> syn::Result<ColumnType> {
    let unsupported = || {
        let shown = quote::ToTokens::to_token_stream(ty)
            .to_string()
            .replace(" < ", "<")
            .replace(" >", ">")
            .replace(" :: ", "::")
            .replace(" ,", ",");
        syn::Error::new_spanned(
            ty,
            format!("unsupported field type `{shown}`: use one of {SUPPORTED}"),
        )
    };
    let Some(segment) = last_segment(ty) else {
        return Err(unsupported());
    };
    let plain = matches!(segment.arguments, syn::PathArguments::None);
    let column = match segment.ident.to_string().as_str() {
        "bool" if plain => ColumnType::Boolean,
        "i8" if plain => ColumnType::Int8,
        "i16" if plain => ColumnType::Int16,
        "i32" if plain => ColumnType::Int32,
        "i64" if plain => ColumnType::Int64,
        "u8" if plain => ColumnType::UInt8,
        "u16" if plain => ColumnType::UInt16,
        "u32" if plain => ColumnType::UInt32,
        "u64" if plain => ColumnType::UInt64,
        "f32" if plain => ColumnType::Float32,
        "f64" if plain => ColumnType::Float64,
        "String" if plain => ColumnType::Utf8,
        "NaiveDate" if plain => ColumnType::Date32,
        "NaiveDateTime" if plain => ColumnType::Timestamp { utc: false },
        "Vec" => match generic_arg(ty, "Vec").and_then(last_segment) {
            Some(inner) if inner.ident == "u8" => ColumnType::Binary,
            _ => return Err(unsupported()),
        },
        "DateTime" => match generic_arg(ty, "DateTime").and_then(last_segment) {
            Some(inner) if inner.ident == "Utc" => ColumnType::Timestamp { utc: true },
            _ => {
                return Err(syn::Error::new_spanned(
                    ty,
                    "only `DateTime<Utc>` is supported: store instants in UTC, or use `NaiveDateTime` for wall-clock time",
                ));
            }
        },
        "Decimal" => decimal(ty, segment)?,
        _ => return Err(unsupported()),
    };
    Ok(column)
}

/// `Decimal<P, S>`: precision 1..=38 and scale 0..=P, as Arrow's `Decimal128` needs.
fn decimal(ty: &syn::Type, segment: &syn::PathSegment) -> syn::Result<ColumnType> {
    let usage = "write `Decimal<P, S>` with a precision P from 1 to 38 and a scale S from 0 to P, e.g. `Decimal<15, 2>`";
    let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
        return Err(syn::Error::new_spanned(ty, usage));
    };
    let numbers: Vec<Option<i64>> = args.args.iter().map(const_int).collect();
    let problem = match numbers.as_slice() {
        [Some(precision), Some(scale)] => {
            if !(1..=38).contains(precision) {
                format!("precision {precision} is out of range: ")
            } else if !(0..=*precision).contains(scale) {
                format!("scale {scale} is out of range for precision {precision}: ")
            } else {
                return Ok(ColumnType::Decimal128 {
                    precision: *precision as u8,
                    scale: *scale as i8,
                });
            }
        }
        _ => String::new(),
    };
    Err(syn::Error::new_spanned(args, format!("{problem}{usage}")))
}

fn const_int(arg: &syn::GenericArgument) -> Option<i64> {
    let expr = match arg {
        syn::GenericArgument::Const(expr) => expr,
        _ => return None,
    };
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(int),
            ..
        }) => int.base10_parse().ok(),
        syn::Expr::Block(block) => match block.block.stmts.as_slice() {
            [
                syn::Stmt::Expr(
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Int(int),
                        ..
                    }),
                    None,
                ),
            ] => int.base10_parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

fn last_segment(ty: &syn::Type) -> Option<&syn::PathSegment> {
    match ty {
        syn::Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        syn::Type::Group(group) => last_segment(&group.elem),
        syn::Type::Paren(paren) => last_segment(&paren.elem),
        _ => None,
    }
}

/// The single type argument of `Name<T>`, if `ty` is that.
fn generic_arg<'a>(ty: &'a syn::Type, name: &str) -> Option<&'a syn::Type> {
    let segment = last_segment(ty)?;
    if segment.ident != name {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [syn::GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ty: &str, expected: Result<(ColumnType, bool), &str>) {
        let ty: syn::Type = syn::parse_str(ty).unwrap();
        match (column_type(&ty), expected) {
            (Ok(actual), Ok(expected)) => assert_eq!(actual, expected),
            (Err(error), Err(fragment)) => assert!(error.to_string().contains(fragment), "{error}"),
            (actual, expected) => panic!("{actual:?} != {expected:?}"),
        }
    }

    #[test]
    fn maps_every_supported_type() {
        check("i64", Ok((ColumnType::Int64, false)));
        check("Option<u8>", Ok((ColumnType::UInt8, true)));
        check("std::option::Option<String>", Ok((ColumnType::Utf8, true)));
        check("Vec<u8>", Ok((ColumnType::Binary, false)));
        check("chrono::NaiveDate", Ok((ColumnType::Date32, false)));
        check(
            "NaiveDateTime",
            Ok((ColumnType::Timestamp { utc: false }, false)),
        );
        check(
            "chrono::DateTime<chrono::Utc>",
            Ok((ColumnType::Timestamp { utc: true }, false)),
        );
        check(
            "Decimal<15, 2>",
            Ok((
                ColumnType::Decimal128 {
                    precision: 15,
                    scale: 2,
                },
                false,
            )),
        );
        check(
            "Option<catalog_core::Decimal<{ 38 }, 0>>",
            Ok((
                ColumnType::Decimal128 {
                    precision: 38,
                    scale: 0,
                },
                true,
            )),
        );
    }

    #[test]
    fn rejects_with_the_fix() {
        check("HashMap<String, i64>", Err("use one of i8"));
        check("Vec<i64>", Err("unsupported field type `Vec<i64>`"));
        check("Option<Option<i64>>", Err("use `Option<T>`"));
        check("DateTime<FixedOffset>", Err("only `DateTime<Utc>`"));
        check("Decimal<39, 2>", Err("precision P from 1 to 38"));
        check("Decimal<5, 6>", Err("scale S from 0 to P"));
        check("&str", Err("unsupported field type"));
    }
}
