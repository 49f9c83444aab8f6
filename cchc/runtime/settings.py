"""Settings that differ per machine: read from the environment, never from committed YAML.

Read at the edge (the CLI, the intake server, a worker's flow run) and passed down; the parts
below take only what they use (`SmtpSettings` is the mail transport's own)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from models.timeouts import Timeouts
from notifications.links import SecretMissing
from notifications.smtp_settings import SmtpSettings, env_number

DEFAULT_INTAKE_HOST = "127.0.0.1"
DEFAULT_INTAKE_PORT = 8080
SECRET_FILE = "intake-secret"
"""Under the data dir: the signing secret of the embedded default set-up (no CCHC_SECRET)."""


@dataclass(frozen=True)
class IntakeSettings:
    """The intake web app: where it listens, the URL base its links carry, upload limits."""

    secret: str | None = field(default=None, repr=False)
    """CCHC_SECRET: signs the links in the mails (HMAC). Unset: see `Settings.link_secret`."""
    public_url: str | None = None
    """CCHC_PUBLIC_URL, e.g. `https://cchc.maodien.example` behind a reverse proxy."""
    max_bytes: int = 20 * 1024 * 1024
    """CCHC_INTAKE_MAX_BYTES: the largest file accepted (default 20 MB)."""
    link_days: int = 60
    """CCHC_LINK_DAYS: how long a link in a mail stays valid."""
    office_user: str | None = None
    office_password: str | None = field(default=None, repr=False)
    """CCHC_OFFICE_USER / CCHC_OFFICE_PASSWORD: basic auth for the standing office's page."""
    office_key: str | None = field(default=None, repr=False)
    """CCHC_OFFICE_KEY: signs the office's links together with CCHC_SECRET; changing it
    revokes every office link (units' links stay valid)."""
    office_link_days: int = 30
    """CCHC_OFFICE_LINK_DAYS: how long an office link (`cchc link --office`) stays valid."""
    body_timeout: float = 60.0
    """CCHC_INTAKE_BODY_TIMEOUT: seconds an upload may send nothing before it is refused (408);
    the whole body must arrive within 20 times that."""
    max_versions: int = 20
    """CCHC_INTAKE_MAX_VERSIONS: versions a unit may hand in for one item through the intake;
    past it, uploads are refused (the office can still return, accept, record a document)."""
    uploads_per_hour: int = 30
    """CCHC_INTAKE_UPLOADS_PER_HOUR: uploads one link (an item and unit) may send within an
    hour, refused or not; past it, 429 until the oldest is an hour old."""
    trusted_proxies: tuple[str, ...] = ()
    """CCHC_TRUSTED_PROXIES: addresses or networks (comma-separated) of the reverse proxies
    whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed; none by default, so the
    client's address (the login throttle's key) is the connection's."""
    header_timeout: float = 10.0
    """CCHC_INTAKE_HEADER_TIMEOUT: seconds a connection may take to send a request's headers
    (a half-sent header block is closed after that)."""
    single_machine: bool = False
    """CCHC_SINGLE_MACHINE=1 (`make run` sets it): the mails' readers reach this machine's
    loopback address, so links to it are meant (see `Settings.unreachable_links`)."""
    local_address: str = f"{DEFAULT_INTAKE_HOST}:{DEFAULT_INTAKE_PORT}"
    """CCHC_INTAKE_ADDRESS (host:port, set by `make run` from INTAKE_HOST and INTAKE_PORT): where
    the links point without CCHC_PUBLIC_URL. Unlike that one, it does not mark a production
    set-up (no CCHC_SECRET required)."""

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.local_address}").rstrip("/")

    @classmethod
    def from_env(cls) -> IntakeSettings:
        env = os.environ
        public_url = (env.get("CCHC_PUBLIC_URL") or "").strip() or None
        if public_url and not public_url.startswith(("http://", "https://")):
            raise ValueError(
                f"CCHC_PUBLIC_URL={public_url!r}: phải bắt đầu bằng http:// hoặc https://"
            )
        local_address = (env.get("CCHC_INTAKE_ADDRESS") or "").strip() or cls.local_address
        if not re.fullmatch(r"[A-Za-z0-9.\-]+:\d{1,5}", local_address):
            raise ValueError(f"CCHC_INTAKE_ADDRESS={local_address!r}: phải có dạng host:port")
        return cls(
            secret=env.get("CCHC_SECRET") or None,
            public_url=public_url,
            local_address=local_address,
            single_machine=(env.get("CCHC_SINGLE_MACHINE") or "").strip().lower()
            in {"1", "true", "yes"},
            office_user=env.get("CCHC_OFFICE_USER") or None,
            office_password=env.get("CCHC_OFFICE_PASSWORD") or None,
            office_key=env.get("CCHC_OFFICE_KEY") or None,
            trusted_proxies=trusted_proxies(env.get("CCHC_TRUSTED_PROXIES") or ""),
            **cls._limits_from_env(),  # type: ignore[arg-type]  # each value has its field's type (_LIMITS)
        )

    @classmethod
    def _limits_from_env(cls) -> dict[str, int | float]:
        """The numeric settings, each within its bounds (ValueError naming the variable)."""
        limits: dict[str, int | float] = {}
        for attribute, variable, kind, low, high in _LIMITS:
            value = env_number(variable, kind, getattr(cls, attribute))
            if not low <= value <= high:
                bounds = f"từ {low:g} trở lên" if high == INFINITY else f"từ {low:g} đến {high:g}"
                raise ValueError(f"{variable}={value}: phải {bounds}")
            limits[attribute] = value
        return limits


