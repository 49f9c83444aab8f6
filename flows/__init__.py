"""What runs, and when: the shell around the use cases. Prefect flows, artifacts and
deployments (`prefect_flows`, `artifacts`, `deploy`), the embedded engine and its APScheduler
trigger (`engine`, `trigger`), talking to a running engine (`control`), mail delivery as the
engine runs it (`mail`) and the machine's settings (`settings`). No rule lives here."""
