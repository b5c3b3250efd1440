SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id ORDER BY o.id

SELECT o.id, c.name FROM orders o LEFT JOIN customers c ON c.id = o.customer_id ORDER BY o.id

SELECT o.id, c.id FROM orders o RIGHT JOIN customers c ON c.id = o.customer_id ORDER BY c.id, o.id

SELECT o.id, c.id FROM orders o FULL JOIN customers c ON c.id = o.customer_id ORDER BY c.id NULLS FIRST, o.id

SELECT count(*) FROM orders o CROSS JOIN products p WHERE p.id < 3

SELECT c.country, count(o.id), sum(o.amount) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.country

SELECT * FROM orders JOIN customers USING (id) ORDER BY id

SELECT id, name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.amount > 4000) ORDER BY id

SELECT id FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id) ORDER BY id

SELECT id FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE status = 'refunded') ORDER BY id

SELECT id FROM customers WHERE id NOT IN (SELECT customer_id FROM orders WHERE customer_id IS NOT NULL) ORDER BY id

SELECT id, (SELECT count(*) FROM orders o WHERE o.customer_id = c.id) FROM customers c ORDER BY id

SELECT id, (SELECT max(amount) FROM orders o WHERE o.customer_id = c.id) AS top FROM customers c ORDER BY id

SELECT id FROM orders WHERE amount > ALL (SELECT price FROM products WHERE category = 'toys') ORDER BY id

SELECT id FROM orders WHERE amount < ANY (SELECT price FROM products WHERE category = 'books') ORDER BY id

SELECT t.customer_id, t.total FROM (SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id) t WHERE t.total > 15000 ORDER BY t.customer_id

SELECT x.n FROM (SELECT count(*) AS n FROM orders) AS x

SELECT a.k, a.v FROM (SELECT status, count(*) FROM orders GROUP BY status) AS a(k, v) ORDER BY a.k

WITH big AS (SELECT * FROM orders WHERE amount > 3000) SELECT count(*), sum(amount) FROM big

WITH per AS (SELECT customer_id, sum(quantity) AS q FROM orders GROUP BY customer_id), top AS (SELECT * FROM per WHERE q > 50) SELECT c.name, top.q FROM top JOIN customers c ON c.id = top.customer_id ORDER BY top.q DESC, c.id

WITH s AS (SELECT status, avg(amount) AS a FROM orders GROUP BY status) SELECT status FROM s WHERE a > 1000 ORDER BY status

SELECT id FROM orders WHERE id < 10 UNION SELECT id FROM customers WHERE id < 5 ORDER BY 1

SELECT id FROM orders WHERE id < 10 UNION ALL SELECT id FROM customers WHERE id < 5 ORDER BY 1

SELECT customer_id FROM orders INTERSECT SELECT id FROM customers ORDER BY 1

SELECT id FROM customers EXCEPT SELECT customer_id FROM orders ORDER BY 1

SELECT customer_id FROM orders EXCEPT ALL SELECT id FROM customers ORDER BY 1

SELECT status, NULL FROM orders UNION SELECT 'x', NULL ORDER BY 1

SELECT amount FROM orders WHERE id < 5 UNION ALL SELECT price FROM products WHERE id < 5 ORDER BY 1

SELECT * FROM (SELECT id, amount FROM orders ORDER BY amount DESC NULLS LAST, id LIMIT 5) t ORDER BY id

SELECT c.id, o.n FROM customers c JOIN (SELECT customer_id, count(*) AS n FROM orders GROUP BY customer_id) o ON o.customer_id = c.id WHERE o.n > (SELECT avg(x.n) FROM (SELECT count(*) AS n FROM orders GROUP BY customer_id) x) ORDER BY c.id

SELECT p.category, count(*) FROM products p GROUP BY p.category ORDER BY p.category

SELECT o.status, c.country, sum(o.quantity) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.active GROUP BY o.status, c.country

SELECT id FROM orders o WHERE o.quantity > (SELECT avg(o2.quantity) FROM orders o2 WHERE o2.status = o.status) ORDER BY id

(SELECT id FROM orders ORDER BY id LIMIT 3)

SELECT id FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE country = 'FR') AND status IN (SELECT status FROM orders WHERE quantity > 30) ORDER BY id
