#ifndef MLDEPLOY_RAWCURL_H
#define MLDEPLOY_RAWCURL_H
#include <stddef.h>

/// The baseline: `count` sequential GETs of `url` on ONE reused easy handle, in plain C, blocking.
/// Returns the number of bytes received, or -1 on the first failure.
long long raw_curl_sequential(const char *url, int count);

#endif
