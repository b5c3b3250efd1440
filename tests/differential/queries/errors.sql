-- Errors: the same SQLSTATE (and message) whichever route was taken.

-- title: division by zero integer
SELECT id, 10 / (i4 - i4) FROM typed WHERE i4 IS NOT NULL

-- title: division by zero numeric
SELECT id, n / (n - n) FROM typed WHERE n IS NOT NULL

-- title: division by zero in aggregate
SELECT sum(amount) / 0 FROM orders

-- title: float8 multiplication overflow
-- xfail: planner/rewrite/bridge_arithmetic.py _number_result types float8 * / + - as FLOAT8 with no overflow check: DuckDB returns Infinity where Postgres' float8_mul/float8_pl raise 22003 'value out of range: overflow' (finite inputs, infinite result; likewise 'underflow' for a zero result of non-zero inputs). Needs a run-time guard (ERROR('pgaccel: ...') when isinf(result) and the operands are finite) so the executor falls back
SELECT id, f8 * 10 FROM typed

-- title: float8 addition overflow with a parameter
-- params: [1.7e308]
-- xfail: planner/rewrite/bridge_arithmetic.py _number_result: float8 arithmetic has no overflow guard (see 'float8 multiplication overflow'); Postgres raises 22003, the mirror answers Infinity
SELECT id, f8 + %s FROM typed

-- title: modulo by zero
SELECT id % 0 FROM orders

-- title: numeric overflow on cast
-- xfail: planner/rewrite/bridge_scalars.py e_Cast (via planner/pgtypes.py duckdb_type) casts to numeric(p,s) as DECIMAL(38, s), dropping the precision: values >= 10^(p-s) come back instead of Postgres' 22003 'numeric field overflow'. Cast to DECIMAL(p, s) (DuckDB then raises a conversion error and the executor falls back) or add a run-time guard
SELECT n::numeric(4,2) FROM typed

-- title: integer overflow on multiply
SELECT i4 * 100000 FROM typed

-- title: int2 overflow
SELECT i2 * 1000 FROM typed

-- title: bigint overflow on sum of products
SELECT i8 * 10 FROM typed

-- title: invalid input for integer
SELECT t::int FROM typed

-- title: invalid input for date
SELECT (vc || '-01-01')::date FROM typed

-- title: undefined column
SELECT nosuchcolumn FROM orders

-- title: undefined table
SELECT * FROM nosuchtable

-- title: undefined function
SELECT no_such_function(id) FROM orders

-- title: ambiguous column
SELECT id FROM customers JOIN orders ON orders.customer_id = customers.id

-- title: group by error
SELECT status, amount FROM orders GROUP BY status

-- title: syntax error
SELECT FROM WHERE orders

-- title: type mismatch in comparison
SELECT id FROM orders WHERE status = 5

-- title: cast of out of range int8 to int4
SELECT i8::int4 FROM typed

-- title: sqrt of negative
SELECT sqrt(f8) FROM typed

-- title: varchar too long on cast is truncated not an error
SELECT t::varchar(2) FROM typed ORDER BY id

-- title: array subscript error in cast
SELECT ('{' || t || '}')::int[] FROM typed

-- title: invalid json path input
SELECT js::jsonb FROM typed WHERE id = 1 UNION ALL SELECT 'not json'::jsonb
