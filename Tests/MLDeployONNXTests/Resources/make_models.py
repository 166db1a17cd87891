"""Makes ONNX models with scikit-learn and skl2onnx, and scores random inputs with onnxruntime.

    make_models.py DIRECTORY

Writes DIRECTORY/<case>.onnx and DIRECTORY/cases.json: for each case, the model file, the input
rows, onnxruntime's outputs by name (2-D lists; ZipMap outputs as rows in class order, with their
class labels) and the opsets the model imports. The scikit-learn models are exported the way users
export them, with the exporter's defaults (no target_opset: today's skl2onnx writes opsets up to
22); one case keeps an old pinned opset. DIRECTORY/refusals.json lists models the engine must
refuse at load, DIRECTORY/scoring_errors.json inputs it must refuse with a typed error.
"""
import json
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

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

def opsets(onx):
    """The opsets a model imports, by domain ('' for ai.onnx)."""
    return {("" if i.domain == "ai.onnx" else i.domain): i.version for i in onx.opset_import}

# One model pinned to an old opset, as older exporters (and users who pin) write them.
models["mlp_classifier_opset11"] = models["mlp_classifier"]
models["gradient_boosting_binary_opset9"] = models["gradient_boosting_binary"]
pinned = {"mlp_classifier_opset11": {"": 11, "ai.onnx.ml": 1}, "gradient_boosting_binary_opset9": {"": 9, "ai.onnx.ml": 1}}

cases = []
test = rng.randn(25, 4).astype(np.float32)
for name, model in models.items():
    rows = test * 10 + 5 if name == "scaler_pipeline" else test
    onx = to_onnx(model, rows[:1], target_opset=pinned[name]) if name in pinned else to_onnx(model, rows[:1])
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
    cases.append({"name": name, "model": name + ".onnx", "rows": rows.astype(float).tolist(), "outputs": outputs, "opsets": opsets(onx)})

# Missing values, imputed by the column means the model learned (NaN travels as null in JSON).
X_missing = X.copy()
X_missing[rng.rand(*X.shape) < 0.1] = np.nan
imputer = make_pipeline(SimpleImputer(strategy="mean"), LinearRegression()).fit(X_missing, y_reg)
rows = test.copy()
rows[rng.rand(*rows.shape) < 0.2] = np.nan
onx = to_onnx(imputer, rows[:1])
with open(directory + "/imputer_pipeline.onnx", "wb") as f:
    f.write(onx.SerializeToString())
session = ort.InferenceSession(directory + "/imputer_pipeline.onnx", providers=["CPUExecutionProvider"])
value = session.run(None, {session.get_inputs()[0].name: rows})[0]
cases.append({"name": "imputer_pipeline", "model": "imputer_pipeline.onnx",
              "rows": [[None if np.isnan(v) else float(v) for v in row] for row in rows],
              "outputs": {session.get_outputs()[0].name: {"rows": np.asarray(value).reshape(len(rows), -1).tolist()}}, "opsets": opsets(onx)})

# Named inputs of mixed types: numbers scaled, a text column one-hot encoded, then a classifier.
import pandas as pd
colors = np.array(["red", "green", "blue"])
frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "color": colors[rng.randint(0, 3, 200)]})
target = ((frame["a"] > 0) ^ (frame["color"] == "red")).astype(np.int64)
categorical = make_pipeline(
    ColumnTransformer([("num", StandardScaler(), ["a", "b"]), ("cat", OneHotEncoder(handle_unknown="ignore"), ["color"])]),
    LogisticRegression(),
).fit(frame, target)
test_frame = pd.DataFrame({"a": test[:, 0], "b": test[:, 1], "color": colors[rng.randint(0, 3, len(test))]})
onx = to_onnx(categorical, test_frame[:1])
with open(directory + "/categorical_pipeline.onnx", "wb") as f:
    f.write(onx.SerializeToString())
session = ort.InferenceSession(directory + "/categorical_pipeline.onnx", providers=["CPUExecutionProvider"])
feeds = {"a": test_frame[["a"]].values.astype(np.float32), "b": test_frame[["b"]].values.astype(np.float32), "color": test_frame[["color"]].values}
outputs = {}
for output, value in zip(session.get_outputs(), session.run(None, feeds)):
    if isinstance(value, list):
        labels = list(value[0].keys())
        outputs[output.name] = {"labels": [str(l) for l in labels], "rows": [[float(row[l]) for l in labels] for row in value]}
    else:
        outputs[output.name] = {"rows": np.asarray(value).reshape(len(test_frame), -1).tolist()}
