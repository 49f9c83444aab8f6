"""What a flow run works on, as of when, and how it is tagged: the communes, database and
settings of the process (`runtime`: pinned by the embedded engine and tests, else loaded from the
environment once, as a worker's flow-run process does), the run's instant (`instant`) and the
tags it gains once it runs (`tag_run`).

Importing this module imports Prefect: only commands that run flows import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from prefect import get_run_logger
from prefect.runtime import flow_run
from sqlalchemy import Engine

from cchc.runtime.settings import Settings
from models.store import communes_of
from schedules.city import City
from schedules.plan import Plan
from usecases.errors import UserError
from usecases.quarantine import load_serving_city


@dataclass
class Runtime:
    city: City
    engine: Engine
    settings: Settings

    @property
    def plans(self) -> list[Plan]:
        """Every plan the runs serve: the communes', then the city office's own (its reports
        that sum up the communes'), if any."""
        return self.city.select(None)

    def group(self, codes: list[str] | None) -> list[Plan]:
        """The plans of `codes` (a fanned-out sweep's group of communes); None: every plan."""
        return self.plans if codes is None else [self.plan_of(code) for code in codes]

    @property
    def zone(self) -> ZoneInfo:
        return self.city.zone

    def plan_of(self, commune: str | None) -> Plan:
        """The plan of `commune` (the city's code: the city office's); None names the only
        commune (refused in a city)."""
        if commune is None:
            if self.city.is_city:
                raise UserError(
                    f"this config serves {len(self.city.plans)} communes: give the commune "
                    f"(chọn {self.city.kinds}: tham số commune)"
                )
            return self.plans[0]
        plan = self.city.plan_of(commune)
        if plan is None:
            raise UserError(
                f"unknown commune '{commune}' (xã không tồn tại); known: "
                + ", ".join(p.commune.code for p in self.plans)
            )
        return plan

    def plan_of_item(self, item_id: int) -> Plan:
        """The plan of the item's commune (the only plan when the item is unknown: the use case
        then refuses it in its own words)."""
        if not self.city.is_city:
            return self.plans[0]
        found = communes_of(self.engine, [item_id])
        return self.plan_of(next(iter(found))) if found else self.plans[0]

    def named(self, commune: str) -> str:
        """A run name's prefix for a run that concerns one commune: its code, in a city."""
        return f"{commune} · " if self.city.is_city else ""


_pinned: Runtime | None = None
_loaded: Runtime | None = None


def use_runtime(city: City | Plan, engine: Engine, settings: Settings) -> Runtime:
    """Pin what runs in this process use: the embedded engine pins its validated communes (an
    invalid edit on disk never reaches a run), tests pin theirs. A single commune's `Plan` is
    taken as a city of one."""
    global _pinned
    _pinned = Runtime(City.of(city) if isinstance(city, Plan) else city, engine, settings)
    return _pinned


def release_runtime() -> None:
    global _pinned
    _pinned = None


def runtime() -> Runtime:
    """The pinned runtime, else one loaded once per process from the environment (CCHC_CONFIG,
    a commune's or a city's folder, or the database's snapshot with CCHC_CONFIG_SOURCE=database;
    CCHC_DATABASE_URL): what a worker's flow-run process does. Refused, before anything is
    written, when the mails' links would point at this machine's loopback address while the
    database is shared (`Settings.unreachable_links`), and when the database does not serve
    the config's communes (`usecases.served`: a worker pointed at another city's database)."""
    global _loaded
    if _pinned is not None:
        return _pinned
    if _loaded is None:
        from models.db import ensure_schema, make_engine
        from usecases.served import check_served

        settings = Settings.from_env()
        unreachable = settings.unreachable_links()
        if unreachable:  # a worker elsewhere mailing links to its own loopback: refuse first
            raise UserError(unreachable)
        engine = make_engine(settings.database_url)
        ensure_schema(engine)
        city = _worker_city(engine, settings)
        check_served(engine, city, datetime.now(UTC))
        _loaded = Runtime(city, engine, settings)
    return _loaded


def _worker_city(engine: Engine, settings: Settings) -> City:
    """The config a worker's runs serve: the folder CCHC_CONFIG names, or with
    CCHC_CONFIG_SOURCE=database the snapshot the database keeps of the city it serves (what
    the last `cchc init-db` or `cchc deploy` applied), written to a temporary folder."""
    if settings.config_source != "database":
        # A broken commune is quarantined on the last valid config the database keeps.
        return load_serving_city(settings.config_dir, engine, settings.config_cache)
    import atexit
    import shutil
    import tempfile

    from models.scope import served_scope
    from models.snapshots import config_of, last_config, write_snapshot

    scope = served_scope(engine)
    snapshot = config_of(engine, scope.code) if scope else last_config(engine)
    if snapshot is None:
        raise UserError(
            "CCHC_CONFIG_SOURCE=database: cơ sở dữ liệu chưa có cấu hình nào; chạy `cchc init-db` "
            "hoặc `cchc deploy` từ máy có thư mục cấu hình"
        )
    folder = Path(tempfile.mkdtemp(prefix="cchc-config-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    from schedules.city_loader import load_city

    return load_city(write_snapshot(snapshot, folder))


def prefect_location() -> tuple[str | None, str | None]:
    """(API URL, UI URL) of the configured Prefect server; (None, None) when none is set."""
    from prefect.settings import get_current_settings

    current = get_current_settings()
    api = current.api.url
    if not api:
        return None, None
    ui = current.ui_url or api.removesuffix("/").removesuffix("/api")
    return api, ui


def scope_tags(city: City) -> tuple[str, ...]:
    """The tags of everything cchc registers or runs for these communes: `commune:<code>` for
    a single commune, `city:<code>` for a city (deployments, their runs, the engine's runs)."""
    return ("cchc", f"{'city' if city.is_city else 'commune'}:{city.code}")


def instant(at: datetime | str | None) -> datetime:
    """`at` as aware UTC; None means the run's scheduled instant (a late run still acts as of
    its schedule), or now outside a run. A naive `at` is wall time in the communes' zone."""
    if at is None:
        scheduled = flow_run.scheduled_start_time
        return (
            datetime.fromtimestamp(scheduled.timestamp(), UTC) if scheduled else datetime.now(UTC)
        )
    if isinstance(at, str):  # a run name sees the parameters as the API sent them
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:  # wall time in the communes' zone, as on the command line
        at = at.replace(tzinfo=runtime().zone)
    return at.astimezone(UTC)


RUN_TAGS = 40
"""The most tags a run gains once it runs. Prefect's server refuses a state change of a run
with more than 100 related resources (tags among them: HTTP 500, and the run stays "Running"
for good); what a run is about beyond this many tags goes into its artifacts."""


def tag_run(tags: list[str]) -> None:
    """Add `tags` to the current flow run (units with late items: `quá hạn:VP`; the commune and
    unit a run concerns: `commune:xa001`, `unit:VP`), at most `RUN_TAGS` of them (the first).
    Tags are set when a run is created; these are known only once it runs, so they go through
    the API. A failure is logged, never fails the run."""
    run_id = flow_run.id
    if not tags or run_id is None:
        return
    if len(tags) > RUN_TAGS:
        get_run_logger().warning("%d tags, the first %d kept", len(tags), RUN_TAGS)
        tags = tags[:RUN_TAGS]
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            current = client.read_flow_run(run_id).tags
            client.update_flow_run(run_id, tags=list(dict.fromkeys([*current, *tags])))
    except Exception as exc:  # noqa: BLE001  (the tags are a view; the run's work stands)
        get_run_logger().warning("could not tag the run with %s: %r", tags, exc)


UNIT_TAG = "unit:"
"""Run tag prefix: `unit:VP` on a run about an item of unit VP (a hand-in, a review, a close,
an item opened by hand)."""


def tag_concerned(rt: Runtime, concerned: Iterable[tuple[str, str]]) -> None:
    """A run about given items carries the tags of its communes' sweep runs (`scope_tags`:
    `cchc`, and `commune:<code>` or `city:<code>`; a run started by the intake or the command
    line has none of its own), in a city `commune:<code>` of each item's commune, and
    `unit:<CODE>` of each item's unit: the run list filters them as it filters the sweeps.
    `concerned`: (commune, unit) of each item."""
    pairs = sorted(set(concerned))
    tags = list(scope_tags(rt.city))
    if rt.city.is_city:
        tags += [f"commune:{commune}" for commune in dict.fromkeys(c for c, _ in pairs)]
    tags += [f"{UNIT_TAG}{unit}" for unit in dict.fromkeys(u for _, u in pairs)]
    tag_run(tags)
