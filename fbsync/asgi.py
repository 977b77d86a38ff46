"""ASGI entry point, served by daphne. Plain daphne serves no static files, so the app is
wrapped in Django's ASGI static files handler (put a reverse proxy or CDN in front in
production: see README)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fbsync.settings")

django_application = get_asgi_application()

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

application = ASGIStaticFilesHandler(django_application)
