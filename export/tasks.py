from celery import shared_task

from . import jobs


@shared_task(name="export.run_export_job", acks_late=True, time_limit=6 * 3600)
def run_export_job_task(job_id):
    """Thin and idempotent: a finished job is left alone, an interrupted one is redone."""
    jobs.run_export_job(job_id)


@shared_task(name="export.requeue_stranded_jobs", acks_late=True, time_limit=120)
def requeue_stranded_jobs():
    """Beat's sweeper for export jobs whose worker died."""
    return len(jobs.requeue_stranded_jobs())
