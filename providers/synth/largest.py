"""The sandbox's largest records: what makes its largest certified papers (tests and scripts/bench_paper.py)."""

from __future__ import annotations

import json
import sqlite3

from linkage.config import Home

__all__ = ["largest_company", "largest_house_member"]


def largest_house_member(home: Home) -> str:
    """A member, with an active ID card, of the house with the most members (then the most data)."""
    with sqlite3.connect(home.provider_db("dopa")) as db:
        house = db.execute("SELECT house_code FROM house ORDER BY json_extract(data, '$.member_count') DESC, "
                           "length(data) DESC LIMIT 1").fetchone()[0]
        member = db.execute("SELECT m.subject_id FROM house_member AS m JOIN card_check AS c ON c.subject_id = "
                            "m.subject_id WHERE m.house_code = ? AND c.active = 1 ORDER BY 1 LIMIT 1",
                            (house,)).fetchone()[0]
    return str(member)


def largest_company(home: Home) -> str:
    """The juristic ID of the company with the most directors (then the most data)."""
    with sqlite3.connect(home.provider_db("dbd")) as db:
        data = db.execute("SELECT data FROM record WHERE doc_type = 'dbd.juristic' ORDER BY "
                          "json_array_length(data, '$.directors') DESC, length(data) DESC LIMIT 1").fetchone()[0]
    return str(json.loads(data)["juristic_id"])
