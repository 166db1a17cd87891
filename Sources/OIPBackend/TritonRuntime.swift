import Foundation

/// The `model.py` this backend sends with every version it publishes to NVIDIA Triton: a model of
/// Triton's Python backend (`TritonPythonModel`) that runs either a Python service (the version's
/// `service.json`, its pickled objects and init code, as `mldeploy`'s own runtime does) or an ONNX
/// model (`model.onnx`, with onnxruntime). It is the same for every model; what differs is read from
/// the version's folder and the `mldeploy` parameter of the model's configuration.
///
/// Triton fixes each input's name, datatype and shape in the model configuration, which a service's
/// vectors, matrices and data frames do not have; so every declared input and output of a Python
/// service travels as one `BYTES` element holding the value's JSON (ML Server's wire encoding), and
/// the console output and artifacts as the extra outputs `mldeploy_console` and
/// `mldeploy_artifacts` (Triton's Python backend cannot set response parameters).
enum TritonRuntime {
    /// The extra output carrying what the service's code printed.
    static let consoleOutput = "mldeploy_console"
    /// The extra output carrying the declared artifacts the code wrote (a JSON object of base64).
    static let artifactsOutput = "mldeploy_artifacts"

    /// The runtime, with the `python_path` option's directories first on `sys.path`: Triton's
    /// Python backend ignores `PYTHONPATH`, and imports `triton_python_backend_utils` (which needs
    /// numpy) right after this module, before `initialize` sees the configuration.
    static func model(pythonPath: [String]) -> String {
        let literal = "[" + pythonPath.map { path in
            "\"" + path.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }.joined(separator: ", ") + "]"
        return Self.source.replacingOccurrences(of: "_PYTHON_PATH = []", with: "_PYTHON_PATH = \(literal)")
    }

    private static let source = #"""
    # Written by MLDeploy's OIP backend: runs one version of a model MLDeploy published to Triton
    # (a Python service or an ONNX model). What it runs is in this version's folder and in the
    # model configuration's "mldeploy" parameter.
    import json
    import os
    import sys

    # The target's python_path option: directories searched first (Triton ignores PYTHONPATH).
    _PYTHON_PATH = []
    for _path in reversed(_PYTHON_PATH):
        if _path not in sys.path:
            sys.path.insert(0, _path)

    import numpy as np
    import triton_python_backend_utils as pb_utils

    \#(MLServerRuntimes.sharedPython)


    def _json(value):
        """The value in ML Server's wire encoding: data frames column-major."""
        if hasattr(value, "columns") and hasattr(value, "to_dict"):
            return {str(c): [_plain(v) for v in value[c].tolist()] for c in value.columns}
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if isinstance(value, (list, tuple)):
            return [_json(v) for v in value]
        return _plain(value)


    def _text(tensor):
        cell = tensor.as_numpy().reshape(-1)[0]
        return cell.decode("utf-8") if isinstance(cell, bytes) else str(cell)


    def _bytes_tensor(name, text):
        return pb_utils.Tensor(name, np.array([text.encode("utf-8")], dtype=np.object_))


    class TritonPythonModel:
        def initialize(self, args):
            config = json.loads(args["model_config"])
            parameters = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
            self.folder = os.path.join(args["model_repository"], args["model_version"])
            self.record = json.loads(parameters["mldeploy"])["versions"][args["model_version"]]
            self.label = f'{args["model_name"]}/{self.record["version"]}'
            if self.record["runtime"] == "Realtime":
                import onnxruntime as ort
                kinds = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
                         "tensor(int32)": np.int32, "tensor(string)": np.object_, "tensor(bool)": np.bool_}
                self.session = ort.InferenceSession(os.path.join(self.folder, "model.onnx"), providers=["CPUExecutionProvider"])
                self.kinds = {i.name: kinds.get(i.type, np.float32) for i in self.session.get_inputs()}
                return
            with open(os.path.join(self.folder, "service.json")) as f:
                self.service = json.load(f)
            self.namespace = _load_service(self.folder, self.service, self.label)

        def execute(self, requests):
            responses = []
            for request in requests:
                try:
                    responses.append(self._score(request) if self.record["runtime"] == "Realtime" else self._run(request))
                except _Raised as raised:
                    responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(raised))))
                except Exception as error:
                    responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(f"{self.label}: {error}")))
            return responses

        def _score(self, request):
            feeds = {}
            for tensor in request.inputs():
                name = tensor.name()
                if name not in self.kinds:
                    raise ValueError(f"the model has no input {name!r}; its inputs are {', '.join(self.kinds)}")
                value = tensor.as_numpy()
                if value.dtype == np.object_:
                    value = np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in value.reshape(-1)], dtype=np.object_).reshape(value.shape)
                feeds[name] = value.astype(self.kinds[name])
            outputs = []
            for meta, value in zip(self.session.get_outputs(), self.session.run(None, feeds)):
                if isinstance(value, list) and value and isinstance(value[0], dict):
                    # A classifier's ZipMap: one row per input row, one column per class.
                    value = np.array([[row[key] for key in sorted(row)] for row in value], dtype=np.float32)
                value = np.asarray(value)
                if value.dtype.kind in "OU":
                    value = np.array([str(v).encode("utf-8") for v in value.reshape(-1)], dtype=np.object_).reshape(value.shape)
                outputs.append(pb_utils.Tensor(meta.name, value))
            return pb_utils.InferenceResponse(outputs)

        def _run(self, request):
            declared = {p["name"]: p["type"] for p in self.service["inputs"]}
            namespace = dict(self.namespace)
            for tensor in request.inputs():
                name, kind = tensor.name(), declared.get(tensor.name())
                if kind is None:
                    raise ValueError(f"{name!r} is not an input of {self.label}; its inputs are {', '.join(declared)}")
                value = json.loads(_text(tensor))
                if value is not None:
                    if kind == "numeric":
                        value = float(value)
                    elif kind == "integer":
                        value = int(value)
                    elif kind == "logical":
                        value = bool(value)
                    elif kind == "character":
                        value = str(value)
                    elif kind == "data.frame":
                        value = _frame(value)
                namespace[name] = value
            missing = [n for n in declared if n not in namespace]
            if missing:
                raise ValueError(f"missing inputs: {', '.join(missing)}")
            console, artifacts = _run_service(self.service, namespace, self.label)
            outputs = [_bytes_tensor(p["name"], json.dumps(_json(namespace.get(p["name"])))) for p in self.service["outputs"]]
            outputs.append(_bytes_tensor("mldeploy_console", console))
            outputs.append(_bytes_tensor("mldeploy_artifacts", json.dumps(artifacts)))
            return pb_utils.InferenceResponse(outputs)
    """#
}
