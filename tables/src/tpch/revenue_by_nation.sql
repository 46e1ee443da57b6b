-- Revenue by customer nation and order year: the ELT step of the demo,
-- declared once, checked against tables/src/tpch.rs::RevenueByNation.
SELECT
    n.n_name AS nation,
    CAST(date_part('year', o.o_orderdate) AS INT) AS order_year,
    CAST(sum(l.l_extendedprice * (1 - l.l_discount)) AS DECIMAL(18, 2)) AS revenue,
    count(DISTINCT o.o_orderkey) AS orders
FROM tpch.lineitem l
JOIN tpch.orders o ON o.o_orderkey = l.l_orderkey
JOIN tpch.customer c ON c.c_custkey = o.o_custkey
JOIN tpch.nation n ON n.n_nationkey = c.c_nationkey
GROUP BY n.n_name, date_part('year', o.o_orderdate)
