"""The Python SDK's side of the MLServer backend benchmark: consume of one service in a loop.

Usage: python sdk_consume_loop.py HOST USER PASSWORD NAME VERSION CALLS

Logs in with the unmodified SDK (azureml-model-management-sdk 1.0.1b6.post1), gets the service,
warms up, then times CALLS sequential calls `service.<alias>(21.0)` (the SDK names the consume method
after the service's operation id, `double` for the benchmark's service) and prints one line:
"REQUESTS_PER_SECOND <rate>". The only change to the SDK is the run-time patch of its `function_beget` for Python >= 3.8
(Tests/MLDeployServerTests/Resources/sdk_patch.py).
"""
import os
import sys
import time

# The SDK's run-time function_beget patch for Python >= 3.8, shared with the interoperability tests.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Tests/MLDeployServerTests/Resources"))
import sdk_patch  # noqa: E402,F401  (must come before azureml.deploy)

from azureml.deploy import DeployClient  # noqa: E402
from azureml.deploy.server import MLServer  # noqa: E402

host, user, password, name, version, calls = sys.argv[1:7]
calls = int(calls)

# `use=MLServer` (the class): the string 'MLServer' only resolves when the working directory is the SDK's source root.
client = DeployClient(host, use=MLServer, auth=(user, password))
service = client.get_service(name, version=version)
consume = getattr(service, service.capabilities()['operation_id'])
answer = consume(21.0)
assert answer.output('y') == 42, (answer.error, answer.output('y'))
for _ in range(max(50, calls // 10)):
    consume(21.0)

start = time.perf_counter()
for _ in range(calls):
    consume(21.0)
elapsed = time.perf_counter() - start
print('REQUESTS_PER_SECOND %.1f' % (calls / elapsed), flush=True)
