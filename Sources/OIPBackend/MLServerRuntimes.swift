/// The Python modules this backend writes beside each model it publishes to Seldon MLServer: custom
/// runtimes (MLServer's `MLModel`), found through `implementation` in `model-settings.json` with
/// the model's folder on `sys.path`. Each is the same for every model (what differs is read from
/// the folder), so MLServer's module cache holding one copy is harmless.
enum MLServerRuntimes {
    /// Python both servers' runtimes share (pasted into each module): loading a service's objects,
    /// running its code with the console captured in a scratch directory, and the value helpers.
    /// Needs `numpy as np` imported before it.
    static let sharedPython = #"""
    import base64 as _base64
    import contextlib as _contextlib
    import io as _io
    import os as _os
    import pickle as _pickle
    import shutil as _shutil
    import tempfile as _tempfile
    import traceback as _traceback


    class _Raised(Exception):
        """The service's code raised: the message is what the OIP backend reads as the service's
        failure (its response) — the traceback, then what the code printed."""


    def _plain(value):
        value = value.item() if isinstance(value, np.generic) else value
        return None if isinstance(value, float) and value != value else value  # NaN: missing


    def _frame(value):
        """A DataFrame from columns (or a list of row objects) whose columns keep their cells:
        mixed or missing ones stay Python objects (pandas would turn [1, 2, None] into floats)."""
        import pandas as pd
        if isinstance(value, list):
            names = list(dict.fromkeys(k for row in value for k in row))
            value = {n: [row.get(n) for row in value] for n in names}
        def series(cells):
            kinds = {type(c) for c in cells}
            return pd.Series(cells, dtype=object) if len(kinds) != 1 or type(None) in kinds else pd.Series(cells)
        return pd.DataFrame({name: series(cells) for name, cells in value.items()})


    def _load_service(folder, service, label):
        """The namespace a service's code starts from: its objects, then its init code's names."""
        namespace = {}
        for name, entry in service.get("objects", {}).items():
            if "file" in entry:
                with open(_os.path.join(folder, entry["file"]), "rb") as f:
                    namespace[name] = _pickle.load(f)
            else:
                namespace[name] = entry["value"]
        if service.get("initCode"):
            exec(compile(service["initCode"], f"<init {label}>", "exec"), namespace)
        return namespace


    def _run_service(service, namespace, label):
        """Runs the code in `namespace` in a scratch directory; returns the console output and the
        declared artifacts it wrote (base64 by name), or raises _Raised."""
        console = _io.StringIO()
        workdir = _tempfile.mkdtemp(prefix="mldeploy-call-")
        previous = _os.getcwd()
        try:
            _os.chdir(workdir)
            with _contextlib.redirect_stdout(console), _contextlib.redirect_stderr(console):
                exec(compile(service["code"], f"<service {label}>", "exec"), namespace)
            artifacts = {}
            for artifact in service.get("artifacts", []):
                if _os.path.isfile(artifact):
                    with open(artifact, "rb") as f:
                        artifacts[artifact] = _base64.b64encode(f.read()).decode("ascii")
            return console.getvalue(), artifacts
        except Exception:
            raise _Raised(f"{label} raised on these inputs: {_traceback.format_exc()}\n--- console ---\n{console.getvalue()}")
        finally:
            _os.chdir(previous)
            _shutil.rmtree(workdir, ignore_errors=True)
    """#

    /// The module that scores an ONNX model with onnxruntime (which the server's environment needs).
    static let onnxModuleName = "mldeploy_onnx_runtime"
    /// The module that runs a Python service's code with its objects, as `mldeploy`'s own runtime does.
    static let pythonModuleName = "mldeploy_python_runtime"

    static let onnx = #"""
    # Written by MLDeploy's OIP backend: scores this folder's ONNX model with onnxruntime.
    import numpy as np
    import onnxruntime as ort
    from mlserver import MLModel
    from mlserver.codecs import NumpyCodec
    from mlserver.types import InferenceRequest, InferenceResponse
    from mlserver.utils import get_model_uri

