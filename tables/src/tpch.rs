//! The `tpch` database: the TPC-H benchmark schema, plus two tables that join it
//! to data from outside the lake.
//!
//! The eight TPC-H tables keep the benchmark's exact column names and the
//! Arrow types `tpchgen-arrow` generates (keys `Int64`, small counts `Int32`,
//! money `Decimal128(15, 2)`, dates `Date32`), so freshly generated data reads
//! back without a cast. They are read from where such data usually lives:
//!
//! - The large tables (`part`, `supplier`, `partsupp`, `customer`, `orders`)
//!   are Parquet objects on S3, and `lineitem`, the largest fact table, is a
//!   partitioned Parquet dataset under an S3 prefix. `orders_delta` holds the
//!   same rows as `orders` as a Delta Lake table partitioned by year.
//! - The tiny fixed dimensions (`nation`, 25 rows, and `region`, 5 rows) are
//!   pipe-delimited text files, the way TPC-H's `dbgen` ships them (here with a
//!   header line naming the columns).
//!
//! Two more tables show federation, that one query can mix sources:
//! `exchange_rates` is fetched live from an HTTP API and joins to `nation`, and
//! `price_tiers` is computed by a Rust function and buckets `part` by
//! `p_retailprice`.

use catalog_core::Decimal;
use catalog_core::chrono::{DateTime, NaiveDate, Utc};
use catalog_derive::Table;

/// Parts: one row per part that suppliers sell (TPC-H `PART`, SF × 200,000 rows).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    database = "tpch",
    name = "part",
    source = "s3-parquet",
    location = "s3://codelake/tpch/part.parquet",
    owner = "data-platform@codelake.dev",
    freshness = "24h",
    min_rows = 1
)]
pub struct Part {
    /// Part key, the primary key: 1 to SF × 200,000.
    #[column(unique)]
    pub p_partkey: i64,
    /// Part name: five distinct colour words, e.g. `goldenrod lavender spring chocolate lace`.
    pub p_name: String,
    /// Manufacturer, `Manufacturer#M` with M from 1 to 5.
    pub p_mfgr: String,
    /// Brand, `Brand#MN`: M is the manufacturer's number, N from 1 to 5.
    pub p_brand: String,
    /// Type: three words such as `PROMO BURNISHED COPPER` (size, finish, material).
    pub p_type: String,
    /// Size on TPC-H's unitless scale, 1 to 50.
    #[column(min = 1, max = 50)]
    pub p_size: i32,
    /// Container: a size and a kind such as `SM CASE` or `JUMBO PKG`.
    pub p_container: String,
    /// Retail price of one unit, in dollars; derived from the part key.
    #[column(min = 0)]
    pub p_retailprice: Decimal<15, 2>,
    /// Free-text comment (generated filler text).
    pub p_comment: String,
}

/// Suppliers: one row per supplier of parts (TPC-H `SUPPLIER`, SF × 10,000 rows).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    database = "tpch",
    name = "supplier",
    source = "s3-parquet",
    location = "s3://codelake/tpch/supplier.parquet",
    owner = "data-platform@codelake.dev",
    freshness = "24h",
    min_rows = 1
)]
pub struct Supplier {
    /// Supplier key, the primary key: 1 to SF × 10,000.
    #[column(unique)]
    pub s_suppkey: i64,
    /// Name, `Supplier#` followed by the key zero-padded to 9 digits.
    pub s_name: String,
    /// Street address (generated text, 10 to 40 characters).
    pub s_address: String,
    /// Nation the supplier is based in; foreign key to `nation.n_nationkey`.
    pub s_nationkey: i64,
    /// Phone number, `CC-LLL-LLL-LLLL` where the country code CC is 10 + `s_nationkey`.
    pub s_phone: String,
    /// Account balance in dollars, -999.99 to 9,999.99.
    #[column(min = -999.99, max = 9999.99)]
    pub s_acctbal: Decimal<15, 2>,
    /// Free-text comment; a few contain `Customer … Complaints` or `Customer … Recommends`.
    pub s_comment: String,
}

