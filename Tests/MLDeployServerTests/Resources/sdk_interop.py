"""Drives the unmodified Python SDK (azureml-model-management-sdk 1.0.1b6.post1) against a real
`mldeploy serve`. Usage: python sdk_interop.py HOST USER PASSWORD. Prints one line per step and
"SDK INTEROP OK" at the end; any failure raises (non-zero exit).

The only change to the SDK is the run-time patch in sdk_patch.py: `function_beget` builds code objects
with the Python ≤ 3.7 signature, so on 3.8+ it is replaced with `code.replace(...)`.
"""
import base64
import json
import sys
import time


import numpy as np
import pandas as pd

import sdk_patch  # noqa: F401  (the function_beget patch: must come before azureml.deploy)

from azureml.deploy import DeployClient  # noqa: E402
from azureml.deploy.server import MLServer  # noqa: E402

host, user, password = sys.argv[1], sys.argv[2], sys.argv[3]


def step(text):
    print(text, flush=True)


def init():
    global offset
    offset = 1000


def transform(i, f, s, b, v, m, d):
    global out_f, out_s, out_b, out_v, out_m, out_d
    out_f = f * scale
    out_s = s.upper() + suffix
    out_b = not b
    out_v = v * 2
    out_m = m.T
    out_d = d.assign(total=d['a'] * weights['factor'])
    with open('report.txt', 'w') as report:
        report.write('%s:%d' % (s, i))
    print('transformed', i)
    return i + offset


client = DeployClient(host, use=MLServer, auth=(user, password))
step('logged in')

name = 'Interop'
service = (client.service(name).version('1.0')
           .code_fn(transform, init)
           .inputs(i=int, f=float, s=str, b=bool, v=np.array, m=np.matrix, d=pd.DataFrame)
           .outputs(out_i=int, out_f=float, out_s=str, out_b=bool, out_v=np.array, out_m=np.matrix, out_d=pd.DataFrame)
           .objects(scale=3, suffix='!')
           .models(weights={'factor': 10})
           .artifacts(['report.txt'])
           .description('Every type, computed from the inputs')
           .deploy())
step('published %s %s' % (service.capabilities()['name'], service.capabilities()['version']))
assert service.capabilities()['operation_id'] == 'transform'
second = client.service(name).version('2.0').code_str('out_i = i * 2', 'import math').inputs(i=int).outputs(out_i=int).deploy()

all_services = client.list_services()
by_name = client.list_services(name)
by_version = client.list_services(name, version='1.0')
assert [s['version'] for s in by_name] == ['1.0', '2.0'], by_name
assert any(s['name'] == name for s in all_services)
assert len(by_version) == 1 and by_version[0]['version'] == '1.0'
step('listed three ways')

latest = client.get_service(name)
assert latest.capabilities()['version'] == '2.0'
assert latest.consume(21).output('out_i') == 42
svc = client.get_service(name, version='1.0')
step('got latest and by version')

frame = pd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})
result = svc.transform(5, 2.5, 'ab', True, np.array([1, 2, 3]), np.matrix([[1, 2], [3, 4]]), frame)
assert result.error == '', result.error
assert result.output('out_i') == 1005
assert result.output('out_f') == 7.5
assert result.output('out_s') == 'AB!'
assert result.output('out_b') is False
assert list(result.output('out_v')) == [2, 4, 6]
assert result.output('out_m').tolist() == [[1, 3], [2, 4]]
assert list(result.output('out_d')['total']) == [10, 20]
assert result.artifact('report.txt') == b'ab:5'
assert 'transformed 5' in result.console_output
step('consumed through the alias')

swagger = json.loads(svc.swagger())
assert '/api/%s/1.0' % name in swagger['paths'], swagger['paths'].keys()
step('swagger')

patched = client.service(name).version('1.0').description('patched').redeploy()
assert patched.capabilities()['description'] == 'patched'
again = patched.transform(1, 1.0, 'z', False, np.array([1]), np.matrix([[1]]), frame)
assert again.output('out_i') == 1001 and again.output('out_s') == 'Z!', again.error
step('redeployed')

records = [{'i': n, 'f': float(n), 's': text, 'b': True, 'v': [1], 'm': [[1]], 'd': {'a': [1, 2], 'b': ['x', 'y']}}
           for n, text in [(1, 'p'), (2, 'q'), (3, 'r')]]
batch = svc.batch(records, parallel_count=2).start()
assert batch.execution_id
for _ in range(600):
    status = batch.results(show_partial_results=True)
    if status.state in ('Complete', 'Failed'):
        break
    time.sleep(0.05)
assert status.state == 'Complete', status.state
assert status.total_item_count == 3 and status.completed_item_count == 3
assert [status.execution(i).output('out_i') for i in range(3)] == [1001, 1002, 1003]
assert batch.list_artifacts(1) == ['report.txt']
assert batch.artifact(2, 'report.txt') == b'r:3'
assert batch.execution_id in svc.list_batch_executions()
batch.cancel()
step('batch with partial results and artifacts')

assert client.delete_service(name, version='1.0') is True
assert client.delete_service(name, version='2.0') is True
assert [s for s in client.list_services(name)] == []
step('deleted')
print('SDK INTEROP OK', flush=True)
