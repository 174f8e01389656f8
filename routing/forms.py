from django import forms

from annotation.models import CampaignRouting
from inference.models import ModelEndpoint


class RoutingForm(forms.Form):
    """The routing settings of a campaign, as a researcher edits them on the routing page."""

    BUDGET_KINDS = [("share", "a share of the items"), ("count", "a number of items")]

    enabled = forms.BooleanField(required=False, label="Route items between people and AI judges")
    policy = forms.ChoiceField(choices=CampaignRouting.Policy.choices)
    budget_kind = forms.ChoiceField(choices=BUDGET_KINDS, label="Human budget as")
    budget = forms.CharField(label="Human budget", help_text="e.g. 0.25 (a share) or 40 (items)")
    audit = forms.CharField(
        initial="0.05", help_text="Share of the human budget drawn at random to audit the AI."
    )
    judges = forms.ModelMultipleChoiceField(
        queryset=ModelEndpoint.objects.exclude(judge_method="").filter(enabled=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="They label every item before the router decides.",
    )
    tagger = forms.ModelChoiceField(
        queryset=ModelEndpoint.objects.filter(enabled=True),
        required=False,
        help_text="Optional: an LLM that tags prompts (heuristic tags otherwise).",
    )
    refit_every = forms.IntegerField(
        min_value=1, initial=20, help_text="Refit after this many new human labels."
    )

    @classmethod
    def initial_for(cls, routing):
        if routing is None:
            return {
                "policy": "learned",
                "budget_kind": "share",
                "budget": "0.25",
                "audit": "0.05",
                "refit_every": 20,
            }
        count = routing.budget_count is not None
        return {
            "enabled": routing.enabled,
            "policy": routing.policy,
            "budget_kind": "count" if count else "share",
            "budget": routing.budget_count if count else routing.budget_share,
            "audit": routing.audit,
            "judges": list(routing.judges.all()),
            "tagger": routing.tagger,
            "refit_every": routing.refit_every,
        }

    def settings(self):
        """The dict routing.services.configure takes (its checks give the sentences)."""
        data = self.cleaned_data
        key = "budget_count" if data["budget_kind"] == "count" else "budget_share"
        return {
            "enabled": data["enabled"],
            "policy": data["policy"],
            key: data["budget"],
            "audit": data["audit"],
            "judges": [j.name for j in data["judges"]],
            "tagger": data["tagger"].name if data["tagger"] else None,
            "refit_every": data["refit_every"],
        }