/// Part suppliers: one row per supplier that sells a part, 4 per part (TPC-H `PARTSUPP`, SF × 800,000 rows).
///
/// The primary key is the pair (`ps_partkey`, `ps_suppkey`).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    database = "tpch",
    name = "partsupp",
    source = "s3-parquet",
    location = "s3://codelake/tpch/partsupp.parquet",
    owner = "data-platform@codelake.dev",
    freshness = "24h",
    min_rows = 1
)]
pub struct PartSupp {
    /// The part supplied; foreign key to `part.p_partkey`.
    pub ps_partkey: i64,
    /// The supplier; foreign key to `supplier.s_suppkey`.
    pub ps_suppkey: i64,
    /// Units of the part this supplier has in stock, 1 to 9,999.
    #[column(min = 1, max = 9999)]
    pub ps_availqty: i32,
    /// What one unit costs from this supplier, in dollars, 1.00 to 1,000.00.
    #[column(min = 1, max = 1000)]
    pub ps_supplycost: Decimal<15, 2>,
    /// Free-text comment (generated filler text).
    pub ps_comment: String,
}

/// Customers: one row per customer who places orders (TPC-H `CUSTOMER`, SF × 150,000 rows).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    database = "tpch",
    name = "customer",
    source = "s3-parquet",
    location = "s3://codelake/tpch/customer.parquet",
    owner = "data-platform@codelake.dev",
    freshness = "24h",
    min_rows = 1
)]
pub struct Customer {
    /// Customer key, the primary key: 1 to SF × 150,000.
    #[column(unique)]
    pub c_custkey: i64,
    /// Name, `Customer#` followed by the key zero-padded to 9 digits.
    pub c_name: String,
    /// Street address (generated text, 10 to 40 characters).
    pub c_address: String,
    /// Nation the customer lives in; foreign key to `nation.n_nationkey`.
    pub c_nationkey: i64,
    /// Phone number, `CC-LLL-LLL-LLLL` where the country code CC is 10 + `c_nationkey`.
    pub c_phone: String,
    /// Account balance in dollars, -999.99 to 9,999.99.
    #[column(min = -999.99, max = 9999.99)]
    pub c_acctbal: Decimal<15, 2>,
    /// Market segment: `AUTOMOBILE`, `BUILDING`, `FURNITURE`, `HOUSEHOLD` or `MACHINERY`.
    pub c_mktsegment: String,
    /// Free-text comment (generated filler text).
    pub c_comment: String,
}

/// Orders: one row per order a customer placed (TPC-H `ORDERS`, SF × 1,500,000 rows).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    database = "tpch",
    name = "orders",
    source = "s3-parquet",
    location = "s3://codelake/tpch/orders.parquet",
    owner = "data-platform@codelake.dev",
    freshness = "1h",
    min_rows = 1
)]
pub struct Orders {
    /// Order key, the primary key; sparse: only the first 8 of every 32 keys are used.
    #[column(unique)]
    pub o_orderkey: i64,
    /// Customer who placed the order; foreign key to `customer.c_custkey` (never a multiple of 3).
    pub o_custkey: i64,
    /// Status: `F` if every line item is filled (`l_linestatus = 'F'`), `O` if all are open, `P` if mixed.
    pub o_orderstatus: String,
    /// Order total in dollars: the sum over its line items of `l_extendedprice × (1 + l_tax) × (1 − l_discount)`.
    #[column(min = 0)]
    pub o_totalprice: Decimal<15, 2>,
    /// Date the order was placed, 1992-01-01 to 1998-08-02.
    pub o_orderdate: NaiveDate,
    /// Priority: `1-URGENT`, `2-HIGH`, `3-MEDIUM`, `4-NOT SPECIFIED` or `5-LOW`.
    pub o_orderpriority: String,
    /// Clerk who took the order, `Clerk#` followed by a 9-digit number.
    pub o_clerk: String,
    /// Shipping priority; always 0 in generated data.
    pub o_shippriority: i32,
    /// Free-text comment (generated filler text).
    pub o_comment: String,
}

