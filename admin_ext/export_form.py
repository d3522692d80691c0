"""The export page's form: import-export's field picker with readable labels."""

from django.core.exceptions import FieldDoesNotExist
from django.utils.text import capfirst
from import_export.forms import SelectableFieldsExportForm


class LabelledExportForm(SelectableFieldsExportForm):
    """import-export's ``SelectableFieldsExportForm`` with each field's checkbox
    labelled by the model field's verbose name ("MRN", "SSN", "Birth date"),
    where the library titles the attribute ("Mrn", "Ssn"); a column whose name in
    the file differs keeps it in brackets, as the library does. The format starts
    on the first one offered (CSV), so the common export takes no choice.
    """

    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        if len(formats) > 1 and not self.is_bound:
            self.initial.setdefault("format", "0")
        for field in self.fields.values():
            if getattr(field, "is_selectable_field", False):
                field.widget.attrs["class"] = "form-check-input"

    def _get_field_label(self, resource, field_name: str) -> str:
        label = super()._get_field_label(resource, field_name)
        field = resource.fields.get(field_name)
        model = getattr(resource._meta, "model", None)
        attribute = (getattr(field, "attribute", None) or field_name).split("__")[0]
        try:
            verbose = capfirst(model._meta.get_field(attribute).verbose_name)
        except (AttributeError, FieldDoesNotExist):
            return label
        if field is not None and field.column_name not in (field_name, attribute):
            return f"{verbose} ({field.column_name})"
        return str(verbose)
