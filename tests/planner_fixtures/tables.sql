-- Which tables a read touches, and whether the mirror has them.

-- title: unqualified names resolve through search_path
-- expect: mirror mirror_eligible read
-- ctx: search_path=analytics,public
SELECT region, sum(visits) FROM daily GROUP BY region

-- title: a table not on the search path is not found
-- expect: origin table_not_mirrored read
SELECT * FROM daily

-- title: schema-qualified names
-- expect: mirror mirror_eligible read
SELECT day, revenue FROM analytics.daily

-- title: an unknown table
-- expect: origin table_not_mirrored read
SELECT * FROM invoices

-- title: an unknown schema
-- expect: origin table_not_mirrored read
SELECT * FROM sales.orders

-- title: a join with one unmirrored table
-- expect: origin table_not_mirrored read
SELECT o.id FROM orders o JOIN invoices i ON i.order_id = o.id

-- title: an unmirrored table in a subquery
-- expect: origin table_not_mirrored read
SELECT id FROM orders WHERE customer_id IN (SELECT customer_id FROM invoices)

-- title: a CTE name is not a table
-- expect: mirror mirror_eligible read
WITH recent AS (SELECT * FROM orders WHERE id > 10) SELECT count(*) FROM recent

-- title: a CTE that shadows a real table name
-- expect: mirror mirror_eligible read
WITH customers AS (SELECT id FROM orders) SELECT count(*) FROM customers

-- title: pg_catalog tables are catalog reads
-- expect: origin catalog_query read
SELECT relname FROM pg_class

-- title: qualified pg_catalog
-- expect: origin catalog_query read
SELECT * FROM pg_catalog.pg_namespace

-- title: information_schema
-- expect: origin catalog_query read
SELECT table_name FROM information_schema.tables

-- title: a catalog table joined to a mirrored one
-- expect: origin catalog_query read
SELECT o.id FROM orders o, pg_stat_activity a

-- title: temporary objects may shadow unqualified names
-- expect: origin session_temp_objects read
-- ctx: temp
SELECT * FROM orders

-- title: temporary objects do not shadow qualified names
-- expect: mirror mirror_eligible read
-- ctx: temp
SELECT id FROM public.orders

-- title: row-level security
-- expect: origin row_level_security read
SELECT * FROM secrets

-- title: an unfaithful column
-- expect: origin unfaithful_column read
SELECT payload FROM events

-- title: star expands to an unfaithful column
-- expect: origin unfaithful_column read
SELECT * FROM events

-- title: faithful columns of a table with an unfaithful one
-- expect: mirror mirror_eligible read
SELECT kind, count(*) FROM events GROUP BY kind

-- title: numeric without a declared scale keeps a per-value scale
-- expect: origin unsupported_construct read
SELECT value FROM events

-- title: char(n) is not modelled
-- expect: origin unsupported_construct read
SELECT code FROM legacy

-- title: an unknown column
-- expect: origin unresolved_column read
SELECT nope FROM orders

-- title: a table function
-- expect: origin unsupported_construct read
SELECT * FROM generate_series(1, 10) g

-- title: a table function joined to a table
-- expect: origin unsupported_construct read
SELECT o.id FROM orders o CROSS JOIN generate_series(1, 3) AS g(n)

-- title: quoted mixed-case names are matched exactly
-- expect: origin table_not_mirrored read
SELECT * FROM "Orders"

-- title: mirror sql names the DuckDB tables
-- expect: mirror mirror_eligible read
-- duckdb: SELECT "o"."id" AS "id" FROM "public"."orders" AS "o" WHERE "o"."quantity" > 3
SELECT o.id FROM orders o WHERE o.quantity > 3

-- title: a correlated subquery
-- expect: mirror mirror_eligible read
SELECT c.id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)

-- title: a derived table
-- expect: mirror mirror_eligible read
SELECT t.n FROM (SELECT customer_id, count(*) AS n FROM orders GROUP BY customer_id) t WHERE t.n > 2

-- title: lateral is not handled
-- expect: origin unsupported_construct read
SELECT c.id, l.n FROM customers c, LATERAL (SELECT count(*) AS n FROM orders o WHERE o.customer_id = c.id) l

-- title: join using merges the column as Postgres does
-- expect: mirror mirror_eligible read
SELECT * FROM orders JOIN customers USING (id)