cases.append({"name": "categorical_pipeline", "model": "categorical_pipeline.onnx",
              "frame": {"a": test_frame["a"].astype(float).tolist(), "b": test_frame["b"].astype(float).tolist(), "color": test_frame["color"].tolist()},
              "outputs": outputs, "opsets": opsets(onx)})

# A label encoder, made directly with the ONNX helpers.
from onnx import TensorProto, helper
node = helper.make_node("LabelEncoder", ["input"], ["code"], domain="ai.onnx.ml", keys_strings=["a", "b", "c"], values_int64s=[10, 20, 30], default_int64=-1)
graph = helper.make_graph([node], "labels", [helper.make_tensor_value_info("input", TensorProto.STRING, [None])],
                          [helper.make_tensor_value_info("code", TensorProto.INT64, [None])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15), helper.make_opsetid("ai.onnx.ml", 2)])
model.ir_version = 8
with open(directory + "/label_encoder.onnx", "wb") as f:
    f.write(model.SerializeToString())
session = ort.InferenceSession(directory + "/label_encoder.onnx", providers=["CPUExecutionProvider"])
words = ["a", "c", "zzz", "b", "a"]
codes = session.run(None, {"input": np.array(words, dtype=object)})[0]
cases.append({"name": "label_encoder", "model": "label_encoder.onnx", "frame": {"input": words},
              "outputs": {"code": {"rows": [[int(c)] for c in codes]}}})

# Tree ensembles built by hand: every branch mode (LEQ, LT, GTE, GT, EQ, NEQ), missing values
# routed either way, and each aggregate function — scikit-learn only ever writes BRANCH_LEQ with
# missing values going false. Thresholds and inputs sit on a 0.5 grid so EQ and NEQ really split;
# a fifth of the inputs are NaN (null in JSON).
def random_ensemble(trees, depth, modes, missing_true, targets, classifier):
    attributes = {key: [] for key in ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
                                      "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true"]}
    weights = {"treeids": [], "nodeids": [], "ids": [], "weights": []}
    for tree in range(trees):
        next_id = [0]
        def build(level):
            node = next_id[0]
            next_id[0] += 1
            leaf = level == depth or (level > 1 and rng.rand() < 0.2)
            attributes["nodes_treeids"].append(tree)
            attributes["nodes_nodeids"].append(node)
            attributes["nodes_featureids"].append(0 if leaf else int(rng.randint(0, 4)))
            attributes["nodes_values"].append(0.0 if leaf else float(rng.randint(-4, 5)) / 2)
            attributes["nodes_modes"].append("LEAF" if leaf else str(rng.choice(modes)))
            attributes["nodes_missing_value_tracks_true"].append(0 if leaf else int(missing_true and rng.rand() < 0.5))
            position = len(attributes["nodes_truenodeids"])
            attributes["nodes_truenodeids"].append(0)
            attributes["nodes_falsenodeids"].append(0)
            if leaf:
                for target in range(targets):
                    weights["treeids"].append(tree)
                    weights["nodeids"].append(node)
                    weights["ids"].append(target)
                    weights["weights"].append(float(rng.randn()))
            else:
                attributes["nodes_truenodeids"][position] = build(level + 1)
                attributes["nodes_falsenodeids"][position] = build(level + 1)
            return node
        build(0)
    prefix = "class" if classifier else "target"
    return dict(attributes, **{prefix + "_" + key: value for key, value in weights.items()})

