SELECT id, lower(name), lower(country) FROM customers ORDER BY id

SELECT id, lower(email), lower(status) FROM orders JOIN customers USING (id) WHERE email IS NOT NULL ORDER BY id

SELECT id, length(name), length(notes) FROM customers ORDER BY id

SELECT id, substring(name, 2, 3), substring(name FROM 1 FOR 2), substr(name, 3), substr(name, 2, 1) FROM customers ORDER BY id

SELECT id, trim(name), ltrim(name), rtrim(name) FROM customers ORDER BY id

SELECT id, trim(both 'A' FROM name) FROM customers ORDER BY id

SELECT id, replace(name, 'a', 'A') FROM customers ORDER BY id

SELECT id, left(name, 2), right(name, 2), left(name, -1), right(name, -1) FROM customers ORDER BY id

SELECT id, position('a' IN name), strpos(name, 'e') FROM customers ORDER BY id

SELECT id, name || ' (' || country || ')' FROM customers ORDER BY id

SELECT id, concat(name, '-', country, '-', tier) FROM customers ORDER BY id

SELECT id, concat(name, NULL) FROM customers ORDER BY id

SELECT id, split_part(email, '@', 2), split_part(email, '@', 1), split_part(email, '.', -1) FROM customers ORDER BY id

SELECT id, md5(name) FROM customers ORDER BY id

SELECT id, lpad(country, 5, '*'), rpad(country, 4), lpad(name, 3) FROM customers ORDER BY id

SELECT id, repeat(country, 2) FROM customers ORDER BY id

SELECT id FROM customers WHERE name LIKE 'A%' ORDER BY id

SELECT id FROM customers WHERE name LIKE '%e' ORDER BY id

SELECT id FROM customers WHERE name LIKE '_o%' ORDER BY id

SELECT id FROM customers WHERE name LIKE 'a\_b\%c%' ORDER BY id

SELECT id FROM customers WHERE name LIKE '%\\%' ORDER BY id

SELECT id FROM customers WHERE name NOT LIKE '%a%' ORDER BY id

SELECT id FROM customers WHERE name ILIKE 'ann%' ORDER BY id

SELECT id FROM customers WHERE name ILIKE '%ë%' ORDER BY id

SELECT id FROM customers WHERE name ILIKE '%STRASSE%' ORDER BY id

SELECT id FROM customers WHERE name NOT ILIKE '%a%' ORDER BY id

SELECT id FROM customers WHERE name LIKE 'x!%%' ESCAPE '!' ORDER BY id

SELECT id FROM customers WHERE name ~ '^[A-Z]' ORDER BY id

SELECT id FROM customers WHERE name ~* '^ann' ORDER BY id

SELECT id FROM customers WHERE name !~ 'e' ORDER BY id

SELECT id FROM customers WHERE email ~ '^user[0-9]+@' ORDER BY id

SELECT id FROM customers WHERE name ~ 'n{2}' ORDER BY id

SELECT lower(name), count(*) FROM customers GROUP BY lower(name)

SELECT upper(name) FROM customers ORDER BY id

SELECT id, upper(country), upper(email) FROM customers WHERE country IN ('DE', 'us', 'FR') ORDER BY id

SELECT id, name FROM customers ORDER BY lower(name), id

SELECT country, count(*) FROM customers GROUP BY country ORDER BY country

SELECT country FROM customers UNION SELECT category FROM products ORDER BY 1

SELECT max(email), min(notes) FROM customers

SELECT id, name = 'ann', name <> 'Ann' FROM customers ORDER BY id

SELECT id FROM customers WHERE country IN ('DE', 'us') ORDER BY id

SELECT id, coalesce(notes, name, 'none') FROM customers ORDER BY id

SELECT id, CASE WHEN name LIKE 'A%' THEN 'a-name' ELSE name END FROM customers ORDER BY id

SELECT id, email::text FROM customers ORDER BY id

SELECT id, name::varchar FROM customers ORDER BY id

SELECT id, 'x' || name FROM customers ORDER BY id

SELECT id, length('Größe'), 'lit' FROM customers WHERE id = 1
