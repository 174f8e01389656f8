from django.urls import path

from . import views

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("invite/<str:token>/", views.signup, name="signup_invited"),
    path("tokens/", views.api_tokens, name="api_tokens"),
]
