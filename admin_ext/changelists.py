"""Composing the admin's ChangeList class from the mixins the shared admin adds."""

import functools


@functools.cache
def changelist_with(mixin: type, base: type) -> type:
    """``base`` (a ChangeList class) with ``mixin`` in front of it.

    Made once per pair and reused, so a page view builds no class: each admin
    mixin that needs its own ChangeList behaviour (``admin_ext.sensitive``,
    ``admin_ext.pagination``) wraps whatever class ``super().get_changelist()``
    returns, and the wrappers compose in MRO order. Raises nothing.
    """
    name = mixin.__name__.removesuffix("ChangeListMixin") + base.__name__
    return type(name, (mixin, base), {})
