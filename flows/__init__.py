"""What runs, and when: the shell around the use cases, and the only package that imports Prefect
or APScheduler. Prefect flows, artifacts and deployments (`prefect_flows`, `artifacts`,
`deploy`), the embedded engine and its APScheduler trigger (`engine`, `trigger`), and the
status notifier the CLI and the intake call after they changed an item (`status`: it imports
Prefect only when a server is configured). The settings, engine control and mail delivery
they use are `cchc.runtime`'s. No rule lives here."""
