from django.urls import path

from conversations import views

app_name = "conversations"

urlpatterns = [
    path("", views.conversation_list, name="list"),
    path("<int:pk>/", views.conversation_detail, name="detail"),
    path("events/", views.conversation_events, name="events"),
    path("activity/<int:page_pk>/", views.activity, name="activity"),
]
