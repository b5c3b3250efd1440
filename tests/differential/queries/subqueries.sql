-- CTEs and subqueries: scalar, IN, EXISTS, correlated.

-- title: simple cte
WITH big AS (SELECT * FROM orders WHERE amount > 1000) SELECT count(*), sum(amount) FROM big

-- title: two ctes joined
WITH c AS (SELECT id, country FROM customers), o AS (SELECT customer_id, sum(amount) AS s FROM orders GROUP BY 1) SELECT c.country, sum(o.s) FROM c JOIN o ON o.customer_id = c.id GROUP BY c.country

-- title: cte referenced twice
WITH t AS (SELECT status, count(*) AS n FROM orders GROUP BY status) SELECT a.status, a.n, b.n FROM t a JOIN t b ON a.n >= b.n ORDER BY a.status NULLS FIRST, b.status NULLS FIRST

-- title: cte chained
WITH a AS (SELECT id, quantity FROM orders), b AS (SELECT id, quantity * 2 AS q2 FROM a WHERE quantity > 0) SELECT sum(q2), count(*) FROM b

-- title: recursive cte over a table
WITH RECURSIVE r(n, total) AS (SELECT 1, 0::numeric UNION ALL SELECT n + 1, total + (SELECT amount FROM orders WHERE id = n) FROM r WHERE n < 10) SELECT * FROM r ORDER BY n

-- title: materialized cte
WITH m AS MATERIALIZED (SELECT id, name FROM customers WHERE id < 10) SELECT * FROM m ORDER BY id

-- title: scalar subquery in select
SELECT id, amount, (SELECT max(amount) FROM orders) AS top FROM orders WHERE id < 20 ORDER BY id

-- title: scalar subquery in where
SELECT id FROM orders WHERE amount > (SELECT avg(amount) * 2 FROM orders) ORDER BY id

-- title: in subquery
SELECT id, name FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE status = 'refunded') ORDER BY id

-- title: not in subquery with nulls
SELECT count(*) FROM customers WHERE id NOT IN (SELECT customer_id FROM orders)

-- title: not in subquery without nulls
SELECT id FROM customers WHERE id NOT IN (SELECT customer_id FROM orders WHERE customer_id IS NOT NULL) ORDER BY id

-- title: exists correlated
SELECT c.id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.amount > 4000) ORDER BY c.id

-- title: not exists correlated
SELECT c.id FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id) ORDER BY c.id

-- title: correlated scalar subquery
SELECT c.id, (SELECT count(*) FROM orders o WHERE o.customer_id = c.id) AS n FROM customers c ORDER BY c.id

-- title: correlated subquery with aggregate comparison
SELECT o.id FROM orders o WHERE o.amount > (SELECT avg(o2.amount) FROM orders o2 WHERE o2.customer_id = o.customer_id) ORDER BY o.id

-- title: subquery in from with alias columns
SELECT x.a, x.b FROM (SELECT id, quantity FROM orders WHERE id < 10) AS x(a, b) ORDER BY x.a

-- title: any subquery
SELECT id FROM products WHERE price > ANY (SELECT amount FROM orders WHERE id < 5) ORDER BY id

-- title: all subquery
SELECT id FROM products WHERE price >= ALL (SELECT price FROM products WHERE category = 'toys' AND price IS NOT NULL) ORDER BY id

-- title: in list of tuples
SELECT id FROM orders WHERE (status, quantity) IN (SELECT 'paid', tier FROM customers) ORDER BY id

-- title: scalar subquery returning more than one row errors
SELECT id, (SELECT id FROM orders) FROM customers

-- title: cte with window
WITH w AS (SELECT id, row_number() OVER (ORDER BY amount NULLS LAST, id) AS rn FROM orders) SELECT * FROM w WHERE rn < 10 ORDER BY rn

-- title: nested subqueries
SELECT count(*) FROM (SELECT * FROM (SELECT * FROM orders WHERE amount > 0) a WHERE quantity > 0) b

-- title: in subquery on typed text
SELECT id FROM typed WHERE t IN (SELECT t FROM typed WHERE id < 10) ORDER BY id

-- title: exists without correlation
SELECT count(*) FROM customers WHERE EXISTS (SELECT 1 FROM products WHERE stock > 1000)

-- title: cte shadowing a table name
WITH customers AS (SELECT id, status FROM orders) SELECT count(*), count(status) FROM customers

-- title: values in from
SELECT v.x, c.name FROM (VALUES (1), (2), (3)) v(x) JOIN customers c ON c.id = v.x ORDER BY v.x

-- title: subquery with limit inside
SELECT sum(amount) FROM (SELECT amount FROM orders ORDER BY id LIMIT 50) s
