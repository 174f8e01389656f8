from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Annotation"

    def ready(self):
        from . import queues

        # The queue's errors take their HTTP status here (see annotation.errors) until their classes in
        # queues.py mix in HasStatus themselves: queues.py is being reworked on another branch, and these
        # lines move into the class bodies when the two meet.
        queues.NotAssigned.status_code = 403
        queues.AssignmentGone.status_code = 409
        queues.CampaignNotOpen.status_code = 409
        queues.QueueBusy.status_code = 503  # retry_after (1 s) is already on the class
