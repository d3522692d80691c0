"""A URLconf for tests: the project's URLs plus a view that fails with patient data in hand.

``/test-failure/`` copies the search term (GET ``q``) and the posted patient fields
into local variables, then raises an error whose message quotes the last name, as a
database or validation error would. Tests point ``ROOT_URLCONF`` here to see what
the logs and the error emails make of it.
"""

from django.urls import path

from backoffice.urls import urlpatterns as project_urlpatterns


def fail(request):
    """Always raises ``ValueError`` naming the posted ``last_name``."""
    searched = request.GET.get("q", "")
    last_name = request.POST.get("last_name", "")
    ssn = request.POST.get("ssn", "")
    raise ValueError(f"Cannot save {last_name} ({ssn}), found by {searched!r}")


urlpatterns = [path("test-failure/", fail), *project_urlpatterns]
