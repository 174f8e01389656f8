import json

from django import forms
from django.contrib.auth.models import Group

from inference.models import ModelEndpoint, ResponsePool

from .models import Campaign, Rubric
from .rubrics import TEMPLATES, SubmissionInvalid, validate_spec


class RubricForm(forms.Form):
    family = forms.SlugField(max_length=100, help_text="A name for the rubric; versions share it.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    template = forms.ChoiceField(
        choices=[("", "— write the spec below —")]
        + [(k, f"{k}: {v['description']}") for k, v in TEMPLATES.items()],
        required=False,
        help_text="Start from a built-in template (the spec below is then ignored).",
    )
    spec = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 14, "class": "mono"}),
        required=False,
        help_text="The rubric as JSON (see the template specs for every setting).",
    )

    def clean(self):
        data = super().clean()
        if data.get("template"):
            data["spec_value"] = validate_spec(TEMPLATES[data["template"]]["spec"])
            return data
        try:
            data["spec_value"] = validate_spec(json.loads(data.get("spec") or ""))
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"The spec is not valid JSON ({exc.msg} at line {exc.lineno})."
            ) from None
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


class CampaignForm(forms.ModelForm):
    annotator_groups = forms.ModelMultipleChoiceField(
        queryset=Group.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave empty to let every annotator take part.",
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "slug",
            "guidelines",
            "k",
            "layout",
            "display_mode",
            "rubric",
            "overlap",
            "status",
            "annotator_groups",
            "lease_seconds",
            "undo_seconds",
            "gold_rate",
            "gold_min_checks",
            "gold_warn_below",
            "gold_pause_below",
            "profile_fields",
            "repeat_rate",
            "repeat_after",
            "reoffer_skipped",
            "allow_revisions",
        ]
        widgets = {"guidelines": forms.Textarea(attrs={"rows": 5})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rubric"].queryset = Rubric.objects.order_by("family", "-version")
        self.fields["k"].widget = forms.NumberInput(attrs={"min": 2, "max": 8})
        self.fields["profile_fields"].required = False
        self.fields["repeat_rate"].required = False
        self.fields["repeat_after"].required = False
        self.fields["display_mode"].required = False

    def clean_display_mode(self):
        return self.cleaned_data.get("display_mode") or "plain"

    def clean_repeat_rate(self):
        rate = self.cleaned_data.get("repeat_rate")
        if rate is None:
            return 0.0
        if not 0 <= rate <= 1:
            raise forms.ValidationError(
                "The repeat rate must be between 0 and 1 (e.g. 0.1 re-shows one item in ten)."
            )
        return rate

    def clean_repeat_after(self):
        value = self.cleaned_data.get("repeat_after")
        return 3 if value is None else value

    def clean_k(self):
        k = self.cleaned_data["k"]
        if not 2 <= k <= 8:
            raise forms.ValidationError("K must be between 2 and 8 responses per item.")
        return k

    def clean_overlap(self):
        if self.cleaned_data["overlap"] < 1:
            raise forms.ValidationError("Overlap must be at least 1.")
        return self.cleaned_data["overlap"]

    def clean_gold_rate(self):
        rate = self.cleaned_data["gold_rate"]
        if not 0 <= rate <= 1:
            raise forms.ValidationError("The gold rate must be between 0 and 1.")
        return rate

    def clean_profile_fields(self):
        value = self.cleaned_data.get("profile_fields") or []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.isidentifier() for v in value):
            raise forms.ValidationError('Give a JSON list of field names, e.g. ["age_band", "country"].')
        return value


class ImportForm(forms.Form):
    file = forms.FileField(required=False)
    format = forms.ChoiceField(
        choices=[
            ("auto", "Detect (JSONL or CSV, ours or MultiPref columns)"),
            ("jsonl", "JSONL"),
            ("csv", "CSV"),
        ],
        initial="auto",
    )
    dry_run = forms.BooleanField(required=False, initial=True, help_text="Only report what would be created.")
    upload = forms.CharField(
        required=False, widget=forms.HiddenInput, help_text="The file kept from a dry run."
    )

    def clean(self):
        data = super().clean()
        if not data.get("file") and not data.get("upload"):
            raise forms.ValidationError("Choose a file to import.")
        return data


