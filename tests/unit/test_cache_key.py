"""Cache keys: what splits the cache and what does not; what may be cached."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from cache.key import Allowlist, CacheKey, analyse, is_cacheable, next_boundary, normalise

BASE = dict(role="alice", database="app",
            settings={"TimeZone": "UTC", "search_path": '"$user", public', "DateStyle": "ISO, MDY",
                      "application_name": "psql"})


def key(sql, **kw):
    args = {**BASE, **kw}
    return CacheKey.build(sql, **args)


@pytest.mark.parametrize("variant", [
    "select a, count(*) from sales where region = 'EU' group by 1",
    "SELECT a, COUNT(*) FROM sales WHERE region = 'EU' GROUP BY 1",
    "select   a,\n\tcount(*)\nfrom sales  where region='EU'\ngroup   by 1;",
    "select a, count(*) -- per region\nfrom sales /* EU only */ where region = 'EU' group by 1",
    "select A, count(*) from Sales where REGION = 'EU' group by 1",
])
def test_whitespace_comment_and_keyword_case_variants_share_a_key(variant):
    ref = "select a, count(*) from sales where region = 'EU' group by 1"
    assert normalise(variant) == normalise(ref)
    assert key(variant) == key(ref)
    assert key(variant).digest == key(ref).digest


def test_different_literal_is_a_different_key():
    assert key("select * from t where x = 1") != key("select * from t where x = 2")
    assert key("select * from t where s = 'EU'") != key("select * from t where s = 'eu'")
    assert key("select 1.0") != key("select 1.00")


def test_string_literal_content_is_kept_verbatim():
    assert normalise("select 'A  B -- not a comment'") == "select 'A  B -- not a comment'"


def test_quoted_identifiers_keep_their_case():
    assert key('select "Amount" from t') != key("select amount from t")


def test_positional_references_are_kept():
    assert key("select a, b, count(*) from t group by 1, 2") != key("select a, b, count(*) from t group by 2, 1")
    assert "order by 1" in normalise("SELECT a FROM t ORDER BY 1")


def test_functions_the_ast_would_merge_stay_distinct():
    # sqlglot's AST round trip turns both into EXTRACT(YEAR FROM d): float8 vs numeric in Postgres
    assert key("select date_part('year', d) from t") != key("select extract(year from d) from t")
    assert key("select substr(a, 1, 2) from t") != key("select substring(a, 1, 2) from t")


def test_touching_operator_characters_are_not_split_by_whitespace():
    assert normalise("select x@-1 from t") != normalise("select x @ -1 from t")


def test_parameters_their_formats_and_types_split_the_key():
    sql = "select * from t where id = $1"
    k = key(sql, params=[b"1"])
    assert k == key(sql, params=[b"1"], param_formats=[0])
    assert k != key(sql, params=[b"2"])
    assert k != key(sql, params=[None])
    assert k != key(sql, params=[b"\x00\x00\x00\x01"], param_formats=[1])
    assert k != key(sql, params=[b"1"], param_types=[23])


def test_result_format_spellings_that_mean_the_same_share_a_key():
    sql = "select a, b from t"
    assert key(sql, result_formats=[]) == key(sql, result_formats=[0]) == key(sql, result_formats=[0, 0])
    assert key(sql, result_formats=[1]) == key(sql, result_formats=[1, 1])
    assert key(sql, result_formats=[0]) != key(sql, result_formats=[1])
    assert key(sql, result_formats=[0, 1]) != key(sql, result_formats=[1, 0])


def test_role_database_and_result_settings_split_the_key():
    sql = "select * from t"
    k = key(sql)
    assert k != key(sql, role="bob")
    assert k != key(sql, database="other")
    assert k != key(sql, settings={**BASE["settings"], "TimeZone": "Europe/Paris"})
    assert k != key(sql, settings={**BASE["settings"], "search_path": "sales, public"})
    assert k != key(sql, settings={**BASE["settings"], "DateStyle": "German, DMY"})
    assert k != key(sql, settings={**BASE["settings"], "extra_float_digits": "0"})
    assert k != key(sql, settings={**BASE["settings"], "bytea_output": "escape"})


def test_settings_that_do_not_change_results_do_not_split_the_key():
    sql = "select * from t"
    assert key(sql) == key(sql, settings={**BASE["settings"], "application_name": "grafana"})
    # names are case-insensitive
    assert key(sql) == key(sql, settings={k.lower(): v for k, v in BASE["settings"].items()})


def test_share_across_roles_drops_the_role_unless_the_statement_reads_it():
    assert key("select * from t", role="a", share_across_roles=True) == \
        key("select * from t", role="b", share_across_roles=True)
    assert key("select current_user, * from t", role="a", share_across_roles=True) != \
        key("select current_user, * from t", role="b", share_across_roles=True)


def test_plain_read_is_cacheable():
    c = is_cacheable("select region, sum(amount) from sales group by 1 order by 2 desc")
    assert c.ok and c.reason == "cacheable" and c.expires_at is None


@pytest.mark.parametrize("sql,reason", [
    ("select random()", "volatile_function"),
    ("select now()", "volatile_function"),
    ("select * from t where ts > current_timestamp - interval '1 day'", "volatile_function"),
    ("select clock_timestamp()", "volatile_function"),
    ("select localtimestamp", "volatile_function"),
    ("select date_trunc('day', now() - interval '1 hour')", "volatile_function"),
    ("select nextval('s')", "volatile_function"),
    ("select currval('s')", "volatile_function"),
    ("select setval('s', 1)", "volatile_function"),
    ("select txid_current()", "volatile_function"),
    ("select pg_sleep(1)", "volatile_function"),
    ("select pg_catalog.pg_backend_pid()", "volatile_function"),
    ("select set_config('a.b', 'c', false)", "volatile_function"),
    ("select current_setting('work_mem')", "volatile_function"),
    ("select my_udf(a) from t", "unknown_function"),
    ("select * from t for update", "locking_clause"),
    ("select * from t for no key update", "locking_clause"),
    ("with d as (delete from t returning *) select * from d", "write_statement"),
    ("select * into t2 from t", "write_statement"),
    ("insert into t values (1)", "not_a_read"),
    ("set timezone = 'UTC'", "not_a_read"),
    ("select 1; select 2", "multiple_statements"),
    ("select 'unterminated", "parse_failed"),
])
def test_not_cacheable(sql, reason):
    c = is_cacheable(sql)
    assert not c.ok and c.reason == reason, c


def test_cte_and_alias_column_lists_are_not_mistaken_for_functions():
    assert is_cacheable("with x(a, b) as (select 1, 2) select * from x").ok
    assert is_cacheable("select * from (values (1, 2)) as v(a, b)").ok


def test_time_bucket_is_cacheable_until_the_next_boundary_in_the_session_zone():
    now = datetime(2024, 3, 5, 22, 30, tzinfo=ZoneInfo("UTC")).timestamp()
    c = is_cacheable("select count(*) from t where ts >= date_trunc('day', now())", timezone="UTC", now=now)
    assert c.ok and c.expires_at == datetime(2024, 3, 6, tzinfo=ZoneInfo("UTC")).timestamp()
    # midnight in Tokyo (UTC+9) came earlier
    c = is_cacheable("select count(*) from t where d > current_date - 7", timezone="Asia/Tokyo", now=now)
    assert c.ok and c.expires_at == datetime(2024, 3, 6, 15, 0, tzinfo=ZoneInfo("UTC")).timestamp()


def test_time_bucket_in_an_unknown_zone_is_not_cached():
    assert not is_cacheable("select current_date", timezone="Not/AZone").ok


@pytest.mark.parametrize("unit,expected", [
    ("hour", datetime(2024, 3, 5, 23, 0)), ("week", datetime(2024, 3, 11)),
    ("month", datetime(2024, 4, 1)), ("quarter", datetime(2024, 4, 1)), ("year", datetime(2025, 1, 1)),
])
def test_next_boundary(unit, expected):
    now = datetime(2024, 3, 5, 22, 30, tzinfo=ZoneInfo("UTC")).timestamp()
    assert next_boundary(unit, now, "UTC") == expected.replace(tzinfo=ZoneInfo("UTC")).timestamp()


def test_allowlist_admits_a_volatile_statement_by_fingerprint_or_regex():
    sql = "select my_udf(a) from t"
    fp = analyse(sql).fingerprint
    assert is_cacheable(sql, allowlist=Allowlist.from_config([fp])).reason == "allowlisted"
    assert is_cacheable(sql, allowlist=Allowlist.from_config([r"my_udf \("])).ok
    assert not is_cacheable("select random()", allowlist=Allowlist.from_config([r"my_udf"])).ok


def test_allowlist_never_admits_a_write():
    assert not is_cacheable("select * from t for update", allowlist=Allowlist.from_config([".*"])).ok


def test_normalise_is_memoised_by_exact_text():
    sql = "select 42 /* memo test */ from t"
    analyse.cache_clear()
    normalise(sql)
    normalise(sql)
    info = analyse.cache_info()
    assert info.hits == 1 and info.misses == 1


def test_session_scope_builds_the_same_key_as_build():
    from cache.key import KeyScope
    scope = KeyScope.for_session("alice", "app", BASE["settings"])
    sql = "select * from t where id = $1"
    assert scope.key(sql, [b"7"], [0], [23], [1, 1]) == \
        key(sql, params=[b"7"], param_formats=[0], param_types=[23], result_formats=[1])
    assert KeyScope.for_session("alice", "app", {**BASE["settings"], "TimeZone": "Asia/Tokyo"}).key(sql, [b"7"]) \
        != scope.key(sql, [b"7"])
