/* An open-loop load generator in plain C on one thread: the pacer of the server and ONNX
   benchmarks. It plays the part wrk2 plays elsewhere (not packaged for this machine): each request
   is due at a fixed time, leaves then whether or not earlier ones were answered, and its latency is
   counted from that due time.

   Why C on one thread: a pacer that shares two vCPUs with the server must not add delay of its
   own. The thread that sends a due request is the thread the timer wakes (a timerfd with an
   absolute due time, polled beside libcurl's sockets), so there is no hand-off to another thread
   between "it is time" and "it is sent", and answers are read on that same thread. */
#define _GNU_SOURCE
#include "RawCurl.h"
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static long long monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static size_t discard(char *data, size_t size, size_t items, void *unused) {
    (void)data; (void)unused;
    return size * items;
}

/* One transfer slot: an easy handle kept for reuse (its connection stays in the multi handle's
   cache either way) and the index of the request it carries (-1 in the warm-up). */
struct slot {
    CURL *handle;
    long index;
    struct slot *next_free;
};

struct pacer {
    CURLM *multi;
    struct curl_slist *headers;
    const char *url, *body;
    struct slot *slots;
    int slot_count, slots_made;
    struct slot *free_slots;
    char *error;
    size_t error_size;
};

static struct slot *take_slot(struct pacer *pacer) {
    struct slot *slot = pacer->free_slots;
    if (slot) { pacer->free_slots = slot->next_free; return slot; }
    if (pacer->slots_made == pacer->slot_count) return NULL;
    slot = &pacer->slots[pacer->slots_made++];
    CURL *handle = slot->handle = curl_easy_init();
    if (!handle) return NULL;
    curl_easy_setopt(handle, CURLOPT_URL, pacer->url);
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_PROXY, "");
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, pacer->body);
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE, (long)strlen(pacer->body));
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, pacer->headers);
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(handle, CURLOPT_PRIVATE, slot);
    return slot;
}

static int start(struct pacer *pacer, long index) {
    struct slot *slot = take_slot(pacer);
    if (!slot) {
        snprintf(pacer->error, pacer->error_size, "more than %d requests outstanding: the server stalled", pacer->slot_count);
        return -1;
    }
    slot->index = index;
    if (curl_multi_add_handle(pacer->multi, slot->handle) != CURLM_OK) {
        snprintf(pacer->error, pacer->error_size, "curl_multi_add_handle failed");
        return -1;
    }
    return 0;
}

/* Reads finished transfers: hands each one's index to `finished` (with the time it was read) and
   frees its slot. Returns how many finished, or -1 on a failed transfer or an answer other than 200. */
static int reap(struct pacer *pacer, void (*finished)(void *, long, long long), void *context) {
    int count = 0, queued = 0;
    CURLMsg *message;
    while ((message = curl_multi_info_read(pacer->multi, &queued))) {
        if (message->msg != CURLMSG_DONE) continue;
        struct slot *slot = NULL;
        curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&slot);
        long status = 0;
        curl_easy_getinfo(slot->handle, CURLINFO_RESPONSE_CODE, &status);
        if (message->data.result != CURLE_OK) {
            snprintf(pacer->error, pacer->error_size, "%s: %s", pacer->url, curl_easy_strerror(message->data.result));
            return -1;
        }
        if (status != 200) {
            snprintf(pacer->error, pacer->error_size, "%s answered %ld", pacer->url, status);
            return -1;
        }
        curl_multi_remove_handle(pacer->multi, slot->handle);
        finished(context, slot->index, monotonic_ns());
        slot->next_free = pacer->free_slots;
        pacer->free_slots = slot;
        count++;
    }
    return count;
}

static void ignore(void *context, long index, long long now) { (void)context; (void)index; (void)now; }

struct paced_run {
    long long first;       /* the first request's due time (ns) */
    double interval;       /* ns between due times */
    double *latencies, *lateness;
};

static long long due(const struct paced_run *run, long index) {
    return run->first + (long long)(run->interval * (double)index);
}

static void record(void *context, long index, long long now) {
    struct paced_run *run = context;
    run->latencies[index] = (double)(now - due(run, index)) / 1e6;
}

