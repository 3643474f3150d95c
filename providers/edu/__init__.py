"""The degree registry (กระทรวงการอุดมศึกษาฯ): degrees conferred by Thai universities, by holder."""

from __future__ import annotations

from linkage.ids import IdKind
from providers.registry import RECORD_INDEX, RECORD_TABLE, Registry, doc_type, field, record_query

__all__ = ["REGISTRY"]

_DEGREE = doc_type("edu.degree", "ข้อมูลวุฒิการศึกษา", "Degrees held", IdKind.CITIZEN, [
    field("personal_id", "เลขประจำตัวประชาชน", "Personal ID"),
    field("name_th", "ชื่อ-ชื่อสกุล", "Name (Thai)"),
    field("name_en", "ชื่อ-ชื่อสกุล (อังกฤษ)", "Name"),
    field("degrees", "วุฒิการศึกษา", "Degrees (institution, degree, major, conferred date)", "array"),
])

REGISTRY = Registry(
    name="edu",
    member="TH/GOV/MHESI/degree-registry",
    title_th="กระทรวงการอุดมศึกษา วิทยาศาสตร์ วิจัยและนวัตกรรม — ทะเบียนวุฒิการศึกษา",
    title_en="Ministry of Higher Education, Science, Research and Innovation — degree registry",
    doc_types={"edu.degree": _DEGREE},
    queries={"edu.degree": record_query("edu.degree")},
    schema=(RECORD_TABLE,),
    indexes=(RECORD_INDEX,),
)
