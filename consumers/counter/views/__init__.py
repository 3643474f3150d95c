"""The counter's views, one module per group of pages (routes.py maps URLs to them).

    signin.py       the start page, sign-in and sign-out, the language switch
    manuals.py      the citizen's manuals of the office's services
    cases.py        open a case (every linked document in one call), retry a document, the certified PDF
    reports.py      how many copies the counter no longer asks for, against the cabinet's target; CSV
    complaints.py   a citizen's complaint that an office still demanded copies; the list for the office
    me.py           the citizen's own history: who read my data (checked against my ID card)
    fonts.py        the Sarabun font files the pages use
"""
