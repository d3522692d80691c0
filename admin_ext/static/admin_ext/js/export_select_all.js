// The export page's "Select all" box runs import-export's onSelectToggleChange
// (import_export/export_selectable_fields.js, loaded before this file). The library's
// template binds it with an onchange attribute, which CONTENT_SECURITY_POLICY refuses.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("input.select-toggle").forEach(function (box) {
    box.addEventListener("change", window.onSelectToggleChange);
  });
});
