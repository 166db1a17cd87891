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

/// An open-loop run on one thread (`raw_curl_paced.c` says why): POSTs `body` to `url` with
/// `headers` ("Name: value") at `rate` requests a second for `seconds`, on at most `connections`
/// kept connections, after `warm_up_seconds` of closed-loop warm-up on all of them. Request i is due
/// at a fixed time; `latencies[i]` gets how long after that time its answer was read and
/// `lateness[i]` how long after it the request was handed to libcurl (ms); both arrays hold
/// `rate * seconds` entries. Returns the number of requests answered, or -1 with `error` saying why
/// (a failed transfer, an answer other than 200, the server stalled).
long raw_curl_paced(const char *url, const char *body, const char *const *headers, int header_count,
                    double rate, int seconds, int connections, double warm_up_seconds,
                    double *latencies, double *lateness, char *error, size_t error_size);

#endif
