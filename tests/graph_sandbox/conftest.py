"""The sandbox fixtures, imported here too so this directory runs on its own
(``pytest tests/graph_sandbox --confcutdir tests/graph_sandbox``) without the project conftest."""

from graph_sandbox.pytest_plugin import graph_sandbox, make_graph_sandbox  # noqa: F401
