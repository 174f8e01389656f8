from datetime import timedelta

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from .models import AuditEntry, Invitation, SignupPolicy


@admin.register(SignupPolicy)
class SignupPolicyAdmin(admin.ModelAdmin):
    list_display = ["mode", "invitation_days", "updated_at"]

    def has_add_permission(self, request):
        return not SignupPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        SignupPolicy.current()  # the one row exists, so the list always offers it
        return super().changelist_view(request, extra_context)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "role", "created_by", "created_at", "expires_at", "state", "link"]
    list_filter = ["role"]
    fields = ["email", "role", "expires_at", "link", "created_by", "used_by", "used_at"]
    readonly_fields = ["link", "created_by", "used_by", "used_at"]

    def get_changeform_initial_data(self, request):
        return {"expires_at": timezone.now() + timedelta(days=SignupPolicy.current().invitation_days)}

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description="state")
    def state(self, obj):
        if obj.used_by_id or obj.used_at:
            return "used"
        return "expired" if obj.expires_at <= timezone.now() else "valid"

    @admin.display(description="link to send")
    def link(self, obj):
        if not obj.pk:
            return "(shown after saving)"
        return format_html("<code>{}</code>", reverse("signup_invited", args=[obj.token]))


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the log is written by accounts.audit, never by hand."""

    list_display = ["created_at", "actor_name", "via", "action", "target_type", "target_repr", "ip"]
    list_filter = ["action", "via", "target_type"]
    search_fields = ["actor_name", "target_repr", "target_id"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
