-- NULL handling.

-- title: coalesce of several types
SELECT id, coalesce(i2, -1), coalesce(t, '(null)'), coalesce(d, date '1970-01-01'), coalesce(n, 0) FROM typed ORDER BY id

-- title: nullif
SELECT id, nullif(i2, 0), nullif(vc, 'v1'), nullif(b, true) FROM typed ORDER BY id

-- title: is distinct from
SELECT id FROM typed WHERE i2 IS DISTINCT FROM 5 ORDER BY id

-- title: is not distinct from null
SELECT id FROM typed WHERE t IS NOT DISTINCT FROM NULL ORDER BY id

-- title: is distinct from between columns
SELECT a.id FROM typed a JOIN typed b ON a.id = b.id + 1 WHERE a.b IS DISTINCT FROM b.b ORDER BY a.id

-- title: order by nulls first
SELECT id, i2 FROM typed ORDER BY i2 NULLS FIRST, id

-- title: order by nulls last desc
SELECT id, t FROM typed ORDER BY t DESC NULLS LAST, id

-- title: default null order asc puts nulls last
SELECT id, d FROM typed ORDER BY d, id

-- title: default null order desc puts nulls first
SELECT id, tstz FROM typed ORDER BY tstz DESC, id

-- title: null comparisons yield null
SELECT id, i2 = NULL, i2 > 0, NOT b, b AND i2 > 0, b OR i2 > 0 FROM typed ORDER BY id

-- title: is null and is not null counts
SELECT count(*) FILTER (WHERE t IS NULL), count(*) FILTER (WHERE t IS NOT NULL), count(*) FILTER (WHERE b IS TRUE), count(*) FILTER (WHERE b IS NOT FALSE), count(*) FILTER (WHERE b IS UNKNOWN) FROM typed

-- title: null in arithmetic
SELECT id, i2 + NULL, n * i4, t || NULL FROM typed ORDER BY id

-- title: coalesce in group by
SELECT coalesce(country, '??'), count(*) FROM customers GROUP BY 1

-- title: count of nulls per column on orders
SELECT count(*) - count(customer_id), count(*) - count(amount), count(*) - count(created_tz) FROM orders

-- title: nulls in order by of multiple columns
SELECT id, country, tier FROM customers ORDER BY country NULLS FIRST, tier DESC NULLS LAST, id

-- title: case with nulls
SELECT id, CASE WHEN b THEN 'yes' WHEN NOT b THEN 'no' ELSE 'unknown' END FROM typed ORDER BY id

-- title: in list with null
SELECT id FROM typed WHERE i2 IN (1, 2, NULL) ORDER BY id

-- title: not in list with null yields nothing
SELECT count(*) FROM typed WHERE i2 NOT IN (1, 2, NULL)
