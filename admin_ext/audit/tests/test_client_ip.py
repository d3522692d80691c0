"""Which address the access log and the sign-in lockout take as the client's
(``admin_ext.audit.services.client_ip``, setting ``TRUSTED_PROXY_COUNT``)."""

from django.test import RequestFactory, SimpleTestCase, override_settings

from admin_ext.audit.services import client_ip

PROXY = "10.0.0.5"


def request(forwarded_for=None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=PROXY, **extra)


class WithoutProxyTests(SimpleTestCase):
    def test_it_ignores_a_forwarded_for_header_any_client_can_send(self):
        self.assertEqual(client_ip(request("198.51.100.1")), PROXY)


@override_settings(TRUSTED_PROXY_COUNT=1)
class BehindOneProxyTests(SimpleTestCase):
    def test_it_takes_the_address_the_proxy_saw(self):
        self.assertEqual(client_ip(request("203.0.113.7")), "203.0.113.7")

    def test_a_client_cannot_choose_its_address_by_sending_the_header_itself(self):
        # The client sent "X-Forwarded-For: 198.51.100.1"; the proxy appended the real one.
        self.assertEqual(client_ip(request("198.51.100.1, 203.0.113.7")), "203.0.113.7")

    def test_it_falls_back_to_the_peer_without_the_header_or_with_garbage(self):
        self.assertEqual(client_ip(request()), PROXY)
        self.assertEqual(client_ip(request("not-an-address")), PROXY)

    def test_it_reads_ipv6(self):
        self.assertEqual(client_ip(request("2001:db8::1")), "2001:db8::1")


@override_settings(TRUSTED_PROXY_COUNT=2)
class BehindTwoProxiesTests(SimpleTestCase):
    def test_it_takes_the_address_the_outer_proxy_saw(self):
        header = "198.51.100.1, 203.0.113.7, 10.0.0.9"
        self.assertEqual(client_ip(request(header)), "203.0.113.7")

    def test_a_shorter_chain_than_configured_falls_back_to_the_peer(self):
        self.assertEqual(client_ip(request("203.0.113.7")), PROXY)
