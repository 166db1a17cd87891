#!/usr/bin/env bash
# Installs what building and testing MLDeploy needs on a fresh Debian machine of this kind, and
# nothing when it is already there. Idempotent; safe to run before every build.
set -euo pipefail

# System packages the build and the tests need (Debian names). The Swift toolchain is expected on
# the machine (/opt/swift); everything else is installed here.
#   libcurl4-openssl-dev, libssl-dev, pkg-config: the HTTP transport and the crypto module
#   tinyproxy: the real forward proxy of the proxy tests
#   nginx-light: HTTP/2 and keep-alive tests, and the HTTP benchmark's server
#   openssl: test certificates are made with its command line
#   bubblewrap, util-linux (setpriv): confine Python workers (runtime.isolation: sandbox)
#   postgresql: the PostgreSQL backend's tests start a private cluster of their own
#   prometheus: its promtool checks the server's GET /metrics exposition
#   libpython3.11: Triton's Python backend stub embeds the system's libpython (the OIP backend's
#   Triton tests)
#   libldap-dev: the server's LDAP sign-in (CLDAP); slapd: the real directory of its tests
APT_PACKAGES=(libcurl4-openssl-dev libssl-dev libopenblas-dev pkg-config tinyproxy nginx-light openssl bubblewrap util-linux postgresql prometheus libpython3.11 libldap-dev slapd)

# Python packages the tests need, as pip-name:module: opentelemetry-proto decodes what the tracing
# test's OTLP receiver gets; pyjwt signs the tokens of the OIDC tests' identity provider; openapi-spec-validator checks services' OpenAPI 3.0 documents; the Python runtime binds vectors, matrices and
# data frames as numpy and pandas values, and unpickles objects with dill when it is installed; the
# ONNX tests make models with scikit-learn and skl2onnx and compare with onnxruntime. Those four are
# pinned: the tests export with the exporter's default opsets and the newest opset onnx defines, and
# the engine knows operator versions up to onnx 1.23's (opset 28, ai.onnx.ml 5).
PIP_PACKAGES=(opentelemetry-proto:opentelemetry.proto pyjwt:jwt openapi-spec-validator==0.7.1:openapi_spec_validator numpy:numpy pandas:pandas dill:dill scikit-learn==1.9.1:sklearn skl2onnx==1.20.0:skl2onnx onnxruntime==1.32.0:onnxruntime onnx==1.23.2:onnx)

if ! command -v swift >/dev/null 2>&1; then
    echo "bootstrap: the Swift toolchain is not on PATH (expected Swift 6.1 or later)" >&2
    exit 1
fi

missing=()
for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    # Debian starts services on install unless policy-rc.d forbids it; the tests start their own.
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
    for service in tinyproxy nginx postgresql prometheus prometheus-node-exporter slapd; do
        $sudo_cmd service "$service" stop >/dev/null 2>&1 || true
    done
fi

if ! command -v python3 >/dev/null 2>&1; then
    echo "bootstrap: python3 is not on PATH (the Python runtime and the tests need Python 3)" >&2
    exit 1
fi
missing_pip=()
for entry in "${PIP_PACKAGES[@]}"; do
    python3 -c "import ${entry#*:}" >/dev/null 2>&1 || missing_pip+=("${entry%%:*}")
