"""Stand-in for ``sagemaker_containers.beta.framework.worker.Response``.

In the scikit-learn container this is a Flask response, and the serving stack answers
with its status; an exception raised by the user's handlers is always a 500. Here it
only carries what the local serving worker reads: the body, the status, the media type.
"""

from __future__ import annotations

from http import HTTPStatus


class Response:
    def __init__(
        self,
        response: str | bytes | None = None,
        accept: str | None = None,
        status: int = HTTPStatus.OK,
        charset: str | None = None,
        mimetype: str | None = None,
    ) -> None:
        data = response or b""
        self._data = data.encode(charset or "utf-8") if isinstance(data, str) else bytes(data)
        self.status_code = int(status)
        self.mimetype = mimetype or accept or "application/json"

    def get_data(self) -> bytes:
        return self._data
