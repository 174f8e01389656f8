from django.urls import path

from .judge_api import JudgeScorecardView

app_name = "judges_api"
urlpatterns = [path("scorecard/", JudgeScorecardView.as_view(), name="scorecard")]
