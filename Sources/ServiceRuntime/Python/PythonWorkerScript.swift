/// The Python side of a worker: a loop that loads one service version and runs its calls.
///
/// Embedded as text (and written to a private directory when a pool starts) so the runtime never
/// depends on where an installation put its resource files.
///
/// Protocol, over the worker's stdin/stdout, which the script keeps for itself: each message is a
/// 4-byte big-endian length, a UTF-8 JSON header, then raw blobs whose sizes the header lists in
/// `blob_sizes`. File descriptors 1 and 2 are pointed at a capture file during calls (so `print`, and
/// output from C code, become console output), and at /dev/null otherwise; fd 0 reads /dev/null.
enum PythonWorkerScript {
    /// The file name the script is written under.
    static let fileName = "mldeploy_worker.py"

    static let source = #"""
# MLDeploy Python worker. Do not edit here: this file is written by the Swift runtime.
import io
import json
import linecache
import math
import os
import shutil
import stat
import struct
import sys
import traceback
import warnings

# Buffered: the host writes each message whole, so one read usually brings its length and header.
PROTOCOL_IN = os.fdopen(os.dup(0), "rb")
PROTOCOL_OUT = os.fdopen(os.dup(1), "wb", buffering=0)
# Keep the original stderr pipe open until we exit: its end of file tells the host we are gone.
_STDERR_KEEPALIVE = os.dup(2)
_devnull_in = os.open(os.devnull, os.O_RDONLY)
_devnull_out = os.open(os.devnull, os.O_WRONLY)
os.dup2(_devnull_in, 0)
os.dup2(_devnull_out, 1)
os.dup2(_devnull_out, 2)

try:
    import dill as _pickler
    PICKLER = "dill"
except ImportError:
    import pickle as _pickler
    PICKLER = "pickle"


def read_exact(n):
    data = bytearray()
    while len(data) < n:
        chunk = PROTOCOL_IN.read(n - len(data))
        if not chunk:
            raise EOFError
        data.extend(chunk)
    return bytes(data)


def receive():
    (length,) = struct.unpack(">I", read_exact(4))
    header = json.loads(read_exact(length))
    blobs = [read_exact(size) for size in header.get("blob_sizes", [])]
    return header, blobs


def send(header, blobs=()):
    header = dict(header)
    header["blob_sizes"] = [len(b) for b in blobs]
    body = json.dumps(header, allow_nan=False).encode()
    PROTOCOL_OUT.write(struct.pack(">I", len(body)) + body + b"".join(blobs))


# -- values ----------------------------------------------------------------------------------------
_np = None
_pd = None


def numpy():
    global _np
    if _np is None:
        import numpy as np
        _np = np
    return _np


def pandas():
    global _pd
    if _pd is None:
        import pandas as pd
        _pd = pd
    return _pd


def _same_type(values):
    kinds = {type(v) for v in values}
    return len(kinds) == 1 and None.__class__ not in kinds


def decode(kind, value):
    """Wire value -> Python, as ML Server binds inputs (spec 4.3)."""
    if value is None:
        return None
    if kind == "integer":
        return int(value)
    if kind == "numeric":
        return float(value)
    if kind == "character":
        return value
    if kind == "logical":
        return bool(value)
    if kind == "vector":
        np = numpy()
        return np.array(value) if value and _same_type(value) else np.array(value, dtype=object)
    if kind == "matrix":
        np = numpy()
        flat = [cell for row in value for cell in row]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            return np.matrix(value) if flat and _same_type(flat) else np.matrix(value, dtype=object)
    if kind == "data.frame":
        pd = pandas()
        columns = {}
        for name, cells in value.items():
            present = [c for c in cells if c is not None]
            exact = present and all(type(c) is float for c in present)
            columns[name] = pd.Series(cells, dtype=None if (exact or (present and _same_type(cells))) else object)
        return pd.DataFrame(columns)
    raise ValueError("unknown parameter type %r" % kind)


def _cell(value):
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (list, dict, str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float):
        return None if (math.isnan(value) or math.isinf(value)) else value
    if isinstance(value, (bool, int, str)):
        return value
    if _pd is not None and value is _pd.NA or (_pd is not None and value is _pd.NaT):
        return None
    if isinstance(value, (list, tuple)):
        return [_cell(v) for v in value]
    return str(value)


def encode(kind, value):
    """Python -> wire value, as ML Server reads outputs back (spec 4.4)."""
    if value is None:
        return None
    if kind == "integer":
        if isinstance(value, float) and not value.is_integer():
            raise TypeError("%r is not a whole number" % value)
        return int(value)
    if kind == "numeric":
        return _cell(float(value))
    if kind == "character":
        if not isinstance(value, str):
            raise TypeError("%s is not a str" % type(value).__name__)
        return value
    if kind == "logical":
        return bool(value)
    if kind == "vector":
        items = value.tolist() if hasattr(value, "tolist") else list(value)
        return [_cell(v) for v in items]
    if kind == "matrix":
        rows = numpy().asarray(value).tolist()
        return [[_cell(v) for v in row] for row in rows]
    if kind == "data.frame":
        if hasattr(value, "columns") and hasattr(value, "__getitem__"):
            return {str(c): [_cell(v) for v in value[c].tolist()] for c in value.columns}
        if isinstance(value, dict):
            return {str(k): [_cell(v) for v in (c.tolist() if hasattr(c, "tolist") else list(c))] for k, c in value.items()}
        raise TypeError("%s is not a DataFrame" % type(value).__name__)
    raise ValueError("unknown parameter type %r" % kind)


# -- running code ----------------------------------------------------------------------------------
class Captured:
    """Points fds 1 and 2 (and sys.stdout/stderr) at a capture file for the duration of a block.

    The file is opened once per path for the worker's life and emptied when a block starts (it is
    opened for appending, so writes land at its start again), and read back only when something was
    written: a call that prints nothing costs six system calls here instead of fifteen. Service
    code that closes the descriptor (and perhaps gets its number back for a file of its own) makes
    the file be opened afresh: the descriptor is used only while it is still that file."""

