"""Sign-up (under the admins' policy, or with an invitation link) and each user's API token page."""

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from . import services
from .forms import SignupForm


@require_http_methods(["GET", "POST"])
def signup(request, token=None):
    try:
        services.check_signup_allowed(token)
    except services.SignupClosed as exc:
        return render(request, "accounts/signup.html", {"closed": str(exc)}, status=403)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.sign_up(form, token)
        except services.SignupClosed as exc:  # the link was spent or expired meanwhile
            return render(request, "accounts/signup.html", {"closed": str(exc)}, status=403)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("arena:home")
    return render(
        request,
        "accounts/signup.html",
        {"form": form, "invited": bool(token)},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    """Create (or replace) and revoke your own API token. A new key is shown once, on this answer."""
    new_key, revoked = None, False
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            new_key = services.issue_api_token(request.user)
        elif action == "revoke":
            revoked = services.revoke_api_token(request.user)
        else:
            return render(request, "accounts/tokens.html", {"error": "Choose create or revoke."}, status=400)
    token = services.api_token_of(request.user)
    return render(request, "accounts/tokens.html", {"token": token, "new_key": new_key, "revoked": revoked})
