from django.apps import AppConfig


class RankingConfig(AppConfig):
    name = "ranking"
    verbose_name = "Ranking"

    def ready(self):
        from django.db import transaction
        from django.db.models.signals import post_delete, post_save

        from annotation.models import Judgment
        from annotation.selectors import is_campaign_vote

        from . import services

        # Live refits extend counts vote by vote; editing or deleting a judgment they may have
        # counted invalidates them. Bumped after commit, so a refit never reads the old rows under
        # the new epoch. Campaign judgments are never rated (their undo deletes them often).
        # QuerySet.update() sends no signal: call services.judgments_changed() after one; the
        # periodic full refit's read count catches what slips through.
        def changed(sender, instance, created=False, **kwargs):
            if created or is_campaign_vote(instance):
                return  # a new vote is read by id; a campaign's vote never counted
            transaction.on_commit(services.judgments_changed)

        post_save.connect(changed, sender=Judgment, dispatch_uid="ranking-judgment-saved", weak=False)
        post_delete.connect(changed, sender=Judgment, dispatch_uid="ranking-judgment-deleted", weak=False)
