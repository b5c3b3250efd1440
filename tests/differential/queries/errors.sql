-- Errors: the same SQLSTATE (and message) whichever route was taken.

-- title: division by zero integer
SELECT id, 10 / (i4 - i4) FROM typed WHERE i4 IS NOT NULL

-- title: division by zero numeric
SELECT id, n / (n - n) FROM typed WHERE n IS NOT NULL

-- title: division by zero in aggregate
SELECT sum(amount) / 0 FROM orders

-- title: float8 multiplication overflow
SELECT id, f8 * 10 FROM typed

-- title: float8 addition overflow with a parameter
-- params: [1.7e308]
SELECT id, f8 + %s FROM typed

-- title: modulo by zero
SELECT id % 0 FROM orders

-- title: numeric overflow on cast
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