INFINITY = float("inf")
_LIMITS: list[tuple[str, str, type, float, float]] = [
    ("max_bytes", "CCHC_INTAKE_MAX_BYTES", int, 1, INFINITY),
    ("link_days", "CCHC_LINK_DAYS", int, 1, INFINITY),
    ("office_link_days", "CCHC_OFFICE_LINK_DAYS", int, 1, 400),
    ("body_timeout", "CCHC_INTAKE_BODY_TIMEOUT", float, 1, 3600),
    ("max_versions", "CCHC_INTAKE_MAX_VERSIONS", int, 1, 1000),
    ("uploads_per_hour", "CCHC_INTAKE_UPLOADS_PER_HOUR", int, 1, 10_000),
    ("header_timeout", "CCHC_INTAKE_HEADER_TIMEOUT", float, 1, 600),
]
"""The intake's numbers: attribute, variable, type, lowest and highest value."""


def trusted_proxies(text: str) -> tuple[str, ...]:
    """CCHC_TRUSTED_PROXIES as uvicorn's `forwarded_allow_ips` takes it: addresses or networks,
    comma-separated (`*`: any, only for a proxy on a socket nobody else reaches)."""
    import ipaddress

    proxies = tuple(part.strip() for part in text.split(",") if part.strip())
    for proxy in proxies:
        if proxy == "*":
            continue
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ValueError(
                f"CCHC_TRUSTED_PROXIES: {proxy!r} is not an address or a network"
            ) from None
    return proxies


