"""Human/AI routing: which comparisons should people label, under a budget?

Core (pure Python + numpy/scikit-learn/scipy, no Django import): ``from routing import Router,
agreement_by_slice``. See ``routing.router`` for the policies, the budget and audit rules, and
how AI confidence is passed. The Django glue (features per comparison, queues, refit tasks) lives in
other modules of this package and imports the core, never the other way round.
"""

from .agreement import SliceAgreement, agreement_by_slice, wilson_interval
from .encoding import LABELS
from .router import POLICIES, Decision, Router

__all__ = [
    "LABELS",
    "POLICIES",
    "Decision",
    "Router",
    "SliceAgreement",
    "agreement_by_slice",
    "wilson_interval",
]
