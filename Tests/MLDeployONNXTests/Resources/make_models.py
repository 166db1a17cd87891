"""Makes ONNX models with scikit-learn and skl2onnx, and scores random inputs with onnxruntime.

    make_models.py DIRECTORY

Writes DIRECTORY/<case>.onnx and DIRECTORY/cases.json: for each case, the model file, the input
rows, and onnxruntime's outputs by name (2-D lists; ZipMap outputs as rows in class order, with
their class labels).
"""
import json
import sys
import warnings

import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings("ignore")
directory = sys.argv[1]
rng = np.random.RandomState(7)
X = rng.randn(200, 4).astype(np.float32)
y_reg = (X @ np.array([1.5, -2.0, 0.5, 3.0]) + 0.3 + rng.randn(200) * 0.1).astype(np.float32)
y_bin = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
y_multi = np.digitize(X[:, 0] - X[:, 2], [-0.7, 0.7]).astype(np.int64)
y_text = np.array(["low", "mid", "high"])[y_multi]

models = {
    "linear_regression": LinearRegression().fit(X, y_reg),
    "logistic_binary": LogisticRegression().fit(X, y_bin),
    "logistic_multiclass": LogisticRegression(max_iter=500).fit(X, y_multi),
    "logistic_text_labels": LogisticRegression(max_iter=500).fit(X, y_text),
    "scaler_pipeline": make_pipeline(StandardScaler(), LinearRegression()).fit(X * 10 + 5, y_reg),
    "mlp_regressor": MLPRegressor(hidden_layer_sizes=(8, 6), max_iter=300, random_state=0).fit(X, y_reg),
    "mlp_classifier": MLPClassifier(hidden_layer_sizes=(10,), max_iter=300, random_state=0).fit(X, y_multi),
    "mlp_tanh": MLPRegressor(hidden_layer_sizes=(5,), activation="tanh", max_iter=300, random_state=0).fit(X, y_reg),
    "decision_tree_regressor": DecisionTreeRegressor(max_depth=5, random_state=0).fit(X, y_reg),
    "decision_tree_classifier": DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, y_multi),
    "random_forest_regressor": RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0).fit(X, y_reg),
    "random_forest_classifier": RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X, y_bin),
    "gradient_boosting_regressor": GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(X, y_reg),
    "gradient_boosting_binary": GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=0).fit(X, y_bin),
    "gradient_boosting_multiclass": GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0).fit(X, y_multi),
}

cases = []
test = rng.randn(25, 4).astype(np.float32)
for name, model in models.items():
    rows = test * 10 + 5 if name == "scaler_pipeline" else test
    onx = to_onnx(model, rows[:1], target_opset={"": 15, "ai.onnx.ml": 3})
    path = "%s/%s.onnx" % (directory, name)
    with open(path, "wb") as f:
        f.write(onx.SerializeToString())
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    results = session.run(None, {session.get_inputs()[0].name: rows})
    outputs = {}
    for output, value in zip(session.get_outputs(), results):
        if isinstance(value, list):  # ZipMap: a list of {label: probability}
            labels = list(value[0].keys())
            outputs[output.name] = {"labels": [str(l) for l in labels], "rows": [[float(row[l]) for l in labels] for row in value]}
        else:
            array = np.asarray(value)
            if array.ndim == 1:
                array = array.reshape(-1, 1)
            outputs[output.name] = {"rows": array.tolist()}
    cases.append({"name": name, "model": name + ".onnx", "rows": rows.astype(float).tolist(), "outputs": outputs})

with open(directory + "/cases.json", "w") as f:
    json.dump(cases, f)
print("made", len(cases), "models")
