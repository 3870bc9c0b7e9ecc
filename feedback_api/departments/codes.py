"""The department codes: stable identifiers (DESIGN.md "Departments of the province").

Names, mandates and liaisons are configuration in the database (seeded from ``seed.json``);
the codes are not, and two of them have a role in the lifecycle. Every code used in the tree
(seed, routing examples and keywords, the law table of ``knowledge``) is one of ``KNOWN``
(tests/feedback_api/test_department_codes.py).
"""

from __future__ import annotations

CENTRAL = "van-phong-ubnd"  # Văn phòng UBND tỉnh: central intake, triage, overdue escalation
INSPECTORATE = "thanh-tra"  # Thanh tra tỉnh: formal complaints and denunciations

KNOWN = (
    CENTRAL,
    "noi-vu",
    "tai-chinh",
    "tu-phap",
    "cong-thuong",
    "nong-nghiep-moi-truong",
    "xay-dung",
    "giao-duc",
    "y-te",
    "khoa-hoc-cong-nghe",
    "van-hoa-the-thao-du-lich",
    "dan-toc-ton-giao",
    INSPECTORATE,
    "cong-an",
)
