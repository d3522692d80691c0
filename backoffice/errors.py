"""Error reports without patient data: what Django's emails to ADMINS may show.

With DEBUG off, an unhandled exception in a request is emailed to ``ADMINS``
(``django.utils.log.AdminEmailHandler`` on the ``django`` logger). Django's report
lists the request's GET and POST values, files, cookies, headers and every frame's
local variables: on this site they hold patient names, SSNs and search terms. These
two classes (settings ``DEFAULT_EXCEPTION_REPORTER_FILTER`` and
``DEFAULT_EXCEPTION_REPORTER``) keep the parameter names, the traceback (files, lines,
source) and the path, and replace every value with stars.

HIPAA 164.312(e)(1) (transmission security) and the minimum-necessary standard
(164.502(b)); OWASP ASVS 5.0 V16.2 (no sensitive data in logs and error reports).

Exception messages are withheld too (``Exception Value`` and the causes in the
chain, a template error's message), as in the logs (backoffice.logs): PostgreSQL's
unique-violation detail quotes the duplicate value (an SSN), and a validation error
quotes what was typed. The type, the frames and the request id identify the failure;
the request id finds its log lines.
"""

from __future__ import annotations

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

#: Request headers (``request.META`` keys) shown as they are; every other value is
#: replaced with stars (``QUERY_STRING``, ``HTTP_COOKIE``, ``HTTP_REFERER``, gunicorn's
#: ``RAW_URI`` and the like carry search terms and session keys).
SHOWN_META = frozenset(
    {
        "CONTENT_LENGTH",
        "CONTENT_TYPE",
        "HTTP_ACCEPT",
        "HTTP_HOST",
        "HTTP_USER_AGENT",
        "HTTP_X_FORWARDED_PROTO",
        "HTTP_X_REQUEST_ID",
        "PATH_INFO",
        "REMOTE_ADDR",
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "wsgi.url_scheme",
    }
)


class PhiSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, cleansing every value instead of the marked ones.

    Active when DEBUG is off (``is_active``, as Django's). Then: every POST parameter
    and cookie value, every frame's every local variable and every request header not
    in :data:`SHOWN_META` read ``cleansed_substitute`` (stars); names stay.
    """

    def get_post_parameters(self, request):
        if request is None or not self.is_active(request):
            return super().get_post_parameters(request)
        return {name: self.cleansed_substitute for name in request.POST}

    def get_safe_cookies(self, request):
        if not hasattr(request, "COOKIES") or not self.is_active(request):
            return super().get_safe_cookies(request)
        return {name: self.cleansed_substitute for name in request.COOKIES}

    def get_safe_request_meta(self, request):
        if not hasattr(request, "META") or not self.is_active(request):
            return super().get_safe_request_meta(request)
        return {
            key: self.cleanse_setting(key, value) if key in SHOWN_META else self.cleansed_substitute
            for key, value in request.META.items()
        }

    def get_traceback_frame_variables(self, request, tb_frame):
        if not self.is_active(request):
            return super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]


#: What an error report shows instead of an exception's message.
WITHHELD = "[message withheld: it may quote patient data]"


class PhiSafeExceptionReporter(ExceptionReporter):
    """Django's reporter, while the filter (:class:`PhiSafeExceptionReporterFilter`) is
    active (DEBUG off), without what Django shows unfiltered: the query string of the
    request URL, GET and FILES values (stars), exception messages (the value, each
    cause in the chain, a template error's message: :data:`WITHHELD`) and the
    ``unicode_hint`` (a slice of the text that failed to decode)."""

    def get_traceback_data(self):
        data = super().get_traceback_data()
        if not self.filter.is_active(self.request):
            return data
        if self.request is not None:
            stars = self.filter.cleansed_substitute
            data["request_GET_items"] = [(name, stars) for name in self.request.GET]
            data["request_FILES_items"] = [(name, stars) for name in self.request.FILES]
            data["request_insecure_uri"] = (
                f"{self.request.scheme}://{self.request._get_raw_host()}{self.request.path}"
            )
        data["unicode_hint"] = ""
        if "exception_value" in data:
            data["exception_value"] = WITHHELD
        data.pop("exception_notes", None)
        for frame in data["frames"]:
            cause = frame.get("exc_cause")
            if cause is not None:
                frame["exc_cause"] = f"{type(cause).__qualname__}: {WITHHELD}"
        if data.get("template_info"):
            data["template_info"] = {**data["template_info"], "message": WITHHELD}
        return data