long raw_curl_paced(const char *url, const char *body, const char *const *headers, int header_count,
                    double rate, int seconds, int connections, double warm_up_seconds,
                    double *latencies, double *lateness, char *error, size_t error_size) {
    long total = (long)(rate * seconds);
    struct pacer pacer = { .url = url, .body = body, .error = error, .error_size = error_size };
    if (error_size > 0) error[0] = 0;
    if (total <= 0 || connections <= 0) {
        snprintf(error, error_size, "nothing to send: rate %.1f/s for %d s on %d connections", rate, seconds, connections);
        return -1;
    }
    /* Timer slack 1 ns: poll's timeout and the timer fire when due, not up to 50 µs later. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    pacer.slot_count = 4096;
    pacer.slots = calloc((size_t)pacer.slot_count, sizeof(struct slot));
    pacer.multi = curl_multi_init();
    int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    long result = -1;
    if (!pacer.slots || !pacer.multi || timer < 0) {
        snprintf(error, error_size, "out of resources: %s", strerror(errno));
        goto done;
    }
    for (int i = 0; i < header_count; i++) pacer.headers = curl_slist_append(pacer.headers, headers[i]);
    curl_multi_setopt(pacer.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)connections);
    curl_multi_setopt(pacer.multi, CURLMOPT_MAXCONNECTS, (long)connections);

    /* Warm-up, closed loop: every connection kept busy until the deadline, so the paced requests
       find them open and the server's pools at their working size. */
    if (warm_up_seconds > 0) {
        long long until = monotonic_ns() + (long long)(warm_up_seconds * 1e9);
        int running = 0, outstanding = 0;
        for (int i = 0; i < connections; i++, outstanding++) if (start(&pacer, -1) < 0) goto done;
        while (outstanding > 0) {
            curl_multi_perform(pacer.multi, &running);
            int finished = reap(&pacer, ignore, NULL);
            if (finished < 0) goto done;
            outstanding -= finished;
            if (monotonic_ns() < until)
                for (; finished > 0; finished--, outstanding++) if (start(&pacer, -1) < 0) goto done;
            if (outstanding > 0) curl_multi_poll(pacer.multi, NULL, 0, 100, NULL);
        }
    }

    struct paced_run run = { .first = monotonic_ns() + 10000000LL, .interval = 1e9 / rate, .latencies = latencies, .lateness = lateness };
    long next = 0, done_count = 0;
    long long armed = -1;
    while (done_count < total) {
        long long now = monotonic_ns();
        /* Everything due by now goes out, so a late wake-up does not thin the load. */
        for (; next < total && due(&run, next) <= now; next++) {
            lateness[next] = (double)(now - due(&run, next)) / 1e6;
            if (start(&pacer, next) < 0) goto done;
        }
        if (next < total && due(&run, next) != armed) {
            armed = due(&run, next);
            struct itimerspec when = { .it_value = { .tv_sec = armed / 1000000000LL, .tv_nsec = armed % 1000000000LL } };
            timerfd_settime(timer, TFD_TIMER_ABSTIME, &when, NULL);
        }
        int running = 0;
        curl_multi_perform(pacer.multi, &running);
        int finished = reap(&pacer, record, &run);
        if (finished < 0) goto done;
        done_count += finished;
        if (done_count == total) break;
        struct curl_waitfd wake = { .fd = timer, .events = CURL_WAIT_POLLIN };
        curl_multi_poll(pacer.multi, &wake, 1, 1000, NULL);
        if (wake.revents) {
            unsigned long long expirations;
            (void)!read(timer, &expirations, sizeof expirations);
        }
    }
    result = total;

done:
    for (int i = 0; i < pacer.slots_made; i++) {
        if (pacer.slots[i].handle) {
            curl_multi_remove_handle(pacer.multi, pacer.slots[i].handle);
            curl_easy_cleanup(pacer.slots[i].handle);
        }
    }
    if (pacer.multi) curl_multi_cleanup(pacer.multi);
    curl_slist_free_all(pacer.headers);
    free(pacer.slots);
    if (timer >= 0) close(timer);
    return result;
}
