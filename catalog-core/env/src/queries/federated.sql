SELECT n.n_name AS nation, e.currency, t.tier,
       count(*) AS parts,
       round(avg(CAST(p.p_retailprice AS DOUBLE)) / e.rate_to_usd, 2) AS avg_price_local
FROM tpch.part p
JOIN tpch.partsupp ps ON ps.ps_partkey = p.p_partkey
JOIN tpch.supplier s ON s.s_suppkey = ps.ps_suppkey
JOIN tpch.nation n ON n.n_nationkey = s.s_nationkey
JOIN tpch.region r ON r.r_regionkey = n.n_regionkey
JOIN tpch.exchange_rates e ON e.n_nationkey = n.n_nationkey
JOIN tpch.price_tiers t ON p.p_retailprice >= t.min_price
                       AND (t.max_price IS NULL OR p.p_retailprice < t.max_price)
WHERE r.r_name = 'EUROPE'
GROUP BY n.n_name, e.currency, e.rate_to_usd, t.tier, t.min_price
ORDER BY nation, t.min_price