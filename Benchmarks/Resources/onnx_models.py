"""The Python side of the ONNX benchmark (Benchmarks/Sources/ONNXBenchmark).

    onnx_models.py make DIRECTORY
    onnx_models.py time DIRECTORY SECONDS

`make` trains the benchmark's models with scikit-learn on 10 float features, and writes for each
NAME in DIRECTORY:
  NAME.onnx   the model exported with skl2onnx's defaults (float32 input, the exporter's default
              opsets, ZipMap for classifiers: what a realtime service would be given);
  NAME.pkl    the fitted scikit-learn model, pickled (for the Python-service route);
  NAME.json   {"features": 10, "rows1": [[...]], "rows1000": [[...] x 1000], "rows10000": [[...] x
              10000], "expected": {column:
              [values]}}: random float32 inputs (as JSON numbers, exact float32 values) and
              onnxruntime's outputs for the 1,000 rows, named as our engine names its columns
              (`variable`, `output_label`, `output_probability_<class>`);
and DIRECTORY/models.json, the list of names with a description of each.

`time` loads every model in an onnxruntime InferenceSession (CPU provider) twice — default session
options (onnxruntime's own thread pool: one thread per core) and intra_op_num_threads = 1 — and for
each session times `session.run(None, {input: batch})` for the 1-row, the 1,000-row and the
10,000-row batch: a warm-up (a quarter of SECONDS), then calls in a loop for SECONDS. It prints one
JSON object on stdout: {NAME: {"default": {"calls1": calls/s, "calls1000": calls/s, "calls10000":
calls/s}, "single": {...}}}. Rows per second are calls1000 × 1000 and calls10000 × 10000.
"""
import json
import os
import pickle
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")
FEATURES = 10


def make(directory):
    from skl2onnx import to_onnx
    from sklearn.datasets import make_classification, make_regression
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
    from sklearn.neural_network import MLPClassifier
    import onnxruntime as ort

    os.makedirs(directory, exist_ok=True)
    X_bin, y_bin = make_classification(n_samples=5000, n_features=FEATURES, n_informative=6, random_state=1)
    X_reg, y_reg = make_regression(n_samples=5000, n_features=FEATURES, n_informative=8, noise=5.0, random_state=2)
    X_multi, y_multi = make_classification(n_samples=5000, n_features=FEATURES, n_informative=6, n_classes=3, random_state=3)
    models = [
        ("random_forest", "RandomForestClassifier, 50 trees, depth 8, binary",
         RandomForestClassifier(n_estimators=50, max_depth=8, random_state=0), X_bin, y_bin),
        ("gradient_boosting", "GradientBoostingRegressor, 100 trees, depth 3",
         GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0), X_reg, y_reg),
        ("mlp", "MLPClassifier, hidden layers (32, 16), relu, 3 classes",
         MLPClassifier(hidden_layer_sizes=(32, 16), max_iter=300, random_state=0), X_multi, y_multi),
    ]
    rng = np.random.RandomState(11)
    manifest = []
    for name, description, model, X, y in models:
        X = X.astype(np.float32)
        model.fit(X, y)
        onx = to_onnx(model, X[:1])
        path = os.path.join(directory, name + ".onnx")
        with open(path, "wb") as f:
            f.write(onx.SerializeToString())
        with open(os.path.join(directory, name + ".pkl"), "wb") as f:
            pickle.dump(model, f)
        # Rows like the training data: drawn from its per-feature spread.
        rows = (rng.randn(1000, FEATURES) * X.std(axis=0) + X.mean(axis=0)).astype(np.float32)
        many = (rng.randn(10000, FEATURES) * X.std(axis=0) + X.mean(axis=0)).astype(np.float32)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        expected = {}
        for output, value in zip(session.get_outputs(), session.run(None, {session.get_inputs()[0].name: rows})):
            if isinstance(value, list):  # ZipMap: a list of {label: probability}
                for label in value[0].keys():
                    expected["%s_%s" % (output.name, label)] = [float(row[label]) for row in value]
            else:
                array = np.asarray(value)
                array = array.reshape(len(rows), -1)
                if array.shape[1] == 1:
                    expected[output.name] = [float(v) if array.dtype.kind == "f" else int(v) for v in array[:, 0]]
                else:
                    for i in range(array.shape[1]):
                        expected["%s_%d" % (output.name, i)] = [float(v) for v in array[:, i]]
        with open(os.path.join(directory, name + ".json"), "w") as f:
            json.dump({"features": FEATURES, "rows1": rows[:1].astype(float).tolist(),
                       "rows1000": rows.astype(float).tolist(), "rows10000": many.astype(float).tolist(), "expected": expected}, f)
        manifest.append({"name": name, "description": description,
                         "onnxBytes": os.path.getsize(path), "nodes": len(onx.graph.node)})
    with open(os.path.join(directory, "models.json"), "w") as f:
        json.dump(manifest, f)
    print(json.dumps(manifest))


def rate(session, feeds, seconds):
    """Calls per second of session.run(None, feeds), after a warm-up."""
    run = session.run
    end = time.perf_counter() + seconds / 4
    while time.perf_counter() < end:
        run(None, feeds)
    calls = 0
    start = time.perf_counter()
    end = start + seconds
    now = start
    while now < end:
        run(None, feeds)
        calls += 1
        now = time.perf_counter()
    return calls / (now - start)


def timing(directory, seconds):
    import onnxruntime as ort

    with open(os.path.join(directory, "models.json")) as f:
        names = [entry["name"] for entry in json.load(f)]
    result = {}
    for name in names:
        with open(os.path.join(directory, name + ".json")) as f:
            data = json.load(f)
        rows1 = np.array(data["rows1"], dtype=np.float32)
        rows1000 = np.array(data["rows1000"], dtype=np.float32)
        rows10000 = np.array(data["rows10000"], dtype=np.float32)
        result[name] = {}
        for mode in ("default", "single"):
            options = ort.SessionOptions()
            if mode == "single":
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
            session = ort.InferenceSession(os.path.join(directory, name + ".onnx"), options, providers=["CPUExecutionProvider"])
            feed = session.get_inputs()[0].name
            result[name][mode] = {
                "calls1": rate(session, {feed: rows1}, seconds),
                "calls1000": rate(session, {feed: rows1000}, seconds),
                "calls10000": rate(session, {feed: rows10000}, seconds),
            }
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "time":
        timing(sys.argv[2], float(sys.argv[3]))
    else:
        sys.exit(__doc__)
