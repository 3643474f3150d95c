"""A mock payment switch (the sandbox's stand-in for a bank's Thai QR bill-payment service): not a registry
behind the hub, but an outside service the counter deals with directly, so it lives beside the registries and,
like them, imports only the core (linkage/thaiqr.py for the QR, linkage/payments.py for the notice).

    POST /sandbox/pay   {"payload": "<Thai QR payload>"}: "pays" the bill the QR names, as a payer's banking app
                        would, then sends the biller a signed payment notice (a sandbox-only call, as real
                        sandboxes offer); answers the transaction and what the biller said
    POST /disbursements an agency's signed payment batch (linkage/disbursements.py): each line credited to its
                        PromptPay proxy, once per batch number; answers the switch's signed settlement
    GET  /health        200 while it serves

server.py has create_app(home, callback_url) and serve(home, port, ready), which `linkage serve-payments` runs.
"""
