-- Date/time arithmetic and functions; "tz: all" runs a query under each TimeZone.

-- title: timestamptz printed in the session zone
-- tz: all
SELECT id, tstz FROM typed ORDER BY id

-- title: date_trunc day of timestamptz
-- tz: all
SELECT id, date_trunc('day', tstz), date_trunc('hour', tstz) FROM typed ORDER BY id

-- title: date_trunc month and week of timestamptz
-- tz: all
SELECT id, date_trunc('month', tstz), date_trunc('week', tstz) FROM typed ORDER BY id

-- title: extract from timestamptz
-- tz: all
SELECT id, extract(hour FROM tstz), extract(day FROM tstz), extract(dow FROM tstz), extract(epoch FROM tstz) FROM typed ORDER BY id

-- title: date_part of timestamptz
-- tz: all
SELECT id, date_part('hour', tstz), date_part('timezone', tstz) FROM typed ORDER BY id

-- title: timestamptz cast to date and timestamp
-- tz: all
SELECT id, tstz::date, tstz::timestamp, tstz::time FROM typed ORDER BY id

-- title: timestamp cast to timestamptz
-- tz: all
SELECT id, ts::timestamptz FROM typed ORDER BY id

-- title: timestamptz plus interval across DST
-- tz: all
SELECT id, tstz + interval '1 day', tstz + interval '24 hours', tstz - interval '1 month' FROM typed ORDER BY id

-- title: group by day of timestamptz
-- tz: all
SELECT date_trunc('day', created_tz) AS day, count(*) FROM orders GROUP BY 1 ORDER BY 1 NULLS FIRST

-- title: comparison of timestamptz with a literal
-- tz: all
SELECT count(*) FROM typed WHERE tstz >= '2022-06-01 00:00' AND tstz < '2022-07-01'

-- title: date compared with timestamptz
-- tz: all
SELECT id FROM typed WHERE d < tstz ORDER BY id

-- title: at time zone
-- tz: all
SELECT id, tstz AT TIME ZONE 'Europe/Berlin', ts AT TIME ZONE 'Asia/Tokyo' FROM typed ORDER BY id

-- title: timestamptz text in SQL DateStyle
-- tz: Australia/Adelaide
-- set: DateStyle=SQL, DMY
SELECT id, tstz, ts, d FROM typed ORDER BY id

-- title: German DateStyle
-- tz: America/New_York
-- set: DateStyle=German
SELECT id, tstz, d FROM typed WHERE id < 50 ORDER BY id

-- title: interval style iso_8601
-- set: IntervalStyle=iso_8601
SELECT id, iv FROM typed ORDER BY id

-- title: interval style sql_standard
-- set: IntervalStyle=sql_standard
SELECT id, iv FROM typed ORDER BY id

-- title: date_trunc of timestamp
SELECT id, date_trunc('year', ts), date_trunc('quarter', ts), date_trunc('minute', ts) FROM typed ORDER BY id

-- title: date_trunc of date returns timestamptz
-- tz: Asia/Kolkata
SELECT id, date_trunc('month', d) FROM typed ORDER BY id

-- title: extract from date
SELECT id, extract(year FROM d), extract(doy FROM d), extract(isodow FROM d), extract(week FROM d) FROM typed ORDER BY id

-- title: extract from time
SELECT id, extract(hour FROM tm), extract(second FROM tm), extract(microseconds FROM tm) FROM typed ORDER BY id

-- title: extract from interval
SELECT id, extract(day FROM iv), extract(month FROM iv), extract(epoch FROM iv) FROM typed ORDER BY id

-- title: date plus integer
SELECT id, d + 30, d - 7, d - date '2020-01-01' FROM typed ORDER BY id

-- title: date plus interval
SELECT id, d + interval '1 month', d - interval '1 year 2 days' FROM typed ORDER BY id

-- title: timestamp plus interval column
SELECT id, ts + iv, ts - iv FROM typed ORDER BY id

-- title: timestamp difference
SELECT id, ts - timestamp '2021-01-01' FROM typed ORDER BY id

-- title: age of timestamps
SELECT id, age(ts, timestamp '2020-01-01 12:00') FROM typed ORDER BY id

