"""``MemoryOnlyUploadHandler``: uploaded files stay in memory, bounded, never on disk.

Django's default handlers keep a request's files in memory only while the whole
request is under ``FILE_UPLOAD_MAX_MEMORY_SIZE``; above that every file of the request
goes to the temporary folder (``TemporaryFileUploadHandler``). Our uploads hold PHI
(patient imports, Synthea folders) or personal data (profile photos), and a file in
the temporary folder outlives a crash and is read by anyone with the disk. So
``FILE_UPLOAD_HANDLERS`` is this one handler (settings, TRANSPORT AND HEADERS):

- each file is kept in memory up to ``UPLOAD_MAX_FILE_BYTES``; beyond that its bytes
  are counted, not kept, and the file arrives empty with its real ``size``, so the
  form's own size check (``admin_ext.imports.mixins.validate_upload_size``,
  ``people.services.photo_process``) refuses it with its usual message;
- a request whose ``Content-Length`` is over ``UPLOAD_MAX_REQUEST_BYTES`` is refused
  before a byte is read: ``RequestDataTooBig``, which Django answers with 400.

OWASP ASVS 4.0 V12.1.1 (no large files that could fill storage), V12.3 (no file
stored where its path or lifetime escapes the application); HIPAA 164.312(a)(1).
"""

from io import BytesIO

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class MemoryOnlyUploadHandler(FileUploadHandler):
    """Keeps each uploaded file in memory up to ``settings.UPLOAD_MAX_FILE_BYTES`` and
    refuses a request over ``settings.UPLOAD_MAX_REQUEST_BYTES`` (module docstring).

    Raises ``RequestDataTooBig`` from ``handle_raw_input`` for a request that is too
    large. A file over the per-file limit is returned as an ``InMemoryUploadedFile``
    with no content and ``size`` set to the bytes received.
    """

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        """Refuse the whole request when it says it is larger than the request limit."""
        limit = settings.UPLOAD_MAX_REQUEST_BYTES
        if content_length is not None and content_length > limit:
            raise RequestDataTooBig(
                f"Upload of {content_length} bytes is over UPLOAD_MAX_REQUEST_BYTES ({limit})."
            )

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.file = BytesIO()
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received <= settings.UPLOAD_MAX_FILE_BYTES:
            self.file.write(raw_data)
        elif self.file.tell():
            self.file = BytesIO()  # over the limit: what was kept goes too
        return None  # no later handler sees the bytes

    def file_complete(self, file_size):
        self.file.seek(0)
        return InMemoryUploadedFile(
            file=self.file,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )
