// The FilterSet list filter's behaviour (admin_ext/templates/admin_ext/filterset_filter.html,
// which loads this once per filter: it binds once).
document.addEventListener("DOMContentLoaded", function () {
  if (window.filtersetFilterBound) { return; }
  window.filtersetFilterBound = true;
  // Autocomplete selects (AutocompleteFilterSelect) with jazzmin's select2, asking
  // the admin's autocomplete view as Django's admin/js/autocomplete.js does.
  const $ = window.jQuery;
  if ($ && $.fn.select2) {
    $(".filterset-filter select.admin-autocomplete").each(function () {
      const element = this;
      $(element).select2({
        width: "style",
        allowClear: true,
        placeholder: element.dataset.placeholder,
        ajax: {
          url: element.getAttribute("data-ajax--url"),
          dataType: "json",
          delay: 250,
          data: function (params) {
            return {
              term: params.term,
              page: params.page,
              app_label: element.dataset.appLabel,
              model_name: element.dataset.modelName,
              field_name: element.dataset.fieldName,
            };
          },
        },
      });
    });
  }
  const form = document.getElementById("changelist-search");
  if (!form) { return; }
  form.addEventListener("submit", function () {
    form.querySelectorAll(".filterset-filter input, .filterset-filter select").forEach(function (input) {
      if (!input.value) { input.disabled = true; }
    });
  });
});
