from django.contrib import admin

from .models import ModelEndpoint, Prompt, Response


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin):
    list_display = ["name", "display_name", "backend", "enabled", "license", "created_at"]
    list_filter = ["backend", "enabled"]
    list_editable = ["enabled"]
    search_fields = ["name", "display_name", "path"]


class ResponseInline(admin.TabularInline):
    model = Response
    extra = 0
    fields = ["endpoint", "status", "latency_ms", "completion_tokens", "error"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["id", "__str__", "created_by", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["conversation", "created_by__username"]
    raw_id_fields = ["created_by"]
    inlines = [ResponseInline]


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ["id", "endpoint", "status", "latency_ms", "completion_tokens", "created_at"]
    list_filter = ["status", "endpoint"]
    search_fields = ["text", "error", "endpoint__name"]
    raw_id_fields = ["prompt"]
    readonly_fields = ["created_at", "finished_at"]
