"""What the running application wires together: the machine's settings (`settings`), talking
to a running engine (`control`), and mail delivery as the application runs it (`courier`).
No Prefect, no APScheduler: the CLI's read-only commands and the intake load these modules;
`flows` runs on top of them."""
