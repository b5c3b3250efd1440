SELECT id, date_trunc('month', created_at), date_trunc('day', created_at), date_trunc('hour', created_at) FROM orders ORDER BY id

SELECT id, date_trunc('year', created_at), date_trunc('quarter', created_at), date_trunc('week', created_at) FROM orders ORDER BY id

SELECT id, date_trunc('minute', created_at), date_trunc('second', created_at) FROM orders ORDER BY id

SELECT id, date_trunc('month', signup_date), date_trunc('week', signup_date) FROM customers ORDER BY id

SELECT id, date_trunc('day', created_tz), date_trunc('month', created_tz) FROM orders ORDER BY id

SELECT id, date_trunc('day', created_tz), date_trunc('month', created_tz) FROM orders ORDER BY id
-- tz: America/New_York

SELECT id, date_trunc('month', signup_date) FROM customers ORDER BY id
-- tz: Asia/Kolkata

SELECT id, extract(year FROM created_at), extract(month FROM created_at), extract(day FROM created_at), extract(hour FROM created_at), extract(minute FROM created_at) FROM orders ORDER BY id

SELECT id, extract(dow FROM created_at), extract(isodow FROM created_at), extract(doy FROM created_at), extract(quarter FROM created_at), extract(week FROM created_at), extract(isoyear FROM created_at) FROM orders ORDER BY id

SELECT id, extract(year FROM signup_date), extract(dow FROM signup_date), extract(week FROM signup_date), extract(isoyear FROM signup_date) FROM customers ORDER BY id

SELECT id, extract(hour FROM created_tz), extract(day FROM created_tz) FROM orders ORDER BY id
-- tz: America/New_York

SELECT id, date_part('year', created_at), date_part('dow', created_at), date_part('month', signup_date) FROM orders JOIN customers USING (id) ORDER BY id

SELECT id, signup_date + 30, signup_date - 7, 1 + signup_date FROM customers ORDER BY id

SELECT id, date '2025-01-01' - signup_date FROM customers ORDER BY id

SELECT id, signup_date + interval '1 month', signup_date - interval '1 year' FROM customers ORDER BY id

SELECT id, signup_date + interval '3' month, signup_date + interval '91' day FROM customers ORDER BY id

SELECT id, signup_date + interval '3' month, signup_date + interval '90' day FROM customers ORDER BY id
-- expect: origin unsupported_construct

SELECT id, created_at + interval '1 hour', created_at - interval '30 minutes', created_at + interval '2 weeks' FROM orders ORDER BY id

SELECT id, created_at + interval '1 month' FROM orders ORDER BY id

SELECT id, created_tz + interval '1 day', created_tz + interval '1 month' FROM orders ORDER BY id
-- tz: America/New_York

SELECT id, created_tz + interval '1 day' FROM orders ORDER BY id
-- tz: Europe/Berlin

SELECT id, created_at - timestamp '2023-01-01 00:00:00' FROM orders WHERE id < 100 ORDER BY id

SELECT id FROM orders WHERE created_at >= date '2024-01-01' ORDER BY id

SELECT id FROM orders WHERE created_at::date = '2023-07-04' ORDER BY id

SELECT id, created_at::date, signup_date::timestamp FROM orders JOIN customers USING (id) ORDER BY id

SELECT id, signup_date::timestamptz, created_tz::date, created_tz::timestamp FROM orders JOIN customers USING (id) ORDER BY id
-- tz: America/New_York

SELECT id, created_at::timestamptz FROM orders ORDER BY id
-- tz: Australia/Adelaide

SELECT id FROM orders WHERE created_tz > '2024-01-01 00:00' ORDER BY id
-- tz: America/New_York

SELECT id FROM orders WHERE created_tz > timestamptz '2024-01-01 00:00' ORDER BY id
-- tz: Asia/Tokyo

SELECT signup_date::text, count(*) FROM customers GROUP BY 1

SELECT date_trunc('month', created_at)::date, sum(amount) FROM orders GROUP BY 1

SELECT make_date(2024, quantity, 1) FROM orders WHERE quantity BETWEEN 1 AND 12 ORDER BY id

SELECT c.id, signup_date, created_at FROM customers c JOIN orders o ON o.id = c.id WHERE signup_date < created_at ORDER BY c.id

SELECT min(created_tz), max(created_tz) FROM orders

SELECT extract(month FROM created_tz) AS m, count(*) FROM orders GROUP BY m
-- tz: Pacific/Auckland

SELECT date_trunc('week', created_tz), count(*) FROM orders GROUP BY 1
-- tz: America/Sao_Paulo

SELECT id, created_at + interval '1 day', created_at + interval '24 hours' FROM orders ORDER BY id
-- expect: origin unsupported_construct

SELECT id, created_tz + interval '1 day', created_tz - interval '2 hours' FROM orders ORDER BY id
-- tz: America/New_York

SELECT id, extract(epoch FROM created_at), date_part('epoch', created_tz) FROM orders ORDER BY id
