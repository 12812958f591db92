/* The HTTP engine: one libcurl multi handle with a queue in front of it, so at most
 * `concurrency` transfers run at once and connections are kept between calls.
 * Pure C over libcurl: responses are collected into C buffers and no Lua ever runs
 * inside a curl callback. */
#ifndef CLOUD_HTTP_H
#define CLOUD_HTTP_H

#include <stddef.h>
#include <curl/curl.h>
#include "buf.h"

typedef struct {
  long concurrency;
  long timeout_ms;         /* whole transfer */
  long connect_timeout_ms;
  int verify_tls;
  const char *ca_file;     /* NULL: the system store */
  const char *proxy;       /* NULL: none (curl's proxy environment variables are ignored) */
  int proxy_from_env;      /* 1: no proxy of ours; libcurl reads HTTPS_PROXY, NO_PROXY, ... */
  size_t max_response;     /* bytes of body kept before the transfer is failed */
} http_options;

/* Why a transfer ended without an HTTP answer. */
typedef enum {
  HTTP_OK = 0,      /* an HTTP status arrived */
  HTTP_ECONNECT,    /* no connection: the request was never sent */
  HTTP_EDNS,        /* the host name did not resolve (no such name, or no DNS at all):
                       never sent, and the next try would fail the same */
  HTTP_ETIMEOUT,    /* timed out: it may have been received */
  HTTP_EDROPPED,    /* connection closed or reset mid-way */
  HTTP_ETOOLARGE,   /* the body passed max_response */
  HTTP_ETLS,        /* TLS handshake or verification failed */
  HTTP_ETRANSPORT   /* anything else curl reports */
} http_error;

typedef struct {
  long long id;           /* the caller's tag */
  int raw;                /* the caller's flag, carried along: its binding uses it */
  long status;            /* 0 when no answer */
  http_error error;
  int sent;               /* 1 when curl wrote the request out */
  char message[CURL_ERROR_SIZE];
  cbuf body;
  char request_id[128];
  char retry_after[64];
  char date[64];
  size_t expect_len;      /* Content-Length, when the server sent one (0: unknown) */
  char peer[72];          /* on failure: "ip:port" of the last connection tried, or "" */
  long proxy_status;      /* on failure: a proxy's answer to CONNECT (0: none) */
  int proxy_unresolved;   /* on failure: the proxy's host name did not resolve */
  double elapsed;         /* seconds */
} http_response;

typedef struct http_engine http_engine;

/* NULL on failure, with a reason in err. */
http_engine *http_engine_new(const http_options *o, char *err, size_t errlen);
void http_engine_free(http_engine *e);

/* Queues a request. Takes ownership of `headers` (also on failure). `fresh`: open a new
 * connection for it (see http.c). `raw` is copied to the response. Returns 0 on success,
 * -1 when out of memory. */
int http_engine_add(http_engine *e, long long id, const char *method, const char *url,
                    struct curl_slist *headers, const char *body, size_t body_len, int fresh,
                    int raw);

/* Drives transfers until at least one has finished or timeout_ms passes (it waits
 * the whole timeout when nothing is in flight: a sleep). Returns the number of
 * finished responses waiting in http_engine_next. */
size_t http_engine_run(http_engine *e, long timeout_ms);

/* The oldest finished response, still owned by the engine, or NULL. Release it
 * with http_engine_release once copied out; the engine frees any left on free. */
http_response *http_engine_next(http_engine *e);
void http_engine_release(http_engine *e, http_response *r);

size_t http_engine_active(const http_engine *e);
size_t http_engine_queued(const http_engine *e);

/* Frees the requests not yet started, which will then never be sent; returns how many. */
size_t http_engine_drop_queued(http_engine *e);

/* The same for the queued requests whose id `pick` says yes to (several callers sharing one
 * engine each drop only their own). Each dropped id is passed to `dropped`, in queue order,
 * before its request is freed. Returns how many. */
size_t http_engine_drop_queued_if(http_engine *e, int (*pick)(long long id, void *ud),
                                  void (*dropped)(long long id, void *ud), void *ud);

const char *http_error_name(http_error e);

/* Frees a header list after overwriting its lines: one may carry a security token. */
void http_slist_wipe(struct curl_slist *list);

#endif
