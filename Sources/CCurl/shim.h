#ifndef ESTUARY_CCURL_SHIM_H
#define ESTUARY_CCURL_SHIM_H
#include <curl/curl.h>
#include <sys/socket.h>

/*
 * curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call. These typed
 * wrappers pass one argument of the type the option expects (see curl_easy_setopt(3): long,
 * object pointer, string, function pointer or curl_off_t).
 */

/* The signature of CURLOPT_WRITEFUNCTION, CURLOPT_HEADERFUNCTION and CURLOPT_READFUNCTION. */
typedef size_t (*estuary_curl_data_callback)(char *buffer, size_t size, size_t nitems, void *userdata);

static inline CURLcode estuary_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode estuary_curl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode estuary_curl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode estuary_curl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode estuary_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode estuary_curl_easy_setopt_data_callback(CURL *handle, CURLoption option,
                                                              estuary_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode estuary_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLcode estuary_curl_easy_getinfo_double(CURL *handle, CURLINFO info, double *value) {
    return curl_easy_getinfo(handle, info, value);
}

/* CURLOPT_OPENSOCKETFUNCTION: the connection's socket is close-on-exec from the start
   (libcurl's own socket(2) call does not ask for it). */
static curl_socket_t estuary_curl_open_socket_cloexec(void *clientp, curlsocktype purpose,
                                                      struct curl_sockaddr *address) {
    (void)clientp;
    (void)purpose;
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}
static inline CURLcode estuary_curl_easy_use_cloexec_sockets(CURL *handle) {
    return curl_easy_setopt(handle, CURLOPT_OPENSOCKETFUNCTION, estuary_curl_open_socket_cloexec);
}

/* CURL_GLOBAL_ALL is a macro expression Swift does not import. */
static inline CURLcode estuary_curl_global_init_all(void) {
    return curl_global_init(CURL_GLOBAL_ALL);
}
static inline long estuary_curl_error_size(void) {
    return CURL_ERROR_SIZE;
}
#endif
