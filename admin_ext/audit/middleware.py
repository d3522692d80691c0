"""``RequestIdMiddleware``: every request gets an id, kept in access-log rows and logs."""

from admin_ext.audit.services import new_request_id


class RequestIdMiddleware:
    """Sets ``request.request_id`` (a proxy's ``X-Request-ID`` when well formed, else a
    new UUID4 hex) and echoes it in the response's ``X-Request-ID`` header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = new_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response
