"""Lexing and parsing of one client query string.

Statement kinds are decided from the *leading keywords* of the token stream, not
from sqlglot's AST: sqlglot parses ``LISTEN x`` or ``DISCARD ALL`` as a column
with an alias and silently drops ``FOR UPDATE``, so an AST-only classifier would
call them reads. Only statements that start with SELECT/WITH/VALUES/TABLE/( are
read candidates, and only those are parsed into an AST.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel
from sqlglot.tokens import Token, TokenType

DIALECT = sqlglot.Dialect.get_or_raise("postgres")

# Function names whose sqlglot parse loses a distinction that changes the result
# (date_part returns float8 where extract returns numeric) or the output column
# name (substr, mod, strpos ... name their column after themselves). They are
# renamed before parsing so they arrive as exp.Anonymous with their own name.
RENAMED_FUNCTIONS = {name: "pgaccel__" + name for name in (
    "date_part", "substr", "mod", "strpos", "ceiling", "char_length", "character_length", "every",
)}
RENAMED_BACK = {v: k for k, v in RENAMED_FUNCTIONS.items()}

READ_WORDS = frozenset({"SELECT", "WITH", "VALUES", "TABLE", "("})
WRITE_WORDS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE"})
DDL_WORDS = frozenset({
    "CREATE", "ALTER", "DROP", "GRANT", "REVOKE", "COMMENT", "REINDEX", "CLUSTER", "VACUUM",
    "ANALYZE", "ANALYSE", "REFRESH", "SECURITY", "IMPORT", "REASSIGN",
})
TRANSACTION_WORDS = frozenset({
    "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE",
})
KIND_RANK = ("read", "other", "show", "set", "transaction", "ddl", "write")

_EXPLAIN_ROUTE = re.compile(r"^\s*EXPLAIN\s*\(\s*ROUTE\s*\)\s*(?P<inner>.*?)[\s;]*$", re.I | re.S)
_PGACCEL_SET = re.compile(
    r"^\s*(?:SET\s+(?:SESSION\s+|LOCAL\s+)?|RESET\s+)pgaccel\s*\.\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\b.*$",
    re.I | re.S)
_PGACCEL_SHOW = re.compile(r"^\s*SHOW\s+pgaccel\s*\.\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*;?\s*$", re.I | re.S)


@dataclass(frozen=True)
class Lexed:
    """The token stream of a query string, split into statements."""

    statements: tuple[tuple[Token, ...], ...]   # non-empty statements, semicolons removed
    sql: str


def lex(sql: str) -> Lexed:
    """Tokenise; raises sqlglot.errors.TokenError on malformed input."""
    tokens = DIALECT.tokenize(sql)
    statements: list[tuple[Token, ...]] = []
    current: list[Token] = []
    for tok in tokens:
        if tok.token_type == TokenType.SEMICOLON:
            if current:
                statements.append(tuple(current))
            current = []
        else:
            current.append(tok)
    if current:
        statements.append(tuple(current))
    return Lexed(tuple(statements), sql)


def leading_words(tokens: tuple[Token, ...], n: int = 3) -> tuple[str, ...]:
    words = []
    for tok in tokens[:n]:
        words.append("(" if tok.token_type == TokenType.L_PAREN else tok.text.upper())
    return tuple(words)


def statement_kind(tokens: tuple[Token, ...]) -> tuple[str, str]:
    """(kind, reason-if-not-a-read) from the leading keywords of one statement."""
    words = leading_words(tokens)
    first = words[0] if words else ""
    if first in READ_WORDS:
        return "read", ""
    if first in WRITE_WORDS:
        return "write", "write_statement"
    if first == "COPY":
        return "write", "copy_statement"
    if first in DDL_WORDS:
        return "ddl", "ddl_statement"
    if first in TRANSACTION_WORDS:
        return "transaction", "transaction_control"
    if first == "PREPARE" and len(words) > 1 and words[1] == "TRANSACTION":
        return "transaction", "transaction_control"
    if first in ("SET", "RESET"):
        if len(words) > 1 and words[1] in ("TRANSACTION", "CONSTRAINTS"):
            return "transaction", "transaction_control"
        if len(words) > 2 and words[1] == "SESSION" and words[2] == "CHARACTERISTICS":
            return "set", "session_setting"
        return "set", "session_setting"
    if first == "SHOW":
        return "show", "session_setting"
    if first == "EXPLAIN":
        return "other", "explain_statement"
    if first in ("CALL", "DO"):
        return "write", "session_command"     # may do anything
    return "other", "session_command"


def has_locking_clause(tokens: tuple[Token, ...]) -> bool:
    """FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE / FOR KEY SHARE anywhere."""
    for i, tok in enumerate(tokens[:-1]):
        if tok.token_type == TokenType.FOR:
            nxt = tokens[i + 1].text.upper()
            if nxt in ("UPDATE", "SHARE", "NO", "KEY"):
                return True
    return False


def explain_route_inner(sql: str) -> str | None:
    m = _EXPLAIN_ROUTE.match(sql)
    return m.group("inner") if m else None


def pgaccel_setting(sql: str) -> tuple[str, str] | None:
    """('pgaccel_set' | 'pgaccel_show', name) for pgaccel's own settings."""
    m = _PGACCEL_SHOW.match(sql)
    if m:
        return "pgaccel_show", m.group("name").lower()
    m = _PGACCEL_SET.match(sql)
    if m:
        return "pgaccel_set", m.group("name").lower()
    return None


def parse_read(sql: str, tokens: tuple[Token, ...]) -> exp.Expression:
    """Parse one read statement into an AST; raises on any parse problem.

    Renames the functions listed in RENAMED_FUNCTIONS so they survive as
    exp.Anonymous, then parses with errors raised (never silently recovered).
    """
    text = sql
    renames = [t for i, t in enumerate(tokens[:-1])
               if t.token_type == TokenType.VAR and t.text.lower() in RENAMED_FUNCTIONS
               and tokens[i + 1].token_type == TokenType.L_PAREN]
    if renames:
        parts, pos = [], 0
        for t in renames:
            parts.append(text[pos:t.start])
            parts.append(RENAMED_FUNCTIONS[t.text.lower()])
            pos = t.end + 1
        parts.append(text[pos:])
        text = "".join(parts)
        tokens = tuple(t for t in DIALECT.tokenize(text) if t.token_type != TokenType.SEMICOLON)
    parser = DIALECT.parser(error_level=ErrorLevel.RAISE)
    trees = [t for t in parser.parse(list(tokens), text) if t is not None]
    if len(trees) != 1:
        raise ValueError(f"expected one statement, parsed {len(trees)}")
    return trees[0]
