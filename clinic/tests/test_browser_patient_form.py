"""In Chromium: on the patient form each name and date label stands by its own box, at
laptop and at tablet width (issue 8: the name row wrapped, and "Last name *" sat beside
the middle-name box)."""

import pytest

from admin_ext.testing import PASSWORD
from admin_ext.tests.browser import expect, field, login, screenshot

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = ["first_name", "middle_name", "last_name", "birth_date", "death_date"]
#: The widest gap (px) between a label and its box on the same line.
GAP = 200


def label_by_its_box(page, name: str) -> bool:
    """Whether the label of the input ``name`` reads as that box's label: right above it
    (ending above it, overlapping it sideways) or right before it on the same line."""
    box = field(page, name).bounding_box()
    label = page.locator(f'label[for="id_{name}"]').bounding_box()

    def overlap(a, b, start, size):
        return a[start] < b[start] + b[size] and b[start] < a[start] + a[size]

    above = label["y"] + label["height"] <= box["y"] + 1 and overlap(label, box, "x", "width")
    before = (
        overlap(label, box, "y", "height") and 0 <= box["x"] - (label["x"] + label["width"]) <= GAP
    )
    return above or before


@pytest.mark.parametrize("width", [1366, 768])
def test_each_label_stands_by_its_own_box(page, personas, width):
    page.set_viewport_size({"width": width, "height": 900})
    login(page, personas.front_desk.email, PASSWORD)

    page.goto("/admin/clinic/patient/add/")
    expect(field(page, "last_name")).to_be_visible()

    misplaced = [name for name in FIELDS if not label_by_its_box(page, name)]
    assert misplaced == []
    screenshot(page, f"patient-form-{width}")
