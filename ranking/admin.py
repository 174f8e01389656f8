from django.contrib import admin

from .models import RatingSnapshot


@admin.register(RatingSnapshot)
class RatingSnapshotAdmin(admin.ModelAdmin):
    list_display = ["id", "method", "judgment_count", "computed_at"]
    list_filter = ["method"]
    readonly_fields = ["method", "judgment_count", "last_judgment_id", "rows", "params", "computed_at"]
