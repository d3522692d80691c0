"""Template tags of the audit trail: the dashboard's "Recent actions".

``{% recent_trail_events 10 as events %}`` gives the newest events of the audit trail
that the signed-in user may see (``admin_ext.audit.trail``: the same rule as the
trail page), and an empty list for a user who may not open the trail. It replaces
Django's admin log ("Recent actions"), which services, imports and commands never
write (DESIGN.md, "Dashboard and cache").
"""

from django import template

from admin_ext.audit import trail

register = template.Library()


@register.simple_tag(takes_context=True)
def recent_trail_events(context, limit: int = 10) -> list:
    """The ``limit`` newest :class:`~admin_ext.audit.trail.Event` s the request's user
    may see (one query per source), or ``[]`` without ``audit.view_accesslog``."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not trail.may_view_trail(user):
        return []
    return trail.trail_page(user, size=limit).events
