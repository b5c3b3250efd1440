-- Aggregates on every type: count/sum/avg/min/max, FILTER, DISTINCT aggregates.

-- title: count star and count of every column
SELECT count(*), count(i2), count(i4), count(i8), count(n), count(f4), count(f8), count(t), count(vc), count(ch), count(b), count(d), count(tm), count(ts), count(tstz), count(iv), count(u), count(js), count(jb), count(by), count(ia), count(ta) FROM typed

-- title: sum of integers of every size
SELECT sum(i2), sum(i4), sum(i8) FROM typed WHERE id < 1000

-- title: sum of int8 extremes overflows into numeric
SELECT sum(i8) FROM typed

-- title: sum of numeric(p,s)
SELECT sum(n), sum(n0) FROM typed

-- title: avg of integers
SELECT avg(i2), avg(i4), avg(i8) FROM typed WHERE id < 1000

-- title: avg of numeric
SELECT avg(n), avg(n0) FROM typed WHERE id < 1000

-- title: min and max of every comparable type
SELECT min(i2), max(i2), min(i4), max(i4), min(i8), max(i8), min(n), max(n), min(f4), max(f4), min(f8), max(f8) FROM typed

-- title: min and max of text types
SELECT min(t), max(t), min(vc), max(vc), min(ch), max(ch) FROM typed

-- title: min and max of date and time types
SELECT min(d), max(d), min(tm), max(tm), min(ts), max(ts), min(tstz), max(tstz) FROM typed

-- title: min and max of interval
SELECT min(iv), max(iv) FROM typed

-- title: min max of uuid and bool
SELECT min(u), max(u), bool_and(b), bool_or(b), every(b) FROM typed

-- title: sum of float4 and float8
SELECT sum(f4), sum(f8) FROM typed WHERE id < 1000

-- title: avg of float
SELECT avg(f8) FROM typed WHERE id < 1000

-- title: sum of interval
SELECT sum(iv) FROM typed WHERE id < 1000

-- title: avg of interval
SELECT avg(iv) FROM typed WHERE id < 1000

-- title: aggregate FILTER
SELECT count(*) FILTER (WHERE b), sum(i4) FILTER (WHERE i4 > 0), max(t) FILTER (WHERE id % 2 = 0), avg(n) FILTER (WHERE n < 0) FROM typed

-- title: count distinct
SELECT count(DISTINCT i2), count(DISTINCT vc), count(DISTINCT b), count(DISTINCT d) FROM typed

-- title: sum distinct and avg distinct
SELECT sum(DISTINCT i2), avg(DISTINCT n0), sum(DISTINCT n) FROM typed

-- title: aggregates on empty input
SELECT count(*), sum(i4), avg(n), min(t), max(d), bool_and(b) FROM typed WHERE id < 0

-- title: aggregates over all-NULL input
SELECT count(i4), sum(i4), avg(i4), max(t) FROM typed WHERE id = 0

-- title: sum of numeric on orders
SELECT sum(amount), avg(amount), min(amount), max(amount), sum(discount), avg(discount) FROM orders

-- title: sum of quantity times amount
SELECT sum(quantity * amount), sum(quantity), avg(quantity) FROM orders

-- title: count of customers by activity
SELECT active, count(*), sum(credit), avg(tier) FROM customers GROUP BY active

-- title: string_agg with order
SELECT string_agg(vc, ',' ORDER BY id) FROM typed WHERE id < 30

-- title: array_agg with order
SELECT array_agg(i2 ORDER BY id) FROM typed WHERE id < 20

-- title: stddev and variance of ints
SELECT stddev(i4), variance(i4), stddev_pop(i2), var_samp(i2) FROM typed WHERE id < 1000

-- title: count of bigint column and sum overflow candidates
SELECT count(big), sum(big), min(big), max(big) FROM orders

-- title: sum of smallint tier
SELECT sum(tier), avg(tier), min(tier), max(tier) FROM customers

-- title: min and max of real
SELECT min(weight), max(weight), count(weight) FROM orders

-- title: avg of numeric scale 3
SELECT avg(discount), sum(discount) / count(discount) FROM orders

-- title: aggregate of expression with CASE
SELECT sum(CASE WHEN status = 'paid' THEN amount ELSE 0 END), count(CASE WHEN status IS NULL THEN 1 END) FROM orders

-- title: max of char(n) and length
SELECT max(ch), min(length(ch)), max(octet_length(ch)) FROM typed

-- title: min and max of bytea
SELECT min(by), max(by) FROM typed

-- title: count distinct on multiple tables via join
SELECT count(DISTINCT o.customer_id), count(DISTINCT c.country) FROM orders o JOIN customers c ON c.id = o.customer_id