done
if [ ${#missing_pip[@]} -gt 0 ]; then
    echo "bootstrap: installing Python packages ${missing_pip[*]}"
    python3 -m pip install -q --disable-pip-version-check "${missing_pip[@]}"
fi

# The unmodified Python SDK, for the interoperability test against `mldeploy serve`: a venv of its
# own (the SDK pins old APIs and needs Python <= 3.11), at .venv-sdk beside this script's repository.
SDK_VENV="$(cd "$(dirname "$0")/.." && pwd)/.venv-sdk"
if ! "$SDK_VENV/bin/python" -c "import azureml.deploy" >/dev/null 2>&1; then
    echo "bootstrap: creating the Python SDK venv at $SDK_VENV"
    sdk_python="$(command -v python3.11 || command -v python3)"
    "$sdk_python" -c 'import sys; sys.exit(sys.version_info[:2] > (3, 11))' || {
        echo "bootstrap: the Python SDK needs Python 3.11 or older; install python3.11" >&2
        exit 1
    }
    "$sdk_python" -m venv "$SDK_VENV"
    "$SDK_VENV/bin/pip" install -q --disable-pip-version-check "azureml-model-management-sdk==1.0.1b6.post1"
fi

# schemathesis, which checks docs/openapi.yaml against the running server (SchemathesisTests): a
# venv of its own at .venv-schemathesis, so its dependencies never meet the workers' packages.
ST_VENV="$(cd "$(dirname "$0")/.." && pwd)/.venv-schemathesis"
if ! "$ST_VENV/bin/st" --version >/dev/null 2>&1; then
    echo "bootstrap: creating the schemathesis venv at $ST_VENV"
    python3 -m venv "$ST_VENV"
    "$ST_VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==4.32.5"
fi

# The Open Inference Protocol's own clients, for the OIP tests against `mldeploy serve`:
# tritonclient[http] (binary tensor data by default) and kserve's InferenceRESTClient, in a venv of
# their own at .venv-oip (kserve pins many packages the workers' python3 must not meet).
OIP_VENV="$(cd "$(dirname "$0")/.." && pwd)/.venv-oip"
if ! "$OIP_VENV/bin/python" -c "import tritonclient.http, kserve" >/dev/null 2>&1; then
    echo "bootstrap: creating the OIP clients' venv at $OIP_VENV"
    python3 -m venv "$OIP_VENV"
    "$OIP_VENV/bin/pip" install -q --disable-pip-version-check "tritonclient[http]==2.73.0" "kserve==0.21.0"
fi

# Seldon MLServer (with onnxruntime and pandas for the runtimes the OIP backend writes beside the
# models it publishes), for the OIP backend's tests: a venv of its own at .venv-mlserver.
MLS_VENV="$(cd "$(dirname "$0")/.." && pwd)/.venv-mlserver"
if ! "$MLS_VENV/bin/python" -c "import mlserver, onnxruntime, pandas" >/dev/null 2>&1; then
    echo "bootstrap: creating the Seldon MLServer venv at $MLS_VENV"
    python3 -m venv "$MLS_VENV"
    "$MLS_VENV/bin/pip" install -q --disable-pip-version-check "mlserver==1.7.1" onnxruntime pandas
fi

# NVIDIA Triton Inference Server for the OIP backend's Triton tests: the CPU build with Triton's
# Python backend that PyPI's nvidia-pytriton wheel ships (its other dependencies are not needed:
# the tests run the tritonserver binary it carries), in a venv of its own at .venv-triton, with
# what the models published there import (the tests name it with the python_path option): numpy
# 1.x — this Triton's Python backend is built against numpy 1, and numpy 2 garbles its tensors —
# pandas and onnxruntime.
TRITON_VENV="$(cd "$(dirname "$0")/.." && pwd)/.venv-triton"
if ! ls "$TRITON_VENV"/lib/python3*/site-packages/pytriton/tritonserver/bin/tritonserver >/dev/null 2>&1 \
    || ! "$TRITON_VENV/bin/python" -c "import numpy, pandas, onnxruntime" >/dev/null 2>&1; then
    echo "bootstrap: creating the Triton venv at $TRITON_VENV"
    python3 -m venv "$TRITON_VENV"
    "$TRITON_VENV/bin/pip" install -q --disable-pip-version-check --no-deps "nvidia-pytriton==0.7.0"
    "$TRITON_VENV/bin/pip" install -q --disable-pip-version-check "numpy<2" pandas onnxruntime
fi
