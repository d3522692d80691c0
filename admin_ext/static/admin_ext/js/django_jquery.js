// jazzmin's change_form.js ends with django.jQuery(document).on("formset:added", ...),
// but the import and export pages have no form media, so Django's jquery.init.js (which
// defines django.jQuery) is not loaded and the page threw "django is not defined".
// Loading jquery.init.js here instead would take the global jQuery away (noConflict).
window.django = window.django || {};
window.django.jQuery = window.django.jQuery || window.jQuery;
