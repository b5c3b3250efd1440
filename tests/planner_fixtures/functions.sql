-- Functions: origin-only state, volatility, the allowlist.

-- title: nextval has side effects
-- expect: origin origin_only_function read
SELECT nextval('orders_id_seq')

-- title: currval in a read of a table
-- expect: origin origin_only_function read
SELECT id, currval('orders_id_seq') FROM orders

-- title: set_config has side effects
-- expect: origin origin_only_function read
SELECT set_config('search_path', 'x', false)

-- title: current_setting reads origin session state
-- expect: origin origin_only_function read
SELECT id FROM orders WHERE status = current_setting('app.status')

-- title: pg_ functions are origin-only
-- expect: origin origin_only_function read
SELECT pg_sleep(1)

-- title: advisory locks
-- expect: origin origin_only_function read
SELECT pg_advisory_lock(42)

-- title: txid functions
-- expect: origin origin_only_function read
SELECT txid_current()

-- title: current_user is origin state
-- expect: origin origin_only_function read
SELECT id FROM orders WHERE status = current_user

-- title: random is volatile
-- expect: origin volatile_function read
SELECT id FROM orders ORDER BY random() LIMIT 5

-- title: now is time-dependent
-- expect: origin volatile_function read
SELECT count(*) FROM orders WHERE created_tz > now() - interval '1 day'

-- title: current_date is time-dependent
-- expect: origin volatile_function read
SELECT count(*) FROM customers WHERE signup_date = current_date

-- title: current_timestamp is time-dependent
-- expect: origin volatile_function read
SELECT current_timestamp, id FROM orders

-- title: clock_timestamp is volatile
-- expect: origin volatile_function read
SELECT clock_timestamp() FROM orders

-- title: to_char is not on the allowlist
-- expect: origin unknown_function read
SELECT to_char(created_at, 'YYYY-MM') FROM orders

-- title: a user-defined function is unknown
-- expect: origin unknown_function read
SELECT my_udf(id) FROM orders

-- title: initcap is not on the allowlist
-- expect: origin unknown_function read
SELECT initcap(name) FROM customers

-- title: age is time-dependent with one argument
-- expect: origin volatile_function read
SELECT age(signup_date) FROM customers

-- title: sum of floats is not exact across engines
-- expect: origin inexact_float_aggregate read
SELECT sum(score) FROM customers

-- title: avg of floats is not exact across engines
-- expect: origin inexact_float_aggregate read
SELECT country, avg(rating) FROM products p JOIN customers c ON true GROUP BY country

-- title: string_agg without order differs between engines
-- expect: origin unsupported_construct read
SELECT string_agg(name, ',') FROM customers

-- title: string_agg with order
-- expect: mirror mirror_eligible read
SELECT string_agg(name, ', ' ORDER BY name) FROM customers

-- title: array_agg is not handled
-- expect: origin unknown_function read
SELECT array_agg(id) FROM orders

-- title: round of a float rounds half to even in Postgres
-- expect: origin unsupported_construct read
SELECT round(score) FROM customers

-- title: round of an integer resolves to float8 in Postgres
-- expect: origin unsupported_construct read
SELECT round(quantity) FROM orders

-- title: round of numeric
-- expect: mirror mirror_eligible read
-- duckdb: SELECT ROUND("orders"."amount", 1) AS "round" FROM "public"."orders" AS "orders"
SELECT round(amount, 1) FROM orders

-- title: regex outside the common subset
-- expect: origin unsupported_construct read
SELECT id FROM customers WHERE name ~ '\mfoo\M'

-- title: simple regex
-- expect: mirror mirror_eligible read
SELECT id FROM customers WHERE name ~ '^A.*e$'

-- title: regex with a non-constant pattern
-- expect: origin unsupported_construct read
SELECT id FROM customers WHERE name ~ notes

-- title: json operators are not handled
-- expect: origin unknown_function read
SELECT payload ->> 'k' FROM events

-- title: extract of epoch is exact numeric seconds from the microseconds
-- expect: mirror mirror_eligible read
-- duckdb: SELECT CAST(EPOCH_US("orders"."created_at") AS DECIMAL(38, 0)) * CAST(0.000001 AS DECIMAL(7, 6)) AS "extract" FROM "public"."orders" AS "orders"
SELECT extract(epoch FROM created_at) FROM orders

-- title: extract of epoch from a date is not handled
-- expect: origin unsupported_construct read
SELECT extract(epoch FROM signup_date) FROM customers

-- title: extract of hour from a date errors in Postgres
-- expect: origin unsupported_construct read
SELECT extract(hour FROM signup_date) FROM customers

-- title: substring with a non-positive start counts differently
-- expect: origin unsupported_construct read
SELECT substring(name, -1, 3) FROM customers

-- title: window functions
-- expect: mirror mirror_eligible read
SELECT id, rank() OVER (PARTITION BY country ORDER BY credit DESC), lag(credit) OVER (ORDER BY id) FROM customers

-- title: range frame with offsets is not handled
-- expect: origin unsupported_construct read
SELECT sum(quantity) OVER (ORDER BY created_at RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW) FROM orders

-- title: rows frame with offsets
-- expect: mirror mirror_eligible read
SELECT sum(quantity) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM orders
