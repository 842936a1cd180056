from django.urls import path

from frontend import play_views as views

app_name = "play"

urlpatterns = [
    path("", views.entry, name="entry"),
    path("consent/", views.consent, name="consent"),
    path("instructions/", views.instructions, name="instructions"),
    path("practice/", views.practice, name="practice"),
    path("lobby/", views.lobby, name="lobby"),
    path("lobby/enter/", views.lobby_enter, name="lobby-enter"),
    path("lobby/status/", views.lobby_status, name="lobby-status"),
    path("game/<int:interaction_id>/", views.game, name="game"),
    path("survey/", views.survey, name="survey"),
    path("done/", views.done, name="done"),
]
