"""The unmodified Python SDK consuming a realtime (ONNX) service on a real `mldeploy serve`.

    python sdk_realtime.py HOST USER PASSWORD MODEL.onnx

The SDK's own deploy_realtime accepts only RevoScale models (it checks for the `blob` prefix), so
the model is published with the REST API's multipart request; everything else goes through the SDK.
Prints "SDK REALTIME OK" at the end; any failure raises.
"""
import sys

import pandas as pd
import requests

import sdk_patch  # noqa: F401  (the function_beget patch: must come before azureml.deploy)
from azureml.deploy import DeployClient  # noqa: E402
from azureml.deploy.server import MLServer  # noqa: E402

host, user, password, model_path = sys.argv[1:5]
token = requests.post(host + "/login", json={"username": user, "password": password}).json()["access_token"]
with open(model_path, "rb") as f:
    published = requests.post(host + "/realtime-services/onnxrt/1.0", headers={"Authorization": "Bearer " + token},
                              files={"model": ("model", f.read())}, data={"description": "an ONNX model"})
assert published.status_code == 201, published.text

client = DeployClient(host, use=MLServer, auth=(user, password))
service = client.get_service("onnxrt", version="1.0")
print("capabilities:", service.capabilities(), flush=True)
response = service.consume(pd.DataFrame({"x": [1.0, 2.5]}))
assert response.error is None or response.error == "", response.error
frame = response.outputs["outputData"]
print("outputData:", frame, flush=True)
assert list(frame["variable"]) == [3.0, 6.0], frame
print("SDK REALTIME OK", flush=True)
