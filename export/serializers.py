from rest_framework import serializers

from .options import AGGREGATIONS, FILE_FORMATS, FORMATS, MARGINS, RANK_BREAKING, SOURCES, TIE_POLICIES


class StartExportSerializer(serializers.Serializer):
    """The options of one export; choices and fit are checked by export.options.parse_options."""

    format = serializers.ChoiceField(choices=FORMATS)
    file_format = serializers.ChoiceField(choices=FILE_FORMATS, required=False)
    ties = serializers.ChoiceField(choices=TIE_POLICIES, required=False)
    rank_breaking = serializers.ChoiceField(choices=RANK_BREAKING, required=False)
    aggregate = serializers.ChoiceField(choices=AGGREGATIONS, required=False)
    min_agreement = serializers.FloatField(required=False, min_value=0, max_value=1)
    margin = serializers.ChoiceField(choices=MARGINS, required=False)
    max_chosen_longer_rate = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    test_fraction = serializers.FloatField(required=False, min_value=0, max_value=1)
    seed = serializers.IntegerField(required=False)
    arena = serializers.CharField(required=False, allow_blank=True)
    since = serializers.CharField(required=False, allow_blank=True, help_text="Date or ISO date-time.")
    until = serializers.CharField(required=False, allow_blank=True, help_text="Date or ISO date-time.")
    source = serializers.ChoiceField(choices=SOURCES, required=False)  # type: ignore[assignment]  # shadows Field.source by name only
    min_confidence = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    models = serializers.ListField(child=serializers.CharField(), required=False)
    blind_only = serializers.BooleanField(required=False)
    campaigns = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Campaign slugs; a researcher may name only campaigns they manage (else 403).",
    )
    min_reliability = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=1,
        help_text="Drop judgments whose annotator's reliability is below this; unknown reliability is kept.",
    )
    license = serializers.CharField(required=False, allow_blank=True)


class ExportJobSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    format = serializers.CharField()
    status = serializers.CharField()
    options = serializers.JSONField()
    judgments_total = serializers.IntegerField(allow_null=True)
    judgments_read = serializers.IntegerField()
    rows_written = serializers.IntegerField()
    progress_percent = serializers.IntegerField()
    error = serializers.CharField()
    summary = serializers.JSONField()
    files = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_files(self, job) -> list[dict]:
        from django.urls import reverse

        request = self.context.get("request")
        out = []
        for name in job.files or []:
            url = reverse("export:download", args=[job.public_id, name])
            out.append({"name": name, "url": request.build_absolute_uri(url) if request else url})
        return out
