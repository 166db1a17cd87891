"""Drives `mldeploy serve`'s Open Inference Protocol routes with clients nobody here wrote:
tritonclient[http] (binary tensor data on and off) and kserve's InferenceRESTClient.

    oip_clients.py HOST:PORT TOKEN

Expects the server to have `lin` version 1 (a realtime ONNX linear regressor: input `input`
FP32 [-1, 4], output `variable` = input · [1, 2, 3, 4] + 0.5) and `pyscale` version 1 (Python:
inputs x numeric and v vector; outputs y = 2x, total = sum(v), doubled = 2v). Prints one line per
check and `ALL OK` at the end; any failure raises.
"""
import asyncio
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

address, token = sys.argv[1], sys.argv[2]


def auth():
    """A fresh header dict per call: tritonclient adds Inference-Header-Content-Length to the dict
    it is given, which would go stale on the next call."""
    return {"Authorization": "Bearer " + token}



def check(name, condition, detail=""):
    if not condition:
        raise AssertionError(f"{name}: {detail}")
    print("ok", name, flush=True)


client = httpclient.InferenceServerClient(url=address)
check("triton server live", client.is_server_live())
check("triton server ready", client.is_server_ready())
metadata = client.get_server_metadata()
check("triton server metadata", "binary_tensor_data" in metadata["extensions"], metadata)
check("triton model ready", client.is_model_ready("lin", headers=auth()))
check("triton model ready with version", client.is_model_ready("lin", "1", headers=auth()))
model = client.get_model_metadata("lin", headers=auth())
check("realtime model metadata", model["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}]
      and model["outputs"] == [{"name": "variable", "datatype": "FP32", "shape": [-1, 1]}] and model["versions"] == ["1"], model)

rows = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 1, 1]], dtype=np.float32)
expected = rows @ np.array([1, 2, 3, 4], dtype=np.float32) + 0.5
for binary in (True, False):
    tensor = httpclient.InferInput("input", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows, binary_data=binary)
    wanted = httpclient.InferRequestedOutput("variable", binary_data=binary)
    result = client.infer("lin", [tensor], model_version="1", outputs=[wanted], request_id="req-7", headers=auth())
    got = result.as_numpy("variable")
    check(f"triton realtime infer (binary={binary})", got.shape == (3, 1) and np.allclose(got[:, 0], expected), got)
    check(f"triton realtime id echoed (binary={binary})", result.get_response()["id"] == "req-7", result.get_response())

for binary in (True, False):
    x = httpclient.InferInput("x", [1], "FP64")
    x.set_data_from_numpy(np.array([21.0]), binary_data=binary)
    v = httpclient.InferInput("v", [3], "INT64")
    v.set_data_from_numpy(np.array([1, 2, 3], dtype=np.int64), binary_data=binary)
    outputs = [httpclient.InferRequestedOutput(name, binary_data=binary) for name in ("y", "total", "doubled")]
    result = client.infer("pyscale", [x, v], outputs=outputs, headers=auth())
    check(f"triton python infer y (binary={binary})", result.as_numpy("y").tolist() == [42.0], result.get_response())
    check(f"triton python infer total (binary={binary})", result.as_numpy("total").tolist() == [6], result.get_response())
    check(f"triton python infer doubled (binary={binary})", result.as_numpy("doubled").tolist() == [2, 4, 6], result.get_response())

try:
    client.infer("nosuch", [x], headers=auth())
    raise AssertionError("an unknown model answered")
except InferenceServerException as error:
    check("triton unknown model is an error", "nosuch" in str(error), str(error))
try:
    httpclient.InferenceServerClient(url=address).get_model_metadata("lin")
    raise AssertionError("metadata without a token answered")
except InferenceServerException as error:
    check("triton without a token is refused", "401" in str(error) or "nauthorized" in str(error) or "token" in str(error).lower(), str(error))


async def kserve_checks():
    from kserve import InferenceRESTClient, RESTConfig
    from kserve.protocol.infer_type import InferInput, InferRequest

    rest = InferenceRESTClient(RESTConfig(protocol="v2", retries=0))
    base = "http://" + address
    check("kserve server live", await rest.is_server_live(base))
    check("kserve server ready", await rest.is_server_ready(base))
    check("kserve model ready", await rest.is_model_ready(base, "lin", headers=auth()))
    data = InferInput(name="input", shape=[3, 4], datatype="FP32", data=rows.flatten().tolist())
    response = await rest.infer(base, InferRequest(model_name="lin", infer_inputs=[data], request_id="k-1"), model_name="lin", headers=auth())
    got = response.outputs[0].as_numpy()
    check("kserve realtime infer", np.allclose(got.reshape(-1), expected) and response.id == "k-1", got)
    x = InferInput(name="x", shape=[1], datatype="FP64", data=[1.5])
    v = InferInput(name="v", shape=[2], datatype="INT64", data=[4, 5])
    response = await rest.infer(base, InferRequest(model_name="pyscale", infer_inputs=[x, v]), model_name="pyscale", headers=auth())
    by_name = {output.name: output.as_numpy().tolist() for output in response.outputs}
    check("kserve python infer", by_name == {"y": [3.0], "total": [9], "doubled": [8, 10]}, by_name)
    await rest.close()


asyncio.run(kserve_checks())
print("ALL OK", flush=True)
