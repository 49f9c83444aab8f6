"""What runs, and when: the shell around the use cases, and the only package that imports Prefect
or APScheduler. Prefect flows (`prefect_flows`, the deployments' entrypoints, gathers those of
`opening_flows`, `sweep_run` and `item_flows`; what a run works on is `runtime_state`), the pages
and events they publish (`status_publishing`, `artifacts`), their deployments (`deploy`,
`deploy_plan`, `deploy_automations`), the embedded engine and its APScheduler trigger (`engine`,
`trigger`), and the status notifier the CLI and the intake call after they changed an item
(`status`: it imports Prefect only when a server is configured). The settings, engine control
and mail delivery they use are `cchc.runtime`'s. No rule lives here."""
