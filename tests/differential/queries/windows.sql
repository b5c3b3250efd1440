-- Window functions.

-- title: row_number per customer
SELECT id, customer_id, row_number() OVER (PARTITION BY customer_id ORDER BY id) FROM orders ORDER BY id

-- title: rank and dense_rank
SELECT id, amount, rank() OVER (ORDER BY amount DESC NULLS LAST), dense_rank() OVER (ORDER BY amount DESC NULLS LAST) FROM orders ORDER BY id

-- title: lag and lead
SELECT id, amount, lag(amount) OVER (ORDER BY id), lead(amount, 2) OVER (ORDER BY id) FROM orders ORDER BY id

-- title: lag with default
SELECT id, lag(quantity, 1, 0) OVER (PARTITION BY status ORDER BY id) FROM orders ORDER BY id

-- title: running sum
SELECT id, sum(amount) OVER (ORDER BY id) FROM orders ORDER BY id

-- title: running sum per partition
SELECT id, status, sum(quantity) OVER (PARTITION BY status ORDER BY id) FROM orders ORDER BY id

-- title: sum over partition without order
SELECT id, sum(amount) OVER (PARTITION BY customer_id) FROM orders ORDER BY id

-- title: rows frame
SELECT id, sum(quantity) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) FROM orders ORDER BY id

-- title: range frame with unbounded
SELECT id, max(amount) OVER (ORDER BY id RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM orders ORDER BY id

-- title: count over partition
SELECT id, count(*) OVER (PARTITION BY country) FROM customers ORDER BY id

-- title: first_value and last_value
SELECT id, first_value(name) OVER (PARTITION BY country ORDER BY id), last_value(name) OVER (PARTITION BY country ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM customers ORDER BY id

-- title: ntile
SELECT id, ntile(4) OVER (ORDER BY id) FROM products ORDER BY id

-- title: percent_rank and cume_dist
SELECT id, percent_rank() OVER (ORDER BY stock NULLS FIRST, id), cume_dist() OVER (ORDER BY stock NULLS FIRST, id) FROM products ORDER BY id

-- title: window over typed ints
SELECT id, sum(i8) OVER (ORDER BY id), min(i2) OVER (PARTITION BY b ORDER BY id) FROM typed ORDER BY id

-- title: avg over window of ints
SELECT id, avg(i4) OVER (PARTITION BY b) FROM typed WHERE id < 60 ORDER BY id

-- title: row_number filter in subquery (top-n per group)
SELECT * FROM (SELECT id, customer_id, amount, row_number() OVER (PARTITION BY customer_id ORDER BY amount DESC NULLS LAST, id) AS rn FROM orders) x WHERE rn <= 2 ORDER BY customer_id, rn

-- title: named window
SELECT id, sum(quantity) OVER w, count(*) OVER w FROM orders WINDOW w AS (PARTITION BY status ORDER BY id) ORDER BY id

-- title: window with date ordering
SELECT id, rank() OVER (ORDER BY d NULLS FIRST, id) FROM typed ORDER BY id

-- title: lead over timestamps
SELECT id, ts, lead(ts) OVER (ORDER BY id) - ts AS gap FROM typed ORDER BY id

-- title: window with interval sum
SELECT id, sum(iv) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM typed ORDER BY id

-- title: dense_rank per partition on text
SELECT id, dense_rank() OVER (PARTITION BY category ORDER BY price NULLS LAST) FROM products ORDER BY id

-- title: window over aggregate
SELECT status, sum(amount), sum(sum(amount)) OVER () FROM orders GROUP BY status

-- title: rank over aggregate
SELECT customer_id, count(*), rank() OVER (ORDER BY count(*) DESC) FROM orders GROUP BY customer_id ORDER BY customer_id

-- title: lag over float
SELECT id, f8 - lag(f8) OVER (ORDER BY id) FROM typed ORDER BY id

-- title: groups frame
SELECT id, count(*) OVER (ORDER BY tier GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM customers ORDER BY id