hand_rows = (rng.randint(-5, 6, size=(40, 4)) / 2).astype(np.float32)
hand_rows[rng.rand(*hand_rows.shape) < 0.2] = np.nan
all_modes = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"]
hand_made = {
    "tree_modes_sum": ("TreeEnsembleRegressor", all_modes, True, "SUM", 2),
    "tree_modes_max": ("TreeEnsembleRegressor", all_modes, True, "MAX", 2),
    "tree_modes_min": ("TreeEnsembleRegressor", all_modes, False, "MIN", 1),
    "tree_lt_average": ("TreeEnsembleRegressor", ["BRANCH_LT"], False, "AVERAGE", 1),
    "tree_modes_classifier": ("TreeEnsembleClassifier", all_modes, True, None, 3),
}
for name, (op, modes, missing_true, aggregate, targets) in hand_made.items():
    classifier = op == "TreeEnsembleClassifier"
    attributes = random_ensemble(6, 4, modes, missing_true, targets, classifier)
    if classifier:
        attributes.update(classlabels_int64s=list(range(targets)), post_transform="SOFTMAX")
        outputs_info = [helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
                        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, targets])]
    else:
        attributes.update(n_targets=targets, aggregate_function=aggregate, base_values=[0.25] * targets)
        outputs_info = [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, targets])]
    node = helper.make_node(op, ["input"], [o.name for o in outputs_info], domain="ai.onnx.ml", **attributes)
    graph = helper.make_graph([node], name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 4])], outputs_info)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15), helper.make_opsetid("ai.onnx.ml", 3)])
    model.ir_version = 8
    with open("%s/%s.onnx" % (directory, name), "wb") as f:
        f.write(model.SerializeToString())
    session = ort.InferenceSession("%s/%s.onnx" % (directory, name), providers=["CPUExecutionProvider"])
    outputs = {}
    for output, value in zip(session.get_outputs(), session.run(None, {"input": hand_rows})):
        outputs[output.name] = {"rows": np.asarray(value).reshape(len(hand_rows), -1).tolist()}
    cases.append({"name": name, "model": name + ".onnx",
                  "rows": [[None if np.isnan(v) else float(v) for v in row] for row in hand_rows], "outputs": outputs})

# Operators whose meaning depends on the version the opset selects, checked against onnxruntime.
def scored_model(name, nodes, inputs_info, outputs_info, opset_list, feeds, rows, initializers=()):
    graph = helper.make_graph(nodes, name, inputs_info, outputs_info, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opset_list])
    model.ir_version = 10
    with open("%s/%s.onnx" % (directory, name), "wb") as f:
        f.write(model.SerializeToString())
    session = ort.InferenceSession("%s/%s.onnx" % (directory, name), providers=["CPUExecutionProvider"])
    outputs = {}
    for output, value in zip(session.get_outputs(), session.run(None, feeds)):
        outputs[output.name] = {"rows": np.asarray(value).reshape(len(rows), -1).tolist()}
    cases.append({"name": name, "model": name + ".onnx", "rows": rows.astype(float).tolist(), "outputs": outputs, "opsets": dict(opset_list)})

grid = (rng.randint(-2, 3, size=(30, 4)) / 2).astype(np.float32)  # ties for ArgMax
x4 = helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 4])
to3d = helper.make_tensor("to3d", TensorProto.INT64, [3], [-1, 2, 2])
to2d = helper.make_tensor("to2d", TensorProto.INT64, [2], [-1, 4])
newest = onnx.defs.onnx_opset_version()
# Softmax before 13 folds a rank-3 input into a matrix at axis 1 (softmax over both trailing axes).
scored_model("softmax_folded_opset11", [helper.make_node("Reshape", ["input", "to3d"], ["cube"]), helper.make_node("Softmax", ["cube"], ["soft"], axis=1),
             helper.make_node("Reshape", ["soft", "to2d"], ["out"])], [x4], [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, 4])],
             [("", 11)], {"input": test}, test, initializers=[to3d, to2d])
# From 13 it normalises along one axis (default -1, the last); here at the newest opset onnx defines.
scored_model("softmax_last_axis_newest", [helper.make_node("Reshape", ["input", "to3d"], ["cube"]), helper.make_node("Softmax", ["cube"], ["soft"]),
             helper.make_node("Reshape", ["soft", "to2d"], ["out"])], [x4], [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, 4])],
             [("", newest)], {"input": test}, test, initializers=[to3d, to2d])
# ArgMax (12+) with select_last_index picks the last of tied maxima.
scored_model("argmax_last_index", [helper.make_node("ArgMax", ["input"], ["index"], axis=1, keepdims=1, select_last_index=1)], [x4],
             [helper.make_tensor_value_info("index", TensorProto.INT64, [None, 1])], [("", 13)], {"input": grid}, grid)
