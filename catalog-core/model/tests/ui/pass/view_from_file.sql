SELECT day, count(*) AS orders
FROM shop.orders
GROUP BY day
