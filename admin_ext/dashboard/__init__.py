"""The admin index as a dashboard per viewer (DESIGN.md, "Dashboard and cache").

``admin_ext`` never imports ``clinic``: the numbers come from a provider named by
``settings.DASHBOARD_PROVIDER`` (a dotted path to a :class:`~admin_ext.dashboard.panels.
DashboardProvider` subclass; ``clinic.dashboard.ClinicDashboard`` here), cached by
:mod:`admin_ext.dashboard.cache` and invalidated by the services that write what
they count (:func:`admin_ext.dashboard.cache.counts_changed`). The viewer's own
activity (recent imports, most visited records) is read per request by
:mod:`admin_ext.dashboard.activity`; the template tag
``{% dashboard as dash %}`` (``templatetags/dashboard.py``) puts it all together
for ``templates/admin/index.html``.
"""
