from django.contrib import admin

from .models import Arena, ArenaEntry, Battle


class ArenaEntryInline(admin.TabularInline):
    model = ArenaEntry
    extra = 1
    autocomplete_fields = ["endpoint"]


@admin.register(Arena)
class ArenaAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "matchmaking", "display_mode", "is_open", "created_at"]
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
