"""django-import-export Resources for the native CSV and Synthea CSV formats.

(First cut: the native formats only map model fields; Synthea formats follow.)
"""

from import_export import resources

from clinic.models import Doctor, Organization, Patient


class OrganizationResource(resources.ModelResource):
    class Meta:
        model = Organization
        import_id_fields = ["external_id"]
        exclude = ["id"]
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True


class SyntheaOrganizationResource(OrganizationResource):
    pass


class DoctorResource(resources.ModelResource):
    class Meta:
        model = Doctor
        import_id_fields = ["external_id"]
        exclude = ["id", "user"]
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True


class SyntheaProviderResource(DoctorResource):
    pass


class PatientResource(resources.ModelResource):
    class Meta:
        model = Patient
        import_id_fields = ["external_id"]
        exclude = ["id"]
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True


class SyntheaPatientResource(PatientResource):
    pass
