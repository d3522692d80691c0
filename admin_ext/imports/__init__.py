"""Import machinery shared by every Resource (DESIGN.md, "Layout": ``admin_ext/imports/``).

- ``resources``: the base Resource (service writes, bulk mode, whole-file validation,
  row/column/value problems) and its widgets;
- ``reading``: uploaded bytes to a ``tablib.Dataset`` (format by content, encodings,
  delimiters, limits);
- ``storage``: where an upload waits between preview and confirm (the database,
  owner-checked, expiring);
- ``models``/``services``/``admin``: import job records.
"""
