"""The dashboard's cache (admin_ext.dashboard.cache): numbers are computed once per
version and viewer key, recomputed after a committed change, never stored from a
transaction that may roll back, and kept no longer than the provider says."""

import datetime

from django.core.cache import cache
from django.core.management.sql import emit_post_migrate_signal
from django.test import SimpleTestCase, TestCase, override_settings
from django.utils import timezone

from admin_ext.dashboard.cache import VERSION_KEY, counts_changed, current_version, viewer_panels
from admin_ext.dashboard.panels import DashboardProvider, Panels, provider
from admin_ext.dashboard.tests.providers import CountingProvider

PROVIDER = "admin_ext.dashboard.tests.providers.CountingProvider"
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "dashboard-cache-tests",
    }
}


@override_settings(DASHBOARD_PROVIDER=PROVIDER, CACHES=CACHES)
class DashboardCacheTests(SimpleTestCase):
    # The connection is used (outside any transaction, as by a request) but nothing
    # is read or written: on_commit asks it whether a transaction is open.
    databases = {"default"}

    def setUp(self):
        cache.clear()
        CountingProvider.computed = 0
        CountingProvider.valid_until = None

    def test_it_computes_once_per_viewer_key(self):
        self.assertEqual(viewer_panels("alice").title, "For alice")
        self.assertEqual(viewer_panels("alice").stats[0].value, 1)
        self.assertEqual(viewer_panels("bob").title, "For bob")
        self.assertEqual(CountingProvider.computed, 2)

    def test_a_change_outside_a_transaction_recomputes_at_once(self):
        viewer_panels("alice")
        counts_changed()
        self.assertEqual(viewer_panels("alice").stats[0].value, 2)

    def test_a_lost_version_starts_again_from_a_new_number(self):
        viewer_panels("alice")
        before = current_version()
        cache.delete(VERSION_KEY)
        counts_changed()  # incr on a missing key
        self.assertNotEqual(current_version(), before)
        self.assertEqual(viewer_panels("alice").stats[0].value, 2)

    def test_numbers_are_kept_no_longer_than_the_provider_says(self):
        CountingProvider.valid_until = timezone.now() - datetime.timedelta(seconds=1)
        viewer_panels("alice")
        viewer_panels("alice")
        self.assertEqual(CountingProvider.computed, 2)

        CountingProvider.valid_until = timezone.now() + datetime.timedelta(hours=1)
        viewer_panels("bob")
        viewer_panels("bob")
        self.assertEqual(CountingProvider.computed, 3)

    @override_settings(DASHBOARD_CACHE_SECONDS=0)
    def test_a_zero_cache_time_turns_the_cache_off(self):
        viewer_panels("alice")
        viewer_panels("alice")
        self.assertEqual(CountingProvider.computed, 2)


@override_settings(DASHBOARD_PROVIDER=PROVIDER, CACHES=CACHES)
class DashboardCacheTransactionTests(TestCase):
    """A TestCase runs in a transaction that is rolled back, as a failed request would."""

    def setUp(self):
        cache.clear()
        CountingProvider.computed = 0

    def test_numbers_computed_inside_a_transaction_are_never_stored(self):
        viewer_panels("alice")
        viewer_panels("alice")
        self.assertEqual(CountingProvider.computed, 2)

    def test_a_change_counts_at_once_and_again_when_its_transaction_commits(self):
        before = current_version()
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            counts_changed()
            # The writing transaction does not read numbers from before its write.
            during = current_version()
            self.assertNotEqual(during, before)
        self.assertEqual(len(callbacks), 1)
        callbacks[0]()  # the commit: numbers others computed meanwhile are left behind
        self.assertNotIn(current_version(), (before, during))

    def test_a_migrate_or_flush_recomputes_every_dashboard(self):
        viewer_panels("alice")  # not stored (in a transaction); the version is set
        before = current_version()
        emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
        self.assertNotEqual(current_version(), before)


class ProviderSettingTests(SimpleTestCase):
    @override_settings(DASHBOARD_PROVIDER="")
    def test_without_a_provider_the_dashboard_has_no_numbers(self):
        self.assertEqual(type(provider()), DashboardProvider)
        self.assertEqual(provider().panels(None), Panels(title=""))

    def test_the_setting_names_the_clinic_provider(self):
        self.assertEqual(type(provider()).__name__, "ClinicDashboard")
