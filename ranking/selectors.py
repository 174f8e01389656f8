from .models import RatingSnapshot


def latest_snapshot(method=RatingSnapshot.Method.ELO):
    return RatingSnapshot.objects.filter(method=method).first()
