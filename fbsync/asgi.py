"""ASGI entry point, served by daphne. Static files are served by WhiteNoise in the middleware
(fbsync.middleware.StaticFilesMiddleware); a reverse proxy may serve STATIC_ROOT instead (see
README)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fbsync.settings")

application = get_asgi_application()
