"""The PromptPay directory's records (providers/promptpay): who has linked a bank account to their personal ID.

Drawn from a ``Random`` of its own, so that the other registries' records are the same with or without it, and
one draw sequence per person whatever is forced: a persona that must have (or must not have) PromptPay changes
only its own record. About 80 % of Thais aged 15 and over have one (a few suspended), 20 % of foreigners, nobody
younger; the deceased keep theirs (the directory is not told of a death: the civil registry is where that is
known, which is why a payment run asks it).
"""

from __future__ import annotations

import datetime as dt
from random import Random

from providers.promptpay import BANKS
from providers.synth.households import REF, Person, be_date, below, dump_json

__all__ = ["Directory"]

_LAUNCH = dt.date(2017, 1, 27).toordinal()  # PromptPay opened for transfers by personal ID
_BANK_WEIGHTS = (14, 20, 24, 8, 14, 8, 8, 4)  # a cumulative pick below: Krungthai and Kasikorn lead
_CUM = tuple(sum(_BANK_WEIGHTS[:i + 1]) for i in range(len(_BANK_WEIGHTS)))


class Directory:
    """Makes ``promptpay.account`` records, person by person, in the seeder's order."""

    def __init__(self, seed: int) -> None:
        self._rng = Random(f"promptpay/{seed}")

    def record(self, p: Person, forced: bool | None = None) -> str | None:
        """p's record as JSON text, or None for a person without PromptPay. ``forced`` True or False overrides
        the draw (for a persona); the draws are made either way."""
        if p.age < 15:
            return None
        r = self._rng.random
        has = r() < (0.8 if p.thai else 0.2)
        pick = below(r, _CUM[-1])
        bank = next(i for i, c in enumerate(_CUM) if pick < c)
        digits = f"{below(r, 10**10):010d}"
        # Registered once they were 15 and PromptPay existed, before the reference day (or their death).
        earliest = max(_LAUNCH, p.birth + int(15 * 365.2425))
        latest = p.death if p.death is not None else REF
        registered = earliest + below(r, max(1, latest - earliest))
        suspended = r() < 0.01
        if forced is not None:
            has, suspended = forced, False
        if not has or registered > latest:
            return None
        code, name_th, name_en = BANKS[bank]
        return dump_json({
            "personal_id": p.pid, "bank_code": code, "bank_name_th": name_th, "bank_name_en": name_en,
            "account_masked": f"xxx-x-x{digits[5:9]}-x", "account_name_th": p.name_th,
            "registered_date": be_date(registered), "status": "suspended" if suspended else "active",
        })