    _TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
              "tensor(int32)": np.int32, "tensor(string)": np.object_, "tensor(bool)": np.bool_}


    class ONNXModel(MLModel):
        async def load(self) -> bool:
            self._session = ort.InferenceSession(await get_model_uri(self._settings), providers=["CPUExecutionProvider"])
            self._inputs = {i.name: _TYPES.get(i.type, np.float32) for i in self._session.get_inputs()}
            return True

        async def predict(self, payload: InferenceRequest) -> InferenceResponse:
            feeds = {}
            for request_input in payload.inputs:
                if request_input.name not in self._inputs:
                    raise ValueError(f"the model has no input {request_input.name!r}; its inputs are {', '.join(self._inputs)}")
                feeds[request_input.name] = NumpyCodec.decode_input(request_input).astype(self._inputs[request_input.name])
            outputs = []
            for meta, value in zip(self._session.get_outputs(), self._session.run(None, feeds)):
                if isinstance(value, list) and value and isinstance(value[0], dict):
                    # A classifier's ZipMap: one row per input row, one column per class.
                    value = np.array([[row[key] for key in sorted(row)] for row in value], dtype=np.float32)
                outputs.append(NumpyCodec.encode_output(meta.name, np.asarray(value)))
            return InferenceResponse(model_name=self.name, model_version=self.version, id=payload.id, outputs=outputs)
    """#

    static let python = #"""

    # Written by MLDeploy's OIP backend: runs this folder's Python service (service.json) with its
    # objects, inputs and outputs mapped to tensors as mldeploy serve maps them.
    import json
    import os
    import pickle

    import numpy as np
    from mlserver import MLModel
    from mlserver.codecs import NumpyCodec
    from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput
    from mlserver.utils import get_model_uri

    \#(sharedPython)


    def _cells(request_input):
        values = NumpyCodec.decode_input(request_input).reshape(-1).tolist()
        values = [v.decode("utf-8") if isinstance(v, bytes) else v for v in values]
        parameters = request_input.parameters
        if parameters is not None and getattr(parameters, "content_type", None) == "json":
            values = [json.loads(v) for v in values]  # mixed cells, one JSON value each
        return values


    def _tensor(name, cells, shape, parameters=None):
        if cells and all(isinstance(c, bool) for c in cells):
            datatype, data = "BOOL", cells
        elif all(isinstance(c, int) and not isinstance(c, bool) for c in cells):
            datatype, data = "INT64", cells
        elif all(c is None or isinstance(c, float) for c in cells) and any(c is not None for c in cells):
            datatype, data = "FP64", [None if c is None else float(c) for c in cells]
        elif all(isinstance(c, str) for c in cells):
            datatype, data = "BYTES", cells
        else:
            # Mixed cells: one JSON value each, so they come back as they went.
            datatype, data = "BYTES", [json.dumps(c) for c in cells]
            parameters = dict(parameters or {}, content_type="json")
        return ResponseOutput(name=name, shape=shape, datatype=datatype, data=data, parameters=parameters)


    def _null(name):
        return ResponseOutput(name=name, shape=[0], datatype="FP64", data=[], parameters={"null": True})


    class PythonService(MLModel):
        async def load(self) -> bool:
            path = await get_model_uri(self._settings, wellknown_filenames=["service.json"])
            folder = os.path.dirname(path)
            with open(path) as f:
                self._service = json.load(f)
            self._namespace = _load_service(folder, self._service, f"{self.name}/{self.version}")
            return True

        async def predict(self, payload: InferenceRequest) -> InferenceResponse:
            namespace = dict(self._namespace)
            declared = {p["name"]: p["type"] for p in self._service["inputs"]}
            given = {i.name: i for i in payload.inputs}
            frame_input = next((n for n, t in declared.items() if t == "data.frame" and n not in given), None)
            columns = {}
            framed = {}
            for name, request_input in given.items():
                kind = declared.get(name)
                frame, _, column = name.partition(".")
                if kind is None and column and declared.get(frame) == "data.frame":
                    framed.setdefault(frame, {})[column] = _cells(request_input)
                    continue
                if kind is not None and request_input.parameters is not None and getattr(request_input.parameters, "null", False):
                    namespace[name] = None
                    continue
                if kind is None:
                    if frame_input is None:
                        raise ValueError(f"{name!r} is not an input; the inputs are {', '.join(declared)}")
                    columns[name] = _cells(request_input)
                    continue
                cells = _cells(request_input)
                if kind in ("numeric", "integer", "logical", "character"):
                    if len(cells) != 1:
                        raise ValueError(f"input {name!r} is {kind}: one element, not {len(cells)}")
                    value = cells[0]
                    namespace[name] = float(value) if kind == "numeric" else int(value) if kind == "integer" else bool(value) if kind == "logical" else str(value)
                elif kind == "vector":
                    namespace[name] = cells
                elif kind == "matrix":
                    rows, width = request_input.shape
                    namespace[name] = [cells[r * width:(r + 1) * width] for r in range(rows)]
                else:
                    rows, width = request_input.shape
                    namespace[name] = _frame({str(c): [cells[r * width + c] for r in range(rows)] for c in range(width)})
            for frame, frame_columns in framed.items():
                namespace[frame] = _frame(frame_columns)
            if frame_input is not None and frame_input not in framed:
                namespace[frame_input] = _frame(columns)
            missing = [n for n in declared if n not in namespace]
            if missing:
                raise ValueError(f"missing inputs: {', '.join(missing)}")
            try:
                console, artifacts = _run_service(self._service, namespace, f"{self.name}/{self.version}")
            except _Raised as raised:
                from mlserver.errors import MLServerError
                raise MLServerError(str(raised), status_code=400)  # a 400 the OIP backend reads as the service's failure
            outputs = []
            declared_outputs = self._service["outputs"]
            for parameter in declared_outputs:
                name, kind = parameter["name"], parameter["type"]
                value = namespace.get(name)
                if value is None:
                    outputs.append(_null(name))
                elif kind == "data.frame":
                    alone = len(declared_outputs) == 1
                    for column in value.columns:
                        cells = [_plain(v) for v in value[column].tolist()]
                        outputs.append(_tensor(str(column) if alone else f"{name}.{column}", cells, [len(cells)], {"content_type": "pd"}))
                elif kind == "matrix":
                    rows = [[_plain(v) for v in row] for row in np.asarray(value).tolist()]
                    outputs.append(_tensor(name, [c for row in rows for c in row], [len(rows), len(rows[0]) if rows else 0]))
                elif kind == "vector":
                    cells = [_plain(v) for v in list(value)]
                    outputs.append(_tensor(name, cells, [len(cells)]))
                else:
                    outputs.append(_tensor(name, [_plain(value)], [1]))
            parameters = {"mldeploy_console": console, "mldeploy_artifacts": json.dumps(artifacts)}
            return InferenceResponse(model_name=self.name, model_version=self.version, id=payload.id, outputs=outputs, parameters=parameters)
    """#
}
