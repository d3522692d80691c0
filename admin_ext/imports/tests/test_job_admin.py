"""The "Import jobs" admin: who sees which job, what a job's page shows, failed-rows CSV.

Jobs are made the way imports make them (``job_start``/``job_finish``):

- ``steward_job``: the Data steward's, one file, an invalid SSN and a failed row;
- ``peer_job``: another Data steward's, same shape;
- ``admin_job``: the Administrator's, failed rows from two files;
- ``system_job``: a command's, no actor, no failed rows.
"""

import csv
import io
import re
from unittest import mock

from django.contrib.auth.models import Permission
from django.urls import reverse

from admin_ext.imports import admin as job_admin
from admin_ext.imports.models import ImportJob
from admin_ext.imports.services import file_entry, job_finish, job_start
from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import Patient
from people import roles
from people.services import user_create
from people.tests.factories import UserFactory

PATIENT_HEADERS = ["Id", "FIRST", "LAST", "SSN"]
BAD_SSN = "999-12-43210"  # one digit too many: masked "***-**-3210"
FORMULA = '=HYPERLINK("http://evil.example/","x")'


def failed_row(file, row, headers, cells, error):
    return {"file": file, "row": row, "headers": headers, "cells": cells, "error": error}


def make_job(
    actor,
    *,
    source=ImportJob.Source.ADMIN,
    files=("patients.csv",),
    valid_rows_only=False,
    **finish,
):
    """A finished job of ``actor`` (None: the system) over ``files`` (names)."""
    job = job_start(
        actor=actor,
        source=source,
        kind="Patients",
        files=[file_entry(name=n, data=n.encode(), fmt="CSV", rows=3) for n in files],
        valid_rows_only=valid_rows_only,
    )
    finish.setdefault("status", ImportJob.Status.SUCCEEDED)
    return job_finish(job=job, **finish)


def patient_failure(row=3, ssn=BAD_SSN, file="patients.csv"):
    """A problem and its failed row: an SSN of the wrong shape (the error quotes it)."""
    error = f'Row {row}, column SSN: "{ssn}" is not shaped NNN-NN-NNNN'
    problem = {
        "file": file,
        "row": row,
        "column": "SSN",
        "value": ssn,
        "message": "is not shaped NNN-NN-NNNN",
    }
    cells = ["p-1", FORMULA, "Lee", ssn]
    return problem, failed_row(file, row, PATIENT_HEADERS, cells, error)


def job_ids(html: str) -> set[int]:
    """The jobs a changelist page links to."""
    base = re.escape(reverse("admin:imports_importjob_changelist"))
    return {int(pk) for pk in re.findall(rf'href="{base}(\d+)/change/', html)}


def change_url(job_or_id) -> str:
    return reverse("admin:imports_importjob_change", args=[getattr(job_or_id, "pk", job_or_id)])


def csv_url(job_or_id, file=None) -> str:
    url = reverse("admin:imports_importjob_failed_rows", args=[getattr(job_or_id, "pk", job_or_id)])
    return url if file is None else f"{url}?file={file}"


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"))))