# Cast, Relu, Flatten and Add at the newest opset (types-only changes since their older versions).
scored_model("cast_relu_newest", [helper.make_node("Cast", ["input"], ["wide"], to=TensorProto.DOUBLE), helper.make_node("Relu", ["wide"], ["positive"]),
             helper.make_node("Flatten", ["positive"], ["flat"], axis=1), helper.make_node("Add", ["flat", "flat"], ["out"])], [x4],
             [helper.make_tensor_value_info("out", TensorProto.DOUBLE, [None, 4])], [("", newest)], {"input": test}, test)
# Tree ensembles of ai.onnx.ml version 3 with their tensor attributes (of the input's type, as
# onnxruntime reads them): base values, and a binary classifier whose negative class weights are
# only in class_weights_as_tensor.
tree = dict(nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[0, 0, 0], nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF"],
            nodes_truenodeids=[1, 0, 0], nodes_falsenodeids=[2, 0, 0], nodes_values_as_tensor=helper.make_tensor("v", TensorProto.FLOAT, [3], [0.1, 0, 0]))
scored_model("tree_regressor_tensors_v3", [helper.make_node("TreeEnsembleRegressor", ["input"], ["out"], domain="ai.onnx.ml", n_targets=1,
             target_treeids=[0, 0], target_nodeids=[1, 2], target_ids=[0, 0], target_weights_as_tensor=helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0]),
             base_values_as_tensor=helper.make_tensor("b", TensorProto.FLOAT, [1], [100.0]), **tree)], [x4],
             [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, 1])], [("", 15), ("ai.onnx.ml", 3)], {"input": test}, test)
scored_model("tree_classifier_tensors_v3", [helper.make_node("TreeEnsembleClassifier", ["input"], ["label", "probabilities"], domain="ai.onnx.ml",
             classlabels_int64s=[0, 1], post_transform="LOGISTIC", class_treeids=[0, 0], class_nodeids=[1, 2], class_ids=[1, 1],
             class_weights_as_tensor=helper.make_tensor("w", TensorProto.FLOAT, [2], [-1.5, 2.0]), **tree)], [x4],
             [helper.make_tensor_value_info("label", TensorProto.INT64, [None]), helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
             [("", 15), ("ai.onnx.ml", 3)], {"input": test}, test)

# Models the engine must refuse when they load (deploy time), with the error code and a phrase
# the message must contain.
def refusal(name, nodes, code, phrase, opsets=(("", 15), ("ai.onnx.ml", 3)), initializers=()):
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 2])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, 1])], initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(domain, version) for domain, version in opsets])
    model.ir_version = 8
    with open("%s/%s.onnx" % (directory, name), "wb") as f:
        f.write(model.SerializeToString())
    return {"name": name, "model": name + ".onnx", "code": code, "contains": phrase}

