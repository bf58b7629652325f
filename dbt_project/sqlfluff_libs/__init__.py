"""Stand-ins for the dbt context when sqlfluff renders the models with its jinja templater.

sqlfluff's own dbt builtins return the text ``item`` for every ``var``, and
have no ``adapter``, ``dbt`` or ``return``. These stand-ins render each call
as plain SQL of the same shape, so the linter parses the model's real
structure. They never run inside dbt.
"""

from __future__ import annotations

from typing import Any

# Values shaped like the defaults in dbt_project.yml.
_VARS: dict[str, Any] = {
    "as_of": None,
    "timezone": "UTC",
    "environment_mapping": {"production-aws": "production"},
    "hotfix_labels": ["hotfix"],
    "hotfix_branch_prefixes": ["hotfix/", "hotfix-"],
    "hotfix_title_prefixes": ["hotfix", "[hotfix]"],
    "hotfix_window_hours": 24,
    "latest_deployment_within_hours": None,
}


def var(name: str, default: Any = None) -> Any:
    """Return the default of a project var, or ``default`` for an unknown one."""
    return _VARS.get(name, default)


def env_var(name: str, default: str = "") -> str:
    return default or name


def load_relation(relation: Any) -> Any:
    """Treat every relation as existing, so the branch that reads it is linted."""
    return relation


def _call(function: str, *args: Any) -> str:
    return f"{function}({', '.join(str(arg) for arg in args)})"


# Dispatched macros that render SQL keywords rather than an expression.
_KEYWORD_MACROS = {"recursive_union": "union"}
# Dispatched macros rendered like the dbt cross-database macro they wrap.
_CROSS_DATABASE_EQUIVALENTS = {"ordered_listagg": "listagg"}


class _Adapter:
    """``adapter.dispatch(name)`` renders a call of a function called ``name``.

    A macro in ``_KEYWORD_MACROS`` renders its keywords instead, and one in
    ``_CROSS_DATABASE_EQUIVALENTS`` renders as the dbt macro it wraps.
    """

    def dispatch(self, name: str, namespace: str | None = None):
        if name in _KEYWORD_MACROS:
            return lambda *args: _KEYWORD_MACROS[name]
        if name in _CROSS_DATABASE_EQUIVALENTS:
            return getattr(dbt, _CROSS_DATABASE_EQUIVALENTS[name])
        return lambda *args: _call(name, *args)


class _CrossDatabaseMacros:
    """The dbt cross-database macros the models call, rendered as DuckDB SQL."""

    def concat(self, fields: list[str]) -> str:
        return _call("concat", *fields)

    def hash(self, field: str) -> str:
        return _call("md5", field)

    def bool_or(self, expression: str) -> str:
        return _call("bool_or", expression)

    def type_string(self) -> str:
        return "varchar"

    def type_timestamp(self) -> str:
        return "timestamp"

    def current_timestamp(self) -> str:
        return "now()"

    def position(self, substring: str, string: str) -> str:
        return f"position({substring} in {string})"

    def datediff(self, first: str, second: str, datepart: str) -> str:
        return f"date_diff('{datepart}', {first}, {second})"

    def dateadd(self, datepart: str, interval: Any, expression: str) -> str:
        return f"({expression} + ({interval}) * interval '1 {datepart}')"

    def date_trunc(self, datepart: str, expression: str) -> str:
        return f"date_trunc('{datepart}', {expression})"

    def string_literal(self, value: str) -> str:
        return "'" + str(value).replace("'", "''") + "'"

    def listagg(
        self, measure: str, delimiter_text: str = "','", order_by_clause: str = "", limit_num=None
    ) -> str:
        return f"string_agg({measure}, {delimiter_text})"

    def __getattr__(self, name: str):
        """Render any other macro as a call: ``type_int()`` as ``integer``, ``f(x)`` as ``f(x)``."""
        if name.startswith("type_"):
            type_name = {"type_int": "integer", "type_bigint": "bigint", "type_boolean": "boolean"}
            return lambda: type_name.get(name, name.removeprefix("type_"))
        return lambda *args, **kwargs: _call(name, *args)


adapter = _Adapter()
dbt = _CrossDatabaseMacros()
# dbt macros end with {{ return(value) }}; `return` is a keyword in Python only.
globals()["return"] = lambda value: value
