"""The intake web app: units hand in deliverables through the signed link in their mails; the
standing office accepts or returns them. `create_app(plan, engine, settings)` builds it."""

from cchc.intake.app import create_app

__all__ = ["create_app"]
