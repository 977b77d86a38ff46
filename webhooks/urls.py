from django.urls import path

from webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("facebook/", views.facebook, name="facebook"),
]
