"""Project middleware: static files served by WhiteNoise under ASGI too, and no caching of
what a logged-in user sees."""

import os

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.utils.cache import patch_cache_control
from django.utils.deprecation import MiddlewareMixin
from whitenoise.middleware import WhiteNoiseMiddleware

# The finders' files, found once per process: every Django test client builds its own
# middleware, and scanning the apps' static folders costs ~10 ms each time.
_FINDER_FILES: dict[tuple, dict] = {}


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, usable in daphne's async middleware chain.

    WhiteNoise's middleware is sync-only: in an ASGI app Django would run it, and everything
    inside it, through one shared thread for every request. It only looks a path up in a dict
    built at start-up, so the async path does the same and reads the file in a thread. Paths
    that are not a known static file (`/static/%2e%2e/…` included) go on to Django: a 404.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def add_files(self, root, prefix=None) -> None:
        # STATIC_ROOT exists only after collectstatic; without it the finders serve the same
        # files, so its absence is normal here (WhiteNoise would warn at every start).
        if os.path.isdir(root):
            super().add_files(root, prefix)

    def add_files_from_finders(self) -> None:
        key = (self.static_prefix, tuple(map(str, settings.STATICFILES_DIRS)))
        key += (tuple(settings.INSTALLED_APPS),)
        if key not in _FINDER_FILES:
            own, self.files = self.files, {}
            super().add_files_from_finders()
            _FINDER_FILES[key], self.files = self.files, own
        self.files.update(_FINDER_FILES[key])

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request):
        static_file = (
            self.find_file(request.path_info)
            if self.autorefresh
            else self.files.get(request.path_info)
        )
        if static_file is None:
            return await self.get_response(request)
        response = self.serve(static_file, request)
        # A file iterator is synchronous; read it in a thread as Django's own ASGI static files
        # handler does (static files are small).
        chunks = response.streaming_content

        async def read_in_thread():
            for chunk in await sync_to_async(list)(chunks):
                yield chunk

        response.streaming_content = read_in_thread()
        return response


class PrivateCacheControlMiddleware(MiddlewareMixin):
    """Responses to a logged-in user hold private data: no browser or proxy may store them
    (the back button after logout, a shared proxy cache)."""

    def process_response(self, request, response):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response
