//! The table functions: ordinary Rust functions returning their table's rows.

use codelake_plugin_sdk::catalog_core::Decimal;
use tables::tpch::PriceTier;

use crate::table_functions;

table_functions![price_tiers];

/// `tpch.price_tiers`: retail price bands, cheapest first. TPC-H retail
/// prices run from about 900 to 2,100 dollars.
pub fn price_tiers() -> Vec<PriceTier> {
    let tier = |tier: &str, min: i128, max: Option<i128>, description: &str| PriceTier {
        tier: tier.to_owned(),
        min_price: Decimal::from_mantissa(min * 100).expect("fits decimal(15,2)"),
        max_price: max.map(|max| Decimal::from_mantissa(max * 100).expect("fits decimal(15,2)")),
        description: description.to_owned(),
    };
    vec![
        tier("budget", 0, Some(1200), "Parts under 1,200 dollars."),
        tier(
            "standard",
            1200,
            Some(1600),
            "Parts from 1,200 to under 1,600 dollars.",
        ),
        tier("premium", 1600, None, "Parts of 1,600 dollars and more."),
    ]
}
