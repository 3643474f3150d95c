"""Applications (คำขอ) prefilled from linkage: the form of each service as data beside its manual, the values
the case's sealed printouts fill, what the citizen writes, and the numbered, signed application.

    forms.py    the form files (manuals/forms/<service>.toml): fields, which document and field fills each,
                which the citizen writes, validation; load_forms raises ManualError at start
    values.py   a field's value: from a printout (prefill), from a form post (parse, with a Thai and an English
                message naming what is expected), and as each language shows it
    store.py    the application tables of the counter's SQLite file: one row per application, its values with
                where each came from, and the sealed printouts they came from
    pdf.py      the application as a signed A4 PDF in the language chosen for it, the printouts attached
"""
