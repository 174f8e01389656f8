"""Fill annotation's Comparison.origin for the battles made before it existed ("arena:<slug>")."""

from django.db import migrations


def fill_origin(apps, schema_editor):
    Battle = apps.get_model("arena", "Battle")
    Comparison = apps.get_model("annotation", "Comparison")
    for arena_id, slug in apps.get_model("arena", "Arena").objects.values_list("id", "slug"):
        ids = Battle.objects.filter(arena_id=arena_id).values("comparison_id")
        Comparison.objects.filter(id__in=ids).update(origin=f"arena:{slug}")
    # Later turns of multi-turn battles keep their conversation's origin.
    while True:
        changed = 0
        for cid, origin in Comparison.objects.filter(continues__isnull=False, origin="").values_list(
            "id", "continues__origin"
        ):
            if origin:
                changed += Comparison.objects.filter(id=cid).update(origin=origin)
        if not changed:
            break


class Migration(migrations.Migration):
    dependencies = [
        ("arena", "0006_board_transparency"),
        ("annotation", "0009_comparison_origin"),
    ]

    operations = [migrations.RunPython(fill_origin, migrations.RunPython.noop)]
