"""bench.synthea_data: the same seed gives the same bytes, and what it writes imports."""

import io

import pytest
from django.conf import settings
from django.core.management import call_command

from bench import synthea_data
from clinic.models import Doctor, Organization, Patient

REAL_SET = settings.BASE_DIR.parent / "shared" / "data" / "synthea" / "yael-icu-2025"


def folder_bytes(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_it_writes_the_same_bytes_for_the_same_seed(tmp_path):
    first = synthea_data.write(tmp_path / "a", 120, seed=7)
    second = synthea_data.write(tmp_path / "b", 120, seed=7)

    assert first == second
    assert folder_bytes(tmp_path / "a") == folder_bytes(tmp_path / "b")
    other = synthea_data.write(tmp_path / "c", 120, seed=8)
    assert other["files"]["patients.csv"]["sha256"] != first["files"]["patients.csv"]["sha256"]


def test_it_reuses_a_folder_whose_manifest_matches_and_rewrites_any_other(tmp_path):
    folder = synthea_data.ensure(20, seed=7, root=tmp_path)
    written = (folder / "patients.csv").stat().st_mtime_ns

    assert synthea_data.ensure(20, seed=7, root=tmp_path) == folder
    assert (folder / "patients.csv").stat().st_mtime_ns == written
    synthea_data.ensure(20, seed=8, root=tmp_path)
    assert synthea_data.read_manifest(folder)["seed"] == 8


@pytest.mark.skipif(not REAL_SET.is_dir(), reason=f"no real Synthea set at {REAL_SET}")
def test_it_writes_the_headers_of_current_synthea(tmp_path):
    folder = tmp_path / "set"
    synthea_data.write(folder, 10)

    for name in synthea_data.FILES:
        with (
            open(REAL_SET / name, encoding="utf-8") as real,
            open(folder / name, encoding="utf-8") as ours,
        ):
            assert ours.readline() == real.readline(), name


@pytest.mark.django_db
def test_it_writes_a_folder_that_import_synthea_imports_whole(tmp_path):
    folder = synthea_data.ensure(50, root=tmp_path)

    call_command("import_synthea", str(folder), stdout=io.StringIO())

    manifest = synthea_data.read_manifest(folder)
    assert Organization.objects.count() == manifest["organizations"] == 1
    assert Doctor.objects.count() == manifest["providers"] == 1
    assert Patient.objects.count() == 50
    assert not Patient.objects.filter(primary_doctor__isnull=True).exists()
    assert Patient.objects.filter(status=Patient.Status.DECEASED).exists()
