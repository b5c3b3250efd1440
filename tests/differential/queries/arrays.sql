-- Arrays.

-- title: array columns raw
SELECT id, ia, ta FROM typed ORDER BY id

-- title: any of array column
SELECT id FROM typed WHERE 2 = ANY (ia) ORDER BY id

-- title: any of literal array
SELECT id FROM orders WHERE status = ANY (ARRAY['paid', 'shipped']) ORDER BY id

-- title: array_length and cardinality
SELECT id, array_length(ia, 1), cardinality(ta) FROM typed ORDER BY id

-- title: array subscript
SELECT id, ia[1], ia[3], ta[2], ia[5] FROM typed ORDER BY id

-- title: unnest
SELECT id, unnest(ia) FROM typed WHERE id < 20 ORDER BY id

-- title: unnest in from
SELECT x, count(*) FROM typed, unnest(ta) AS x GROUP BY x

-- title: array contains
SELECT id FROM typed WHERE ia @> ARRAY[1] ORDER BY id

-- title: array overlap
SELECT id FROM typed WHERE ta && ARRAY['t1', 'zz'] ORDER BY id

-- title: array_agg of text
SELECT b, array_agg(vc ORDER BY id) FROM typed GROUP BY b

-- title: array_to_string
SELECT id, array_to_string(ia, ','), array_to_string(ta, '|', '?') FROM typed ORDER BY id

-- title: array constructor from columns
SELECT id, ARRAY[i2, i4] FROM typed ORDER BY id

-- title: array_position
SELECT id, array_position(ta, 'ü') FROM typed ORDER BY id

-- title: all of array
SELECT id FROM typed WHERE 10 > ALL (ia) ORDER BY id