-- title: age of dates
SELECT id, age(d::timestamp, timestamp '1999-12-31') FROM typed ORDER BY id

-- title: interval arithmetic
SELECT id, iv * 2, iv / 3, iv + interval '1 hour', -iv FROM typed ORDER BY id

-- title: interval comparisons
SELECT id FROM typed WHERE iv > interval '30 days' ORDER BY id

-- title: time arithmetic
SELECT id, tm + interval '90 minutes', tm - time '06:00' FROM typed ORDER BY id

-- title: date comparisons and between
SELECT id FROM typed WHERE d BETWEEN '2019-01-01' AND '2021-12-31' ORDER BY id

-- title: timestamp comparisons
SELECT id FROM orders WHERE created_at > timestamp '2024-06-01' ORDER BY id

-- title: make_date and make_timestamp
SELECT id, make_date(2020, 1 + id % 12, 1 + id % 28) FROM orders WHERE id < 30 ORDER BY id

-- title: to_char of timestamp
SELECT id, to_char(ts, 'YYYY-MM-DD HH24:MI') FROM typed ORDER BY id

-- title: justify interval
SELECT id, justify_days(iv), justify_hours(iv) FROM typed ORDER BY id

-- title: date_part of timestamp with epoch
SELECT id, date_part('epoch', ts), date_part('milliseconds', ts) FROM typed ORDER BY id

-- title: extract century decade millennium
SELECT id, extract(century FROM d), extract(decade FROM d), extract(millennium FROM d) FROM typed ORDER BY id

-- title: group by hour of timestamp
SELECT extract(hour FROM created_at) AS h, count(*) FROM orders GROUP BY 1 ORDER BY 1 NULLS FIRST

-- title: date_bin
SELECT id, date_bin('15 minutes', ts, timestamp '2000-01-01') FROM typed ORDER BY id

-- title: timestamp minus date
SELECT id, ts - d FROM typed ORDER BY id

-- title: last day of month via interval
SELECT id, (date_trunc('month', ts) + interval '1 month - 1 day')::date FROM typed ORDER BY id

-- title: interval comparison with mixed-sign fields
SELECT id, iv FROM typed WHERE iv > interval '-3 mons 22 days' AND iv < interval '-2 mons -8 days' ORDER BY id

-- title: distinct intervals equal as Postgres compares them
SELECT count(DISTINCT iv), count(DISTINCT justify_days(iv)) FROM typed

-- title: interval compared with a literal of other field signs
SELECT id, iv FROM typed WHERE iv < interval '-2 mons -8 days -12:00' ORDER BY id

-- title: max of intervals with mixed-sign fields
SELECT max(iv), min(iv) FROM typed WHERE id < 1000 AND iv < interval '0'

-- title: interval columns compared with each other
SELECT a.id, b.id FROM typed a JOIN typed b ON a.iv < b.iv WHERE a.id IN (1, 112) AND b.id IN (1, 112)

-- title: max of intervals with mixed-sign fields between rows
SELECT max(iv), min(iv) FROM typed WHERE id IN (1, 112)

-- title: date_trunc of a date by day, week, quarter and year across DST
-- tz: America/New_York
SELECT id, date_trunc('day', d), date_trunc('week', d), date_trunc('quarter', d), date_trunc('year', d) FROM typed ORDER BY id

-- title: extract epoch of timestamps is numeric with microseconds
-- tz: all
SELECT id, extract(epoch FROM ts) AS e1, extract(epoch FROM tstz) AS e2 FROM typed WHERE id < 60 ORDER BY id

-- title: date_part epoch of timestamps is float8
-- tz: all
SELECT id, date_part('epoch', ts) AS e1, date_part('epoch', tstz) AS e2 FROM typed WHERE id < 60 ORDER BY id

-- title: Grafana time grouping by epoch buckets
SELECT floor(extract(epoch FROM tstz) / 86400) * 86400 AS "time", count(*) AS n FROM typed GROUP BY 1 ORDER BY 1

-- title: epoch bucket with integer division
SELECT (extract(epoch FROM ts)::bigint / 3600) * 3600 AS bucket, count(*) FROM typed GROUP BY 1 ORDER BY 1 NULLS FIRST
