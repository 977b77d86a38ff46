from django.apps import AppConfig

from fbsync import checks  # noqa: F401  (importing it registers the system checks)


class FbsyncConfig(AppConfig):
    """The project package as an app, only so that its system checks are registered."""

    name = "fbsync"
    verbose_name = "fbsync"
