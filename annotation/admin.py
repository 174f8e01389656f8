from django.contrib import admin

from .models import Comparison, ComparisonSlot, Judgment


class SlotInline(admin.TabularInline):
    model = ComparisonSlot
    extra = 0
    raw_id_fields = ["response"]


class JudgmentInline(admin.TabularInline):
    model = Judgment
    extra = 0
    fields = ["source", "annotator", "judge", "ranking", "none_acceptable", "identities_hidden", "created_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = ["id", "k", "prompt", "created_at"]
    list_filter = ["k", "created_at"]
    search_fields = ["prompt__conversation"]
    raw_id_fields = ["prompt"]
    inlines = [SlotInline, JudgmentInline]


@admin.register(Judgment)
class JudgmentAdmin(admin.ModelAdmin):
    list_display = ["id", "comparison", "source", "annotator", "judge", "ranking", "none_acceptable", "identities_hidden", "created_at"]
    list_filter = ["source", "none_acceptable", "identities_hidden", "created_at", "judge"]
    search_fields = ["rationale", "annotator__username", "judge__name"]
    raw_id_fields = ["comparison", "annotator"]
    readonly_fields = ["created_at"]
