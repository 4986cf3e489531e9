"""The dbt project's macros rendered with plain Jinja, as one engine's dbt would render them.

Tests run a macro's SQL directly (in DuckDB, or in Postgres for engine parity) without a dbt
build. Macros dispatch on the engine (`adapter.dispatch`, macros/portable.sql) and hand values
back with `return`: this supplies both, resolving `<engine>__name` then `default__name` as dbt does.
"""

from __future__ import annotations

import jinja2

from pipelines import REPO_ROOT

MACROS_DIR = REPO_ROOT / "dbt_project" / "macros"


class _Adapter:
    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.module = None

    def dispatch(self, name: str, macro_namespace: str | None = None):  # noqa: ARG002 - dbt's signature
        for candidate in (f"{self.engine}__{name}", f"default__{name}"):
            if hasattr(self.module, candidate):
                return getattr(self.module, candidate)
        raise AttributeError(f"no {self.engine} implementation of macro {name}")


def macros(engine: str = "duckdb", variables: dict | None = None):
    """A module whose attributes are the project's macros (every file in macros/), for `engine`."""
    variables = variables or {}
    adapter = _Adapter(engine)
    # generic tests ({% test %}) are dbt's own syntax; they are not macros a model calls
    source = "\n".join(path.read_text() for path in sorted(MACROS_DIR.glob("*.sql"))
                       if not path.name.startswith("test_"))
    template = jinja2.Environment(extensions=["jinja2.ext.do"]).from_string(source)
    adapter.module = template.make_module({
        "adapter": adapter,
        "return": lambda value: value,
        "var": lambda name, default=None: variables.get(name, default),
    })
    return adapter.module
