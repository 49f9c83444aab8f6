"""What happens to a work item: the use cases the CLI, the intake and the flows share (the
sweep, opening by hand, handing in, waiving, the office's review, reports and the scorecard).
Plain functions of the plan, a database engine and an instant; no Prefect, no APScheduler."""
