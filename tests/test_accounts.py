"""Accounts: password reset by e-mail, sign-up closed / by invitation / open as the admins set it,
each user's own API token, and the audit log of changes to models, campaigns and exports."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import AuditEntry, Invitation, SignupPolicy
from tests.test_campaign_fixtures import add_role, make_campaign

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-long-new-passphrase-42"


def _policy(mode):
    policy = SignupPolicy.current()
    policy.mode = mode
    policy.save()


def _signup(client, path="/accounts/signup/", username="newcomer"):
    return client.post(
        path,
        {
            "username": username,
            "email": f"{username}@example.org",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )


def test_password_reset_by_email_link(client, make_user):
    make_user("forgetful", email="forgetful@example.org")
    assert client.post("/accounts/password_reset/", {"email": "forgetful@example.org"}).status_code == 302
    assert (
        client.post("/accounts/password_reset/", {"email": "nobody@example.org"}).status_code == 302
    )  # no hint
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["forgetful@example.org"]
    link = re.search(r"http://\S+/accounts/reset/\S+/", mail.outbox[0].body).group(0)
    form = client.get(link, follow=True)
    assert form.status_code == 200 and b"Choose a new password" in form.content
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    assert client.login(username="forgetful", password=NEW_PASSWORD)
    assert b"not valid any more" in client.get(link, follow=True).content  # a link works once


def test_sign_up_is_closed_by_default(client):
    assert SignupPolicy.current().mode == "closed"
    assert client.get("/accounts/signup/").status_code == 403
    response = _signup(client)
    assert response.status_code == 403 and b"Sign-up is closed" in response.content


def test_open_sign_up_makes_an_annotator(client, django_user_model):
    _policy("open")
    assert client.get("/accounts/signup/").status_code == 200
    weak = client.post("/accounts/signup/", {"username": "weak", "password1": "123", "password2": "123"})
    assert weak.status_code == 400 and not django_user_model.objects.filter(username="weak").exists()
    assert _signup(client).status_code == 302
    user = django_user_model.objects.get(username="newcomer")
    assert list(user.groups.values_list("name", flat=True)) == ["annotator"] and not user.is_staff
    assert client.get("/arena/").status_code == 200  # signed in


def test_invitation_links_make_one_account_with_their_role_until_they_expire(
    client, make_user, django_user_model
):
    admin = make_user("inviter", is_staff=True, is_superuser=True)
    _policy("invite")
    assert _signup(client).status_code == 403  # no link, no account
    invitation = services.create_invitation(admin, role="researcher", days=2)
    link = f"/accounts/invite/{invitation.token}/"
    assert client.get(link).status_code == 200
    assert _signup(client, link).status_code == 302
    user = django_user_model.objects.get(username="newcomer")
    assert list(user.groups.values_list("name", flat=True)) == ["researcher"]
    invitation.refresh_from_db()
    assert invitation.used_by == user and invitation.used_at is not None
    client.logout()
    reused = _signup(client, link, username="second")
    assert reused.status_code == 403 and b"already been used" in reused.content
    expired = services.create_invitation(admin, days=1)
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    late = _signup(client, f"/accounts/invite/{expired.token}/", username="late")
    assert late.status_code == 403 and b"expired" in late.content
    assert _signup(client, "/accounts/invite/made-up/", username="guess").status_code == 403
    _policy("closed")  # closing sign-up also stops links already sent
    assert client.get(f"/accounts/invite/{services.create_invitation(admin).token}/").status_code == 403
    assert not django_user_model.objects.filter(username__in=["second", "late", "guess"]).exists()


def test_a_user_creates_replaces_and_revokes_their_own_api_token(client, make_user):
    user = make_user("scripter")
    client.force_login(user)
    assert b"You have no token" in client.get("/accounts/tokens/").content
    created = client.post("/accounts/tokens/", {"action": "create"})
    key = re.search(rb'id="new-token">(\w+)<', created.content).group(1).decode()
    api = APIClient()
    assert (
        api.get("/api/exports/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 403
    )  # known, not a researcher
    assert key.encode() not in client.get("/accounts/tokens/").content  # shown once, on creation
    replaced = re.search(
        rb'id="new-token">(\w+)<', client.post("/accounts/tokens/", {"action": "create"}).content
    ).group(1)
    assert api.get("/api/exports/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    assert b"Revoked" in client.post("/accounts/tokens/", {"action": "revoke"}).content
    assert api.get("/api/exports/", HTTP_AUTHORIZATION=f"Token {replaced.decode()}").status_code == 401
    assert client.post("/accounts/tokens/", {"action": "steal"}).status_code == 400
    client.logout()
    assert client.get("/accounts/tokens/").status_code == 302  # sign in first


def test_the_audit_log_records_who_changed_models_campaigns_and_exports(client, make_user):
    from export.models import ExportJob
    from inference.models import ModelEndpoint

    admin = add_role(make_user("auditor", is_staff=True, is_superuser=True), "admin")
    researcher = add_role(make_user("rae"), "researcher")
    # an admin edits a model in the admin site
    endpoint = ModelEndpoint.objects.create(name="audited-model", path="/m")
    client.force_login(admin)
    page = client.get(f"/admin/inference/modelendpoint/{endpoint.pk}/change/")
    form = {
        k: v
        for k, v in page.context["adminform"].form.initial.items()
        if v is not None and not isinstance(v, (list, dict))
    }
    form.update(
        name="audited-model",
        path="/m",
        enabled="",
        backend=endpoint.backend,
        generation_params="{}",
        identity_words="[]",
        display_name="Audited",
    )
    changed = client.post(f"/admin/inference/modelendpoint/{endpoint.pk}/change/", form)
    assert changed.status_code == 302, changed.content[:2000]
    entry = AuditEntry.objects.filter(target_type="inference.modelendpoint", action="update").get()
    assert (entry.actor, entry.via) == (admin, "admin") and entry.changes["enabled"] == [True, False]
    assert entry.changes["display_name"] == ["", "Audited"]
    # a researcher starts an export over the API, and pauses a campaign on its page
    api = APIClient()
    api.force_authenticate(researcher)
    assert api.post("/api/exports/", {"format": "dpo"}, format="json").status_code == 202
    job = ExportJob.objects.get()
    created = AuditEntry.objects.get(target_type="export.exportjob", action="create")
    assert (created.actor_name, created.via, created.target_id) == ("rae", "api", str(job.pk))
    campaign = make_campaign(researcher, slug="audited", n_items=0)
    client.force_login(researcher)
    client.post("/campaigns/audited/status/", {"status": "paused"})
    paused = AuditEntry.objects.filter(
        target_type="annotation.campaign", action="update", changes__has_key="status"
    ).get()
    assert paused.changes == {"status": ["open", "paused"]} and paused.via == "page"
    # the worker's progress writes are not logged; a deletion is, by the system when no one is signed in
    job.rows_written = 10
    job.save()
    assert not AuditEntry.objects.filter(target_type="export.exportjob", action="update").exists()
    campaign.delete()
    deleted = AuditEntry.objects.get(target_type="annotation.campaign", action="delete")
    assert deleted.via == "system" and deleted.actor is None and deleted.target_repr
    # the log is read-only in the admin
    client.force_login(admin)
    assert client.get("/admin/accounts/auditentry/").status_code == 200
    assert client.get("/admin/accounts/auditentry/add/").status_code == 403
