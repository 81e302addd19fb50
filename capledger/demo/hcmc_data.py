"""Ho Chi Minh City, medium-term plan 2016–2020: the published figures and illustrative names.

Published (Sở Kế hoạch và Đầu tư TP.HCM, ``shared/seeds/000_*``): capital planned 135,601
billion VND; completed and in use: 24 projects of the traffic-congestion program (total
investment 5,018 billion), 60 transport projects (6,174 billion), 44 flood-control projects
(5,453 billion), 57 culture and sports projects (3,558 billion), 55 health projects and 6,168
classrooms.

Not published, so assumed by the demo: the total investment of the health projects and of the
school projects, how many school projects hold the 6,168 classrooms, the plan's capital source
(booked as local budget), and every name, investor, date and decision number (``DEMO-``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

JURISDICTION = "HCM"
ISSUER = "UBND Thành phố Hồ Chí Minh"
SOURCE = "local_budget"


@dataclass(frozen=True)
class MediumTermPlanSpec:
    code: str
    title: str
    start_year: int
    envelope_bn: int
    decision_no: str
    decision_date: date
    decision_issuer: str
    effective_on: date


PLAN = MediumTermPlanSpec(
    code="HCM-TH-2016-2020",
    title="Kế hoạch đầu tư công trung hạn giai đoạn 2016 – 2020 của Thành phố Hồ Chí Minh",
    start_year=2016,
    envelope_bn=135_601,
    decision_no="DEMO-01/NQ-HĐND",
    decision_date=date(2016, 12, 8),
    decision_issuer="HĐND Thành phố Hồ Chí Minh",
    effective_on=date(2016, 12, 8),
)

#: (code suffix, name) of the city's 24 districts in 2016–2020.
DISTRICTS: tuple[tuple[str, str], ...] = (
    ("Q1", "Quận 1"), ("Q2", "Quận 2"), ("Q3", "Quận 3"), ("Q4", "Quận 4"),
    ("Q5", "Quận 5"), ("Q6", "Quận 6"), ("Q7", "Quận 7"), ("Q8", "Quận 8"),
    ("Q9", "Quận 9"), ("Q10", "Quận 10"), ("Q11", "Quận 11"), ("Q12", "Quận 12"),
    ("BINHTHANH", "quận Bình Thạnh"), ("GOVAP", "quận Gò Vấp"),
    ("PHUNHUAN", "quận Phú Nhuận"), ("TANBINH", "quận Tân Bình"), ("TANPHU", "quận Tân Phú"),
    ("BINHTAN", "quận Bình Tân"), ("THUDUC", "quận Thủ Đức"),
    ("BINHCHANH", "huyện Bình Chánh"), ("HOCMON", "huyện Hóc Môn"), ("CUCHI", "huyện Củ Chi"),
    ("NHABE", "huyện Nhà Bè"), ("CANGIO", "huyện Cần Giờ"),
)  # fmt: skip

STREETS: tuple[str, ...] = (
    "Nguyễn Hữu Cảnh", "Phạm Văn Đồng", "Nguyễn Văn Linh", "Võ Văn Kiệt", "Cộng Hòa",
    "Trường Chinh", "Phan Đăng Lưu", "Lê Văn Việt", "Kinh Dương Vương", "Hương lộ 2",
    "Lương Định Của", "Nguyễn Thị Định", "Đồng Văn Cống", "Tân Sơn Nhì", "Lũy Bán Bích",
    "Âu Cơ", "Hoàng Văn Thụ", "Nguyễn Oanh", "Quang Trung", "Lê Đức Thọ", "Nguyễn Văn Quá",
    "Tô Ký", "Hà Huy Giáp", "Quốc lộ 50", "Nguyễn Hữu Thọ", "Huỳnh Tấn Phát", "Lê Văn Lương",
    "Phạm Thế Hiển", "Tạ Quang Bửu", "Bình Long", "Tỉnh lộ 10", "Tỉnh lộ 15",
    "Nguyễn Duy Trinh", "Đỗ Xuân Hợp", "Lã Xuân Oai", "Nguyễn Xiển", "Hiệp Bình",
    "Kha Vạn Cân", "Tô Ngọc Vân", "Bùi Văn Ba", "Trần Xuân Soạn", "Nguyễn Văn Hưởng",
    "Trần Não", "Dương Quảng Hàm", "Phan Văn Trị",
)  # fmt: skip

INVESTORS: dict[str, str] = {
    "HCM-BQLDA-GT": "Ban Quản lý dự án đầu tư xây dựng các công trình giao thông thành phố",
    "HCM-BQLDA-HTDT": "Ban Quản lý dự án đầu tư xây dựng hạ tầng đô thị thành phố",
    "HCM-BQLDA-DDCN": "Ban Quản lý dự án đầu tư xây dựng các công trình dân dụng và công "
    "nghiệp thành phố",
}


def district_investor(suffix: str) -> str:
    return f"HCM-UBND-{suffix}"


@dataclass(frozen=True)
class GroupSpec:
    """Projects of one program or sector, completed and in use by the end of 2020.

    Names combine ``templates`` with ``places`` (streets or districts). ``investor`` None means
    the district's People's Committee is the investor.
    """

    key: str
    program: str
    sector: str
    count: int
    total_bn: int
    published_total: bool
    templates: tuple[str, ...]
    on_streets: bool
    investor: str | None
    classrooms: int | None = None


PROGRAM_CONGESTION = "Chương trình giảm ùn tắc giao thông, tai nạn giao thông"
PROGRAM_FLOODING = "Chương trình giảm ngập nước"
NO_PROGRAM = ""

GROUPS: tuple[GroupSpec, ...] = (
    GroupSpec(
        key="UT", program=PROGRAM_CONGESTION, sector="transport", count=24, total_bn=5_018,
        published_total=True, on_streets=True, investor="HCM-BQLDA-GT",
        templates=("Cải tạo, mở rộng nút giao {p}", "Xây dựng cầu vượt thép tại nút giao {p}",
                   "Tổ chức lại giao thông, mở rộng mặt đường {p}"),
    ),
    GroupSpec(
        key="GT", program=NO_PROGRAM, sector="transport", count=60, total_bn=6_174,
        published_total=True, on_streets=True, investor="HCM-BQLDA-GT",
        templates=("Nâng cấp, mở rộng đường {p}", "Xây dựng cầu trên tuyến đường {p}"),
    ),
    GroupSpec(
        key="CN", program=PROGRAM_FLOODING, sector="flood_control", count=44, total_bn=5_453,
        published_total=True, on_streets=True, investor="HCM-BQLDA-HTDT",
        templates=("Cải tạo hệ thống thoát nước đường {p}",
                   "Xây dựng tuyến cống, nâng cốt nền đường {p}"),
    ),
    GroupSpec(
        key="VH", program=NO_PROGRAM, sector="culture_sports", count=57, total_bn=3_558,
        published_total=True, on_streets=False, investor=None,
        templates=("Xây dựng nhà văn hóa thiếu nhi {p}",
                   "Cải tạo, nâng cấp trung tâm thể dục thể thao {p}",
                   "Xây dựng trung tâm văn hóa {p}"),
    ),
    GroupSpec(
        key="YT", program=NO_PROGRAM, sector="health", count=55, total_bn=4_350,
        published_total=False, on_streets=False, investor="HCM-BQLDA-DDCN",
        templates=("Xây dựng mới Trung tâm Y tế {p}", "Nâng cấp, mở rộng Bệnh viện {p}",
                   "Xây dựng khu điều trị kỹ thuật cao Bệnh viện {p}"),
    ),
    GroupSpec(
        key="GD", program=NO_PROGRAM, sector="education", count=72, total_bn=7_100,
        published_total=False, on_streets=False, investor=None, classrooms=6_168,
        templates=("Xây dựng mới trường tiểu học tại {p}",
                   "Xây dựng mới trường trung học cơ sở tại {p}",
                   "Sửa chữa, nâng cấp các trường mầm non {p}"),
    ),
)  # fmt: skip

#: How the school projects' names carry their classrooms (the domain has no field for outputs).
CLASSROOMS_SUFFIX = "({count} phòng học)"
