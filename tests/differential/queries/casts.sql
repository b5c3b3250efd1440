-- Casts.

-- title: integers to text
SELECT id, i2::text, i4::text, i8::text FROM typed ORDER BY id

-- title: numeric to text
SELECT id, n::text, n0::text FROM typed ORDER BY id

-- title: numeric to integer rounds half away from zero
SELECT id, n::int4, n::int8, n::int2 FROM typed WHERE abs(n) < 30000 ORDER BY id

-- title: float to int rounds half to even
SELECT id, f4::int4, f8::int8 FROM typed WHERE id < 1000 ORDER BY id

-- title: float to numeric
SELECT id, f8::numeric, f4::numeric(10,2) FROM typed WHERE id < 1000 ORDER BY id

-- title: int to numeric with scale
SELECT id, i4::numeric(12,2), i2::numeric FROM typed ORDER BY id

-- title: numeric to float
SELECT id, n::float8, n::float4 FROM typed ORDER BY id

-- title: int to float
SELECT id, i8::float8, i4::float4 FROM typed ORDER BY id

-- title: text to int
SELECT id, split_part(vc, 'v', 2)::int FROM typed WHERE vc IS NOT NULL ORDER BY id

-- title: numeric rescale cast
SELECT id, n::numeric(8,1), amount::numeric(20,5) FROM typed JOIN orders USING (id) WHERE id < 1000 ORDER BY id

-- title: date to timestamp and text
SELECT id, d::timestamp, d::text FROM typed ORDER BY id

-- title: timestamp to date and time
SELECT id, ts::date, ts::time FROM typed ORDER BY id

-- title: text to date
SELECT id, ('2024-01-' || (1 + id % 28))::date FROM orders WHERE id < 40 ORDER BY id

-- title: bool to text and int
SELECT id, b::text, b::int FROM typed ORDER BY id

-- title: int to bool
SELECT id, (i4 % 2)::bool FROM typed ORDER BY id

-- title: uuid to text
SELECT id, u::text, upper(u::text) FROM typed ORDER BY id

-- title: char to varchar
SELECT id, ch::varchar(3), t::varchar(4), t::char(3) FROM typed ORDER BY id

-- title: interval to text
SELECT id, iv::text FROM typed ORDER BY id

-- title: cast with pg double colon on expression
SELECT id, (amount * quantity)::numeric(14,1) FROM orders ORDER BY id

-- title: int2 arithmetic result type
SELECT id, i2 + i2, i2 * 2, i2 / 3, i2 % 7 FROM typed ORDER BY id

-- title: mixed integer arithmetic
SELECT id, i2 + i4, i4 * i8, i8 / i4, i4 / 7, -i4 / 7 FROM typed WHERE i4 <> 0 ORDER BY id

-- title: numeric arithmetic with scale
SELECT id, n + n0, n * 2, n * n, n - 0.0005 FROM typed ORDER BY id

-- title: numeric division
SELECT id, n / 7, n0 / 3, amount / quantity FROM typed JOIN orders USING (id) WHERE quantity <> 0 ORDER BY id

-- title: float arithmetic
SELECT id, f8 * 3, f8 / 7, f4 * 2, f4 + f8 FROM typed ORDER BY id

-- title: round trunc ceil floor of numeric
SELECT id, round(n), round(n, 1), trunc(n, 2), ceil(n), floor(n) FROM typed ORDER BY id

-- title: abs and sign and mod
SELECT id, abs(i4), sign(n), mod(i4, 7), abs(n) FROM typed ORDER BY id

-- title: integer division of negative numbers
SELECT id, i4 / 3, i4 % 3, i8 / -7 FROM typed ORDER BY id

-- title: power sqrt of float
SELECT id, sqrt(abs(f8)), power(f8, 2) FROM typed WHERE id < 1000 ORDER BY id

-- title: greatest and least
SELECT id, greatest(i2, i4, 0), least(n, n0), greatest(d, '2020-01-01') FROM typed ORDER BY id

-- title: bytea column raw
SELECT id, by FROM typed ORDER BY id

-- title: numeric cast rounds half away from zero
SELECT id, (n * 1.0005)::numeric(14,2), (n0 / 2.0)::numeric(12,0) FROM typed WHERE id < 1000 ORDER BY id
