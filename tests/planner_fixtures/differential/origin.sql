SELECT count(*) FROM orders WHERE created_tz > now() - interval '400 days'
-- expect: origin volatile_function

SELECT id, random() FROM orders LIMIT 1
-- expect: origin volatile_function

SELECT sum(score) FROM customers
-- expect: origin inexact_float_aggregate

SELECT avg(weight) FROM orders
-- expect: origin inexact_float_aggregate

SELECT to_char(created_at, 'YYYY-MM') FROM orders
-- expect: origin unknown_function

SELECT id, round(score) FROM customers ORDER BY id
-- expect: origin unsupported_construct

SELECT id, score::text FROM customers ORDER BY id
-- expect: origin unsupported_construct

SELECT string_agg(name, ',') FROM customers
-- expect: origin unsupported_construct

SELECT count(*) FROM pg_class
-- expect: origin catalog_query

SELECT nextval('x')
-- expect: origin origin_only_function

SELECT * FROM generate_series(1, 3)
-- expect: origin unsupported_construct

SELECT 1 + 1
-- expect: origin no_tables

SELECT id, substring(name, 0, 3) FROM customers ORDER BY id
-- expect: origin unsupported_construct

SELECT id, weight + score FROM orders JOIN customers USING (id) ORDER BY id
-- expect: origin unsupported_construct

SELECT id FROM customers WHERE name ~ '\mAnn' ORDER BY id
-- expect: origin unsupported_construct

SELECT id, name::varchar(2) FROM customers ORDER BY id
-- expect: origin unsupported_construct

SELECT * FROM orders FOR UPDATE
-- expect: origin locking_clause
