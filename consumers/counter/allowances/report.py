"""A payment run's report, Thai first with English beside it: for the command line (text or JSON). IDs are masked
(the application number traces each line to its application and the printouts it was decided on)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from consumers.counter.allowances.decide import REASONS
from consumers.counter.allowances.run import RunReport
from consumers.counter.display import masked_id

__all__ = ["report_json", "report_text"]

_SENT = {"settled": ("ระบบชำระเงินรับชุดและโอนแล้ว", "settled by the payment switch"),
         "unreachable": ("ติดต่อระบบชำระเงินไม่ได้ ชุดยังรอส่ง จะส่งอีกครั้งในการสั่งจ่ายครั้งถัดไป",
                         "the payment switch could not be reached; the batch waits and is sent by the next run"),
         "bad_settlement": ("ผลการโอนที่ได้รับตรวจสอบไม่ผ่าน ชุดยังรอส่ง", "the settlement received does not check out;"
                                                                    " the batch waits")}


def report_text(report: RunReport) -> str:
    run, month = report.run, report.month
    per = run.recipients and run.hub_calls / max(1, run.recipients - run.already_paid)
    lines = [
        f"รอบจ่ายเงินเดือน{month.label('th')} (รอบที่ {run.id}) / payment run {run.id} for {month.label('en')}",
        f"  ผู้มีสิทธิที่อนุมัติแล้ว {run.recipients:,} ราย จ่ายไปแล้วในรอบก่อน {run.already_paid:,} ราย"
        f" / approved recipients: {run.recipients:,}, paid by an earlier run: {run.already_paid:,}",
    ]
    if run.batch_no:
        lines.append(f"  จ่าย {run.paid:,} ราย รวม {report.total:,.2f} บาท ชุด {run.batch_no}"
                     f" / paid: {run.paid:,}, {report.total:,.2f} baht, batch {run.batch_no}")
    else:
        lines.append("  ไม่มีผู้ที่ต้องจ่ายเพิ่มในรอบนี้ ไม่มีชุดใหม่ / nobody more to pay: no new batch")
    for sent in report.sent:
        th, en = _SENT.get(sent.status, ("ระบบชำระเงินปฏิเสธชุดนี้ ชุดยังรอส่ง", "the payment switch refused it; the batch"
                                                                            " waits"))
        lines.append(f"  ชุด {sent.batch_no}: {th} / batch {sent.batch_no}: {en} ({sent.status}"
                     f"{': ' + sent.detail if sent.detail else ''})")
    if report.unpaid:
        counts = Counter(u.reason for u in report.unpaid)
        lines.append(f"  ไม่ได้จ่าย {len(report.unpaid):,} ราย / not paid: {len(report.unpaid):,} — " + "; ".join(
            f"{REASONS[r][0]} / {REASONS[r][1]}: {n:,}" for r, n in sorted(counts.items())))
        for u in sorted(report.unpaid, key=lambda u: (u.reason, u.recipient.application_no)):
            who = f"{u.recipient.application_no}  {masked_id(u.recipient.subject_id)}  {u.recipient.name}"
            lines.append(f"    {who}\n      {u.detail_th}\n      {u.detail_en}")
    lines.append(f"  ตรวจผ่านระบบเชื่อมโยง {run.hub_calls:,} ครั้ง ({per:.2f} ครั้งต่อราย) ใช้เวลา {report.seconds:,.1f}"
                 f" วินาที / {run.hub_calls:,} calls to the hub ({per:.2f} per recipient checked) in"
                 f" {report.seconds:,.1f} s")
    return "\n".join(lines)


def report_json(report: RunReport) -> dict[str, Any]:
    run = report.run
    return {
        "month": report.month.text, "run": run.id, "recipients": run.recipients, "already_paid": run.already_paid,
        "paid": run.paid, "total": f"{report.total:.2f}", "batch_no": run.batch_no, "hub_calls": run.hub_calls,
        "seconds": round(report.seconds, 3),
        "not_paid": [{"application_no": u.recipient.application_no, "service": u.recipient.service_id,
                      "subject_id": masked_id(u.recipient.subject_id), "reason": u.reason, "detail_th": u.detail_th,
                      "detail_en": u.detail_en, "printout_id": u.printout_id} for u in report.unpaid],
        "sent": [{"batch_no": s.batch_no, "status": s.status, "detail": s.detail} for s in report.sent],
    }
