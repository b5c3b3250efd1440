-- Parameters bound through the extended protocol (psycopg: text, then binary).

-- title: int parameters range
-- params: [100, 200]
SELECT id, amount, status FROM orders WHERE id BETWEEN %s AND %s ORDER BY id

-- title: text parameter
-- params: ['paid']
SELECT id, amount FROM orders WHERE status = %s ORDER BY id

-- title: unicode text parameter
-- params: ['Zoë%']
SELECT id FROM typed WHERE t LIKE %s ORDER BY id

-- title: numeric parameter
-- params: [Decimal('123.45')]
SELECT id, amount FROM orders WHERE amount > %s ORDER BY id

-- title: numeric parameter in arithmetic
-- params: [Decimal('1.5')]
SELECT id, amount * %s FROM orders ORDER BY id

-- title: date parameter
-- params: [dt.date(2021, 1, 1)]
SELECT id, d FROM typed WHERE d > %s ORDER BY id

-- title: timestamp parameter
-- params: [dt.datetime(2023, 6, 1, 12, 30)]
SELECT id FROM orders WHERE created_at < %s ORDER BY id

-- title: timestamptz parameter
-- tz: America/New_York
-- params: [dt.datetime(2022, 6, 1, tzinfo=dt.timezone.utc)]
SELECT id, tstz FROM typed WHERE tstz < %s ORDER BY id

-- title: bool parameter
-- params: [True]
SELECT id FROM typed WHERE b = %s ORDER BY id

-- title: float parameter
-- params: [2.5]
SELECT id, f8 * %s FROM typed WHERE id < 1000 ORDER BY id

-- title: bigint parameter
-- params: [4611686018427387904]
SELECT id, big FROM orders WHERE big = %s ORDER BY id

-- title: parameter used twice
-- params: [3, 3]
SELECT id, id %% %s FROM orders WHERE quantity > %s ORDER BY id

-- title: uuid parameter
-- params: [uuid.UUID('c4ca4238-a0b9-3382-0dcc-509a6f75849b')]
SELECT id FROM typed WHERE u = %s

-- title: null parameter
-- params: [None]
SELECT count(*) FROM typed WHERE i2 IS NOT DISTINCT FROM %s

-- title: parameter in limit
-- params: [5]
SELECT id FROM orders ORDER BY id LIMIT %s

-- title: parameter in select list with cast
-- params: ['7']
SELECT id, %s::int + i4 FROM typed ORDER BY id

-- title: list parameter with any
-- params: [[1, 2, 3]]
SELECT id FROM orders WHERE quantity = ANY(%s) ORDER BY id

-- title: interval parameter
-- params: [dt.timedelta(days=3, hours=4)]
SELECT id, ts + %s FROM typed WHERE id < 1000 ORDER BY id

-- title: parameter in group by filter
-- params: [0]
SELECT status, count(*) FROM orders WHERE amount > %s GROUP BY status
