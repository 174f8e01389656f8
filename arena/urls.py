from django.urls import path, re_path

from . import views

app_name = "arena"

urlpatterns = [
    path("", views.home, name="home"),
    path("battles/", views.start_battle, name="start_battle"),
    path("b/<str:public_id>/", views.battle, name="battle"),
    path("b/<str:public_id>/vote/", views.vote, name="vote"),
    path("b/<str:public_id>/follow-up/", views.follow_up, name="follow_up"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("me/", views.my_board, name="my_board"),
    path("sampling/", views.sampling, name="sampling"),
    re_path(r"^sampling/(?P<group>models|providers)\.png$", views.sampling_image, name="sampling_image"),
    path("integrity/", views.integrity, name="integrity"),
    re_path(r"^integrity/(?P<action>exclude|lift)/$", views.integrity_action, name="integrity_action"),
    path("leaderboard/top-flip/", views.top_flip, name="top_flip"),
    re_path(
        r"^leaderboard/(?P<kind>intervals|heatmap)\.png$", views.leaderboard_image, name="leaderboard_image"
    ),
    path("<slug:slug>/", views.home, name="arena"),
    path("<slug:slug>/battles/", views.start_battle, name="start_arena_battle"),
    path("<slug:slug>/sample-answers/", views.sample_answers, name="sample_answers"),
]
