#include "RawCurl.h"
#include <curl/curl.h>

static size_t count_bytes(char *data, size_t size, size_t items, void *total) {
    *(long long *)total += (long long)(size * items);
    return size * items;
}

long long raw_curl_sequential(const char *url, int count) {
    CURL *handle = curl_easy_init();
    if (!handle) return -1;
    long long total = 0;
    curl_easy_setopt(handle, CURLOPT_URL, url);
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, count_bytes);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &total);
    curl_easy_setopt(handle, CURLOPT_PROXY, "");
    for (int i = 0; i < count; i++) {
        if (curl_easy_perform(handle) != CURLE_OK) { total = -1; break; }
        long status = 0;
        curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200) { total = -1; break; }
    }
    curl_easy_cleanup(handle);
    return total;
}
