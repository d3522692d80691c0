"""``PopupFramingMiddleware``: lets the admin's related-object popups open in a frame."""

from csp.constants import SELF
from django.contrib.admin.options import IS_POPUP_VAR


class PopupFramingMiddleware:
    """``X-Frame-Options: SAMEORIGIN`` and CSP ``frame-ancestors 'self'`` on the admin's
    popup pages; ``DENY`` and ``frame-ancestors 'none'`` (settings) elsewhere.

    jazzmin's related-object modal (``related_modal_active``) loads the add or change
    form of a related object (a doctor from the patient form) in a frame of our own
    page; Django marks those requests with ``_popup`` in the query string or the
    form. Every other page keeps ``X_FRAME_OPTIONS`` (DENY). Listed after
    ``XFrameOptionsMiddleware``, so it answers first and that middleware keeps the
    header it finds; listed after django-csp's ``CSPMiddleware``, so that one builds
    its header with the replacement set here (browsers obey ``frame-ancestors`` over
    ``X-Frame-Options``, so both must agree).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if IS_POPUP_VAR in request.GET or (
            request.method == "POST" and IS_POPUP_VAR in request.POST
        ):
            response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
            replace = getattr(response, "_csp_replace", None) or {}
            response._csp_replace = {**replace, "frame-ancestors": [SELF]}
        return response
