#ifndef ROLLBACK_CCURL_SHIM_H
#define ROLLBACK_CCURL_SHIM_H

// Typed wrappers around libcurl's variadic entry points.
//
// Swift cannot call C variadic functions, so every argument type that
// `curl_easy_setopt` and `curl_easy_getinfo` take gets one `static inline`
// wrapper here. The wrappers add no behaviour.

#include <curl/curl.h>
#include <sys/types.h>

// The shape of a libcurl write callback (`CURLOPT_WRITEFUNCTION`).
typedef size_t (*rollback_curl_write_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode rollback_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode rollback_curl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode rollback_curl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode rollback_curl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode rollback_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode rollback_curl_easy_setopt_write_callback(
  CURL *handle, CURLoption option, rollback_curl_write_callback value) {
  return curl_easy_setopt(handle, option, value);
}

// The shape of a libcurl progress callback (`CURLOPT_XFERINFOFUNCTION`); non-zero aborts.
typedef int (*rollback_curl_xferinfo_callback)(
  void *context, curl_off_t download_total, curl_off_t downloaded, curl_off_t upload_total, curl_off_t uploaded);

static inline CURLcode rollback_curl_easy_setopt_xferinfo_callback(
  CURL *handle, CURLoption option, rollback_curl_xferinfo_callback value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode rollback_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
  return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode rollback_curl_easy_getinfo_double(CURL *handle, CURLINFO info, double *value) {
  return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode rollback_curl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
  return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode rollback_curl_easy_getinfo_string(CURL *handle, CURLINFO info, char **value) {
  return curl_easy_getinfo(handle, info, value);
}

// `curl_global_init(CURL_GLOBAL_DEFAULT)`; the flag is a macro expression.
static inline CURLcode rollback_curl_global_init_default(void) {
  return curl_global_init(CURL_GLOBAL_DEFAULT);
}

#endif
