from django.contrib import admin

from .models import ComparisonFeatures


@admin.register(ComparisonFeatures)
class ComparisonFeaturesAdmin(admin.ModelAdmin):
    list_display = ["comparison", "version", "tagger_version", "computed_at"]
    search_fields = ["comparison__id", "tagger_version"]
    raw_id_fields = ["comparison"]
    readonly_fields = ["computed_at"]
