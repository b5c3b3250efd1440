-- Regular expressions.

-- title: tilde match
SELECT id FROM typed WHERE t ~ '^[a-z]+ [0-9]+$' ORDER BY id

-- title: tilde star case-insensitive
SELECT id FROM typed WHERE t ~* '^delta' ORDER BY id

-- title: not tilde
SELECT count(*) FROM typed WHERE t !~ '[0-9]'

-- title: regexp_replace first match
SELECT id, regexp_replace(t, '[aeiou]', '_') FROM typed ORDER BY id

-- title: regexp_replace global
SELECT id, regexp_replace(t, '[aeiou]', '_', 'g') FROM typed ORDER BY id

-- title: regexp_replace with backreference
SELECT id, regexp_replace(email, '^([^@]+)@(.*)$', '\2:\1') FROM customers ORDER BY id

-- title: regex on unicode
SELECT id FROM typed WHERE t ~ 'é|ß|日' ORDER BY id

-- title: regexp_match
SELECT id, regexp_match(t, '([0-9]+)') FROM typed ORDER BY id

-- title: regex select boolean
SELECT id, t ~ '\d', vc ~* 'V1' FROM typed ORDER BY id

-- title: similar to
SELECT id FROM typed WHERE vc SIMILAR TO 'v(1|2)%' ORDER BY id

-- title: regexp_replace case-insensitive flag
SELECT id, regexp_replace(t, 'A', 'x', 'gi') FROM typed ORDER BY id

-- title: regex character class with punctuation
SELECT id FROM customers WHERE name ~ '[%_''\\]' ORDER BY id