linear = dict(coefficients=[1.0, 2.0], intercepts=[0.5])
refusals = [
    refusal("refuse_operator", [helper.make_node("Einsum", ["input"], ["out"], equation="ij->ij")], "unsupported", "Einsum"),
    refusal("refuse_post_transform", [helper.make_node("LinearRegressor", ["input"], ["out"], domain="ai.onnx.ml", post_transform="PROBIT", **linear)],
            "unsupported", "PROBIT"),
    refusal("refuse_cast", [helper.make_node("Cast", ["input"], ["out"], to=TensorProto.BFLOAT16)], "unsupported", "Cast"),
    refusal("refuse_opset", [helper.make_node("Relu", ["input"], ["out"])], "unsupported", "opset 99", opsets=(("", 99),)),
    # Versions whose meaning the engine does not implement, named with their domain and version.
    refusal("refuse_reshape_v1", [helper.make_node("Reshape", ["input"], ["out"], shape=[-1, 1])], "unsupported", "ai.onnx.Reshape version 1", opsets=(("", 4),)),
    refusal("refuse_cast_v1", [helper.make_node("Cast", ["input"], ["out"], to="FLOAT")], "unsupported", "ai.onnx.Cast version 1", opsets=(("", 5),)),
    refusal("refuse_label_encoder_v1", [helper.make_node("LabelEncoder", ["input"], ["out"], domain="ai.onnx.ml", classes_strings=["a"])],
            "unsupported", "ai.onnx.ml.LabelEncoder version 1", opsets=(("", 15), ("ai.onnx.ml", 1))),
    refusal("refuse_label_encoder_tensor", [helper.make_node("LabelEncoder", ["input"], ["out"], domain="ai.onnx.ml",
            keys_tensor=helper.make_tensor("k", TensorProto.INT64, [1], [1]), values_tensor=helper.make_tensor("v", TensorProto.INT64, [1], [2]))],
            "unsupported", "keys_tensor", opsets=(("", 15), ("ai.onnx.ml", 4))),
    refusal("refuse_tree_deprecated", [helper.make_node("TreeEnsembleRegressor", ["input"], ["out"], domain="ai.onnx.ml",
            nodes_treeids=[0], nodes_nodeids=[0], nodes_featureids=[0], nodes_values=[0.0], nodes_modes=["LEAF"],
            nodes_truenodeids=[0], nodes_falsenodeids=[0], target_treeids=[0], target_nodeids=[0], target_ids=[0], target_weights=[1.0])],
            "unsupported", "deprecated", opsets=(("", 21), ("ai.onnx.ml", 5))),
    refusal("refuse_add_axis_v6", [helper.make_node("Add", ["input", "input"], ["out"], broadcast=1, axis=1)], "unsupported", "axis", opsets=(("", 6),)),
    refusal("refuse_newer_than_known", [helper.make_node("Relu", ["input"], ["out"])], "unsupported", "opset %d" % (newest + 1), opsets=(("", newest + 1),)),
    refusal("refuse_dangling_input", [helper.make_node("Add", ["input", "nowhere"], ["out"])], "invalid-argument", "nowhere"),
    refusal("refuse_missing_output", [helper.make_node("Relu", ["input"], ["other"])], "invalid-argument", "out"),
    refusal("refuse_normalizer", [helper.make_node("Normalizer", ["input"], ["out"], domain="ai.onnx.ml", norm="L3")], "unsupported", "L3"),
    refusal("refuse_tree_branch", [helper.make_node("TreeEnsembleRegressor", ["input"], ["out"], domain="ai.onnx.ml",
            nodes_treeids=[0, 0], nodes_nodeids=[0, 1], nodes_featureids=[0, 0], nodes_values=[0.0, 0.0], nodes_modes=["BRANCH_LEQ", "LEAF"],
            nodes_truenodeids=[1, 0], nodes_falsenodeids=[7, 0], target_treeids=[0], target_nodeids=[1], target_ids=[0], target_weights=[1.0])],
            "invalid-value", "does not exist"),
    refusal("refuse_tree_mode", [helper.make_node("TreeEnsembleRegressor", ["input"], ["out"], domain="ai.onnx.ml",
            nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[0, 0, 0], nodes_values=[0.0, 0.0, 0.0],
            nodes_modes=["BRANCH_SOMETIMES", "LEAF", "LEAF"], nodes_truenodeids=[1, 0, 0], nodes_falsenodeids=[2, 0, 0],
            target_treeids=[0], target_nodeids=[1], target_ids=[0], target_weights=[1.0])],
            "unsupported", "BRANCH_SOMETIMES"),
]
with open(directory + "/refusals.json", "w") as f:
    json.dump(refusals, f)

# Inputs a model must refuse with a typed error when scored (never a crash): NaN or an infinity
# cast to an integer.
scored_model("cast_to_integer", [helper.make_node("Cast", ["input"], ["out"], to=TensorProto.INT64)], [x4],
             [helper.make_tensor_value_info("out", TensorProto.INT64, [None, 4])], [("", 21)], {"input": grid}, grid)
with open(directory + "/scoring_errors.json", "w") as f:
    json.dump([{"model": "cast_to_integer.onnx", "rows": [[1, None, 2, 3]], "code": "invalid-value", "contains": "integers"},
               {"model": "cast_to_integer.onnx", "rows": [[1, 1e300, 2, 3]], "code": "invalid-value", "contains": "integers"}], f)

with open(directory + "/cases.json", "w") as f:
    json.dump(cases, f)
print("made", len(cases), "models")
