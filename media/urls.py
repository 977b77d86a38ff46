from django.urls import path

from media import views

app_name = "media"

urlpatterns = [
    path("<int:pk>/", views.media_file, name="file"),
]
