#ifndef MLDEPLOY_CCURLSHIMS_H
#define MLDEPLOY_CCURLSHIMS_H

// Typed wrappers for libcurl's variadic functions (curl_easy_setopt, curl_easy_getinfo,
// curl_multi_setopt), which Swift cannot call directly, and an accessor for CURLMsg's union.

#include <curl/curl.h>

/// The shape of CURLOPT_WRITEFUNCTION, CURLOPT_HEADERFUNCTION and CURLOPT_READFUNCTION callbacks.
typedef size_t (*mld_data_callback)(char *buffer, size_t size, size_t count, void *userdata);

CURLcode mld_easy_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode mld_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode mld_easy_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode mld_easy_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode mld_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode mld_easy_setopt_callback(CURL *handle, CURLoption option, mld_data_callback callback);

CURLcode mld_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode mld_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value);
CURLcode mld_easy_getinfo_string(CURL *handle, CURLINFO info, const char **value);

CURLMcode mld_multi_setopt_long(CURLM *multi, CURLMoption option, long value);

/// Reads the next "transfer done" message: returns 1 and fills `easy` and `result` when there is one,
/// 0 when the queue holds no more done messages.
int mld_multi_next_done(CURLM *multi, CURL **easy, CURLcode *result);

/// Names the calling thread as the system shows it (top -H, perf, /proc); at most 15 bytes.
/// (pthread_setname_np needs _GNU_SOURCE, which Swift's Glibc module does not define.)
void mld_set_thread_name(const char *name);

#endif
