from django.urls import path

from . import api

urlpatterns = [
    path("battles/", api.BattleListView.as_view(), name="api-battles"),
    path("battles/<str:public_id>/", api.BattleDetailView.as_view(), name="api-battle"),
    path("battles/<str:public_id>/vote/", api.VoteView.as_view(), name="api-vote"),
    path("battles/<str:public_id>/follow-up/", api.FollowUpView.as_view(), name="api-follow-up"),
    path("leaderboard/", api.LeaderboardView.as_view(), name="api-leaderboard"),
]
