#ifndef SIGCTL_CCURL_SHIM_H
#define SIGCTL_CCURL_SHIM_H

#include <curl/curl.h>

/* Typed wrappers for libcurl's variadic option and info calls, which Swift
 * cannot call directly. Each wrapper passes exactly one argument of the
 * type libcurl documents for the option. */

typedef size_t (*sigctl_curl_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);
typedef int (*sigctl_curl_xferinfo_cb)(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
                                       curl_off_t ultotal, curl_off_t ulnow);

static inline CURLcode sigctl_curl_setopt_long(CURL *h, CURLoption o, long v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode sigctl_curl_setopt_string(CURL *h, CURLoption o, const char *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode sigctl_curl_setopt_pointer(CURL *h, CURLoption o, void *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode sigctl_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode sigctl_curl_setopt_data_cb(CURL *h, CURLoption o, sigctl_curl_data_cb v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode sigctl_curl_setopt_xferinfo_cb(CURL *h, sigctl_curl_xferinfo_cb v) {
    return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, v);
}
static inline CURLcode sigctl_curl_getinfo_long(CURL *h, CURLINFO i, long *v) {
    return curl_easy_getinfo(h, i, v);
}

#endif
