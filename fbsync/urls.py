from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.decorators.http import require_safe
from django.views.generic import RedirectView


@require_safe
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers ask for /favicon.ico where a document names no icon (an event stream or a file
    opened directly): the same icon as every page's, rather than a 404. Public, like any
    static file."""
    return HttpResponsePermanentRedirect(static("favicon.ico"))


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="pages:list"), name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("pages/", include("pages.urls")),
    path("conversations/", include("conversations.urls")),
    path("media/", include("media.urls")),
    path("privacy/", include("privacy.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("admin/", admin.site.urls),
]
