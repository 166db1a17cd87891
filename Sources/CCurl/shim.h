#ifndef MLDEPLOY_CCURL_SHIM_H
#define MLDEPLOY_CCURL_SHIM_H
#include <curl/curl.h>
#endif
