-- Every mirrored type, raw, filtered and projected.

-- title: all columns of typed
SELECT * FROM typed ORDER BY id

-- title: all columns of customers
SELECT * FROM customers ORDER BY id

-- title: all columns of orders
SELECT * FROM orders ORDER BY id

-- title: all columns of products
SELECT * FROM products ORDER BY id

-- title: all columns of regions
SELECT * FROM regions

-- title: table statement
TABLE regions

-- title: values of extreme row
SELECT * FROM typed WHERE id > 1000 ORDER BY id

-- title: filter on int8 extremes
SELECT id FROM typed WHERE i8 > 4000000000000 OR i8 < -9000000000000000000 ORDER BY id

-- title: filter on float specials
SELECT id, f4, f8 FROM typed WHERE f8 = 'NaN' OR f8 = '-Infinity' OR f4 = 'Infinity' ORDER BY id

-- title: negative zero float
SELECT id, f4, -f8 FROM typed WHERE id = 1003

-- title: filter on numeric exact
SELECT id, n FROM typed WHERE n = 0.5 OR n = -999999999.999 ORDER BY id

-- title: filter on time
SELECT id, tm FROM typed WHERE tm > '12:00' ORDER BY id

-- title: filter on bytea
SELECT id, by FROM typed WHERE by = '\x00' OR by > '\xf0' ORDER BY id

-- title: filter on uuid literal
SELECT id FROM typed WHERE u > 'f0000000-0000-0000-0000-000000000000' ORDER BY id

-- title: filter on bool
SELECT id FROM typed WHERE b ORDER BY id

-- title: filter on interval literal
SELECT id, iv FROM typed WHERE iv < '-1 day' ORDER BY id

-- title: select constants with a table
SELECT id, 1, 1.50, 'x', true, NULL, date '2024-01-01', 2.5e3 FROM products ORDER BY id

-- title: select expression aliases with spaces
SELECT id AS "Order Id", amount AS "Amount €" FROM orders ORDER BY 1 LIMIT 5

-- title: numeric with zero scale and trailing zeros
SELECT id, amount, amount * 1.000, amount + 0.0 FROM orders ORDER BY id

-- title: float4 values text
SELECT id, weight, weight * 2 FROM orders ORDER BY id

-- title: float8 values text
SELECT id, score, rating FROM customers LEFT JOIN products USING (id) ORDER BY id

-- title: uuid compared with literals
SELECT id, u FROM typed WHERE u = 'e4da3b7f-bbce-2345-d777-2b0674a318d5' OR u IN ('c4ca4238-a0b9-2382-0dcc-509a6f75849b', 'C81E728D-9D4C-2F63-6F06-7F89CC14862C') ORDER BY id
