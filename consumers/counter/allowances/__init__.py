"""Allowances paid through PromptPay: the monthly payment run for the elderly and disability allowances of the
applications approved at the counter (issue 14, item 3).

    rules.py    the rates, ages and the municipality's area, as data (manuals/allowances/rates.toml), and the month
    decide.py   who is a recipient, and what the run decides for each from the printouts it fetched
    ledger.py   the run's tables in the counter's file: batches, their lines (paid once per recipient and month),
                runs, who was not paid and why; one transaction per run, the ledger checked before the commit
    run.py      the run itself: checks through the hub, the batch written, sent to the payment switch signed
    report.py   the run's report in Thai and English, for the command line
"""
