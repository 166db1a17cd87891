#include "RawCurl.h"
#include <curl/curl.h>
#include <pthread.h>
#include <time.h>

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

/* One thread of raw_curl_concurrent: `connections` handles on one multi handle, each re-added as soon
   as its transfer ends, until `seconds` have passed. */
struct multi_job {
    const char *url;
    int connections;
    int seconds;
    long long completed;
};

static void *run_multi(void *argument) {
    struct multi_job *job = argument;
    CURLM *multi = curl_multi_init();
    CURL *handles[256];
    long long total = 0;
    if (job->connections > 256) job->connections = 256;
    for (int i = 0; i < job->connections; i++) {
        CURL *handle = handles[i] = curl_easy_init();
        curl_easy_setopt(handle, CURLOPT_URL, job->url);
        curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, count_bytes);
        curl_easy_setopt(handle, CURLOPT_WRITEDATA, &total);
        curl_easy_setopt(handle, CURLOPT_PROXY, "");
        curl_multi_add_handle(multi, handle);
    }
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int running = 0, queued = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *message;
        while ((message = curl_multi_info_read(multi, &queued))) {
            if (message->msg != CURLMSG_DONE) continue;
            CURL *handle = message->easy_handle;
            if (message->data.result != CURLE_OK) { job->completed = -1; goto done; }
            curl_multi_remove_handle(multi, handle);
            curl_multi_add_handle(multi, handle);
            job->completed++;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= job->seconds) break;
        curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
done:
    for (int i = 0; i < job->connections; i++) {
        curl_multi_remove_handle(multi, handles[i]);
        curl_easy_cleanup(handles[i]);
    }
    curl_multi_cleanup(multi);
    return NULL;
}

long long raw_curl_concurrent(const char *url, int connections, int threads, int seconds) {
    pthread_t ids[16];
    struct multi_job jobs[16];
    if (threads < 1 || threads > 16) return -1;
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct multi_job){ url, (connections + threads - 1 - i) / threads, seconds, 0 };
        pthread_create(&ids[i], NULL, run_multi, &jobs[i]);
    }
    long long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(ids[i], NULL);
        if (jobs[i].completed < 0) return -1;
        total += jobs[i].completed;
    }
    return total;
}