/// Orders as a Delta Lake table, partitioned by the year of the order: the same rows as `orders`, kept the way a lakehouse keeps them (SF × 1,500,000 rows).
///
/// Its files, their partition values and statistics come from the table's
/// Delta log, read again at most every minute; a filter on `o_orderyear`
/// reads only that year's files.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    database = "tpch",
    name = "orders_delta",
    source = "delta",
    location = "s3://codelake/tpch/orders_delta/",
    owner = "data-platform@codelake.dev",
    freshness = "1h",
    min_rows = 1,
    refresh = "1m"
)]
pub struct OrdersDelta {
    /// Order key, the primary key; sparse: only the first 8 of every 32 keys are used.
    #[column(unique)]
    pub o_orderkey: i64,
    /// Customer who placed the order; foreign key to `customer.c_custkey`.
    pub o_custkey: i64,
    /// Status: `F` (every line filled), `O` (all open) or `P` (mixed).
    pub o_orderstatus: String,
    /// Order total in dollars.
    #[column(min = 0)]
    pub o_totalprice: Decimal<15, 2>,
    /// Date the order was placed, 1992-01-01 to 1998-08-02.
    pub o_orderdate: NaiveDate,
    /// Priority: `1-URGENT`, `2-HIGH`, `3-MEDIUM`, `4-NOT SPECIFIED` or `5-LOW`.
    pub o_orderpriority: String,
    /// Clerk who took the order, `Clerk#` followed by a 9-digit number.
    pub o_clerk: String,
    /// Shipping priority; always 0 in generated data.
    pub o_shippriority: i32,
    /// Free-text comment (generated filler text).
    pub o_comment: String,
    /// Year of `o_orderdate`, 1992 to 1998: the Delta partition column.
    #[column(min = 1992, max = 1998)]
    pub o_orderyear: i32,
}

/// Line items: one row per part ordered on an order, 1 to 7 per order (TPC-H `LINEITEM`, about SF × 6,000,000 rows).
///
/// The primary key is the pair (`l_orderkey`, `l_linenumber`); (`l_partkey`,
/// `l_suppkey`) is a foreign key to `partsupp`. The table is a partitioned
/// Parquet dataset: every object under the prefix is read.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    database = "tpch",
    name = "lineitem",
    source = "s3-parquet",
    location = "s3://codelake/tpch/lineitem/",
    owner = "data-platform@codelake.dev",
    freshness = "1h",
    min_rows = 1
)]
pub struct LineItem {
    /// Order the line belongs to; foreign key to `orders.o_orderkey`.
    pub l_orderkey: i64,
    /// Part ordered; foreign key to `part.p_partkey`.
    pub l_partkey: i64,
    /// Supplier the part is bought from; foreign key to `supplier.s_suppkey`.
    pub l_suppkey: i64,
    /// Position of the line within its order, 1 to 7.
    #[column(min = 1, max = 7)]
    pub l_linenumber: i32,
    /// Units ordered, a whole number from 1 to 50 (stored as a decimal, as TPC-H declares it).
    #[column(min = 1, max = 50)]
    pub l_quantity: Decimal<15, 2>,
    /// `l_quantity × p_retailprice` in dollars, before discount and tax.
    #[column(min = 0)]
    pub l_extendedprice: Decimal<15, 2>,
    /// Discount as a fraction of the extended price, 0.00 to 0.10.
    #[column(min = 0, max = 0.10)]
    pub l_discount: Decimal<15, 2>,
    /// Tax as a fraction of the discounted price, 0.00 to 0.08.
    #[column(min = 0, max = 0.08)]
    pub l_tax: Decimal<15, 2>,
    /// `R` (returned) or `A` (accepted) if received by 1995-06-17, otherwise `N` (not yet received).
    pub l_returnflag: String,
    /// `O` (open) if shipped after 1995-06-17, otherwise `F` (filled).
    pub l_linestatus: String,
    /// Date the line was shipped, 1 to 121 days after `o_orderdate`.
    pub l_shipdate: NaiveDate,
    /// Date the supplier committed to ship by, 30 to 90 days after `o_orderdate`.
    pub l_commitdate: NaiveDate,
    /// Date the customer received the line, 1 to 30 days after `l_shipdate`.
    pub l_receiptdate: NaiveDate,
    /// Shipping instruction: `DELIVER IN PERSON`, `COLLECT COD`, `NONE` or `TAKE BACK RETURN`.
    pub l_shipinstruct: String,
    /// Shipping mode: `REG AIR`, `AIR`, `RAIL`, `SHIP`, `TRUCK`, `MAIL` or `FOB`.
    pub l_shipmode: String,
    /// Free-text comment (generated filler text).
    pub l_comment: String,
}

