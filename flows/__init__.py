"""What runs, and when: the shell around the use cases, and the only package that imports Prefect
or APScheduler. Prefect flows, artifacts and deployments (`prefect_flows`, `artifacts`,
`deploy`), the embedded engine and its APScheduler trigger (`engine`, `trigger`). The settings,
engine control, mail delivery and status notifier they use are `cchc.runtime`'s. No rule lives
here."""
