"""Hải Phòng 2021: the published figures and the illustrative projects that reproduce them.

Published (Cổng TTĐT Hải Phòng, 25 June 2021; ``shared/seeds/003_*``): public investment
disbursed to 20 June 2021 was "hơn 4.600 tỷ đồng", 33.8% of the plan assigned by the city and
63.1% of the plan assigned by the Prime Minister. The plan totals (7,295 and 13,620 billion VND)
are the demo's denominators, consistent with those rates.

Everything else is illustrative: the split of each plan by capital source, the projects, their
investors, amounts and dates, contractors and decision numbers (all marked ``DEMO-``). Only the
aggregates above are meant to match a published report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

CENTRAL = "central_budget"
LOCAL = "local_budget"
LAND = "land_use_revenue"
OTHER = "other"

JURISDICTION = "HP"
YEAR = 2021
#: The date of the published figures: every cash movement of the scenario is dated up to it.
AS_OF = date(2021, 6, 20)
#: "hơn 4.600 tỷ đồng" disbursed to 20 June 2021; the demo's exact figure, in million VND.
DISBURSED_TO_AS_OF_MILLION = 4_603_180

CITY_ISSUER = "UBND thành phố Hải Phòng"


@dataclass(frozen=True)
class PlanSpec:
    code: str
    title: str
    authority: str
    envelopes_bn: dict[str, int]
    decision_no: str
    decision_date: date
    decision_issuer: str
    effective_on: date
    implements: str | None = None


#: 7,295 billion VND assigned by the Prime Minister (split by source: illustrative).
PM_PLAN = PlanSpec(
    code="HP-KHV-2021-TTG",
    title="Kế hoạch đầu tư vốn ngân sách nhà nước năm 2021 của thành phố Hải Phòng "
    "do Thủ tướng Chính phủ giao",
    authority="prime_minister",
    envelopes_bn={CENTRAL: 1_446, LOCAL: 5_849},
    decision_no="DEMO-01/QĐ-TTg",
    decision_date=date(2020, 11, 28),
    decision_issuer="Thủ tướng Chính phủ",
    effective_on=date(2021, 1, 1),
)

#: 13,620 billion VND assigned by the city: the PM-assigned capital plus local sources.
CITY_PLAN = PlanSpec(
    code="HP-KHV-2021-HDND",
    title="Kế hoạch đầu tư công năm 2021 thành phố Hải Phòng (HĐND thành phố giao)",
    authority="provincial_council",
    envelopes_bn={CENTRAL: 1_446, LOCAL: 5_849, LAND: 5_400, OTHER: 925},
    decision_no="DEMO-02/NQ-HĐND",
    decision_date=date(2020, 12, 9),
    decision_issuer="HĐND thành phố Hải Phòng",
    effective_on=date(2021, 1, 1),
    implements=PM_PLAN.code,
)

INVESTORS: dict[str, str] = {
    "HP-BQLDA-GT": "Ban Quản lý dự án đầu tư xây dựng các công trình giao thông thành phố",
    "HP-BQLDA-DDCN": "Ban Quản lý dự án đầu tư xây dựng các công trình dân dụng và công nghiệp "
    "thành phố",
    "HP-BQLDA-NN": "Ban Quản lý dự án đầu tư xây dựng các công trình nông nghiệp và phát triển "
    "nông thôn thành phố",
    "HP-SYT": "Sở Y tế thành phố Hải Phòng",
    "HP-UBND-HONGBANG": "UBND quận Hồng Bàng",
    "HP-UBND-LECHAN": "UBND quận Lê Chân",
    "HP-UBND-NGOQUYEN": "UBND quận Ngô Quyền",
    "HP-UBND-HAIAN": "UBND quận Hải An",
    "HP-UBND-DUONGKINH": "UBND quận Dương Kinh",
    "HP-UBND-THUYNGUYEN": "UBND huyện Thủy Nguyên",
    "HP-UBND-ANDUONG": "UBND huyện An Dương",
    "HP-UBND-ANLAO": "UBND huyện An Lão",
    "HP-UBND-KIENTHUY": "UBND huyện Kiến Thụy",
    "HP-UBND-TIENLANG": "UBND huyện Tiên Lãng",
    "HP-UBND-VINHBAO": "UBND huyện Vĩnh Bảo",
    "HP-UBND-CATHAI": "UBND huyện Cát Hải",
}

PROGRAM_TRANSPORT = "Phát triển kết cấu hạ tầng giao thông"
PROGRAM_URBAN = "Chỉnh trang, phát triển đô thị"
PROGRAM_RURAL = "Xây dựng nông thôn mới"
PROGRAM_DISASTER = "Phòng, chống thiên tai, thích ứng với biến đổi khí hậu"
PROGRAM_SOCIAL = "Phát triển hạ tầng xã hội"
PROGRAM_STATE = "Trụ sở cơ quan quản lý nhà nước"

CONTRACTORS = (
    "Công ty CP Xây dựng công trình Duyên Hải",
    "Công ty TNHH Xây lắp Hải Long",
    "Liên danh Bạch Long – Đông Phong",
    "Công ty CP Đầu tư và Xây dựng Cửa Cấm",
    "Công ty CP Công trình thủy Lạch Tray",
    "Công ty TNHH Xây dựng Minh Tâm",
    "Liên danh Hưng Phát – Trường Sơn",
    "Công ty CP Tư vấn và Xây dựng Vĩnh Bảo",
)


@dataclass(frozen=True)
class HpProject:
    """An illustrative project of the city's 2021 plan.

    ``allocation_bn`` is what the city allocates at the start of the year (or late, for the
    late project), primary source first: the primary line is paid through a works contract, the
    others through payments without contract (site clearance, compensation). ``pace`` is how
    fast the project disburses relative to the others (percent of its capital, before scaling to
    the published total).
    """

    code: str
    name: str
    investor: str
    program: str
    sector: str
    total_investment_bn: int
    allocation_bn: tuple[tuple[str, int], ...]
    pace: int


def _p(
    code: str,
    name: str,
    investor: str,
    program: str,
    sector: str,
    total_bn: int,
    allocation_bn: tuple[tuple[str, int], ...],
    pace: int,
) -> HpProject:
    return HpProject(code, name, investor, program, sector, total_bn, allocation_bn, pace)


GT, DDCN, NN = "HP-BQLDA-GT", "HP-BQLDA-DDCN", "HP-BQLDA-NN"

PROJECTS: tuple[HpProject, ...] = (
    _p("HP21-001", "Xây dựng tuyến đường ven biển đoạn Đồ Sơn – Kiến Thụy", GT,
       PROGRAM_TRANSPORT, "transport", 4_200, ((CENTRAL, 600), (LOCAL, 600)), 40),
    _p("HP21-002", "Xây dựng cầu vượt sông Cấm nối huyện Thủy Nguyên với trung tâm thành phố",
       GT, PROGRAM_TRANSPORT, "transport", 3_800, ((CENTRAL, 420), (LAND, 450)), 42),
    _p("HP21-003", "Cải tạo, mở rộng đường Lạch Tray đoạn Văn Cao – Lê Hồng Phong", GT,
       PROGRAM_TRANSPORT, "transport", 1_650, ((LOCAL, 520),), 45),
    _p("HP21-004", "Xây dựng đường trục trung tâm khu đô thị mới Bắc sông Cấm", GT,
       PROGRAM_TRANSPORT, "transport", 4_600, ((LAND, 1_050), (LOCAL, 430)), 30),
    _p("HP21-005", "Nâng cấp đường tỉnh 354 đoạn Tiên Lãng – Vĩnh Bảo", GT,
       PROGRAM_TRANSPORT, "transport", 1_280, ((CENTRAL, 226), (LOCAL, 160)), 38),
    _p("HP21-006", "Nâng cấp đường tỉnh 362 đoạn An Lão – Kiến Thụy", GT,
       PROGRAM_TRANSPORT, "transport", 960, ((LOCAL, 260),), 36),
    _p("HP21-007", "Xây dựng nút giao khác mức Nguyễn Văn Linh – Hồ Sen", GT,
       PROGRAM_TRANSPORT, "transport", 1_450, ((LOCAL, 480),), 52),
    _p("HP21-008", "Mở rộng đường Hồ Sen – Cầu Rào 2 đoạn qua quận Lê Chân", GT,
       PROGRAM_TRANSPORT, "transport", 1_720, ((LAND, 430),), 10),
    _p("HP21-009", "Xây dựng cầu qua sông Đa Độ, huyện Kiến Thụy", GT,
       PROGRAM_TRANSPORT, "transport", 720, ((LOCAL, 190),), 35),
    _p("HP21-010", "Cải tạo, kéo dài đường Thiên Lôi – Võ Nguyên Giáp", GT,
       PROGRAM_TRANSPORT, "transport", 1_180, ((LAND, 280),), 85),
    _p("HP21-011", "Củng cố, nâng cấp đê biển I đoạn qua quận Đồ Sơn", NN,
       PROGRAM_DISASTER, "dyke_irrigation", 820, ((CENTRAL, 200), (LOCAL, 60)), 42),
    _p("HP21-012", "Nạo vét, kiên cố hóa hệ thống thủy nông Đa Độ", NN,
       PROGRAM_DISASTER, "dyke_irrigation", 560, ((LOCAL, 150),), 30),
    _p("HP21-013", "Cải tạo trạm bơm tiêu Cổ Am, huyện Vĩnh Bảo", NN,
       PROGRAM_DISASTER, "dyke_irrigation", 260, ((LOCAL, 80),), 45),
    _p("HP21-014", "Kè chống sạt lở bờ sông Văn Úc đoạn qua huyện Tiên Lãng", NN,
       PROGRAM_DISASTER, "dyke_irrigation", 410, ((LOCAL, 110),), 36),
    _p("HP21-015", "Chỉnh trang vỉa hè, hệ thống chiếu sáng các tuyến phố quận Hồng Bàng",
       "HP-UBND-HONGBANG", PROGRAM_URBAN, "urban_development", 340, ((LAND, 140),), 50),
    _p("HP21-016", "Cải tạo hồ Tiên Nga và không gian công cộng xung quanh, quận Lê Chân",
       "HP-UBND-LECHAN", PROGRAM_URBAN, "urban_development", 460, ((LAND, 180),), 28),
    _p("HP21-017", "Xây dựng công viên cây xanh phường Đằng Giang, quận Ngô Quyền",
       "HP-UBND-NGOQUYEN", PROGRAM_URBAN, "urban_development", 240, ((LAND, 100),), 40),
    _p("HP21-018", "Cải tạo hệ thống thoát nước khu vực Cát Bi, quận Hải An",
       "HP-UBND-HAIAN", PROGRAM_URBAN, "urban_development", 390, ((LOCAL, 130),), 35),
    _p("HP21-019", "Xây dựng bãi đỗ xe tập trung phường Máy Chai, quận Ngô Quyền",
       "HP-UBND-NGOQUYEN", PROGRAM_URBAN, "urban_development", 260, ((LAND, 90),), 0),
    _p("HP21-020", "Cải tạo, chỉnh trang khu phố cổ Tam Bạc", "HP-UBND-HONGBANG",
       PROGRAM_URBAN, "urban_development", 650, ((LAND, 240),), 30),
    _p("HP21-021", "Nâng cấp đường trục xã Hoa Động – Lập Lễ, huyện Thủy Nguyên",
       "HP-UBND-THUYNGUYEN", PROGRAM_RURAL, "transport", 330, ((LOCAL, 125),), 52),
    _p("HP21-022", "Nâng cấp đường liên xã An Hưng – Đại Bản, huyện An Dương",
       "HP-UBND-ANDUONG", PROGRAM_RURAL, "transport", 280, ((LOCAL, 105),), 48),
    _p("HP21-023", "Xây dựng hệ thống cấp nước sạch liên xã huyện Tiên Lãng",
       "HP-UBND-TIENLANG", PROGRAM_RURAL, "water_supply", 230, ((OTHER, 130),), 44),
    _p("HP21-024", "Cứng hóa đường giao thông nông thôn huyện Kiến Thụy", "HP-UBND-KIENTHUY",
       PROGRAM_RURAL, "transport", 190, ((OTHER, 110),), 65),
    _p("HP21-025", "Cải tạo hệ thống kênh mương nội đồng huyện An Lão", "HP-UBND-ANLAO",
       PROGRAM_RURAL, "dyke_irrigation", 150, ((OTHER, 70),), 58),
    _p("HP21-026", "Xây dựng Trường THPT quận Dương Kinh", DDCN, PROGRAM_SOCIAL, "education",
       290, ((LOCAL, 120),), 54),
    _p("HP21-027", "Cải tạo, mở rộng Trường THPT Kiến An", DDCN, PROGRAM_SOCIAL, "education",
       150, ((LOCAL, 65),), 50),
    _p("HP21-028", "Xây dựng Trường mầm non Quán Toan, quận Hồng Bàng", "HP-UBND-HONGBANG",
       PROGRAM_SOCIAL, "education", 85, ((OTHER, 45),), 62),
    _p("HP21-029", "Xây dựng Trường THCS Tân Hưng, huyện Vĩnh Bảo", "HP-UBND-VINHBAO",
       PROGRAM_SOCIAL, "education", 95, ((OTHER, 50),), 57),
    _p("HP21-030", "Xây dựng Bệnh viện Phụ sản thành phố cơ sở 2", DDCN, PROGRAM_SOCIAL,
       "health", 1_100, ((LOCAL, 300), (LAND, 130)), 44),
    _p("HP21-031", "Cải tạo, nâng cấp Trung tâm Y tế huyện Vĩnh Bảo", DDCN, PROGRAM_SOCIAL,
       "health", 230, ((LOCAL, 90),), 46),
    _p("HP21-032", "Xây dựng khoa Truyền nhiễm, Bệnh viện Hữu nghị Việt Tiệp", DDCN,
       PROGRAM_SOCIAL, "health", 400, ((LOCAL, 160),), 66),
    _p("HP21-033", "Mua sắm trang thiết bị phòng, chống dịch Covid-19 cho Trung tâm Kiểm soát "
       "bệnh tật thành phố", "HP-SYT", PROGRAM_SOCIAL, "health", 160, ((LOCAL, 95),), 70),
    _p("HP21-034", "Xây dựng Nhà hát thành phố Hải Phòng", DDCN, PROGRAM_SOCIAL,
       "culture_sports", 1_900, ((LAND, 480), (LOCAL, 250)), 40),
    _p("HP21-035", "Tu bổ, tôn tạo khu di tích lịch sử Bạch Đằng Giang, huyện Thủy Nguyên",
       "HP-UBND-THUYNGUYEN", PROGRAM_SOCIAL, "culture_sports", 350, ((OTHER, 180),), 35),
    _p("HP21-036", "Xây dựng Trung tâm Chính trị – Hành chính thành phố tại Bắc sông Cấm", DDCN,
       PROGRAM_STATE, "public_administration", 6_200, ((LAND, 1_650), (LOCAL, 1_250)), 32),
    _p("HP21-037", "Xây dựng trụ sở UBND huyện Cát Hải", "HP-UBND-CATHAI", PROGRAM_STATE,
       "public_administration", 210, ((OTHER, 120),), 30),
    _p("HP21-038", "Xây dựng Trung tâm văn hóa – thể thao quận Dương Kinh",
       "HP-UBND-DUONGKINH", PROGRAM_SOCIAL, "culture_sports", 190, ((OTHER, 110),), 50),
)  # fmt: skip


@dataclass(frozen=True)
class Storyline:
    """Which projects play which part in the year's story, and the movements' amounts."""

    #: Slow (site clearance); part of its capital is moved to a project that disburses well.
    slow: str = "HP21-008"
    fast: str = "HP21-010"
    transfer_source: str = LAND
    transfer_bn: int = 150
    transfer_on: date = date(2021, 5, 25)
    #: Cannot be implemented: its allocation is cut and the project terminated.
    cut: str = "HP21-019"
    cut_on: date = date(2021, 6, 15)
    #: Under handling of investment violations: payments stop after April.
    violation: str = "HP21-037"
    violation_on: date = date(2021, 5, 18)
    #: A new, urgent project allocated in April (late allocation is a signal).
    late: str = "HP21-033"
    late_registered_on: date = date(2021, 4, 5)
    late_allocated_on: date = date(2021, 4, 15)
    #: A works payment first booked against the wrong capital source, then corrected.
    corrected: str = "HP21-030"
    wrong_source: str = LAND
    #: Moved from the district to the city's civil works board.
    new_investor: tuple[str, str] = ("HP21-017", DDCN)
    new_investor_on: date = date(2021, 3, 1)
    #: Finished and in use in June.
    completed: str = "HP21-028"
    completed_on: date = date(2021, 6, 18)


STORY = Storyline()
