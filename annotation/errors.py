"""Domain errors carry their HTTP status: the one map from "what went wrong" to "what HTTP answers".

A domain exception mixes in `HasStatus` and sets `status_code` (and `retry_after` where asking again later
helps). `config.api_errors.exception_handler` reads it for the API; `problem_for` below reads it for pages.
Neither keeps a table of exception types. A plain `ValueError` is bad input (400): the house rule is that a
ValueError names the problem in a sentence for the person.

This module imports nothing of ours, so every app below arena can use it (arena imports annotation)."""

from django.shortcuts import render
from django_htmx.http import reswap, retarget


class HasStatus:
    """Mix into a domain exception (before its builtin base): `class Gone(HasStatus, ValueError)`."""

    status_code: int = 400
    retry_after: int | None = None  # seconds; sent as Retry-After when set


def status_of(exc: BaseException) -> int | None:
    """The HTTP status a domain error answers with; None for anything that is not one (a bug: 500)."""
    code = getattr(exc, "status_code", None)
    if isinstance(code, int):
        return code
    if isinstance(exc, ValueError):
        return 400
    return None


def is_domain_error(exc: BaseException) -> bool:
    return status_of(exc) is not None


def problem(request, message: str, status: int, *, target: str, app: str = "annotation"):
    """A 4xx page with a sentence: into the page's message slot (`target`) for htmx, a whole page otherwise.
    `app` picks the templates (`<app>/_message.html`, `<app>/problem.html`)."""
    if request.htmx:
        response = render(request, f"{app}/_message.html", {"message": message}, status=status)
        return reswap(retarget(response, target), "innerHTML")
    return render(request, f"{app}/problem.html", {"message": message}, status=status)


def problem_for(request, exc: BaseException, *, target: str, app: str = "annotation", default: int = 400):
    """The page for a domain error: its sentence at its status (and Retry-After when it has one). `default`
    is for an error the view chose to catch that names no status of its own."""
    status = status_of(exc) or default
    response = problem(request, str(exc), status, target=target, app=app)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response
