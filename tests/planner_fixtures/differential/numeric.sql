SELECT id, quantity / 3, quantity % 3 FROM orders ORDER BY id

SELECT id, quantity / customer_id FROM orders WHERE customer_id IS NOT NULL ORDER BY id

SELECT id, -quantity / 4, (-quantity) % 4 FROM orders ORDER BY id

SELECT id, big / 7, big % 1000 FROM orders ORDER BY id

SELECT id, tier / 2 FROM customers ORDER BY id

SELECT id, amount / 3 FROM orders ORDER BY id

SELECT id, amount / 7.0 FROM orders ORDER BY id

SELECT id, amount / quantity FROM orders WHERE quantity <> 0 ORDER BY id

SELECT id, amount / discount FROM orders WHERE discount > 0 ORDER BY id

SELECT id, credit / 1000 FROM customers ORDER BY id

SELECT id, 1 / credit FROM customers WHERE credit <> 0 AND abs(credit) < 100 ORDER BY id

SELECT id, quantity / 2.5 FROM orders ORDER BY id

SELECT id, amount * 1.1, amount * quantity, amount * discount FROM orders ORDER BY id

SELECT id, amount + 1, amount - 0.005, amount + quantity FROM orders ORDER BY id

SELECT id, amount * (1 - discount) * (1 + discount) FROM orders ORDER BY id

SELECT id, quantity + 1, quantity - customer_id, quantity * 3 FROM orders ORDER BY id

SELECT id, tier + tier, tier * 2 FROM customers ORDER BY id

SELECT id, big + 1, big - quantity FROM orders WHERE big BETWEEN -1000000000000 AND 1000000000000 ORDER BY id

-- expect: origin unsupported_construct
-- float arithmetic: Postgres raises 22003 on overflow, DuckDB returns inf (no guard yet)
SELECT id, score * 2, score + 1, score / 3 FROM customers ORDER BY id

-- expect: origin unsupported_construct
-- float arithmetic: Postgres raises 22003 on overflow, DuckDB returns inf (no guard yet)
SELECT id, score + credit, score * quantity FROM customers JOIN orders USING (id) ORDER BY id

-- expect: origin unsupported_construct
-- float arithmetic: Postgres raises 22003 on overflow, DuckDB returns inf (no guard yet)
SELECT id, weight + weight, weight * weight FROM orders ORDER BY id

SELECT id, weight * 2 FROM orders ORDER BY id
-- expect: origin unsupported_construct

SELECT id, abs(amount), abs(quantity), abs(score) FROM orders JOIN customers USING (id) ORDER BY id

SELECT id, round(amount), round(amount, 1), round(amount, 3), round(amount, -2) FROM orders ORDER BY id

SELECT id, round(credit / 3, 2) FROM customers ORDER BY id

SELECT id, ceil(amount), floor(amount), ceil(score), floor(score) FROM orders JOIN customers USING (id) ORDER BY id

SELECT id, sign(amount), sign(score) FROM orders JOIN customers USING (id) ORDER BY id

SELECT id, amount::integer, amount::bigint, discount::numeric(3,1) FROM orders ORDER BY id

SELECT id, quantity::numeric, quantity::numeric(10,2), quantity::float8, quantity::bigint FROM orders ORDER BY id

SELECT id, amount::numeric, (amount * 2)::numeric(14,1) FROM orders ORDER BY id

SELECT id, amount::text, quantity::text, active::text FROM orders JOIN customers USING (id) ORDER BY id

SELECT id, tier::integer, tier::bigint FROM customers ORDER BY id

SELECT id, CAST(quantity AS double precision) FROM orders ORDER BY id

SELECT id, 3000000000 + quantity FROM orders ORDER BY id

SELECT id, 12345678901234567890 + quantity FROM orders ORDER BY id

SELECT id, .5 * amount, 5. * amount FROM orders ORDER BY id

SELECT id, amount * 100000000000000000000.5 FROM orders WHERE id < 20 ORDER BY id

SELECT id, mod(quantity, 4) FROM orders ORDER BY id

SELECT id, coalesce(amount, 0) FROM orders ORDER BY id

SELECT id, coalesce(amount, discount, 0) FROM orders ORDER BY id

SELECT id, CASE WHEN quantity > 5 THEN amount ELSE 0 END FROM orders ORDER BY id

SELECT id, CASE WHEN quantity > 5 THEN amount WHEN quantity > 0 THEN discount END FROM orders ORDER BY id

SELECT id, (amount / 3) * 3 FROM orders ORDER BY id

SELECT id, amount / 3 + 1 FROM orders ORDER BY id

SELECT id, quantity / 3 * 3 + quantity % 3 = quantity FROM orders ORDER BY id

SELECT count(*) FROM orders WHERE amount / 3 > 100

SELECT id FROM orders WHERE amount / quantity > 50 AND quantity > 0 ORDER BY id

SELECT id, big::numeric / 3 FROM orders WHERE id < 50 ORDER BY id

SELECT id, amount / 0.03 FROM orders ORDER BY id

SELECT id, 0.0001 / (quantity + 1000) FROM orders WHERE id < 30 ORDER BY id

SELECT id, (amount - amount) / 70000 FROM orders ORDER BY id

SELECT status, sum(CASE WHEN quantity > 1000 THEN amount ELSE 0 END) / sum(amount) FROM orders GROUP BY status ORDER BY status

SELECT id, amount / -3, -amount / 3.000 FROM orders ORDER BY id

SELECT avg(amount) FILTER (WHERE quantity > 3) FROM orders
-- expect: origin unsupported_construct
