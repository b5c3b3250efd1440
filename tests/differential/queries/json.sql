-- json/jsonb operators.

-- title: json arrow
SELECT id, js -> 'k', js -> 'tags', js -> 'nested' FROM typed ORDER BY id

-- title: json double arrow
SELECT id, js ->> 'k', js ->> 'name' FROM typed ORDER BY id

-- title: jsonb arrow
SELECT id, jb -> 'k', jb -> 'nested', jb -> 'price' FROM typed ORDER BY id

-- title: jsonb double arrow
SELECT id, jb ->> 'name', jb ->> 'price', jb ->> 'ok', jb ->> 'e' FROM typed ORDER BY id

-- title: json array index
SELECT id, js -> 'tags' -> 0, jb -> 'tags' ->> 1, jb -> 'tags' -> -1 FROM typed ORDER BY id

-- title: json path text
SELECT id, js #>> '{nested,a}', js #>> '{nested,b,1,c}', jb #>> '{nested,b}' FROM typed ORDER BY id

-- title: jsonb path json
SELECT id, jb #> '{nested}', js #> '{tags}' FROM typed ORDER BY id

-- title: filter on jsonb field
SELECT id FROM typed WHERE jb ->> 'name' = 'n2' ORDER BY id

-- title: cast json field to int and aggregate
SELECT (jb ->> 'name') AS nm, sum((jb ->> 'k')::int) FROM typed GROUP BY 1

-- title: jsonb containment
SELECT id FROM typed WHERE jb @> '{"ok": true}' ORDER BY id

-- title: jsonb key exists
SELECT id FROM typed WHERE jb ? 'e' ORDER BY id

-- title: json column raw
SELECT id, js, jb FROM typed ORDER BY id

-- title: jsonb_typeof and json_typeof
SELECT id, jsonb_typeof(jb), json_typeof(js) FROM typed ORDER BY id

-- title: jsonb array length
SELECT id, jsonb_array_length(jb -> 'tags') FROM typed WHERE jb ? 'tags' ORDER BY id

-- title: json to text cast
SELECT id, js::text, jb::text FROM typed ORDER BY id

-- title: jsonb equality
SELECT a.id, b.id FROM typed a JOIN typed b ON a.jb = b.jb AND a.id < b.id ORDER BY a.id, b.id
