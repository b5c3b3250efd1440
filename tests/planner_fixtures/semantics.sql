-- Semantic gaps between Postgres and DuckDB and how the DuckDB SQL closes them.

-- title: integer division truncates, with an error on a zero divisor
-- expect: mirror mirror_eligible read
-- duckdb: SELECT "orders"."quantity" // CASE WHEN "orders"."customer_id" = 0 THEN ERROR('division by zero') ELSE "orders"."customer_id" END AS "?column?" FROM "public"."orders" AS "orders"
SELECT quantity / customer_id FROM orders

-- title: integer division by a constant needs no guard
-- expect: mirror mirror_eligible read
-- duckdb: SELECT "orders"."quantity" // 2 AS "?column?" FROM "public"."orders" AS "orders"
SELECT quantity / 2 FROM orders

-- title: integer modulo
-- expect: mirror mirror_eligible read
-- duckdb: SELECT "orders"."quantity" % 3 AS "?column?" FROM "public"."orders" AS "orders"
SELECT quantity % 3 FROM orders

-- title: numeric division is computed exactly with Postgres' result scale
-- expect: mirror mirror_eligible read
-- duckdb: SELECT PGACCEL_NUMERIC_TEXT(PGACCEL_NUMERIC_DIV(CAST(CAST("orders"."amount" AS DECIMAL(38, 2)) * 100 AS INT128), 2, 2, CAST("orders"."quantity" AS INT128), 0, 0), 20, PGACCEL_DIV_SCALE(CAST(CAST("orders"."amount" AS DECIMAL(38, 2)) * 100 AS INT128), 2, 2, CAST("orders"."quantity" AS INT128), 0, 0)) AS "?column?" FROM "public"."orders" AS "orders"
SELECT amount / quantity FROM orders

-- title: avg of integers is numeric in Postgres, computed exactly
-- expect: mirror mirror_eligible read
-- duckdb: SELECT PGACCEL_NUMERIC_TEXT(PGACCEL_NUMERIC_DIV(CAST(SUM("orders"."quantity") AS INT128), 0, 0, CAST(COUNT("orders"."quantity") AS INT128), 0, 0), 20, PGACCEL_DIV_SCALE(CAST(SUM("orders"."quantity") AS INT128), 0, 0, CAST(COUNT("orders"."quantity") AS INT128), 0, 0)) AS "avg" FROM "public"."orders" AS "orders"
SELECT avg(quantity) FROM orders

-- title: sum of int4 is int8
-- expect: mirror mirror_eligible read
-- duckdb: SELECT CAST(SUM("orders"."quantity") AS BIGINT) AS "sum" FROM "public"."orders" AS "orders"
SELECT sum(quantity) FROM orders

-- title: sum of int8 is numeric
-- expect: mirror mirror_eligible read
-- duckdb: SELECT CAST(SUM("orders"."big") AS DECIMAL(38, 0)) AS "sum" FROM "public"."orders" AS "orders"
SELECT sum(big) FROM orders

-- title: count is int8 in both
-- expect: mirror mirror_eligible read
-- duckdb: SELECT COUNT(*) AS "count", COUNT(DISTINCT "orders"."status") AS "count" FROM "public"."orders" AS "orders"
SELECT count(*), count(DISTINCT status) FROM orders

-- title: null ordering is explicit for asc and desc
-- expect: mirror mirror_eligible read
-- duckdb: SELECT "orders"."id" AS "id" FROM "public"."orders" AS "orders" ORDER BY "orders"."amount" DESC NULLS FIRST, "orders"."status" ASC NULLS LAST, "orders"."quantity" ASC NULLS FIRST
SELECT id FROM orders ORDER BY amount DESC, status, quantity NULLS FIRST

-- title: text ordering under a linguistic collation goes to origin
-- expect: origin collation_differs read
-- collation: en_US.UTF-8
SELECT name FROM customers ORDER BY name

-- title: text comparison under a linguistic collation goes to origin
-- expect: origin collation_differs read
-- collation: en_US.UTF-8
SELECT id FROM customers WHERE name > 'M'

-- title: text equality is fine under any deterministic collation
-- expect: mirror mirror_eligible read
-- collation: en_US.UTF-8
SELECT id FROM customers WHERE name = 'Max' ORDER BY id

