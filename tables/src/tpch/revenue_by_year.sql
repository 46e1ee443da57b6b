-- Total revenue per order year, over the revenue_by_nation view.
SELECT
    order_year,
    CAST(sum(revenue) AS DECIMAL(18, 2)) AS revenue,
    count(*) AS nations,
    max(revenue) AS top_nation_revenue
FROM tpch.revenue_by_nation
GROUP BY order_year
