from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from .models import ModelEndpoint, Prompt, Response, ResponsePool
from .selectors import endpoint_usage
from .services import pool_progress, queue_pool


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "display_name",
        "backend",
        "enabled",
        "judge_method",
        "license",
        "key",
        "created_at",
    ]
    list_filter = ["backend", "enabled", "judge_method"]
    list_editable = ["enabled"]
    search_fields = ["name", "display_name", "path"]
    readonly_fields = ["key", "usage", "created_at"]
    fieldsets = [
        (None, {"fields": ["name", "display_name", "enabled", "license", "identity_words"]}),
        ("Backend", {"fields": ["backend", "path", "generation_params"]}),
        ("Local models: llama.cpp context, CPU threads", {"fields": ["context_tokens", "threads"]}),
        (
            "HTTP endpoint",
            {
                "fields": ["api_model", "api_key_env", "key", "timeout_s", "max_retries", "max_concurrency"],
                "description": "The key is read on the workers from the environment variable named here; "
                "it is never stored or shown.",
            },
        ),
        ("As a judge", {"fields": ["judge_method", "judge_settings"]}),
        ("Usage and latency (from its responses)", {"fields": ["usage", "created_at"]}),
    ]

    @admin.display(description="API key")
    def key(self, obj):
        return obj.api_key_status

    @admin.display(description="usage")
    def usage(self, obj):
        if not obj.pk:
            return "—"
        figures = endpoint_usage(obj)
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td></tr>",
            ((name.replace("_", " "), "—" if v is None else v) for name, v in figures.items()),
        )
        return format_html("<table>{}</table>", rows)


class ResponseInline(admin.TabularInline):
    model = Response
    extra = 0
    readonly_fields = ("endpoint", "status", "latency_ms", "completion_tokens", "error")
    fields = readonly_fields
    can_delete = False
    show_change_link = True


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["id", "__str__", "category", "created_by", "created_at"]
    list_filter = ["category", "created_at"]
    list_editable = ["category"]
    search_fields = ["conversation", "created_by__username"]
    raw_id_fields = ["created_by"]
    inlines = [ResponseInline]


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "endpoint",
        "status",
        "pooled",
        "latency_ms",
        "first_token_ms",
        "completion_tokens",
        "short_error",
        "created_at",
    ]
    list_filter = ["status", "pooled", "endpoint"]
    search_fields = ["text", "error", "endpoint__name"]
    raw_id_fields = ["prompt"]
    readonly_fields = ["created_at", "started_at", "finished_at", "cache_key", "first_token_ms"]
    actions = ["retry_failed"]

    @admin.display(description="error")
    def short_error(self, obj):
        return (obj.error[:120] + "…") if len(obj.error) > 120 else obj.error

    @admin.action(description="Try the selected failed answers again")
    def retry_failed(self, request, queryset):
        from .tasks import generate_response

        ids = list(queryset.filter(status=Response.Status.FAILED).values_list("pk", flat=True))
        Response.objects.filter(pk__in=ids).update(status=Response.Status.PENDING, error="", text="")
        for pk in ids:
            generate_response.delay(pk)
        self.message_user(request, f"Queued {len(ids)} failed answers again.", messages.SUCCESS)


@admin.register(ResponsePool)
class ResponsePoolAdmin(admin.ModelAdmin):
    list_display = ["name", "progress", "created_at"]
    search_fields = ["name", "description"]
    filter_horizontal = ["endpoints"]
    raw_id_fields = ["prompts"]
    readonly_fields = ["progress", "created_at"]
    actions = ["generate_missing", "retry_failed"]

    @admin.display(description="answers done")
    def progress(self, obj):
        if not obj.pk:
            return "—"
        done, failed, total = pool_progress(obj)
        return format_html(
            '<progress value="{}" max="{}"></progress> {} / {}{}',
            done,
            max(total, 1),
            done,
            total,
            f" ({failed} failed)" if failed else "",
        )

    @admin.action(description="Generate the missing answers (on the inference workers)")
    def generate_missing(self, request, queryset):
        queued = sum(queue_pool(pool) for pool in queryset)
        self.message_user(
            request,
            f"Queued {queued} answers; reload this page to watch the progress bars.",
            messages.SUCCESS,
        )

    @admin.action(description="Try failed answers again (on the inference workers)")
    def retry_failed(self, request, queryset):
        queued = sum(queue_pool(pool, retry_failed=True) for pool in queryset)
        self.message_user(request, f"Queued {queued} answers again.", messages.SUCCESS)
