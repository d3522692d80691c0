"""Static files storage for production (``DEBUG=False``).

WhiteNoise's ``CompressedManifestStaticFilesStorage`` serves every collected file
under a content-hashed name with far-future cache headers
(https://whitenoise.readthedocs.io/en/stable/django.html). This subclass adds one
thing: a URL for a *directory*, which jazzmin 3.0.5 asks for.
"""

import os

from whitenoise.storage import CompressedManifestStaticFilesStorage


class ManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's compressed manifest storage that also answers for directories.

    jazzmin 3.0.5's ``admin/base.html`` renders
    ``data-theme-base="{% static 'vendor/bootswatch' %}"`` on every admin page; its
    JavaScript appends ``/<theme>/bootstrap.min.css`` to that base when a user picks
    a theme. A manifest storage only knows files, so the stock storage raises
    ``ValueError: Missing staticfiles manifest entry for 'vendor/bootswatch'`` and
    every admin page answers 500 (jazzmin issue #684, open). The line sits outside
    any template block, so overriding it would mean copying all of jazzmin's
    ``base.html`` and keeping it in step with upgrades; fixing it here is one
    method. A directory has no content to hash, so its URL is its plain name; the
    files under it are still collected and served (WhiteNoise keeps the unhashed
    copies, ``WHITENOISE_KEEP_ONLY_HASHED_FILES`` is off). A name that is neither
    in the manifest nor a collected directory still raises, as before.
    """

    def stored_name(self, name: str) -> str:
        """Return the hashed name of a collected file, or ``name`` for a collected directory.

        Raises ``ValueError`` (the stock error) for a name that is neither.
        """
        try:
            return super().stored_name(name)
        except ValueError:
            if os.path.isdir(self.path(name)):
                return name
            raise
