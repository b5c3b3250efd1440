SELECT id, row_number() OVER (ORDER BY id) FROM orders ORDER BY id

SELECT id, row_number() OVER (PARTITION BY customer_id ORDER BY id) FROM orders ORDER BY id

SELECT id, rank() OVER (ORDER BY quantity), dense_rank() OVER (ORDER BY quantity) FROM orders ORDER BY id

SELECT id, rank() OVER (PARTITION BY status ORDER BY amount DESC) FROM orders ORDER BY id

SELECT id, percent_rank() OVER (ORDER BY quantity), cume_dist() OVER (ORDER BY quantity) FROM orders ORDER BY id

SELECT id, ntile(4) OVER (ORDER BY id) FROM orders ORDER BY id

SELECT id, lag(amount) OVER (ORDER BY id), lead(amount, 2) OVER (ORDER BY id) FROM orders ORDER BY id

SELECT id, lag(quantity, 1, 0) OVER (PARTITION BY customer_id ORDER BY id) FROM orders ORDER BY id

SELECT id, first_value(amount) OVER (PARTITION BY customer_id ORDER BY id), last_value(amount) OVER (PARTITION BY customer_id ORDER BY id) FROM orders ORDER BY id

SELECT id, sum(quantity) OVER (ORDER BY id) FROM orders ORDER BY id

SELECT id, sum(amount) OVER (PARTITION BY customer_id ORDER BY id) FROM orders ORDER BY id

SELECT id, sum(quantity) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM orders ORDER BY id

SELECT id, count(*) OVER (PARTITION BY status), max(amount) OVER (PARTITION BY status) FROM orders ORDER BY id

SELECT id, min(created_at) OVER (PARTITION BY customer_id) FROM orders ORDER BY id

SELECT id, sum(amount) OVER () FROM orders ORDER BY id

SELECT id, avg(quantity) OVER (PARTITION BY customer_id) FROM orders ORDER BY id

SELECT id, avg(amount) OVER (ORDER BY id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) FROM orders ORDER BY id

SELECT id, sum(quantity) OVER (ORDER BY quantity) FROM orders ORDER BY id

SELECT id, row_number() OVER (ORDER BY amount DESC NULLS LAST, id) FROM orders ORDER BY id

SELECT id, row_number() OVER (ORDER BY status, id) FROM orders ORDER BY id

SELECT * FROM (SELECT id, customer_id, row_number() OVER (PARTITION BY customer_id ORDER BY amount DESC, id) AS rn FROM orders) t WHERE rn = 1 ORDER BY id

SELECT status, sum(amount), rank() OVER (ORDER BY sum(amount) DESC) FROM orders GROUP BY status ORDER BY status

SELECT id, sum(quantity) OVER (PARTITION BY customer_id ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM orders ORDER BY id
