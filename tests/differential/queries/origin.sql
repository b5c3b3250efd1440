-- Statements that must be answered by the origin (EXPLAIN (ROUTE) says origin), identically.

-- title: read inside a transaction
-- txn: yes
-- expect: origin
SELECT count(*), sum(amount) FROM orders

-- title: nextval
-- expect: origin
SELECT nextval('ticket_seq') IS NOT NULL, count(*) FROM orders

-- title: unmirrored table
-- expect: origin
SELECT id, what FROM audit_log ORDER BY id

-- title: join with unmirrored table
-- expect: origin
SELECT o.id, a.what FROM orders o JOIN audit_log a ON a.id = o.id ORDER BY o.id

-- title: table with row level security
-- expect: origin
SELECT id, owner, val FROM secrets ORDER BY id

-- title: enum order by
-- expect: origin
SELECT id, m FROM moods ORDER BY m, id

-- title: enum comparison
-- expect: origin
SELECT id FROM moods WHERE m > 'sad' ORDER BY id

-- title: enum grouping
SELECT m, count(*) FROM moods GROUP BY m

-- title: enum column raw
SELECT id, m, note FROM moods ORDER BY id

-- title: for update
-- expect: origin
SELECT id FROM orders WHERE id < 5 ORDER BY id FOR UPDATE

-- title: for share
-- expect: origin
SELECT id FROM customers WHERE id < 5 ORDER BY id FOR SHARE

-- title: unconstrained numeric with huge values
-- expect: origin
SELECT id, v, label FROM measures ORDER BY id

-- title: sum of unconstrained numeric
-- expect: origin
SELECT sum(v), count(v) FROM measures

-- title: catalog query
-- expect: origin
SELECT count(*) > 0 FROM pg_class WHERE relname = 'orders'

-- title: now is volatile
-- expect: origin
SELECT count(*) FROM orders WHERE created_tz < now()

-- title: random is volatile
-- expect: origin
SELECT count(*) FROM orders WHERE random() < 2

-- title: current_setting is origin only
-- expect: origin
SELECT current_setting('TimeZone'), count(*) FROM orders

-- title: current_user
SELECT current_user, count(*) FROM orders

-- title: no tables
-- expect: origin
SELECT 1 + 1, 'x'::text

-- title: read inside transaction with timestamptz
-- txn: yes
-- tz: Asia/Kolkata
-- expect: origin
SELECT id, tstz FROM typed ORDER BY id

-- title: set-returning generate_series over table
SELECT g, count(*) FROM generate_series(1, 3) g JOIN orders o ON o.quantity = g GROUP BY g ORDER BY g
