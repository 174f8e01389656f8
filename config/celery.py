import os

# Rating fits solve many small systems; BLAS threads only add contention there
# (10-30x slower live refits measured on 2 cores). Set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("prefarena")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect(dispatch_uid="prefarena-import-heavy-libraries")
def import_heavy_libraries(**kwargs):
    """Thread-pool workers run tasks side by side, and two tasks that import a large library lazily at the same
    moment can see it half-initialised ("cannot import name 'AutoModel' from 'transformers'", seen when a
    routing pass and an AI judge started together). Importing them once here, before the pool starts,
    closes that race; a worker loads them for its first task anyway."""
    import sklearn.calibration
    import sklearn.ensemble
    import sklearn.feature_extraction
    import sklearn.linear_model
    import sklearn.model_selection
    import sklearn.pipeline  # noqa: F401 - imported for its side effect: loaded before the pool
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer  # noqa: F401 - the same