class JobFixture(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.peer = user_create(
            email="peer@example.com",
            password="password",
            role=roles.DATA_STEWARD,
            actor=None,
            reason="test",
        )
        problem, row = patient_failure()
        cls.steward_job = make_job(
            cls.steward,
            status=ImportJob.Status.PARTIAL,
            valid_rows_only=True,
            counts={"new": 2, "changed": 0, "unchanged": 0, "invalid": 1, "skipped": 1},
            problems=[problem],
            failed_rows=[row],
        )
        peer_problem, peer_row = patient_failure(row=7, ssn="999-77-77777")
        cls.peer_job = make_job(
            cls.peer,
            status=ImportJob.Status.REFUSED,
            problems=[peer_problem],
            failed_rows=[peer_row],
        )
        problem, row = patient_failure()
        provider_row = failed_row(
            "providers.csv",
            2,
            ["Id", "NAME", "SPECIALITY"],
            ["d-1", "Dr. Who", "-1+2"],
            'Row 2, column SPECIALITY: "-1+2" is not a specialty',
        )
        cls.admin_job = make_job(
            cls.admin,
            files=("patients.csv", "providers.csv"),
            status=ImportJob.Status.REFUSED,
            problems=[problem],
            failed_rows=[row, provider_row],
        )
        cls.system_job = make_job(
            None, source=ImportJob.Source.COMMAND, counts={"new": 5}, message="Done by cron"
        )
        cls.everyone = {cls.steward_job.pk, cls.peer_job.pk, cls.admin_job.pk, cls.system_job.pk}

    def missing_id(self) -> int:
        return max(self.everyone) + 1000


class ImportJobListTests(JobFixture):
    def test_it_lists_only_their_own_jobs_to_a_data_steward(self):
        self.login(self.steward)
        response = self.client.get(reverse("admin:imports_importjob_changelist"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(job_ids(response.text), {self.steward_job.pk})
        self.assertContains(response, f"Import #{self.steward_job.pk}")
        self.assertNotContains(response, "peer@example.com")
        self.assertNotContains(response, "admin@example.com")

    def test_it_lists_every_job_to_auditors_administrators_and_operators(self):
        for user in (self.auditor, self.admin, self.operator):
            with self.subTest(user=user.email):
                self.login(user)
                response = self.client.get(reverse("admin:imports_importjob_changelist"))
                self.assertEqual(response.status_code, 200)
                self.assertEqual(job_ids(response.text), self.everyone)
                self.assertContains(response, "System")  # the command's job

    def test_it_refuses_the_list_to_roles_without_import_jobs(self):
        nobody = UserFactory(email="norole@example.com")
        for user in (self.front_desk, self.alice, self.bob, nobody):
            with self.subTest(user=user.email):
                self.login(user)
                response = self.client.get(reverse("admin:imports_importjob_changelist"))
                self.assertEqual(response.status_code, 403)

    def test_it_sends_an_anonymous_visitor_to_sign_in(self):
        response = self.client.get(reverse("admin:imports_importjob_changelist"))
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("admin:login"), response["Location"])

    def test_it_shows_the_columns_newest_first(self):
        self.login(self.auditor)
        response = self.client.get(reverse("admin:imports_importjob_changelist"))
        html = response.text
        for text in (
            "patients.csv, providers.csv",
            "Refused",
            "badge text-bg-danger",
            "admin@example.com",
        ):
            self.assertIn(text, html)
        order = [int(pk) for pk in re.findall(r'href="[^"]*/importjob/(\d+)/change/', html)]
        self.assertEqual(order, sorted(self.everyone, reverse=True))

    def test_it_filters_and_searches_within_what_the_viewer_sees(self):
        cases = [
            (self.auditor, {"status__exact": "refused"}, {self.peer_job.pk, self.admin_job.pk}),
            (self.auditor, {"source__exact": "command"}, {self.system_job.pk}),
            (self.auditor, {"kind": "Patients"}, self.everyone),
            (self.auditor, {"q": "providers"}, {self.admin_job.pk}),
            (self.auditor, {"q": "peer@example.com"}, {self.peer_job.pk}),
            # A steward's search never reaches another user's jobs.
            (self.steward, {"q": "peer@example.com"}, set()),
            (self.steward, {"q": "patients"}, {self.steward_job.pk}),
            (self.steward, {"status__exact": "refused"}, set()),
        ]
        for user, query, expected in cases:
            with self.subTest(user=user.email, query=query):
                self.login(user)
                response = self.client.get(reverse("admin:imports_importjob_changelist"), query)
                self.assertEqual(response.status_code, 200)
                self.assertEqual(job_ids(response.text), expected)

    def test_it_filters_by_start_date(self):
        started = self.steward_job.started_at
        self.login(self.steward)
        response = self.client.get(
            reverse("admin:imports_importjob_changelist"),
            {"started_at__year": started.year, "started_at__month": started.month},
        )
        self.assertEqual(job_ids(response.text), {self.steward_job.pk})

    def test_it_refuses_lookups_on_stored_cell_values(self):
        # ?failed_rows__icontains=... would read a masked SSN out of the row count.
        self.login(self.steward)
        for lookup in (
            "failed_rows__icontains",
            "problems__icontains",
            "message__icontains",
            "actor__password__startswith",
        ):
            for value in ("999-12", "nothing-like-it"):
                with self.subTest(lookup=lookup, value=value):
                    response = self.client.get(
                        reverse("admin:imports_importjob_changelist"), {lookup: value}
                    )
                    self.assertEqual(response.status_code, 400)

    def test_it_answers_crafted_query_strings_without_a_server_error(self):
        self.login(self.auditor)
        for query in (
            {"started_at__year": "abc"},
            {"started_at__month": "13", "started_at__year": "2024"},
            {"status__exact": "no-such-status"},
            {"o": "99"},
            {"o": "x.-y"},
            {"p": "-1"},
            {"id__in": "1,abc"},
            {"q": '"%_\\'},
        ):
            with self.subTest(query=query):
                response = self.client.get(reverse("admin:imports_importjob_changelist"), query)
                self.assertIn(response.status_code, (200, 302, 400))


class ImportJobPageTests(JobFixture):
    def test_it_shows_a_steward_their_own_job(self):
        self.login(self.steward)
        response = self.client.get(change_url(self.steward_job))
        self.assertEqual(response.status_code, 200)
        job = self.steward_job
        for text in (
            f"Import #{job.pk}",
            "steward@example.com",
            "Admin",  # source
            "Patients",  # kind
            "Valid rows imported, invalid rows skipped",
            "patients.csv",
            job.files[0]["sha256"],
            "Problems</strong> (1)",
            "is not shaped NNN-NN-NNNN",
            "Download failed rows (CSV)",
        ):
            self.assertContains(response, text)
        self.assertNotContains(response, 'name="_save"')  # nothing to save
        history = reverse("admin:imports_importjob_history", args=[job.pk])
        self.assertEqual(self.client.get(history).status_code, 200)

    def test_it_shows_every_job_to_auditors_and_administrators(self):
        for user in (self.auditor, self.admin, self.operator):
            for job in (self.steward_job, self.peer_job, self.admin_job, self.system_job):
                with self.subTest(user=user.email, job=job.pk):
                    self.login(user)
                    response = self.client.get(change_url(job))
                    self.assertEqual(response.status_code, 200)
                    self.assertContains(response, f"Import #{job.pk}")

    def test_it_answers_another_users_job_as_a_missing_one_to_a_steward(self):
        def answer(page, job_id):
            """Where the page sends the steward, and what it says there (id left out)."""
            url = reverse(f"admin:imports_importjob_{page}", args=[job_id])
            response = self.client.get(url, follow=True)
            said = [str(m).replace(str(job_id), "<id>") for m in response.context["messages"]]
            return response.redirect_chain, response.status_code, said

        self.login(self.steward)
        for page in ("change", "history"):
            missing = answer(page, self.missing_id())
            self.assertIn("doesn’t exist", " ".join(missing[2]))
            for job in (self.peer_job, self.admin_job, self.system_job):
                with self.subTest(page=page, job=job.pk):
                    self.assertEqual(answer(page, job.pk), missing)

    def test_it_refuses_a_job_page_to_roles_without_import_jobs_whether_or_not_it_exists(self):
        for user in (self.front_desk, self.alice):
            with self.subTest(user=user.email):
                self.login(user)
                for job_id in (self.steward_job.pk, self.missing_id()):
                    self.assertEqual(self.client.get(change_url(job_id)).status_code, 403)

    def test_it_answers_malformed_ids_without_a_server_error(self):
        self.login(self.steward)
        for job_id in ("abc", "99999999999999999999", "-1", "1.5", "%00"):
            with self.subTest(job_id=job_id):
                base = reverse("admin:imports_importjob_changelist")
                response = self.client.get(f"{base}{job_id}/change/")
                self.assertEqual(response.status_code, 302)
                response = self.client.get(f"{base}{job_id}/failed-rows.csv")
                self.assertEqual(response.status_code, 404)

    def test_it_masks_ssn_values_without_view_ssn(self):
        for user in (self.steward, self.auditor):
            with self.subTest(user=user.email):
                self.login(user)
                job = self.steward_job if user == self.steward else self.admin_job
                response = self.client.get(change_url(job))
                self.assertContains(response, "***-**-3210")
                self.assertNotContains(response, BAD_SSN)

    def test_it_shows_ssn_values_to_holders_of_view_ssn(self):
        for user in (self.admin, self.operator):
            with self.subTest(user=user.email):
                self.login(user)
                response = self.client.get(change_url(self.admin_job))
                self.assertContains(response, BAD_SSN)

    def test_it_pages_a_long_problems_list(self):
        problems = [
            {"file": "p.csv", "row": n, "column": "LAST", "value": f"v{n}", "message": "is bad"}
            for n in range(2, 152)
        ]
        job = make_job(self.steward, status=ImportJob.Status.REFUSED, problems=problems)
        self.login(self.steward)
        first = self.client.get(change_url(job))
        self.assertContains(first, "Problems 1 to 100 of 150.")
        self.assertContains(first, "<code>v101</code>")
        self.assertNotContains(first, "<code>v102</code>")
        second = self.client.get(change_url(job), {"problems_page": "2"})
        self.assertContains(second, "<code>v151</code>")
        self.assertNotContains(second, "<code>v101</code>")
        for page in ("abc", "999", "-3", ""):
            with self.subTest(page=page):
                response = self.client.get(change_url(job), {"problems_page": page})
                self.assertEqual(response.status_code, 200)

    def test_it_says_how_many_problems_were_not_kept(self):
        problems = [
            {"file": "p.csv", "row": n, "column": "LAST", "value": "x", "message": "is bad"}
            for n in range(2, 6)
        ]
        with mock.patch.object(ImportJob, "MAX_STORED_PROBLEMS", 3):
            job = make_job(self.steward, status=ImportJob.Status.REFUSED, problems=problems)
        self.login(self.steward)
        self.assertContains(
            self.client.get(change_url(job)), "The first 3 of 4 problems were kept."
        )

    def test_it_offers_no_download_without_failed_rows(self):
        self.login(self.auditor)
        response = self.client.get(change_url(self.system_job))
        self.assertNotContains(response, "Download failed rows")
        self.assertContains(response, "No problems.")
        self.assertEqual(self.client.get(csv_url(self.system_job)).status_code, 404)


class ImportJobWritesTests(JobFixture):
    def snapshot(self):
        return list(ImportJob.objects.order_by("pk").values())

    def test_nobody_adds_changes_or_deletes_a_job_superusers_included(self):
        before = self.snapshot()
        job = self.steward_job
        crafted = {
            "status": "succeeded",
            "message": "rewritten",
            "kind": "Nothing",
            "actor": str(self.operator.pk),
            "problem_count": "0",
            "_save": "Save",
        }
        for user in (self.operator, self.admin, self.auditor, self.steward):
            with self.subTest(user=user.email):
                self.login(user)
                self.assertEqual(self.client.post(change_url(job), crafted).status_code, 403)
                self.assertEqual(
                    self.client.post(change_url(job), {**crafted, "_saveasnew": "1"}).status_code,
                    403,
                )
                add = reverse("admin:imports_importjob_add")
                self.assertEqual(self.client.get(add).status_code, 403)
                self.assertEqual(self.client.post(add, crafted).status_code, 403)
                delete = reverse("admin:imports_importjob_delete", args=[job.pk])
                self.assertEqual(self.client.get(delete).status_code, 403)
                self.assertEqual(self.client.post(delete, {"post": "yes"}).status_code, 403)
                history = reverse("admin:imports_importjob_history", args=[job.pk])
                self.assertEqual(self.client.post(history, crafted).status_code, 405)
                self.assertEqual(self.client.post(csv_url(job), crafted).status_code, 405)
        self.assertEqual(self.snapshot(), before)

    def test_it_offers_no_save_buttons_or_actions(self):
        self.login(self.operator)
        page = self.client.get(change_url(self.steward_job))
        self.assertNotContains(page, 'name="_save"')
        self.assertNotContains(page, 'name="_continue"')
        changelist = self.client.get(reverse("admin:imports_importjob_changelist"))
        self.assertNotContains(changelist, 'name="action"')
        self.assertNotContains(changelist, reverse("admin:imports_importjob_add"))


class FailedRowsDownloadTests(JobFixture):
    def test_it_gives_a_steward_their_failed_rows_with_the_ssn_masked(self):
        self.login(self.steward)
        response = self.client.get(csv_url(self.steward_job))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        self.assertIn(
            f'attachment; filename="import-{self.steward_job.pk}-failed-rows-patients.csv"',
            response["Content-Disposition"],
        )
        self.assertIn(b"\r\n", response.content)  # RFC 4180 line ends
        self.assertNotIn(BAD_SSN.encode(), response.content)
        self.assertEqual(
            read_csv(response),
            [
                [*PATIENT_HEADERS, "error"],
                [
                    "p-1",
                    "'" + FORMULA,  # neutralized, as in every export
                    "Lee",
                    "***-**-3210",
                    'Row 3, column SSN: "***-**-3210" is not shaped NNN-NN-NNNN',
                ],
            ],
        )

    def test_it_masks_the_ssn_for_auditors(self):
        self.login(self.auditor)
        response = self.client.get(csv_url(self.peer_job))
        self.assertEqual(response.status_code, 200)
        self.assertNotIn(b"999-77-77777", response.content)
        self.assertEqual(read_csv(response)[1][3], "***-**-7777")

    def test_it_shows_the_ssn_to_holders_of_view_ssn(self):
        for user in (self.admin, self.operator):
            with self.subTest(user=user.email):
                self.login(user)
                rows = read_csv(self.client.get(csv_url(self.steward_job)))
                self.assertEqual(rows[1][3], BAD_SSN)
                self.assertIn(f'"{BAD_SSN}"', rows[1][4])

    def test_it_offers_one_file_per_source_file(self):
        self.login(self.auditor)
        page = self.client.get(change_url(self.admin_job))
        for name in ("patients.csv", "providers.csv"):
            self.assertContains(page, f'href="{csv_url(self.admin_job, name)}"')
        providers = read_csv(self.client.get(csv_url(self.admin_job, "providers.csv")))
        self.assertEqual(
            providers,
            [
                ["Id", "NAME", "SPECIALITY", "error"],
                ["d-1", "Dr. Who", "'-1+2", 'Row 2, column SPECIALITY: "-1+2" is not a specialty'],
            ],
        )
        patients = read_csv(self.client.get(csv_url(self.admin_job, "patients.csv")))
        self.assertEqual(patients[0], [*PATIENT_HEADERS, "error"])
        self.assertEqual(len(patients), 2)

    def test_it_refuses_unknown_or_missing_file_names(self):
        self.login(self.auditor)
        for file in ("nope.csv", "", "../patients.csv", "PATIENTS.CSV"):
            with self.subTest(file=file):
                self.assertEqual(self.client.get(csv_url(self.admin_job, file)).status_code, 404)
        # Two files: which one must be said.
        self.assertEqual(self.client.get(csv_url(self.admin_job)).status_code, 404)

    def test_it_answers_another_users_job_as_a_missing_one(self):
        self.login(self.steward)
        for job_id in (self.peer_job.pk, self.admin_job.pk, self.missing_id()):
            for file in (None, "patients.csv"):
                with self.subTest(job=job_id, file=file):
                    response = self.client.get(csv_url(job_id, file))
                    self.assertEqual(response.status_code, 404)
                    self.assertNotIn(b"999-", response.content)

    def test_it_refuses_the_download_to_roles_without_import_jobs(self):
        for user in (self.front_desk, self.alice):
            with self.subTest(user=user.email):
                self.login(user)
                for job_id in (self.steward_job.pk, self.missing_id()):
                    self.assertEqual(self.client.get(csv_url(job_id)).status_code, 403)
        self.client.logout()
        response = self.client.get(csv_url(self.steward_job))
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("admin:login"), response["Location"])

    def test_it_masks_a_column_named_in_the_setting(self):
        self.login(self.steward)
        with self.settings(IMPORT_SENSITIVE_COLUMNS={"last": "clinic.view_ssn"}):
            rows = read_csv(self.client.get(csv_url(self.steward_job)))
        self.assertEqual(rows[1][2:4], ["***-**-****", BAD_SSN])


class RecordsChangedTests(JobFixture):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.imported = [
            services.patient_save(
                patient=Patient(
                    external_id=f"ext-job-{n}",
                    first_name="Ivy",
                    last_name=f"Imported{n}",
                    birth_date="1990-01-02",
                    gender="F",
                ),
                actor=cls.steward,
                reason=cls.steward_job.reason,
            )
            for n in range(2)
        ]

    def test_it_links_each_record_the_job_changed_to_its_history(self):
        for user in (self.steward, self.auditor, self.admin):
            with self.subTest(user=user.email):
                self.login(user)
                response = self.client.get(change_url(self.steward_job))
                self.assertContains(response, "Patients: 2 history rows")
                for patient in self.imported:
                    url = reverse("admin:clinic_patient_history", args=[patient.pk])
                    self.assertContains(response, f'href="{url}"')
                    self.assertContains(response, str(patient))

    def test_it_counts_rows_whose_reason_adds_a_note_but_not_another_jobs(self):
        confirmed = services.patient_save(
            patient=Patient(
                external_id="ext-job-dup",
                first_name="Ivy",
                last_name="Imported0",  # a likely duplicate of the first imported patient
                birth_date="1990-01-02",
                gender="F",
            ),
            actor=self.steward,
            reason=self.steward_job.reason,
            confirmed_not_duplicate=True,
        )
        services.patient_save(
            patient=Patient(
                external_id="ext-job-other",
                first_name="Oz",
                last_name="Other",
                birth_date="1990-01-03",
                gender="F",
            ),
            actor=self.steward,
            reason=f"{self.steward_job.reason}0",  # "Import #10" is another job
        )
        self.assertIn("(confirmed not a duplicate", confirmed.history.get().history_change_reason)

        self.login(self.auditor)
        response = self.client.get(change_url(self.steward_job))

        self.assertContains(response, "Patients: 3 history rows")

    def test_it_lists_nothing_for_a_job_that_changed_nothing(self):
        self.login(self.auditor)
        response = self.client.get(change_url(self.admin_job))
        self.assertContains(response, "No records were changed.")

    def test_it_shows_only_the_count_to_a_viewer_who_may_not_view_the_model(self):
        reader = UserFactory(email="jobs-only@example.com")
        reader.user_permissions.add(
            *Permission.objects.filter(
                content_type__app_label="imports",
                codename__in=["view_importjob", "view_all_importjobs"],
            )
        )
        self.login(reader)
        response = self.client.get(change_url(self.steward_job))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Patients: 2 history rows")
        self.assertNotContains(response, "Imported0")
        for patient in self.imported:
            url = reverse("admin:clinic_patient_history", args=[patient.pk])
            self.assertNotContains(response, url)

    def test_it_caps_the_list_and_counts_the_rest(self):
        self.login(self.steward)
        with mock.patch.object(job_admin, "RECORDS_CHANGED_CAP", 1):
            response = self.client.get(change_url(self.steward_job))
        self.assertContains(response, "Imported0")
        self.assertNotContains(response, "Imported1")
        self.assertContains(response, "and 1 more")


class ImportJobRolesTests(JobFixture):
    def test_each_role_holds_what_it_needs(self):
        self.assertTrue(self.steward.has_perm("imports.view_importjob"))
        self.assertFalse(self.steward.has_perm("imports.view_all_importjobs"))
        for user in (self.auditor, self.admin):
            self.assertTrue(user.has_perm("imports.view_importjob"), user.email)
            self.assertTrue(user.has_perm("imports.view_all_importjobs"), user.email)
        for user in (self.front_desk, self.alice):
            self.assertFalse(user.has_perm("imports.view_importjob"), user.email)
