from django.contrib import admin

from .board import retire_model
from .models import Arena, ArenaChange, ArenaEntry, Battle, Retirement, VoterExclusion


class ArenaEntryInline(admin.TabularInline):
    model = ArenaEntry
    extra = 1
    autocomplete_fields = ["endpoint"]


@admin.register(Arena)
class ArenaAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "k",
        "matchmaking",
        "display_mode",
        "max_turns",
        "allow_guests",
        "is_open",
        "created_at",
    ]
    list_filter = ["is_open", "matchmaking"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ArenaEntryInline]


@admin.register(Battle)
class BattleAdmin(admin.ModelAdmin):
    list_display = ["public_id", "arena", "voter", "created_at"]
    list_filter = ["arena", "created_at"]
    search_fields = ["public_id", "voter__username"]
    raw_id_fields = ["comparison", "voter"]


@admin.register(Retirement)
class RetirementAdmin(admin.ModelAdmin):
    """Retiring freezes the model's rows (arena.board.retire_model); a retirement is never deleted."""

    list_display = ["endpoint", "retired_at", "reason", "retired_by"]
    fields = ["endpoint", "reason"]
    autocomplete_fields = ["endpoint"]

    def get_readonly_fields(self, request, obj=None):
        return ["endpoint", "reason"] if obj else []

    def save_model(self, request, obj, form, change):
        if not change:
            obj.pk = retire_model(obj.endpoint, obj.reason, by=request.user).pk

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ArenaChange)
class ArenaChangeAdmin(admin.ModelAdmin):
    list_display = ["changed_at", "arena", "what", "before", "after"]
    list_filter = ["arena"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(VoterExclusion)
class VoterExclusionAdmin(admin.ModelAdmin):
    list_display = ["voter", "excluded_at", "excluded_by", "reason", "lifted_at"]
    readonly_fields = ["voter", "excluded_at", "excluded_by", "reason", "lifted_at"]

    def has_add_permission(self, request):
        return False  # exclude from the integrity report, which records who and why

    def has_delete_permission(self, request, obj=None):
        return False
