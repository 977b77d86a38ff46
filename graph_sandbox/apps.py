from django.apps import AppConfig


class GraphSandboxConfig(AppConfig):
    name = "graph_sandbox"
    verbose_name = "Graph API sandbox"
