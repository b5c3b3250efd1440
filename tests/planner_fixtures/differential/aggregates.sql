SELECT count(*), count(status), count(DISTINCT status) FROM orders

SELECT status, count(*) FROM orders GROUP BY status

SELECT status, count(*) AS n FROM orders GROUP BY status ORDER BY n DESC, status

SELECT sum(quantity), sum(amount), sum(big), sum(tier) FROM orders, customers WHERE customers.id = orders.customer_id

SELECT sum(quantity), min(quantity), max(quantity) FROM orders

SELECT avg(quantity) FROM orders

SELECT avg(amount) FROM orders

SELECT avg(tier) FROM customers

SELECT avg(big) FROM orders

SELECT avg(credit) FROM customers

SELECT avg(discount) FROM orders

SELECT status, avg(amount), avg(quantity) FROM orders GROUP BY status

SELECT status, avg(amount) AS a FROM orders GROUP BY status ORDER BY a, status

SELECT status, avg(amount) FROM orders GROUP BY status ORDER BY 2 DESC, 1

SELECT customer_id, avg(quantity) FROM orders GROUP BY customer_id

SELECT avg(quantity) FROM orders WHERE quantity IS NULL

SELECT avg(amount) FROM orders WHERE id < 0

SELECT min(amount), max(amount), min(created_at), max(created_at), min(status), max(status) FROM orders

SELECT min(name), max(name) FROM customers

SELECT country, min(signup_date), max(credit) FROM customers GROUP BY country

SELECT count(*) FILTER (WHERE status = 'paid'), sum(amount) FILTER (WHERE quantity > 5) FROM orders

SELECT status, count(*) FILTER (WHERE amount > 100) FROM orders GROUP BY status

SELECT bool_and(active), bool_or(active) FROM customers

SELECT country, bool_and(active) FROM customers GROUP BY country

SELECT customer_id, count(*) FROM orders GROUP BY customer_id HAVING count(*) > 10

SELECT customer_id, sum(amount) FROM orders GROUP BY customer_id HAVING sum(amount) > 20000

SELECT status, sum(quantity) FROM orders GROUP BY 1 HAVING sum(quantity) > 0

SELECT sum(DISTINCT quantity), count(DISTINCT customer_id) FROM orders

SELECT avg(DISTINCT quantity) FROM orders

SELECT string_agg(status, ',' ORDER BY status) FROM (SELECT DISTINCT status FROM orders WHERE status IS NOT NULL) s

SELECT country, string_agg(name, '; ' ORDER BY name, id) FROM customers WHERE id < 40 GROUP BY country

SELECT date_trunc('month', created_at) AS m, count(*), sum(amount) FROM orders GROUP BY m

SELECT extract(year FROM created_at), count(*) FROM orders GROUP BY 1

SELECT status, customer_id, count(*) FROM orders GROUP BY ROLLUP (status, customer_id)

SELECT status, count(*), grouping(status) FROM orders GROUP BY ROLLUP (status)

SELECT status, extract(year FROM created_at), sum(quantity) FROM orders GROUP BY CUBE (status, extract(year FROM created_at))

SELECT country, active, count(*) FROM customers GROUP BY GROUPING SETS ((country), (active), ())

SELECT count(*) FROM (SELECT customer_id FROM orders GROUP BY customer_id) t

SELECT max(n) FROM (SELECT customer_id, count(*) AS n FROM orders GROUP BY customer_id) t

SELECT sum(amount * quantity), sum(amount * discount) FROM orders

SELECT sum(amount) / count(*) FROM orders

SELECT sum(quantity) / count(*) FROM orders

SELECT sum(CASE WHEN status = 'paid' THEN amount ELSE 0 END) / sum(amount) FROM orders

SELECT status, sum(CASE WHEN quantity > 5 THEN amount ELSE 0 END) / nullif(sum(amount), 0) FROM orders GROUP BY status

SELECT 100.00 * sum(CASE WHEN status LIKE 'p%' THEN amount ELSE 0 END) / sum(amount) FROM orders

SELECT count(*) FROM orders WHERE amount > (SELECT avg(amount) FROM orders)

SELECT customer_id, sum(amount) FROM orders o WHERE quantity < (SELECT 0.2 * avg(quantity) FROM orders o2 WHERE o2.customer_id = o.customer_id) GROUP BY customer_id
