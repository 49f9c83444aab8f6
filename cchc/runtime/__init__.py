"""What the running application wires together: the machine's settings (`settings`), talking
to a running engine (`control`), mail delivery as the application runs it (`courier`) and the
status notifier that tells Prefect items changed outside a flow run (`status`). No Prefect, no
APScheduler: the CLI's read-only commands and the intake load these modules; `flows` runs on
top of them."""