/// Nations: the 25 fixed countries that customers and suppliers belong to (TPC-H `NATION`).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    database = "tpch",
    name = "nation",
    source = "csv",
    location = "tpch/nation.csv",
    delimiter = "|",
    header = true,
    owner = "data-platform@codelake.dev",
    min_rows = 25,
    max_rows = 25
)]
pub struct Nation {
    /// Nation key, the primary key: 0 to 24.
    #[column(unique, min = 0, max = 24)]
    pub n_nationkey: i64,
    /// Nation name in upper case, e.g. `GERMANY` or `UNITED STATES`.
    #[column(unique)]
    pub n_name: String,
    /// Region the nation lies in; foreign key to `region.r_regionkey`.
    #[column(min = 0, max = 4)]
    pub n_regionkey: i64,
    /// Free-text comment (generated filler text).
    pub n_comment: String,
}

/// Regions: the 5 fixed world regions that nations belong to (TPC-H `REGION`).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    database = "tpch",
    name = "region",
    source = "csv",
    location = "tpch/region.csv",
    delimiter = "|",
    header = true,
    owner = "data-platform@codelake.dev",
    min_rows = 5,
    max_rows = 5
)]
pub struct Region {
    /// Region key, the primary key: 0 to 4.
    #[column(unique, min = 0, max = 4)]
    pub r_regionkey: i64,
    /// Region name: `AFRICA`, `AMERICA`, `ASIA`, `EUROPE` or `MIDDLE EAST`.
    #[column(unique)]
    pub r_name: String,
    /// Free-text comment (generated filler text).
    pub r_comment: String,
}

/// Exchange rates: one row per currency, its latest rate against the US dollar, fetched live from the FX API.
///
/// Joins to TPC-H through `n_nationkey`, so account balances can be shown in
/// a customer's or supplier's local currency
/// (`customer → nation → exchange_rates`).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    database = "tpch",
    name = "exchange_rates",
    source = "http-api",
    url = "/fx/rates",
    rows_path = "/rates",
    pagination = "next_link",
    next_link_path = "/next",
    auth_header = "Authorization",
    auth_env = "CODELAKE_FX_TOKEN",
    timeout = "10s",
    max_retries = 3,
    owner = "data-platform@codelake.dev",
    freshness = "15m",
    freshness_column = "as_of",
    min_rows = 1,
    accelerate = "memory",
    refresh = "5m"
)]
pub struct ExchangeRate {
    /// ISO 4217 currency code, e.g. `EUR`; the primary key.
    #[column(unique)]
    pub currency: String,
    /// US dollars per one unit of the currency; an `f64` on purpose: a rate is a measured ratio, not an amount of money, so it needs no exact decimal.
    #[column(min = 0)]
    pub rate_to_usd: f64,
    /// Instant (UTC) the rate was observed by the provider.
    pub as_of: DateTime<Utc>,
    /// Nation whose currency this is; foreign key to `nation.n_nationkey`, null for currencies of no TPC-H nation.
    #[column(min = 0, max = 24)]
    pub n_nationkey: Option<i64>,
}

