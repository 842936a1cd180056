"""One HTTP request through an ASGI application, as a server would send it (tests)."""
from asgiref.testing import ApplicationCommunicator


async def http(app, path: str, *, method: str = "GET", headers: tuple = ()) -> tuple[int, dict, bytes]:
    """(status, headers with lower-case names, body) of ``method path`` through ``app``."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 40000),
             "server": ("testserver", 80)}
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(timeout=10)
    body = b""
    while True:
        message = await communicator.receive_output(timeout=10)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(timeout=10)
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, body