class ProfileForm(forms.Form):
    opted_in = forms.BooleanField(
        required=False, label="Share this profile with the researchers of campaigns I work on"
    )
    expertise = forms.CharField(max_length=300, required=False)
    languages = forms.CharField(max_length=300, required=False)


class BuildItemsForm(forms.Form):
    """Items from answers that already exist: a response pool, or prompt ids × chosen models."""

    pool = forms.ModelChoiceField(
        queryset=ResponsePool.objects.order_by("name"),
        required=False,
        to_field_name="name",
        empty_label="— no pool: use the prompts below —",
    )
    prompts = forms.CharField(
        required=False, help_text="Prompt ids, separated by commas or spaces (instead of a pool)."
    )
    models = forms.ModelMultipleChoiceField(
        queryset=ModelEndpoint.objects.order_by("name"),
        required=False,
        to_field_name="name",
        widget=forms.CheckboxSelectMultiple,
        help_text="With a pool: leave empty for all its models.",
    )
    seed = forms.IntegerField(
        initial=0, required=False, help_text="Seeds the random draw of models and their order."
    )
    dry_run = forms.BooleanField(required=False, initial=True, help_text="Only report what would be created.")

    def clean(self):
        data = super().clean()
        raw = (data.get("prompts") or "").replace(",", " ").split()
        bad = [value for value in raw if not value.isdigit()]
        if bad:
            raise forms.ValidationError(
                f"{bad[0]!r} is not a prompt id; give whole numbers separated by commas."
            )
        data["prompt_ids"] = [int(value) for value in raw] or None
        data["model_names"] = [m.name for m in data.get("models") or []] or None
        data["seed"] = data.get("seed") or 0
        if data.get("pool") is None and not data["prompt_ids"]:
            raise forms.ValidationError("Choose a response pool, or give prompt ids and models.")
        return data


# --- the annotation page's form -------------------------------------------------


def payload_from_form(post, spec, k):
    """The form's fields as the submission payload the rubric check reads (screen slots)."""

    def json_field(name):
        raw = post.get(name, "")
        if not raw:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise SubmissionInvalid(f"The {name} field is not valid JSON.") from None

    aspects = {}
    for aspect in spec["aspects"]:
        key = aspect["key"]
        if aspect["kind"] == "ranking":
            aspects[key] = {"ranking": json_field(f"aspect-{key}")}
        else:
            aspects[key] = {"ratings": [post.get(f"rating-{key}-{slot}") or None for slot in range(k)]}
        # per-aspect follow-ups (only sent when the aspect asks for them)
        for name in ("strength", "confidence"):
            if post.get(f"aspect-{key}-{name}"):
                aspects[key][name] = post.get(f"aspect-{key}-{name}")
        if post.getlist(f"aspect-{key}-reason_tags"):
            aspects[key]["reason_tags"] = post.getlist(f"aspect-{key}-reason_tags")
        if post.get(f"aspect-{key}-rationale"):
            aspects[key]["rationale"] = post.get(f"aspect-{key}-rationale")
    if not post.get("ranking"):  # the page's words, not the API's ("a non-empty list of tie groups")
        raise SubmissionInvalid(
            "Rank the responses first: click them best first, drag them, or press their letters "
            "(with two: A, B, T for a tie, X if both are bad)."
        )
    return {
        "ranking": json_field("ranking"),
        "strength": post.get("strength") or None,
        "confidence": post.get("confidence") or None,
        "aspects": aspects,
        "reason_tags": post.getlist("reason_tags"),
        "rationale": post.get("rationale", ""),
        "none_acceptable": post.get("none_acceptable", "") == "on",
        "edited_answer": post.get("edited_answer", ""),
    }
