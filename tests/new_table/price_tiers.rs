use catalog_core::Decimal;
use catalog_derive::Table;

/// TODO: one line on what one row of `sandbox.price_tiers` is.
///
/// Written by `codelake new-table` from `price_tiers` (1 call).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    // owner = "team@example.com",
    database = "sandbox",
    name = "price_tiers",
    source = "function",
    function = "price_tiers"
)]
pub struct PriceTiers {
    /// TODO: what `tier` holds.
    pub tier: String,
    /// TODO: what `min_price` holds.
    pub min_price: Decimal<15, 2>,
    /// TODO: what `max_price` holds.
    pub max_price: Option<Decimal<15, 2>>,
    /// TODO: what `description` holds.
    pub description: String,
}
