from django.urls import path

from pages import export_views, history_views, login_views, retention_views, views

app_name = "pages"

urlpatterns = [
    path("", views.page_list, name="list"),
    path("connect/", views.connect, name="connect"),
    path("facebook/login/", login_views.start, name="facebook_login"),
    path("facebook/callback/", login_views.callback, name="facebook_callback"),
    path("facebook/pages/", login_views.choose_pages, name="facebook_pages"),
    path("<int:pk>/", views.page_detail, name="detail"),
    path("<int:pk>/sync/", views.start_sync, name="sync"),
    path("<int:pk>/full-sync/", views.full_sync, name="full_sync"),
    path("<int:pk>/resume/", views.resume_sync, name="resume"),
    path("<int:pk>/cancel/", views.cancel_sync, name="cancel"),
    path("<int:pk>/reconnect/", views.reconnect, name="reconnect"),
    path("<int:pk>/history/", history_views.fetch_history, name="fetch_history"),
    path("<int:pk>/history/stop/", history_views.stop_history, name="stop_history"),
    path("<int:pk>/events/", views.page_events, name="events"),
    path("<int:pk>/keeping/", retention_views.keeping_settings, name="keeping"),
    path("<int:pk>/export.<str:fmt>", export_views.export_page, name="export"),
]