-- title: min of text under a linguistic collation goes to origin
-- expect: origin collation_differs read
-- collation: en_US.UTF-8
SELECT min(name) FROM customers

-- title: ucs_basic compares bytewise
-- expect: mirror mirror_eligible read
-- collation: ucs_basic
SELECT name FROM customers ORDER BY name

-- title: like gets Postgres' default escape character
-- expect: mirror mirror_eligible read
-- duckdb: SELECT "customers"."id" AS "id" FROM "public"."customers" AS "customers" WHERE "customers"."name" LIKE 'a\_%' ESCAPE '\'
SELECT id FROM customers WHERE name LIKE 'a\_%'

-- title: parameters survive as DuckDB positional parameters, typed from context
-- expect: mirror mirror_eligible read
-- duckdb: SELECT "orders"."id" AS "id" FROM "public"."orders" AS "orders" WHERE "orders"."status" = CAST($1 AS TEXT) AND "orders"."amount" > CAST($2 AS DECIMAL(38, 18)) LIMIT CAST($3 AS BIGINT)
SELECT id FROM orders WHERE status = $1 AND amount > $2 LIMIT $3

-- title: a parameter in the select list is text, as Postgres resolves it
-- expect: mirror mirror_eligible read
-- duckdb: SELECT CAST($1 AS TEXT) AS "?column?" FROM "public"."orders" AS "orders"
SELECT $1 FROM orders

-- title: a parameter used with two types
-- expect: origin unsupported_construct read
SELECT id FROM orders WHERE status = $1 AND quantity = $1

-- title: parameter numbers with a gap
-- expect: origin unsupported_construct read
SELECT id FROM orders WHERE status = $2

-- title: date literals compared with a date column are cast explicitly
-- expect: mirror mirror_eligible read
-- duckdb: SELECT COUNT(*) AS "count" FROM "public"."customers" AS "customers" WHERE "customers"."signup_date" >= CAST('2024-01-01' AS DATE)
SELECT count(*) FROM customers WHERE signup_date >= '2024-01-01'

-- title: non-ISO date literals depend on DateStyle
-- expect: origin unsupported_construct read
SELECT count(*) FROM customers WHERE signup_date >= '01/02/2024'

-- title: date_trunc of a date works on timestamptz in Postgres
-- expect: mirror mirror_eligible read
-- duckdb: SELECT CAST(DATE_TRUNC('MONTH', "customers"."signup_date") AS TIMESTAMPTZ) AS "date_trunc" FROM "public"."customers" AS "customers"
SELECT date_trunc('month', signup_date) FROM customers

-- title: extract returns numeric
-- expect: mirror mirror_eligible read
-- duckdb: SELECT CAST(EXTRACT(YEAR FROM "customers"."signup_date") AS DECIMAL(38, 0)) AS "extract" FROM "public"."customers" AS "customers"
SELECT extract(year FROM signup_date) FROM customers

-- title: date_part returns float8
-- expect: mirror mirror_eligible read
-- duckdb: SELECT CAST(DATE_PART('dow', "customers"."signup_date") AS DOUBLE) AS "date_part" FROM "public"."customers" AS "customers"
SELECT date_part('dow', signup_date) FROM customers

-- title: date minus date is int4
-- expect: mirror mirror_eligible read
-- duckdb: SELECT CAST(CAST('2025-01-01' AS DATE) - "customers"."signup_date" AS INT) AS "?column?" FROM "public"."customers" AS "customers"
SELECT date '2025-01-01' - signup_date FROM customers

-- title: length is int4
-- expect: mirror mirror_eligible read
-- duckdb: SELECT CAST(LENGTH("customers"."name") AS INT) AS "length" FROM "public"."customers" AS "customers"
SELECT length(name) FROM customers

-- title: concatenation of text
-- expect: mirror mirror_eligible read
SELECT name || ' <' || email || '>' FROM customers

-- title: concatenation with an integer appends its text
-- expect: mirror mirror_eligible read
-- duckdb: SELECT "customers"."name" || CAST("customers"."id" AS TEXT) AS "?column?" FROM "public"."customers" AS "customers"
SELECT name || id FROM customers

