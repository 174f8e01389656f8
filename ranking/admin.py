from django.contrib import admin

from .models import RatingSnapshot


@admin.register(RatingSnapshot)
class RatingSnapshotAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "method",
        "style_control",
        "judgment_count",
        "bootstrap",
        "duration_ms",
        "computed_at",
    ]
    list_filter = ["method", "style_control"]
    readonly_fields = [f.name for f in RatingSnapshot._meta.fields]

    def has_add_permission(self, request):
        return False  # derived from judgments: rebuilt by the ranking tasks, never typed in
