"""Keeping the data folder tidy: `clean` removes what interrupted writes left there."""

from __future__ import annotations

import click

from cchc.cli.common import App, pass_app, user_errors


@click.command("clean")
@pass_app
@user_errors
def clean_cmd(app: App) -> None:
    """Remove what a killed process, a full disk or a file-size limit left in the data folder:
    temporary uploads and copies (`incoming/.upload-*` after a day, `incoming/.attach-*`,
    `deliverables/.incoming-*` and `outbox/*.eml.tmp` after an hour) and stored files no
    version or contribution records (after an hour). The intake does the same when it starts;
    safe while it runs. Prints each file removed, then the counts."""
    from models.housekeeping import clean_data_dir

    done = clean_data_dir(app.engine, app.settings.data_dir)
    for path in (*done.temporary, *done.unrecorded):
        click.echo(f"removed {path}")
    click.echo(
        f"{len(done.temporary)} temporary file(s), {len(done.unrecorded)} unrecorded stored "
        f"file(s) removed (đã dọn thư mục dữ liệu)"
    )
    if done.skipped:
        click.echo(f"stored files not checked: {done.skipped}", err=True)
