-- Reads that name a federation source table (NAME.schema.table or NAME.table) run in
-- DuckDB ("federation"): origin tables from the mirror, source tables from their copy
-- or live scanner. What cannot run there is refused (target federation, no SQL).

-- title: a source table through the source's default schema
-- expect: federation federation read
-- duckdb: SELECT "accounts"."plan" AS "plan", COUNT(*) AS "count" FROM "_src_crm"."crm"."accounts" AS "accounts" GROUP BY "accounts"."plan" ORDER BY "plan" ASC NULLS LAST
SELECT plan, count(*) FROM crm.accounts GROUP BY plan ORDER BY plan

-- title: a source table named with its schema
-- expect: federation federation read
SELECT id, mrr FROM crm.crm.accounts WHERE mrr > 10

-- title: a join of an origin table with two sources
-- expect: federation federation read
-- detail: crm, files
SELECT c.country, sum(a.mrr), count(k.url) FROM customers c JOIN crm.accounts a ON a.customer_id = c.id
LEFT JOIN files.clicks k ON k.customer_id = c.id GROUP BY c.country

-- title: Postgres semantics hold on source columns (integer division)
-- expect: federation federation read
-- duckdb: SELECT "accounts"."id" // 2 AS "?column?" FROM "_src_crm"."crm"."accounts" AS "accounts"
SELECT id / 2 FROM crm.accounts

-- title: a mirrored source copy is read from the mirror
-- expect: federation federation read
-- duckdb: SELECT "clicks"."url" AS "url" FROM "_pgaccel_src"."files.main.clicks" AS "clicks"
SELECT url FROM files.clicks

-- title: an unknown source table is refused with the name
-- expect: federation source_table_unknown read
-- detail: crm.nope
SELECT * FROM crm.nope

-- title: volatile functions cannot run across sources
-- expect: federation volatile_function read
SELECT now(), id FROM crm.accounts

-- title: origin tables in a transaction block are planned (the executor checks the transaction)
-- expect: federation federation read
-- ctx: in_transaction
SELECT a.id FROM crm.accounts a JOIN customers c ON c.id = a.customer_id

-- title: a source-only read inside a transaction still runs
-- expect: federation federation read
-- ctx: in_transaction
SELECT count(*) FROM files.clicks

-- title: an unmirrored origin table in a query across sources is refused
-- expect: federation table_not_mirrored read
SELECT * FROM invoices i JOIN crm.accounts a ON a.id = i.id
