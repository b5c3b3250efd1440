-- Statement kinds, pgaccel's own commands, and what the leading keywords decide.
-- Format: blocks separated by blank lines; header lines "-- key: value"
-- (title, expect: <target> <reason> [kind], ctx: <flags>, collation, detail,
-- duckdb: <expected DuckDB SQL>), then the SQL (may span lines).

-- title: a plain select of a mirrored table goes to the mirror
-- expect: mirror mirror_eligible read
SELECT id, name FROM customers

-- title: select inside an explicit transaction goes to origin
-- expect: origin in_transaction read
-- ctx: in_transaction
SELECT id FROM customers

-- title: insert is a write
-- expect: origin write_statement write
INSERT INTO customers (id) VALUES (1)

-- title: update is a write
-- expect: origin write_statement write
UPDATE orders SET status = 'x' WHERE id = 1

-- title: delete is a write
-- expect: origin write_statement write
DELETE FROM orders

-- title: merge is a write
-- expect: origin write_statement write
MERGE INTO orders o USING customers c ON o.customer_id = c.id WHEN MATCHED THEN DELETE

-- title: truncate is a write
-- expect: origin write_statement write
TRUNCATE orders

-- title: a write inside a transaction is still a write
-- expect: origin write_statement write
-- ctx: in_transaction
INSERT INTO orders (id) VALUES (2)

-- title: copy goes to origin
-- expect: origin copy_statement write
COPY orders TO STDOUT

-- title: call may do anything
-- expect: origin session_command write
CALL refresh_everything()

-- title: do block may do anything
-- expect: origin session_command write
DO $$ BEGIN PERFORM 1; END $$

-- title: create table is ddl
-- expect: origin ddl_statement ddl
CREATE TABLE t (a int)

-- title: grant is ddl
-- expect: origin ddl_statement ddl
GRANT SELECT ON orders TO analyst

-- title: select into creates a table
-- expect: origin ddl_statement ddl
SELECT * INTO orders_copy FROM orders

-- title: a CTE that writes makes the statement a write
-- expect: origin write_statement write
WITH gone AS (DELETE FROM orders WHERE id = 1 RETURNING *) SELECT count(*) FROM gone

-- title: for update takes locks on the origin
-- expect: origin locking_clause read
SELECT * FROM orders WHERE id = 1 FOR UPDATE

-- title: for no key update takes locks on the origin
-- expect: origin locking_clause read
SELECT * FROM orders FOR NO KEY UPDATE SKIP LOCKED

-- title: for share takes locks on the origin
-- expect: origin locking_clause read
SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id FOR SHARE OF o

-- title: two statements in one string go to origin as sent
-- expect: origin multiple_statements read
SELECT 1; SELECT id FROM orders

-- title: a read followed by a write is a write
-- expect: origin multiple_statements write
SELECT id FROM orders; DELETE FROM orders

-- title: a trailing semicolon is still one statement
-- expect: mirror mirror_eligible read
SELECT id FROM orders;

-- title: begin is transaction control
-- expect: origin transaction_control transaction
BEGIN

-- title: start transaction is transaction control
-- expect: origin transaction_control transaction
START TRANSACTION READ ONLY

-- title: commit is transaction control
-- expect: origin transaction_control transaction
COMMIT

-- title: rollback to savepoint is transaction control
-- expect: origin transaction_control transaction
ROLLBACK TO SAVEPOINT a

-- title: savepoint is transaction control
-- expect: origin transaction_control transaction
SAVEPOINT a

-- title: set transaction is transaction control
-- expect: origin transaction_control transaction
SET TRANSACTION ISOLATION LEVEL SERIALIZABLE

-- title: set of a server setting
-- expect: origin session_setting set
SET search_path TO app, public

-- title: reset all
-- expect: origin session_setting set
RESET ALL

-- title: show of a server setting
-- expect: origin session_setting show
SHOW TimeZone

-- title: explain of a statement goes to the origin
-- expect: origin explain_statement other
EXPLAIN ANALYZE SELECT * FROM orders

-- title: listen is a session command (sqlglot would call it a column alias)
-- expect: origin session_command other
LISTEN orders_changed

-- title: discard all is a session command
-- expect: origin session_command other
DISCARD ALL

-- title: prepare is a session command
-- expect: origin session_command other
PREPARE q AS SELECT 1

-- title: lock is a session command
-- expect: origin session_command other
LOCK TABLE orders

-- title: explain route is answered by pgaccel with the inner statement
-- expect: admin explain_route explain_route
-- detail: SELECT id FROM orders
EXPLAIN (ROUTE) SELECT id FROM orders

-- title: explain route is case-insensitive
-- expect: admin explain_route explain_route
explain ( route ) select 1

-- title: set of a pgaccel setting is answered by pgaccel
-- expect: admin pgaccel_setting pgaccel_set
-- detail: max_staleness
SET pgaccel.max_staleness = '10s'

-- title: set session of a pgaccel setting
-- expect: admin pgaccel_setting pgaccel_set
SET SESSION pgaccel.route TO 'origin'

-- title: reset of a pgaccel setting
-- expect: admin pgaccel_setting pgaccel_set
RESET pgaccel.max_staleness

-- title: show of a pgaccel setting is answered by pgaccel
-- expect: admin pgaccel_setting pgaccel_show
-- detail: max_staleness
SHOW pgaccel.max_staleness

-- title: a pgaccel setting followed by another statement is not intercepted
-- expect: origin multiple_statements ddl
SET pgaccel.max_staleness = '1s'; DROP TABLE orders

-- title: an unterminated string does not tokenise
-- expect: origin parse_failed other
SELECT 'abc FROM orders

-- title: a select that does not parse
-- expect: origin parse_failed read
SELECT FROM WHERE orders

-- title: only a comment
-- expect: origin empty_statement other
-- just a comment

-- title: leading comments do not hide the statement kind
-- expect: origin write_statement write
/* dashboard 12 */ -- refresh
DELETE FROM orders

-- title: leading comments before a read
-- expect: mirror mirror_eligible read
/* chart: revenue */ SELECT count(*) FROM orders

-- title: values without tables
-- expect: origin no_tables read
VALUES (1), (2)

-- title: select without tables
-- expect: origin no_tables read
SELECT 1 + 1

-- title: table statement reads a table
-- expect: mirror mirror_eligible read
TABLE customers

-- title: parenthesised select
-- expect: mirror mirror_eligible read
(SELECT id FROM orders)
