"""A guard for the test suite: no ``QuerySet.update()`` on a model with history.

DESIGN.md, "Writes: one path each": ``QuerySet.update()`` on a tracked model (one with
simple-history ``HistoricalRecords``) outside a history-aware helper is a bug, because
it writes straight to the table: no ``post_save``, so no history row, no actor, no
reason, and the audit trail (HIPAA 45 CFR 164.312(b)) silently misses the change.

:func:`install` wraps ``django.db.models.QuerySet.update`` (the root ``conftest.py``
does it for the whole test session) so that such a call raises
:class:`UntrackedUpdateError`, unless

- it runs inside simple-history's ``bulk_update_with_history``, which writes the
  history rows itself (its ``bulk_update`` is an ``update()`` per batch); or
- it runs inside :func:`allow_untracked_update`, whose ``reason`` says why skipping
  history is right there (a test simulating a change made outside the app).

Managers and custom querysets (``Patient.objects.filter(...).update(...)``) all end in
``QuerySet.update``, and so does Django's ``bulk_update``. ``Model.save()`` does not
(it writes through ``QuerySet._update`` and sends ``post_save``).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar

from django.db.models import QuerySet
from simple_history.utils import bulk_update_with_history

#: Code objects of the helpers that write history for the rows their update() changes.
HISTORY_AWARE_HELPERS = frozenset({bulk_update_with_history.__code__})

_allowed: ContextVar[tuple[str, ...]] = ContextVar("audit_untracked_update", default=())


class UntrackedUpdateError(AssertionError):
    """``QuerySet.update()`` wrote a model with history outside a history-aware helper.

    An ``AssertionError``, so a test reports it as a failure wherever it is raised.
    """


def is_tracked(model) -> bool:
    """Whether ``model`` (or, for a proxy, its concrete model) has simple-history records."""
    return hasattr(model._meta.concrete_model._meta, "simple_history_manager_attribute")


@contextmanager
def allow_untracked_update(reason: str):
    """Let ``QuerySet.update()`` write models with history inside the block.

    ``reason`` (required, not blank) is the justification a reader of the call sees:
    why no history row is right there. Nestable; thread- and task-local (a
    ``ContextVar``). Raises ``ValueError`` for a blank reason.
    """
    if not (reason or "").strip():
        raise ValueError("allow_untracked_update needs a reason: why no history row is right.")
    token = _allowed.set((*_allowed.get(), reason))
    try:
        yield
    finally:
        _allowed.reset(token)


def _inside_history_aware_helper() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code in HISTORY_AWARE_HELPERS:
            return True
        frame = frame.f_back
    return False


def check_update(queryset: QuerySet) -> None:
    """Raise :class:`UntrackedUpdateError` if ``queryset.update()`` may not run here.

    Allowed: an untracked model; inside ``bulk_update_with_history``; inside
    :func:`allow_untracked_update`.
    """
    model = queryset.model
    if not is_tracked(model) or _allowed.get() or _inside_history_aware_helper():
        return
    raise UntrackedUpdateError(
        f"QuerySet.update() on {model._meta.label}, which has history: it writes no "
        "history row (no actor, no reason). Write through a service (save() with "
        "_history_user/_change_reason, or simple-history's bulk_update_with_history); "
        "if skipping history is right here, wrap the call in "
        "admin_ext.audit.guards.allow_untracked_update(reason)."
    )


def install() -> Callable[[], None]:
    """Wrap ``QuerySet.update`` with :func:`check_update`; returns a function that unwraps it.

    Meant for tests (the root ``conftest.py``); production code is not wrapped.
    """
    original = QuerySet.update

    @functools.wraps(original)
    def update(self, **kwargs):
        check_update(self)
        return original(self, **kwargs)

    QuerySet.update = update

    def uninstall() -> None:
        QuerySet.update = original

    return uninstall
