"""Thin, idempotent routing tasks (default queue: no model runs here except the small encoder)."""

from celery import shared_task

from annotation.routing_records import routed_campaigns

from . import services


@shared_task(name="routing.route_campaign", acks_late=True, soft_time_limit=600, time_limit=630)
def route_campaign(campaign_id):
    return services.route_campaign(campaign_id)


@shared_task(name="routing.sweep", acks_late=True, soft_time_limit=60, time_limit=90)
def sweep():
    """Beat's safety net: a routing pass for every routed campaign, so a lost task only delays routing."""
    ids = list(routed_campaigns().values_list("pk", flat=True))
    for campaign_id in ids:
        services.request_routing(campaign_id)
    return len(ids)
