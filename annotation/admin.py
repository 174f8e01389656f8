from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import path

from .judges import active_judges, queue_judging, queue_reward_training
from .models import (
    Adjudication,
    AnnotatorProfile,
    AnnotatorStanding,
    Assignment,
    Campaign,
    CampaignItem,
    CampaignRouting,
    Comparison,
    ComparisonSlot,
    Judgment,
    RoutingDecision,
    Rubric,
)
from .scorecard import judge_scorecard


class SlotInline(admin.TabularInline):
    model = ComparisonSlot
    extra = 0
    raw_id_fields = ["response"]


class JudgmentInline(admin.TabularInline):
    model = Judgment
    extra = 0
    readonly_fields = (
        "source",
        "annotator",
        "judge",
        "ranking",
        "none_acceptable",
        "identities_hidden",
        "created_at",
    )
    fields = readonly_fields
    can_delete = False
    show_change_link = True


@admin.register(Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = ["id", "k", "prompt", "created_at"]
    list_filter = ["k", "created_at"]
    search_fields = ["prompt__conversation"]
    raw_id_fields = ["prompt"]
    inlines = [SlotInline, JudgmentInline]
    actions = ["judge_with_ai"]

    @admin.action(description="Have the enabled AI judges judge these comparisons (on the inference workers)")
    def judge_with_ai(self, request, queryset):
        judges = list(active_judges())
        if not judges:
            self.message_user(
                request,
                "No enabled endpoint is set up as a judge: set a judge method on one first.",
                messages.WARNING,
            )
            return
        queued = queue_judging(queryset, judges)
        names = ", ".join(j.name for j in judges)
        self.message_user(request, f"Queued {queued} judgments by {names}.", messages.SUCCESS)


@admin.register(Judgment)
class JudgmentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "comparison",
        "source",
        "annotator",
        "judge",
        "ranking",
        "none_acceptable",
        "identities_hidden",
        "created_at",
    ]
    list_filter = ["source", "none_acceptable", "identities_hidden", "created_at", "judge"]
    search_fields = ["rationale", "annotator__username", "judge__name"]
    raw_id_fields = ["comparison", "annotator"]
    readonly_fields = ["created_at"]
    change_list_template = "admin/annotation/judgment/change_list.html"
    actions = ["train_reward_judge"]

    def get_urls(self):
        scorecard = path(
            "scorecard/", self.admin_site.admin_view(self.scorecard_view), name="annotation_judge_scorecard"
        )
        return [scorecard, *super().get_urls()]

    def scorecard_view(self, request):
        context = {
            **self.admin_site.each_context(request),
            "title": "AI judge scorecard",
            "card": judge_scorecard(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/annotation/judge_scorecard.html", context)

    @admin.action(
        description="Train a reward-model judge from all human judgments (on the inference workers)"
    )
    def train_reward_judge(self, request, queryset):
        queue_reward_training()
        self.message_user(
            request,
            "Training queued; the judge appears under Model endpoints as reward-minilm.",
            messages.SUCCESS,
        )


# --- campaigns (issue 5) ----------------------------------------------------


@admin.register(Rubric)
class RubricAdmin(admin.ModelAdmin):
    list_display = ["family", "version", "created_by", "created_at"]
    search_fields = ["family", "description"]

    def get_readonly_fields(self, request, obj=None):
        # Frozen once saved: a change is a new version (annotation.campaigns.revise_rubric / the rubric page).
        return ["family", "version", "spec", "created_by"] if obj else ["version"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "status", "k", "overlap", "rubric", "gold_rate", "created_at"]
    list_filter = ["status", "k"]
    search_fields = ["name", "slug"]
    filter_horizontal = ["annotator_groups", "researchers"]


@admin.register(CampaignItem)
class CampaignItemAdmin(admin.ModelAdmin):
    list_display = ["id", "campaign", "kind", "comparison", "external_id"]
    list_filter = ["campaign", "kind"]
    raw_id_fields = ["comparison"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "item",
        "annotator",
        "status",
        "leased_at",
        "expires_at",
        "submitted_at",
        "check_passed",
    ]
    list_filter = ["status", "item__campaign"]
    raw_id_fields = ["item", "annotator", "judgment"]


@admin.register(AnnotatorStanding)
class AnnotatorStandingAdmin(admin.ModelAdmin):
    list_display = ["campaign", "annotator", "state", "passed", "checks", "updated_at"]
    list_filter = ["state", "campaign"]


@admin.register(Adjudication)
class AdjudicationAdmin(admin.ModelAdmin):
    list_display = ["item", "ranking", "adjudicator", "created_at"]
    raw_id_fields = ["item"]


@admin.register(AnnotatorProfile)
class AnnotatorProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "opted_in", "expertise", "languages", "updated_at"]


@admin.register(CampaignRouting)
class CampaignRoutingAdmin(admin.ModelAdmin):
    """Routing settings; the campaign's routing page checks them the same way and applies them at once."""

    list_display = [
        "campaign",
        "enabled",
        "policy",
        "budget_text",
        "audit",
        "refit_every",
        "model_version",
        "fitted_at",
    ]
    list_filter = ["enabled", "policy"]
    readonly_fields = ["model_version", "fit_cutoff", "labels_at_fit", "fitted_at", "estimates", "updated_at"]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "judges":
            kwargs["queryset"] = db_field.remote_field.model.objects.exclude(judge_method="")
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(admin.ModelAdmin):
    """Where each routed item went and why: the router writes these, so they are read-only here."""

    list_display = [
        "item",
        "destination",
        "audit",
        "policy",
        "predicted_gain",
        "slice",
        "ai_label",
        "decided_at",
    ]
    list_filter = ["destination", "audit", "policy", "slice"]
    search_fields = ["reason", "item__external_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
