SELECT o_orderyear, count(*) AS orders, sum(o_totalprice) AS revenue
FROM tpch.orders_delta
WHERE o_orderyear >= 1996
GROUP BY o_orderyear
ORDER BY o_orderyear
