-- Set operations.

-- title: union
SELECT country FROM customers UNION SELECT code FROM regions

-- title: union all
SELECT id FROM customers WHERE id < 10 UNION ALL SELECT id FROM products WHERE id < 10

-- title: union all ordered
SELECT id, 'c' AS src FROM customers WHERE id < 5 UNION ALL SELECT id, 'p' FROM products WHERE id < 5 ORDER BY id, src

-- title: intersect
SELECT customer_id FROM orders INTERSECT SELECT id FROM customers WHERE active

-- title: intersect all
SELECT quantity FROM orders WHERE id < 200 INTERSECT ALL SELECT quantity FROM orders WHERE id >= 100

-- title: except
SELECT id FROM customers EXCEPT SELECT customer_id FROM orders

-- title: except all
SELECT status FROM orders EXCEPT ALL SELECT status FROM orders WHERE id % 2 = 0

-- title: union with mixed int types
SELECT i2 FROM typed WHERE id < 5 UNION SELECT i8 FROM typed WHERE id < 5

-- title: union of numeric with different scales
SELECT n FROM typed WHERE id < 5 UNION ALL SELECT amount FROM orders WHERE id < 5

-- title: union of text and varchar
SELECT t FROM typed WHERE id < 10 UNION SELECT vc FROM typed WHERE id < 10

-- title: union with limit
(SELECT id FROM orders ORDER BY id LIMIT 3) UNION ALL (SELECT id FROM orders ORDER BY id DESC LIMIT 3)

-- title: union with nulls
SELECT NULL::int AS x FROM customers WHERE id = 1 UNION SELECT tier FROM customers

-- title: union dedups nulls
SELECT b FROM typed UNION SELECT active FROM customers

-- title: except with dates
SELECT d FROM typed EXCEPT SELECT signup_date FROM customers

-- title: union then aggregate
SELECT count(*) FROM (SELECT customer_id FROM orders UNION SELECT id FROM customers) u

-- title: intersect of timestamps
SELECT date_trunc('day', created_at) FROM orders INTERSECT SELECT date_trunc('day', ts) FROM typed
