"""Implied single-table filters from an OR of conjunctions (run after the bridge has
typed and rewritten the query, on its DuckDB form).

TPC-H Q19 has the shape::

    WHERE (p.partkey = l.partkey AND p.brand = 'B12' AND p.container IN (...) AND l.qty <= 11)
       OR (p.partkey = l.partkey AND p.brand = 'B23' AND p.container IN (...) AND l.qty <= 20)
       OR ...

DuckDB pulls the common join condition out of the OR but filters the rest only after
the join, so the hash join is built on every row of ``part``. Each disjunct implies
its own conjuncts, so the WHERE clause implies

    (p.brand = 'B12' AND p.container IN (...)) OR (p.brand = 'B23' AND p.container IN (...)) OR ...

and adding that with AND changes no result: a row passes the new WHERE exactly when it
passed the old one (under three-valued logic too: a TRUE disjunct makes each of its
conjuncts TRUE, so the added condition is TRUE wherever the old WHERE was). DuckDB
pushes the added condition into the scan of ``part`` and builds the join on the few
rows that can match.

What is copied, and when:

- only ``column = constant`` and ``column IN (constants)`` conditions (constants:
  literals, possibly negated or cast, as the bridge left them): they cannot raise, so
  evaluating them earlier or on more rows cannot make a statement fail that Postgres
  answers, and they are cheap and selective (range conditions are not copied: an OR
  of ranges in a big table's scan costs more than it saves);
- for a table of the SELECT's own FROM list, when the SELECT reads at least two
  sources (with one, the condition is already on that table);
- only when every disjunct has such a condition on that table, leaving out the
  conditions common to all disjuncts (DuckDB factors those out itself).
"""

from __future__ import annotations

from sqlglot import exp


def add_implied_filters(tree: exp.Expression) -> exp.Expression:
    """Add the implied single-table filters to every SELECT's WHERE (in place)."""
    for select in list(tree.find_all(exp.Select)):
        where = select.args.get("where")
        if where is None:
            continue
        aliases = _source_aliases(select)
        if len(aliases) < 2:
            continue
        added = []
        present = {_key(c) for c in _flatten(where.this, exp.And)}
        for conjunct in _flatten(where.this, exp.And):
            disjuncts = _flatten(conjunct, exp.Or)
            if len(disjuncts) < 2:
                continue
            for cond in _implied(disjuncts, aliases):
                text = _key(cond)
                if text not in present:
                    present.add(text)
                    added.append(cond)
        if added:
            where.set("this", exp.and_(where.this, *added, copy=False))
    return tree


def _implied(disjuncts: list[exp.Expression], aliases: list[str]) -> list[exp.Expression]:
    parts = [_flatten(d, exp.And) for d in disjuncts]
    texts = [{c.sql() for c in p} for p in parts]
    common = set.intersection(*texts)
    out = []
    for alias in aliases:
        per_disjunct = []
        for p in parts:
            eqs = [c for c in p if c.sql() not in common and _is_constant_match(c, alias)]
            if not eqs:
                break
            per_disjunct.append(eqs)
        else:
            terms = [exp.paren(exp.and_(*[c.copy() for c in eqs], copy=False), copy=False)
                     if len(eqs) > 1 else eqs[0].copy() for eqs in per_disjunct]
            out.append(exp.paren(exp.or_(*terms, copy=False), copy=False))
    return out


def _key(node: exp.Expression) -> str:
    while isinstance(node, exp.Paren):
        node = node.this
    return node.sql()


def _flatten(node: exp.Expression, kind: type) -> list[exp.Expression]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, kind):
        return _flatten(node.left, kind) + _flatten(node.right, kind)
    return [node]


def _source_aliases(select: exp.Select) -> list[str]:
    from_ = select.args.get("from_") or select.args.get("from")
    sources = ([from_.this] if from_ is not None else []) + [j.this for j in select.args.get("joins") or []]
    return [s.alias_or_name for s in sources if isinstance(s, (exp.Table, exp.Subquery)) and s.alias_or_name]


def _is_constant_match(node: exp.Expression, alias: str) -> bool:
    """``alias.column = constant`` (either side) or ``alias.column IN (constants)``."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.EQ):
        a, b = node.this, node.expression
        return (_is_column_of(a, alias) and _is_constant(b)) or (_is_column_of(b, alias) and _is_constant(a))
    if isinstance(node, exp.In):
        if node.args.get("query") is not None or node.args.get("unnest") or node.args.get("field"):
            return False
        values = node.expressions
        return _is_column_of(node.this, alias) and bool(values) and all(_is_constant(v) for v in values)
    return False


def _is_column_of(node: exp.Expression, alias: str) -> bool:
    return isinstance(node, exp.Column) and not isinstance(node.this, exp.Star) and node.table == alias


def _is_constant(node: exp.Expression) -> bool:
    while isinstance(node, (exp.Paren, exp.Neg)):
        node = node.this
    if isinstance(node, exp.Cast):
        return _is_constant(node.this)
    return isinstance(node, (exp.Literal, exp.Boolean))
