#ifndef MLDEPLOY_RAWCURL_H
#define MLDEPLOY_RAWCURL_H
#include <stddef.h>

/// The baseline: `count` sequential GETs of `url` on ONE reused easy handle, in plain C, blocking.
/// Returns the number of bytes received, or -1 on the first failure.
long long raw_curl_sequential(const char *url, int count);

/// The concurrent baseline: `connections` handles shared out over `threads` threads, each thread
/// driving its own multi handle in plain C, for `seconds` seconds. Returns the number of requests
/// completed, or -1 on a failure.
long long raw_curl_concurrent(const char *url, int connections, int threads, int seconds);

#endif
