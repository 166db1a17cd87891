"""The run-time patch that lets azureml-model-management-sdk 1.0.1b6.post1 run on Python
3.8+: `function_beget` builds code objects with the Python <= 3.7 signature, so it is replaced with
`code.replace(...)`. Import this module before `azureml.deploy`.
"""
import types

import azureml.common.utils as sdk_utils
import azureml.deploy.server.service as sdk_service


def function_beget(fn, fn_name, fn_args, doc=''):
    code = fn.__code__
    pad = code.co_varnames[code.co_argcount:]
    code = code.replace(co_argcount=len(fn_args), co_varnames=tuple(fn_args) + pad,
                        co_nlocals=len(fn_args) + len(pad), co_name=fn_name)
    beget = types.FunctionType(code, fn.__globals__, fn_name)
    beget.__doc__ = doc
    return beget


sdk_utils.function_beget = function_beget
sdk_service.function_beget = function_beget

