-- Joins: inner/left/right/full, self joins, USING/NATURAL, cross joins.

-- title: inner join customers orders
SELECT o.id, c.name, o.amount FROM orders o JOIN customers c ON c.id = o.customer_id ORDER BY o.id

-- title: left join keeps customers without orders
SELECT c.id, count(o.id) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id ORDER BY c.id

-- title: right join
SELECT c.id, o.id FROM customers c RIGHT JOIN orders o ON o.customer_id = c.id WHERE o.id < 100 ORDER BY o.id

-- title: full join on id ranges
SELECT a.id AS a, b.id AS b FROM (SELECT id FROM customers WHERE id < 40) a FULL JOIN (SELECT id FROM products WHERE id > 20) b ON a.id = b.id

-- title: full outer join with null keys
SELECT o.customer_id, c.id FROM orders o FULL OUTER JOIN customers c ON c.id = o.customer_id WHERE o.customer_id IS NULL OR c.id IS NULL

-- title: self join
SELECT a.id, b.id FROM customers a JOIN customers b ON a.country = b.country AND a.id < b.id WHERE a.id < 20 ORDER BY a.id, b.id

-- title: join using
SELECT id, c.name, p.title FROM customers c JOIN products p USING (id) ORDER BY id

-- title: natural join
SELECT * FROM (SELECT id, name FROM customers) c NATURAL JOIN (SELECT id, sku FROM products) p ORDER BY id

-- title: left join using with coalesce
SELECT id, coalesce(p.title, '(none)') FROM customers c LEFT JOIN products p USING (id) ORDER BY id

-- title: three-way join
SELECT c.country, p.category, count(*) FROM orders o JOIN customers c ON c.id = o.customer_id JOIN products p ON p.id = o.quantity GROUP BY 1, 2

-- title: cross join with filter
SELECT r.code, t.id FROM regions r CROSS JOIN typed t WHERE t.id < 4 ORDER BY r.code, t.id

-- title: join on text with unicode
SELECT c.id, r.name FROM customers c JOIN regions r ON r.code = c.country ORDER BY c.id

-- title: join on expression
SELECT o.id, p.sku FROM orders o JOIN products p ON p.id = o.id % 60 + 1 WHERE o.id < 50 ORDER BY o.id

-- title: non-equi join
SELECT p.id, count(o.id) FROM products p LEFT JOIN orders o ON o.amount BETWEEN p.price * 10 AND p.price * 11 GROUP BY p.id ORDER BY p.id

-- title: left join with condition on right side
SELECT c.id, o.id FROM customers c LEFT JOIN orders o ON o.customer_id = c.id AND o.status = 'paid' WHERE c.id < 30 ORDER BY c.id, o.id

-- title: anti join via left join
SELECT c.id FROM customers c LEFT JOIN orders o ON o.customer_id = c.id WHERE o.id IS NULL ORDER BY c.id

-- title: join typed to itself on int2
SELECT a.id, b.id FROM typed a JOIN typed b ON a.i2 = b.i2 AND a.id <> b.id WHERE a.id < 30

-- title: join on date
SELECT a.id, b.id FROM typed a JOIN typed b ON a.d = b.d AND a.id < b.id

-- title: join on uuid
SELECT count(*) FROM typed a JOIN typed b ON a.u = b.u

-- title: join with select star
SELECT * FROM regions r JOIN customers c ON c.country = r.code WHERE c.id < 40 ORDER BY c.id

-- title: lateral join
SELECT c.id, x.m FROM customers c, LATERAL (SELECT max(amount) AS m FROM orders o WHERE o.customer_id = c.id) x WHERE c.id < 20 ORDER BY c.id

-- title: join of typed with all columns
SELECT a.*, r.name FROM typed a LEFT JOIN regions r ON r.code = a.vc ORDER BY a.id

-- title: full join using
SELECT id, c.tier, p.stock FROM (SELECT * FROM customers WHERE id % 2 = 0) c FULL JOIN (SELECT * FROM products WHERE id % 3 = 0) p USING (id) ORDER BY id

-- title: join with aggregate subquery
SELECT c.id, t.total FROM customers c JOIN (SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id) t ON t.customer_id = c.id ORDER BY c.id

-- title: or of conjunctions over two tables (TPC-H Q19 shape: implied single-table filters)
SELECT sum(o.amount), count(*) FROM orders o, customers c WHERE (c.id = o.customer_id AND c.country = 'DE' AND c.tier IN (1, 2) AND o.status = 'paid' AND o.quantity <= 10) OR (c.id = o.customer_id AND c.country IN ('FR', 'us') AND o.status = 'shipped' AND o.quantity >= 20) OR (c.id = o.customer_id AND c.country = 'GB' AND o.status = 'Paid')

-- title: or of conjunctions with a null test and an outer join
SELECT o.id, c.id FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE (c.country = 'DE' AND o.status = 'paid') OR (c.country IS NULL AND o.status = 'refunded') OR (c.country = 'NO' AND o.status IS NULL) ORDER BY o.id
