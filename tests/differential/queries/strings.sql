-- String functions, LIKE/ILIKE.

-- title: lower and upper
SELECT id, lower(t), upper(t) FROM typed ORDER BY id

-- title: lower and upper of ascii text
SELECT id, lower(vc), upper(vc) FROM typed ORDER BY id

-- title: length char_length octet_length
SELECT id, length(t), char_length(t), octet_length(t), length(ch), octet_length(ch) FROM typed ORDER BY id

-- title: substr and substring
SELECT id, substr(t, 2), substr(t, 2, 3), substring(t FROM 1 FOR 4), substr(t, -1, 3) FROM typed ORDER BY id

-- title: position and strpos
SELECT id, position('a' IN t), strpos(t, 'e') FROM typed ORDER BY id

-- title: replace
SELECT id, replace(t, 'a', 'AA'), replace(t, '', 'x') FROM typed ORDER BY id

-- title: trim ltrim rtrim btrim
SELECT id, trim(t), ltrim(t), rtrim(t), btrim(t, 'a '), trim(BOTH 'x' FROM vc) FROM typed ORDER BY id

-- title: lpad and rpad
SELECT id, lpad(vc, 6, '*'), rpad(vc, 6), lpad(t, 3) FROM typed ORDER BY id

-- title: concat and concat_ws
SELECT id, concat(t, '-', i4, '-', b), concat_ws('/', vc, t, d) FROM typed ORDER BY id

-- title: concatenation operator with text
SELECT id, t || '|' || vc FROM typed ORDER BY id

-- title: concatenation operator with numbers
SELECT id, 'n=' || i4, i8 || '' FROM typed ORDER BY id

-- title: concatenation with char(n) drops padding
SELECT id, ch || '|', ch::text FROM typed ORDER BY id

-- title: split_part
SELECT id, split_part(t, ' ', 1), split_part(t, ' ', 2), split_part(email, '@', 2) FROM typed LEFT JOIN customers USING (id) ORDER BY id

-- title: left and right
SELECT id, left(t, 2), right(t, 2), left(t, -1), right(t, -2) FROM typed ORDER BY id

-- title: like
SELECT id FROM typed WHERE t LIKE 'a%' ORDER BY id

-- title: like with escape of percent
SELECT id FROM typed WHERE t LIKE '%\%%' ORDER BY id

-- title: like with underscore
SELECT id, t FROM typed WHERE t LIKE '_e%' ORDER BY id

-- title: not like
SELECT count(*) FROM typed WHERE t NOT LIKE '%a%'

-- title: ilike
SELECT id FROM typed WHERE t ILIKE '%BETA%' ORDER BY id

-- title: ilike with non-ascii
SELECT id FROM typed WHERE t ILIKE '%ZOË%' ORDER BY id

-- title: like on varchar column of customers
SELECT id, name FROM customers WHERE name LIKE 'A%' ORDER BY id

-- title: reverse repeat initcap
SELECT id, reverse(t), repeat(vc, 2), initcap(t) FROM typed ORDER BY id

-- title: ascii and chr
SELECT id, ascii(t), chr(65 + id % 26) FROM typed ORDER BY id

-- title: md5 of text
SELECT id, md5(t) FROM typed ORDER BY id

-- title: starts_with
SELECT id FROM typed WHERE starts_with(t, 'gam') ORDER BY id

-- title: order by text in C collation
SELECT id, t FROM typed ORDER BY t, id

-- title: order by varchar desc
SELECT id, name FROM customers ORDER BY name DESC NULLS LAST, id

-- title: text comparison operators
SELECT id FROM typed WHERE t > 'gamma' AND t <= 'zzz' ORDER BY id

-- title: distinct lower names
SELECT DISTINCT lower(name) FROM customers

-- title: upper of customer names with unicode
SELECT id, upper(name), lower(notes) FROM customers ORDER BY id

-- title: translate and overlay
SELECT id, translate(t, 'ae', 'AE'), overlay(vc PLACING 'XX' FROM 2 FOR 1) FROM typed ORDER BY id

-- title: length of bytea and encode
SELECT id, length(by), encode(by, 'hex'), encode(by, 'base64') FROM typed ORDER BY id

-- title: quote_literal and format
SELECT id, quote_literal(t), format('%s-%s', id, vc) FROM typed ORDER BY id

-- title: string with in list
SELECT id FROM customers WHERE country IN ('DE', 'us', 'Ísland') ORDER BY id

-- title: char(n) comparison ignores trailing blanks
SELECT id FROM typed WHERE ch = 'ab' ORDER BY id

-- title: varchar typmod preserved
SELECT vc, email FROM typed JOIN customers USING (id) ORDER BY id

-- title: text concatenated with integers
SELECT id, 'Q' || (id % 4) || '-' || i4 AS label, i2 || 'x' AS tail FROM typed WHERE id < 40 ORDER BY id

-- title: concat_ws skips NULLs and appends integers
SELECT id, concat_ws('-', t, vc, i4) AS a, concat_ws(NULL, t, vc) AS b, concat_ws(', ', NULL, NULL) AS c FROM typed WHERE id < 40 ORDER BY id

-- title: octet_length counts UTF-8 bytes
SELECT id, octet_length(t) AS bytes, length(t) AS chars FROM typed WHERE id < 40 ORDER BY id
