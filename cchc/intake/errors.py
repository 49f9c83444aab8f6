"""The error pages: `PageError`, which a route raises to answer with a page in Vietnamese, and
the handlers `create_app` installs for it and for what no route raises itself (a malformed
address, an unknown page or method, a failure nobody foresaw)."""

from __future__ import annotations

import logging

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cchc.intake.guard import secured
from cchc.intake.logs import redact
from cchc.intake.pages import page
from models.db import storage_refused

DB_FULL = (
    "Máy chủ không ghi được vào kho dữ liệu (hết dung lượng hoặc thư mục dữ liệu chỉ cho đọc): "
    "không có thay đổi nào được ghi, không có tệp nào được lưu. Hãy thử lại sau ít phút hoặc báo "
    "cơ quan thường trực về cải cách hành chính."
)
"""The answer when the database refuses a write: no server path, no blame on the user."""


class PageError(Exception):
    """Answer with an error page: HTTP `status`, a title and a message in Vietnamese."""

    def __init__(
        self,
        status: int,
        title: str,
        message: str,
        headers: dict | None = None,
        file: str | None = None,
    ):
        super().__init__(message)
        self.status, self.title, self.message, self.headers = status, title, message, headers
        self.file = file
        """The refused file's name, when one file caused the refusal."""
        self.back: str | None = None
        """The upload form to go back to (a refused upload: `refused.html`)."""


async def server_error(request: Request, exc: Exception) -> Response:
    """Whatever was not foreseen: a page in Vietnamese with the usual headers (this answer
    bypasses the middleware), never a bare 500; the error itself goes to the log. A database
    that refuses to write (its disk full or read-only) answers 507."""
    if isinstance(exc, DBAPIError) and storage_refused(exc):
        logging.getLogger("cchc.intake").error(
            "%s %s: the database refused to write: %s",
            request.method,
            redact(request.url.path),
            exc.orig,
        )
        response = page(
            request.app.state.cchc, "error.html", 507, title="Chưa thực hiện được", message=DB_FULL
        )
        return secured(response, request.url.path)
    logging.getLogger("cchc.intake").error(
        "%s %s failed", request.method, redact(request.url.path), exc_info=exc
    )
    response = page(
        request.app.state.cchc,
        "error.html",
        500,
        title="Có lỗi xảy ra",
        message="Hệ thống gặp lỗi khi xử lý yêu cầu; không có thay đổi nào được ghi. Hãy thử "
        "lại sau ít phút hoặc liên hệ cơ quan thường trực về cải cách hành chính.",
    )
    return secured(response, request.url.path)


async def page_error(request: Request, exc: Exception) -> HTMLResponse:
    # Starlette types a handler's `exc` as any Exception: each handler narrows to its own.
    assert isinstance(exc, PageError), "registered for PageError"
    return page(
        request.app.state.cchc,
        "refused.html" if exc.back else "error.html",
        exc.status,
        exc.headers,
        title=exc.title,
        message=exc.message,
        file=exc.file,
        back=exc.back,
    )


async def bad_request(request: Request, exc: Exception) -> HTMLResponse:
    """A malformed address (a non-numeric id, say) is a page that does not exist."""
    assert isinstance(exc, RequestValidationError), "registered for RequestValidationError"
    return page(
        request.app.state.cchc,
        "error.html",
        404,
        title="Không tìm thấy trang",
        message="Địa chỉ không đúng. Hãy mở lại đường liên kết trong thư của hệ thống.",
    )


async def http_error(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, StarletteHTTPException), "registered for HTTPException"
    titles = {404: "Không tìm thấy trang", 405: "Thao tác không được hỗ trợ"}
    return page(
        request.app.state.cchc,
        "error.html",
        exc.status_code,
        title=titles.get(exc.status_code, "Có lỗi xảy ra"),
        message="Hãy mở lại đường liên kết trong thư của hệ thống.",
    )
