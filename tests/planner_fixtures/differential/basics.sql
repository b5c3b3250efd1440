-- Differential queries: run on Postgres and (transpiled) on DuckDB; results must be identical.
-- Blocks separated by blank lines. Optional headers: "-- expect: origin <reason>" (default:
-- mirror), "-- params: a|b" (text values, typed by Postgres from context), "-- tz: Zone".

SELECT * FROM customers ORDER BY id

SELECT * FROM orders ORDER BY id

SELECT * FROM products ORDER BY id

SELECT id, name, email FROM customers WHERE country = 'DE' ORDER BY id

SELECT id FROM customers WHERE country IS NULL ORDER BY id

SELECT id FROM customers WHERE country IS NOT NULL AND tier > 2 ORDER BY id

SELECT id FROM orders WHERE status IN ('paid', 'shipped') AND quantity BETWEEN 3 AND 10 ORDER BY id

SELECT id FROM orders WHERE status NOT IN ('paid', 'shipped') ORDER BY id

SELECT id FROM orders WHERE NOT (quantity > 5 OR amount < 100) ORDER BY id

SELECT id, active FROM customers WHERE active ORDER BY id

SELECT id FROM customers WHERE active IS NOT TRUE ORDER BY id

SELECT id FROM customers WHERE active IS FALSE ORDER BY id

SELECT id, tier FROM customers WHERE tier IS DISTINCT FROM 3 ORDER BY id

SELECT id FROM customers WHERE tier IS NOT DISTINCT FROM NULL ORDER BY id

SELECT id, amount FROM orders WHERE amount > 1000.50 ORDER BY amount DESC, id

SELECT id, amount FROM orders ORDER BY amount, id

SELECT id, amount FROM orders ORDER BY amount DESC, id DESC

SELECT id, amount FROM orders ORDER BY amount DESC NULLS LAST, id

SELECT id, amount FROM orders ORDER BY amount NULLS FIRST, id

SELECT id, status FROM orders ORDER BY status, id

SELECT id, status FROM orders ORDER BY status DESC, id

SELECT id FROM orders ORDER BY id LIMIT 10

SELECT id FROM orders ORDER BY id LIMIT 10 OFFSET 15

SELECT id FROM orders ORDER BY id OFFSET 1190

SELECT id FROM orders ORDER BY id FETCH FIRST 5 ROWS ONLY

SELECT DISTINCT status FROM orders

SELECT DISTINCT country, active FROM customers

SELECT DISTINCT ON (customer_id) customer_id, id, amount FROM orders WHERE customer_id IS NOT NULL ORDER BY customer_id, amount DESC NULLS LAST, id

SELECT DISTINCT ON (status) status, id FROM orders ORDER BY status, id DESC

SELECT id, name FROM customers WHERE name = 'Zoë' ORDER BY id

SELECT id, name FROM customers WHERE name > 'Zo' ORDER BY name, id

SELECT id, name FROM customers WHERE name < 'b' ORDER BY name DESC, id

SELECT id FROM customers WHERE name >= 'a' AND name < 'c' ORDER BY id

SELECT id, signup_date FROM customers WHERE signup_date >= '2021-01-01' AND signup_date < '2021-07-01' ORDER BY signup_date, id

SELECT id, created_at FROM orders WHERE created_at BETWEEN '2023-06-01' AND '2023-06-30 23:59:59' ORDER BY created_at, id

SELECT id FROM orders WHERE created_at > '2024-05-01 12:00' ORDER BY id

SELECT id, score FROM customers WHERE score > 50.5 ORDER BY score, id

SELECT id, weight FROM orders WHERE weight > 100 ORDER BY weight, id

SELECT id, big FROM orders WHERE big > 1000000 ORDER BY big, id

SELECT id FROM orders WHERE big = 4611686018427387904 ORDER BY id

SELECT id FROM orders WHERE quantity = ANY(ARRAY[1, 2, 3]) ORDER BY id

SELECT id FROM orders WHERE status = ANY(ARRAY['paid', 'Paid']) ORDER BY id

SELECT id, discount FROM orders WHERE discount >= 0.25 ORDER BY id

TABLE products

SELECT count(*) FROM orders WHERE status = 'paid'

SELECT c.* FROM customers c WHERE c.id < 5 ORDER BY c.id

SELECT o.id, c.name FROM orders o, customers c WHERE o.customer_id = c.id AND c.id < 10 ORDER BY o.id

SELECT id, CASE WHEN amount > 1000 THEN 'big' WHEN amount > 100 THEN 'medium' ELSE 'small' END FROM orders ORDER BY id

SELECT id, CASE status WHEN 'paid' THEN 1 WHEN 'shipped' THEN 2 END FROM orders ORDER BY id

SELECT id, coalesce(status, 'unknown') FROM orders ORDER BY id

SELECT id, coalesce(tier, 0), nullif(tier, 3) FROM customers ORDER BY id

SELECT id, greatest(quantity, 5), least(quantity, 5, customer_id) FROM orders ORDER BY id

SELECT id, greatest(amount, 0.00) FROM orders ORDER BY id

SELECT id FROM orders WHERE quantity = $1 ORDER BY id
-- params: 7

SELECT id, amount FROM orders WHERE status = $1 AND amount > $2 ORDER BY id LIMIT $3
-- params: paid|100.005|5

SELECT id FROM customers WHERE signup_date > $1 ORDER BY id
-- params: 2024-01-01

SELECT $1, id FROM customers WHERE id < 3 ORDER BY id
-- params: hello

SELECT id FROM orders WHERE created_at < $1 ORDER BY id
-- params: 2023-02-01 00:00:00

SELECT id FROM customers WHERE score <> 'NaN' AND score < 'Infinity' AND score > '-1e1' ORDER BY id
