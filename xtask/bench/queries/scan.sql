-- A full read of four lineitem columns: the cost of reading Parquet, little else.
SELECT count(*) AS rows, sum(l_quantity) AS quantity, sum(l_extendedprice) AS price,
       min(l_shipdate) AS first_ship, max(l_comment) AS last_comment
FROM tpch.lineitem