-- title: concatenation with a float is not handled (float text differs)
-- expect: origin unsupported_construct read
SELECT name || score FROM customers

-- title: float to text formats differ
-- expect: origin unsupported_construct read
SELECT score::text FROM customers

-- title: numeric to text with a fixed scale
-- expect: mirror mirror_eligible read
SELECT credit::text FROM customers

-- title: cast to varchar(n) truncates in Postgres
-- expect: origin unsupported_construct read
SELECT name::varchar(3) FROM customers

-- title: numeric literal scale is kept
-- expect: mirror mirror_eligible read
-- duckdb: SELECT "orders"."amount" * 1.10 AS "?column?" FROM "public"."orders" AS "orders"
SELECT amount * 1.10 FROM orders

-- title: real mixed with double is not handled
-- expect: origin unsupported_construct read
SELECT weight + score FROM orders, customers

-- title: any of an array literal becomes IN
-- expect: mirror mirror_eligible read
-- duckdb: SELECT "orders"."id" AS "id" FROM "public"."orders" AS "orders" WHERE "orders"."status" IN ('paid', 'shipped')
SELECT id FROM orders WHERE status = ANY(ARRAY['paid', 'shipped'])

-- title: any of an array parameter is not handled
-- expect: origin unsupported_construct read
SELECT id FROM orders WHERE status = ANY($1)

-- title: distinct on
-- expect: mirror mirror_eligible read
SELECT DISTINCT ON (customer_id) customer_id, id FROM orders ORDER BY customer_id, id DESC

-- title: grouping sets with grouping()
-- expect: mirror mirror_eligible read
SELECT status, customer_id, grouping(status, customer_id), count(*) FROM orders GROUP BY ROLLUP (status, customer_id)

-- title: union of compatible columns
-- expect: mirror mirror_eligible read
SELECT id FROM orders UNION SELECT id FROM customers ORDER BY 1

-- title: union of different types is not handled
-- expect: origin unsupported_construct read
SELECT id FROM orders UNION ALL SELECT big FROM orders

-- title: recursive CTEs are not handled
-- expect: origin unsupported_construct read
WITH RECURSIVE r AS (SELECT id FROM orders UNION ALL SELECT id + 1 FROM r WHERE id < 3) SELECT * FROM r

-- title: an interval with several units is not handled
-- expect: origin unsupported_construct read
SELECT created_at + interval '1 day 2 hours' FROM orders

-- title: date plus interval is a timestamp
-- expect: mirror mirror_eligible read
SELECT signup_date + interval '3' month FROM customers

-- title: coalesce of numerics with different scales keeps each value's scale
-- expect: mirror mirror_eligible read
SELECT coalesce(amount, 0) FROM orders

-- title: case of numerics with different scales keeps each value's scale
-- expect: mirror mirror_eligible read
SELECT sum(CASE WHEN status = 'paid' THEN amount ELSE 0 END) / sum(amount) FROM orders

-- title: case mapping is guarded to ASCII input (non-ASCII raises, the executor falls back)
-- expect: mirror mirror_eligible read
-- duckdb: SELECT CASE WHEN STRLEN("customers"."name") <> LENGTH("customers"."name") THEN ERROR('pgaccel: case mapping of non-ASCII text') ELSE UPPER("customers"."name") END AS "upper" FROM "public"."customers" AS "customers"
SELECT upper(name) FROM customers

-- title: ilike is guarded to ASCII input
-- expect: mirror mirror_eligible read
-- duckdb: SELECT "customers"."id" AS "id" FROM "public"."customers" AS "customers" WHERE CASE WHEN STRLEN("customers"."name") <> LENGTH("customers"."name") THEN ERROR('pgaccel: case mapping of non-ASCII text') ELSE "customers"."name" ILIKE 'a%' END
SELECT id FROM customers WHERE name ILIKE 'a%'

-- title: float literals including NaN and Infinity
-- expect: mirror mirror_eligible read
-- duckdb: SELECT "customers"."id" AS "id" FROM "public"."customers" AS "customers" WHERE "customers"."score" <> CAST('NaN' AS DOUBLE) AND "customers"."score" < CAST('Infinity' AS DOUBLE)
SELECT id FROM customers WHERE score <> 'NaN' AND score < 'Infinity'