    _files = {}  # path -> (descriptor, (device, inode))

    def __init__(self, path):
        self.path = path
        if path in Captured._files:
            self.fd, self.identity = Captured._files[path]
        else:
            self._open()

    def _open(self):
        """Opens the file (for this and later blocks); returns its status."""
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        info = os.fstat(self.fd)
        self.identity = (info.st_dev, info.st_ino)
        Captured._files[self.path] = (self.fd, self.identity)
        return info

    def _size(self):
        """The file's size, reopening it first when the descriptor is no longer the file's."""
        try:
            info = os.fstat(self.fd)
            if (info.st_dev, info.st_ino) == self.identity:
                return info.st_size
        except OSError:
            pass
        return self._open().st_size

    def __enter__(self):
        sys.stdout.flush()
        sys.stderr.flush()
        if self._size():
            os.ftruncate(self.fd, 0)
        os.dup2(self.fd, 1)
        os.dup2(self.fd, 2)
        return self

    def __exit__(self, *exc):
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        os.dup2(_devnull_out, 1)
        os.dup2(_devnull_out, 2)
        return False

    def text(self):
        size = self._size()
        if size == 0:
            return ""
        return os.pread(self.fd, size, 0).decode("utf-8", "replace")


def user_traceback(exc, filename):
    """The traceback of `exc` from the first frame of service code on."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def compile_source(source, filename):
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return compile(source, filename, "exec")


def read_artifact(workdir, name, limit):
    """The bytes of artifact `name` in `workdir`: a regular file only (a symbolic link is never
    followed, so code cannot make the host return files from elsewhere), at most `limit` bytes."""
    try:
        fd = os.open(os.path.join(workdir, name), os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if limit and info.st_size > limit:
            raise ValueError("artifact '%s' is %d bytes, over the limit of %d" % (name, info.st_size, limit))
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def empty_directory(path):
    """Removes everything in `path`, so each call starts in an empty working directory."""
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)


class Service:
    def __init__(self, header, blobs, capture):
        self.workdir = header["workdir"]
        self.capture = capture
        self.name = header["service"]
        self.inputs = header["inputs"]
        self.outputs = header["outputs"]
        self.artifacts = header.get("artifacts") or []
        self.artifact_limit = header.get("artifact_limit") or 0
        self.code_file = "<service %s>" % self.name
        self.init_file = "<init %s>" % self.name
        self.namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        for obj in header["objects"]:
            if obj["kind"] == "pickle":
                self.namespace[obj["name"]] = _pickler.loads(blobs[obj["blob"]])
            else:
                self.namespace[obj["name"]] = decode(obj["type"], obj["value"]) if obj.get("type") else obj["value"]
        self.code = compile_source(header["code"], self.code_file)
        init = header.get("init_code")
        if init:
            os.chdir(self.workdir)
            try:
                with Captured(capture):
                    exec(compile_source(init, self.init_file), self.namespace)
            finally:
                os.chdir("/")

    def call(self, header):
        namespace = dict(self.namespace)
        for definition in self.inputs:
            name = definition["name"]
            namespace[name] = decode(definition["type"], header["inputs"].get(name))
        empty_directory(self.workdir)
        os.chdir(self.workdir)
        capture = Captured(self.capture)
        try:
            with capture:
                exec(self.code, namespace)
        except BaseException as exc:  # service code raised (SystemExit included)
            return {"ok": False, "kind": "exception", "error": user_traceback(exc, self.code_file), "console": capture.text()}
        finally:
            os.chdir("/")
        console = capture.text()
        outputs = {}
        for definition in self.outputs:
            name = definition["name"]
            try:
                outputs[name] = encode(definition["type"], namespace.get(name))
            except Exception as exc:
                return {"ok": False, "kind": "output", "error": "output '%s' (%s): %s" % (name, definition["type"], exc), "console": console}
        # The declared artifacts travel back in the answer: the host never reads the worker's files.
        artifacts, blobs = [], []
        for name in self.artifacts:
            try:
                data = read_artifact(self.workdir, name, self.artifact_limit)
            except ValueError as exc:
                return {"ok": False, "kind": "artifact", "error": str(exc), "console": console}
            if data is not None:
                artifacts.append({"name": name, "blob": len(blobs)})
                blobs.append(data)
        return {"ok": True, "outputs": outputs, "console": console, "artifacts": artifacts}, blobs


def _plain(value):
    """A JSON-encodable form of `value` for a session's output parameters: plain values as they are,
    numpy and pandas values converted, anything else as its repr."""
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        pass
    if hasattr(value, "to_dict") and hasattr(value, "columns"):
        return {str(k): [_plain(v) for v in col] for k, col in value.to_dict(orient="list").items()}
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float):
        return None
    return repr(value)


def execute(header, blobs):
    """Runs code in an authoring session: the session's workspace objects are the namespace; every
    variable the code creates or changes goes back to the workspace (when it can be pickled)."""
    workdir = header["workdir"]
    filename = "<session>"
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    before = {}
    for obj in header["objects"]:
        blob = blobs[obj["blob"]]
        namespace[obj["name"]] = _pickler.loads(blob)
        before[obj["name"]] = blob
    for parameter in header.get("inputs") or []:
        namespace[parameter["name"]] = parameter.get("value")
    empty_directory(workdir)
    os.chdir(workdir)
    capture = Captured(header["capture"])
    error = None
    try:
        with capture:
            exec(compile_source(header["code"], filename), namespace)
    except BaseException as exc:  # the session's code raised; what it did before that still counts
        error = user_traceback(exc, filename)
    finally:
        os.chdir("/")
    changed, out_blobs, skipped = [], [], []
    for name, value in namespace.items():
        if name.startswith("__"):
            continue
        try:
            blob = _pickler.dumps(value)
        except Exception as exc:
            skipped.append({"name": name, "reason": "%s: %s" % (type(exc).__name__, exc)})
            continue
        if before.get(name) != blob:
            changed.append({"name": name, "blob": len(out_blobs)})
            out_blobs.append(blob)
    removed = [name for name in before if name not in namespace]
    outputs = [{"name": name, "value": _plain(namespace.get(name))} for name in header.get("outputs") or []]
    files = []
    for root, _, names in os.walk(workdir):
        files += [os.path.relpath(os.path.join(root, n), workdir) for n in names]
    result = {"op": "executed", "ok": error is None, "error": error or "", "console": capture.text(),
              "outputs": outputs, "objects": changed, "removed": removed, "skipped": skipped, "files": sorted(files)}
    return result, out_blobs


def main():
    # Limits, before any service code is read: address space, open files, file size, processes of
    # this user (0: unlimited). Soft and hard alike, so code cannot raise them.
    import resource
    names = [resource.RLIMIT_AS, resource.RLIMIT_NOFILE, resource.RLIMIT_FSIZE, resource.RLIMIT_NPROC]
    for index, name in enumerate(names):
        if len(sys.argv) > index + 1 and int(sys.argv[index + 1]) > 0:
            limit = int(sys.argv[index + 1])
            try:
                resource.setrlimit(name, (limit, limit))
            except (ValueError, OSError):
                soft, hard = resource.getrlimit(name)
                resource.setrlimit(name, (min(limit, hard), min(limit, hard)) if hard != resource.RLIM_INFINITY else (limit, limit))
    send({"op": "ready", "pid": os.getpid(), "python": sys.version.split()[0], "pickler": PICKLER})
    service = None
    while True:
        try:
            header, blobs = receive()
        except EOFError:
            return
        op = header.get("op")
        if op == "load":
            try:
                service = Service(header, blobs, header["capture"])
                send({"op": "loaded", "ok": True})
            except BaseException as exc:
                filename = "<init %s>" % header.get("service")
                detail = user_traceback(exc, filename) if exc.__traceback__ else repr(exc)
                if filename not in detail:
                    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                send({"op": "loaded", "ok": False, "error": detail})
        elif op == "call":
            blobs = []
            # The caller's trace context (W3C), for service code that traces or calls onward.
            if header.get("traceparent"):
                os.environ["TRACEPARENT"] = header["traceparent"]
            else:
                os.environ.pop("TRACEPARENT", None)
            try:
                result = service.call(header)
                if isinstance(result, tuple):
                    result, blobs = result
            except MemoryError:
                result = {"ok": False, "kind": "exception", "error": "MemoryError: the service exceeded the worker's memory limit", "console": ""}
            result["op"] = "result"
            try:
                send(result, blobs)
            except ValueError as exc:  # not JSON-encodable
                send({"op": "result", "ok": False, "kind": "output", "error": str(exc), "console": result.get("console", "")})
        elif op == "execute":
            try:
                result, out_blobs = execute(header, blobs)
            except BaseException as exc:  # a workspace object that does not unpickle here
                result, out_blobs = {"op": "executed", "ok": False, "failed": True, "error": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))}, []
            send(result, out_blobs)
        elif op == "compile":  # a deploy's code, checked without running it
            failure = None
            for name, source in header.get("sources") or []:
                try:
                    compile(source, name, "exec")
                except SyntaxError as exc:
                    failure = [name, exc.lineno or 0, str(exc.msg), (exc.text or "").strip()]
                except ValueError as exc:  # e.g. a NUL byte in the source
                    failure = [name, 0, str(exc), ""]
                if failure:
                    break
            send({"op": "compiled", "ok": failure is None, "error": failure})
        elif op == "exit":
            return


if __name__ == "__main__":
    main()
"""#
}
