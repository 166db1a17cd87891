#ifndef MLDEPLOY_COPENBLAS_SHIM_H
#define MLDEPLOY_COPENBLAS_SHIM_H
// OpenBLAS's CBLAS interface (Debian's libopenblas-dev; pkg-config `openblas` names its include
// directory): the ONNX engine's dense layers multiply through cblas_sgemm / cblas_dgemm.
#include <cblas.h>
#endif
