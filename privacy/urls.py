from django.urls import path

from privacy import views

app_name = "privacy"

urlpatterns = [
    path("facebook/deauthorize/", views.deauthorize, name="deauthorize"),
    path("facebook/data-deletion/", views.data_deletion, name="data_deletion"),
    path("deletion/<slug:code>/", views.deletion_status, name="deletion_status"),
]
