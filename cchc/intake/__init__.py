"""The intake web app: units hand in deliverables through the signed link in their mails; the
standing offices (and the city's office) accept or return them. `create_app(city, engine,
settings)` builds it for every commune of a `schedules.city.City`."""

from cchc.intake.app import create_app

__all__ = ["create_app"]
