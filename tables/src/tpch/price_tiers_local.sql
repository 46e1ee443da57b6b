-- Each price tier's bounds in every currency the FX API quotes: a federated
-- view over a Rust function (price_tiers) and an HTTP API (exchange_rates).
SELECT
    t.tier,
    e.currency,
    round(CAST(t.min_price AS DOUBLE) / e.rate_to_usd, 2) AS min_price_local,
    round(CAST(t.max_price AS DOUBLE) / e.rate_to_usd, 2) AS max_price_local,
    e.as_of AS rate_as_of
FROM tpch.price_tiers t
CROSS JOIN tpch.exchange_rates e
