-- LIMIT/OFFSET, DISTINCT, DISTINCT ON, CASE.

-- title: limit
SELECT id, amount FROM orders ORDER BY id LIMIT 10

-- title: limit offset
SELECT id, amount FROM orders ORDER BY id LIMIT 10 OFFSET 100

-- title: offset only
SELECT id FROM products ORDER BY id OFFSET 55

-- title: limit zero
SELECT id FROM orders ORDER BY id LIMIT 0

-- title: limit all
SELECT id FROM products ORDER BY id LIMIT ALL

-- title: fetch first rows only
SELECT id FROM orders ORDER BY amount DESC NULLS LAST, id FETCH FIRST 5 ROWS ONLY

-- title: limit by descending numeric
SELECT id, amount FROM orders ORDER BY amount DESC NULLS LAST, id LIMIT 7

-- title: limit with ties
SELECT id, quantity FROM orders ORDER BY quantity NULLS LAST FETCH FIRST 3 ROWS WITH TIES

-- title: distinct
SELECT DISTINCT status FROM orders

-- title: distinct multiple columns ordered
SELECT DISTINCT country, active FROM customers ORDER BY country, active

-- title: distinct on
SELECT DISTINCT ON (customer_id) customer_id, id, amount FROM orders ORDER BY customer_id, amount DESC NULLS LAST, id

-- title: distinct on expression
SELECT DISTINCT ON (id % 7) id % 7 AS k, id, t FROM typed ORDER BY id % 7, id

-- title: distinct on with limit
SELECT DISTINCT ON (status) status, created_at FROM orders ORDER BY status, created_at NULLS LAST LIMIT 3

-- title: simple case
SELECT id, CASE status WHEN 'paid' THEN 1 WHEN 'shipped' THEN 2 ELSE 0 END FROM orders ORDER BY id

-- title: searched case with numeric branches
SELECT id, CASE WHEN amount > 1000 THEN amount WHEN amount > 0 THEN 0.5 ELSE 0 END FROM orders ORDER BY id

-- title: case mixing int and numeric
SELECT id, CASE WHEN id % 2 = 0 THEN 1 ELSE 2.50 END FROM orders ORDER BY id

-- title: case without else
SELECT id, CASE WHEN tier > 2 THEN 'high' END FROM customers ORDER BY id

-- title: case in order by
SELECT id, status FROM orders ORDER BY CASE WHEN status = 'paid' THEN 0 ELSE 1 END, id

-- title: case returning dates
SELECT id, CASE WHEN b THEN d ELSE d + 1 END FROM typed ORDER BY id

-- title: order by expression and limit
SELECT id, i4 * 2 AS x FROM typed ORDER BY x DESC NULLS LAST, id LIMIT 15

-- title: order by column position
SELECT name, id FROM customers ORDER BY 2 DESC LIMIT 5

-- title: order by float with NaN and infinities
SELECT id, f8 FROM typed ORDER BY f8, id

-- title: order by uuid
SELECT id, u FROM typed ORDER BY u NULLS FIRST, id

-- title: order by interval
SELECT id, iv FROM typed ORDER BY iv, id

-- title: order by bool
SELECT id, b FROM typed ORDER BY b, id

-- title: order by bytea
SELECT id, by FROM typed ORDER BY by, id