/// Price tiers: the retail price bands parts are bucketed into, computed by the `price_tiers` function.
///
/// A part is in the tier whose `min_price <= p_retailprice < max_price`;
/// the bands do not overlap.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    database = "tpch",
    name = "price_tiers",
    source = "function",
    function = "price_tiers",
    owner = "data-platform@codelake.dev",
    min_rows = 1
)]
pub struct PriceTier {
    /// Tier name, the primary key, e.g. `budget`, `standard` or `premium`.
    #[column(unique)]
    pub tier: String,
    /// Lowest retail price in the tier, in dollars (inclusive).
    #[column(min = 0)]
    pub min_price: Decimal<15, 2>,
    /// Retail price where the tier ends, in dollars (exclusive); null for no upper bound.
    #[column(min = 0)]
    pub max_price: Option<Decimal<15, 2>>,
    /// What the tier means, in one sentence, for reports.
    pub description: String,
}

/// Revenue by nation and year: what customers of each nation paid, per order year, after discounts.
///
/// A view: its rows are `tpch/revenue_by_nation.sql`, run over `lineitem`,
/// `orders`, `customer` and `nation`; its fields are the contract that SQL
/// is checked against.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    database = "tpch",
    name = "revenue_by_nation",
    view = "tpch/revenue_by_nation.sql",
    owner = "data-platform@codelake.dev",
    min_rows = 1
)]
pub struct RevenueByNation {
    /// Customer nation's name, from `nation.n_name`.
    pub nation: String,
    /// Calendar year the orders were placed in.
    pub order_year: i32,
    /// Revenue in dollars: the sum of `l_extendedprice × (1 − l_discount)` over the year's line items.
    #[column(min = 0)]
    pub revenue: Option<Decimal<18, 2>>,
    /// Orders placed by the nation's customers in that year.
    #[column(min = 1)]
    pub orders: i64,
}

/// Price tiers in local currencies: each tier's bounds in every currency the FX API quotes.
///
/// A federated view: `price_tiers` is computed by a Rust function and
/// `exchange_rates` is fetched from an HTTP API, joined in one query.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    database = "tpch",
    name = "price_tiers_local",
    view = "tpch/price_tiers_local.sql",
    owner = "data-platform@codelake.dev",
    freshness = "15m",
    freshness_column = "rate_as_of",
    min_rows = 1
)]
pub struct PriceTierLocal {
    /// Tier name, from `price_tiers.tier`.
    pub tier: String,
    /// ISO 4217 currency code, from `exchange_rates.currency`.
    pub currency: String,
    /// The tier's lowest price in the currency, rounded to 2 decimals.
    #[column(min = 0)]
    pub min_price_local: f64,
    /// The tier's upper bound in the currency (exclusive); null for no upper bound.
    #[column(min = 0)]
    pub max_price_local: Option<f64>,
    /// When the exchange rate used was observed.
    pub rate_as_of: DateTime<Utc>,
}

/// Revenue by year: all nations' revenue per order year, read from the `revenue_by_nation` view.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    database = "tpch",
    name = "revenue_by_year",
    view = "tpch/revenue_by_year.sql",
    owner = "data-platform@codelake.dev",
    min_rows = 1
)]
pub struct RevenueByYear {
    /// Calendar year the orders were placed in.
    #[column(unique)]
    pub order_year: i32,
    /// Revenue in dollars over every nation.
    #[column(min = 0)]
    pub revenue: Option<Decimal<18, 2>>,
    /// Nations whose customers ordered that year.
    #[column(min = 1, max = 25)]
    pub nations: i64,
    /// The largest one nation's revenue that year.
    pub top_nation_revenue: Option<Decimal<18, 2>>,
}
