"""The audit log: every create, update and delete of the audited tables, with who did it and from where.

Recorded from model signals, so the API, the pages, the admin site and the services are all covered
without any of them knowing about this log (the lower rooms import nothing from here). Who: the
request being served (AuditContextMiddleware keeps it for the thread; DRF writes its token user
back onto it), else the system (a worker or a management command). An export job's own progress
updates, made by the worker, are not logged: only its creation, deletion and people's changes."""

import contextvars
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

AUDITED = {
    "inference.modelendpoint",
    "arena.arena",
    "annotation.campaign",
    "annotation.campaignrouting",
    "annotation.rubric",
    "export.exportjob",
    "accounts.signuppolicy",
    "accounts.invitation",
}
SYSTEM_UPDATES_SKIPPED = {"export.exportjob"}  # the worker's progress writes
SECRET_FIELDS = {"token", "password"}
NOT_WORTH_LOGGING = {"updated_at"}
MAX_VALUE_CHARS = 500

_request = contextvars.ContextVar("audit_request", default=None)


class AuditContextMiddleware:
    """Keeps the request being served where the signal handlers can read who is acting."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def _label(instance):
    return f"{instance._meta.app_label}.{instance._meta.model_name}"


def _plain(value):
    value = json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[:MAX_VALUE_CHARS] + "…"
    return value


def _values(instance):
    return {
        field.attname: "(hidden)"
        if field.name in SECRET_FIELDS
        else _plain(field.value_from_object(instance))
        for field in instance._meta.concrete_fields
        if field.name not in NOT_WORTH_LOGGING
    }


def _actor():
    request = _request.get()
    if request is None:
        return {"via": "system"}
    user = getattr(request, "user", None)
    path = request.path
    via = "api" if path.startswith("/api/") else "admin" if path.startswith("/admin/") else "page"
    signed_in = user is not None and user.is_authenticated
    return {
        "via": via,
        "actor": user if signed_in else None,
        "actor_name": user.get_username() if signed_in else "",
        "ip": request.META.get("REMOTE_ADDR") or None,
    }


def _record(instance, action, changes):
    from .models import AuditEntry

    AuditEntry.objects.create(
        action=action,
        target_type=_label(instance),
        target_id=str(instance.pk)[:64],
        target_repr=str(instance)[:200],
        changes=changes,
        **_actor(),
    )


def _before_save(sender, instance, raw=False, **kwargs):
    label = _label(instance)
    if raw or label not in AUDITED or instance._state.adding or instance.pk is None:
        return
    if label in SYSTEM_UPDATES_SKIPPED and _request.get() is None:
        return  # no extra read on the worker's progress writes
    old = sender._default_manager.filter(pk=instance.pk).first()
    instance._audit_before = _values(old) if old is not None else None


def _after_save(sender, instance, created, raw=False, **kwargs):
    label = _label(instance)
    if raw or label not in AUDITED:
        return
    after = _values(instance)
    if created:
        _record(instance, "create", after)
        return
    if label in SYSTEM_UPDATES_SKIPPED and _request.get() is None:
        return
    before = getattr(instance, "_audit_before", None) or {}
    changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    if changes:
        _record(instance, "update", changes)


def _after_delete(sender, instance, **kwargs):
    if _label(instance) in AUDITED:
        _record(instance, "delete", _values(instance))


def _relations_changed(sender, instance, action, pk_set, reverse=False, **kwargs):
    if reverse or action not in ("post_add", "post_remove", "post_clear") or _label(instance) not in AUDITED:
        return
    field = next(
        (f.name for f in instance._meta.many_to_many if f.remote_field.through is sender), sender.__name__
    )
    verb = {"post_add": "added", "post_remove": "removed", "post_clear": "cleared"}[action]
    _record(instance, "update", {field: {verb: sorted(pk_set or [])}})


def connect():
    pre_save.connect(_before_save, dispatch_uid="audit-pre-save")
    post_save.connect(_after_save, dispatch_uid="audit-post-save")
    post_delete.connect(_after_delete, dispatch_uid="audit-post-delete")
    m2m_changed.connect(_relations_changed, dispatch_uid="audit-m2m")
