from django.contrib import admin

from .models import ExportJob


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "format",
        "status",
        "created_by",
        "judgments_read",
        "rows_written",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "format", "created_at"]
    search_fields = ["public_id", "created_by__username", "error"]
    raw_id_fields = ["created_by"]
    readonly_fields = [
        "public_id",
        "created_at",
        "started_at",
        "finished_at",
        "judgments_total",
        "judgments_read",
        "rows_written",
        "files",
        "summary",
    ]