@dataclass(frozen=True)
class Settings:
    config_dir: Path
    data_dir: Path
    database_url: str
    smtp: SmtpSettings = SmtpSettings()
    intake: IntakeSettings = IntakeSettings()
    db_timeouts: Timeouts = Timeouts()
    """CCHC_DB_*_TIMEOUT (`models.db.make_engine` reads them too, when not given them)."""
    config_source: str = "folder"
    """CCHC_CONFIG_SOURCE: where a worker's flow runs read the config: "folder" (CCHC_CONFIG,
    a shared or copied folder) or "database" (the config snapshot the last writing command,
    `cchc init-db` or `cchc deploy`, applied to the database: a worker needs no folder)."""
    sweep_group: int = 30
    """CCHC_SWEEP_GROUP: communes per sub-run when a deployed city sweep fans out (a city of
    more communes than this: one sub-run per group, which the pool's workers share); 0: never
    fan out."""
    sweep_group_wait: int = 600
    """CCHC_SWEEP_GROUP_WAIT: seconds a fanned-out sweep's sub-run may wait for a worker to take
    it; then the parent run cancels it and sweeps that group itself (a pool with no free worker
    but the one the parent holds)."""
    artifacts_per_run: int = 400
    """CCHC_ARTIFACTS_PER_RUN: the most Prefect artifacts a sweep run writes (its pages within
    it; the communes whose pages did not fit go first in the next sweep). At about 30 ms each,
    the default bounds a run's publishing to some 12 s however large the city."""
    config_cache: Path | None = None
    """Where the checked config is kept compiled (`schedules.compiled`): CCHC_CONFIG_CACHE (a
    folder; `off`: none, the config is read each time), else the user's cache folder."""

    @property
    def embedded_default(self) -> bool:
        """The out-of-the-box set-up: the SQLite file in the data dir, links to loopback only."""
        default_db = f"sqlite:///{(self.data_dir / 'cchc.db').resolve()}"
        return self.database_url == default_db and self.intake.public_url is None

    def unreachable_links(self) -> str | None:
        """Why the links in the mails would reach nobody, or None. A link to a loopback
        address (CCHC_PUBLIC_URL, or CCHC_INTAKE_ADDRESS without it) opens only on the machine
        that made it: with a database other machines share (not SQLite) this process may be a
        worker elsewhere, so it is refused unless CCHC_SINGLE_MACHINE=1 says the set-up is one
        machine (`make run` sets it). A worker set up by the README's scaled recipe without
        CCHC_PUBLIC_URL once put http://127.0.0.1:8080 into every upload link, silently."""
        from urllib.parse import urlsplit

        if self.intake.single_machine or self.database_url.startswith("sqlite"):
            return None
        if not self.intake.secret:  # no key, no links at all (`link_secret` says so)
            return None
        host = urlsplit(self.intake.base_url).hostname or ""
        if not _is_loopback(host):
            return None
        return (
            f"Đường liên kết trong thư sẽ trỏ tới {self.intake.base_url}, địa chỉ chỉ mở được "
            "trên chính máy này, trong khi cơ sở dữ liệu dùng chung cho nhiều máy: không gửi thư "
            "với đường liên kết đó. Đặt CCHC_PUBLIC_URL là địa chỉ công khai của trang nộp sản "
            "phẩm (ví dụ https://cchc.haiphong.example), hoặc CCHC_SINGLE_MACHINE=1 nếu mọi thứ "
            "chạy trên một máy."
        )

    def link_secret(self) -> str:
        """The key that signs links: CCHC_SECRET; in the embedded default set-up only, a random
        key kept in the data dir (created on first use, mode 0600). Raises SecretMissing
        otherwise, so the engine and the intake server refuse to start without one."""
        if self.intake.secret:
            if len(self.intake.secret) < 16:
                raise SecretMissing("CCHC_SECRET quá ngắn: cần ít nhất 16 ký tự")
            return self.intake.secret
        if not self.embedded_default:
            raise SecretMissing(
                "Thiếu khóa ký đường dẫn CCHC_SECRET: bắt buộc khi đặt CCHC_PUBLIC_URL hoặc "
                "CCHC_DATABASE_URL"
            )
        path = self.data_dir / SECRET_FILE
        if not path.exists():
            import secrets

            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32))
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(tmp, path)  # atomic: whoever links first wins, the others read theirs
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip()

    @classmethod
    def from_env(cls, config_dir: str | None = None) -> Settings:
        data_dir = Path(os.environ.get("CCHC_DATA_DIR") or "./var")
        default_db = f"sqlite:///{(data_dir / 'cchc.db').resolve()}"
        return cls(
            config_dir=Path(config_dir or os.environ.get("CCHC_CONFIG") or "./config"),
            data_dir=data_dir,
            database_url=os.environ.get("CCHC_DATABASE_URL") or default_db,
            smtp=SmtpSettings.from_env(),
            intake=IntakeSettings.from_env(),
            db_timeouts=Timeouts.from_env(),
            config_source=_config_source(),
            artifacts_per_run=_artifacts_per_run(),
            sweep_group=_sweep_group(),
            sweep_group_wait=_sweep_group_wait(),
            config_cache=config_cache(),
        )


CONFIG_SOURCES = ("folder", "database")


def _config_source() -> str:
    value = (os.environ.get("CCHC_CONFIG_SOURCE") or "folder").strip().lower()
    if value not in CONFIG_SOURCES:
        raise ValueError(f"CCHC_CONFIG_SOURCE={value!r}: phải là folder hoặc database")
    return value


def _is_loopback(host: str) -> bool:
    """A host name or address only this machine reaches (or none: 0.0.0.0)."""
    import ipaddress

    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _sweep_group() -> int:
    value = env_number("CCHC_SWEEP_GROUP", int, Settings.sweep_group)
    if value < 0:
        raise ValueError(f"CCHC_SWEEP_GROUP={value}: phải từ 0 trở lên")
    return value


def _sweep_group_wait() -> int:
    value = env_number("CCHC_SWEEP_GROUP_WAIT", int, Settings.sweep_group_wait)
    if value < 1:
        raise ValueError(f"CCHC_SWEEP_GROUP_WAIT={value}: phải từ 1 giây trở lên")
    return value


def _artifacts_per_run() -> int:
    value = env_number("CCHC_ARTIFACTS_PER_RUN", int, Settings.artifacts_per_run)
    if value < 20:
        raise ValueError(f"CCHC_ARTIFACTS_PER_RUN={value}: phải từ 20 trở lên")
    return value


def config_cache() -> Path | None:
    """CCHC_CONFIG_CACHE: a folder, or `off`; unset: `cchc/config/` in the user's cache folder
    ($XDG_CACHE_HOME, else ~/.cache), never the data dir (read-only commands write nothing
    there). None when there is no home folder to hold it."""
    chosen = os.environ.get("CCHC_CONFIG_CACHE", "").strip()
    if chosen.lower() == "off":
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    if base:
        return Path(base) / "cchc" / "config"
    try:
        return Path.home() / ".cache" / "cchc" / "config"
    except RuntimeError:  # no home folder (a service user)
        return None
