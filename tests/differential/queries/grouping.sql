-- GROUP BY / HAVING / GROUPING SETS / ROLLUP / CUBE.

-- title: group by status with count and sum
SELECT status, count(*), sum(amount) FROM orders GROUP BY status ORDER BY status NULLS FIRST

-- title: group by two columns
SELECT country, active, count(*), max(credit) FROM customers GROUP BY country, active ORDER BY country, active

-- title: group by expression
SELECT id % 5 AS bucket, count(*), sum(quantity) FROM orders GROUP BY id % 5 ORDER BY bucket

-- title: group by ordinal
SELECT vc, count(*), min(i4) FROM typed GROUP BY 1 ORDER BY 1

-- title: having on count
SELECT customer_id, count(*) FROM orders GROUP BY customer_id HAVING count(*) > 10 ORDER BY customer_id

-- title: having on sum with negative numbers
SELECT customer_id, sum(amount) AS s FROM orders GROUP BY customer_id HAVING sum(amount) < 5000 ORDER BY s, customer_id

-- title: group by bool
SELECT b, count(*), sum(i2), min(t) FROM typed GROUP BY b

-- title: group by date
SELECT d, count(*) FROM typed GROUP BY d HAVING count(*) > 1

-- title: group by uuid
SELECT u, count(*) FROM typed GROUP BY u ORDER BY u LIMIT 10

-- title: group by char(n)
SELECT ch, count(*), max(id) FROM typed GROUP BY ch

-- title: group by text without order
SELECT country, count(*) FROM customers GROUP BY country

-- title: group by interval
SELECT iv, count(*) FROM typed GROUP BY iv HAVING count(*) > 0 ORDER BY count(*) DESC, iv LIMIT 5

-- title: grouping sets
SELECT status, quantity % 3 AS q, count(*), sum(amount) FROM orders GROUP BY GROUPING SETS ((status), (quantity % 3), ())

-- title: rollup
SELECT country, active, count(*), sum(credit) FROM customers GROUP BY ROLLUP (country, active)

-- title: cube
SELECT status, quantity > 10 AS many, count(*) FROM orders GROUP BY CUBE (status, quantity > 10)

-- title: rollup with grouping()
SELECT country, active, grouping(country, active) AS g, count(*) FROM customers GROUP BY ROLLUP (country, active) ORDER BY g, country, active

-- title: rollup with order by
SELECT status, count(*) AS n FROM orders GROUP BY ROLLUP (status) ORDER BY status NULLS LAST, n

-- title: group by with filter in select
SELECT country, count(*) FILTER (WHERE active), count(*) FILTER (WHERE NOT active) FROM customers GROUP BY country

-- title: group by with count distinct
SELECT status, count(DISTINCT customer_id) FROM orders GROUP BY status

-- title: having without group by
SELECT count(*) FROM orders HAVING count(*) > 5

-- title: group by year of date
SELECT extract(year FROM signup_date) AS y, count(*) FROM customers GROUP BY 1 ORDER BY 1 NULLS FIRST

-- title: group by date_trunc month
SELECT date_trunc('month', created_at) AS m, count(*), sum(amount) FROM orders GROUP BY 1 ORDER BY 1 NULLS FIRST

-- title: group by join column
SELECT c.country, count(o.id), sum(o.amount) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.country

-- title: group by int2 with avg
SELECT tier, avg(credit) FROM customers GROUP BY tier ORDER BY tier NULLS FIRST

-- title: group by category with max price
SELECT category, max(price), min(price), count(stock) FROM products GROUP BY category

-- title: grouping sets with empty set only
SELECT count(*), sum(quantity) FROM orders GROUP BY GROUPING SETS (())
