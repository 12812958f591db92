#include "http.h"
#include "response.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>

typedef struct transfer {
  struct transfer *next;            /* pending or done queue */
  struct transfer *prev_active, *next_active; /* while curl runs it */
  CURL *easy;
  struct curl_slist *headers;
  char *body;
  size_t max_response;
  int too_large;
  http_response resp;
} transfer;

typedef struct {
  transfer *head, *tail;
  size_t n;
} queue;

struct http_engine {
  CURLM *multi;
  CURLSH *share; /* DNS and TLS sessions shared by every transfer */
  http_options opt;
  char *ca_file;
  char *proxy;
  queue pending;
  queue done;
  transfer *active_list; /* reachable only here while curl owns them */
  size_t active;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

/* curl_global_init is reference-counted, so a host that already called it is fine. */
static void global_init(void) { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static void push(queue *q, transfer *t) {
  t->next = NULL;
  if (q->tail) q->tail->next = t;
  else q->head = t;
  q->tail = t;
  q->n++;
}

static transfer *pop(queue *q) {
  transfer *t = q->head;
  if (!t) return NULL;
  q->head = t->next;
  if (!q->head) q->tail = NULL;
  q->n--;
  t->next = NULL;
  return t;
}

void http_slist_wipe(struct curl_slist *list) {
  for (struct curl_slist *l = list; l; l = l->next)
    if (l->data) OPENSSL_cleanse(l->data, strlen(l->data));
  curl_slist_free_all(list);
}

static void transfer_free(transfer *t) {
  if (!t) return;
  if (t->easy) curl_easy_cleanup(t->easy);
  http_slist_wipe(t->headers);
  free(t->body);
  cbuf_free(&t->resp.body);
  free(t);
}

static char *dup_or_null(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

http_engine *http_engine_new(const http_options *o, char *err, size_t errlen) {
  pthread_once(&global_once, global_init);
  if (global_rc != CURLE_OK) {
    snprintf(err, errlen, "curl_global_init failed: %s", curl_easy_strerror(global_rc));
    return NULL;
  }
  http_engine *e = calloc(1, sizeof *e);
  if (!e) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  e->opt = *o;
  e->ca_file = dup_or_null(o->ca_file);
  e->proxy = dup_or_null(o->proxy);
  e->multi = curl_multi_init();
  e->share = curl_share_init();
  if (!e->multi || !e->share || (o->ca_file && !e->ca_file) || (o->proxy && !e->proxy)) {
    snprintf(err, errlen, "out of memory");
    http_engine_free(e);
    return NULL;
  }
  curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  /* Keep a connection per concurrent transfer alive between calls. */
  curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, o->concurrency + 4);
  return e;
}

void http_engine_free(http_engine *e) {
  if (!e) return;
  http_engine_drop_queued(e);
  transfer *t;
  while ((t = pop(&e->done))) transfer_free(t);
  while ((t = e->active_list)) {
    e->active_list = t->next_active;
    curl_multi_remove_handle(e->multi, t->easy);
    transfer_free(t);
  }
  if (e->multi) curl_multi_cleanup(e->multi);
  if (e->share) curl_share_cleanup(e->share);
  free(e->ca_file);
  free(e->proxy);
  free(e);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  transfer *t = ud;
  size_t len = size * n;
  /* Returning less than len makes curl fail the transfer with CURLE_WRITE_ERROR. */
  return response_body_chunk(&t->resp, t->max_response, p, len, &t->too_large) ? len : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  transfer *t = ud;
  response_header_line(&t->resp, p, size * n);
  return size * n;
}

static int configure(http_engine *e, transfer *t, const char *method, const char *url,
                     size_t body_len, int fresh) {
  CURL *c = t->easy;
  const http_options *o = &e->opt;
  int ok = 1;
#define SET(opt, val) ok &= curl_easy_setopt(c, opt, val) == CURLE_OK
  SET(CURLOPT_URL, url);
  SET(CURLOPT_PRIVATE, (void *)t);
  SET(CURLOPT_SHARE, e->share);
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_HTTPHEADER, t->headers);
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_BUFFERSIZE, 65536L); /* job answers run to 300 KB: a quarter of the reads of 16 KB */
  SET(CURLOPT_WRITEDATA, (void *)t);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, (void *)t);
  SET(CURLOPT_ERRORBUFFER, t->resp.message);
  SET(CURLOPT_TIMEOUT_MS, o->timeout_ms);
  SET(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_ACCEPT_ENCODING, "");
  SET(CURLOPT_SSL_VERIFYPEER, o->verify_tls ? 1L : 0L);
  SET(CURLOPT_SSL_VERIFYHOST, o->verify_tls ? 2L : 0L);
  if (e->ca_file) SET(CURLOPT_CAINFO, e->ca_file);
  /* An explicit empty proxy makes curl ignore http_proxy and friends; left unset, curl
   * reads them (HTTPS_PROXY, NO_PROXY, ...) as the curl tool does. */
  if (!o->proxy_from_env) SET(CURLOPT_PROXY, e->proxy ? e->proxy : "");
  /* libcurl re-sends a request by itself when a reused connection dies before any
   * answer. A stop the cloud may already have accepted must never go twice, so such
   * requests get a connection of their own (which later GETs may reuse). */
  if (fresh) SET(CURLOPT_FRESH_CONNECT, 1L);
  if (strcmp(method, "GET") == 0) {
    SET(CURLOPT_HTTPGET, 1L);
  } else {
    SET(CURLOPT_CUSTOMREQUEST, method);
    if (t->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
      SET(CURLOPT_POSTFIELDS, t->body ? t->body : "");
      SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
  }
#undef SET
  return ok;
}

int http_engine_add(http_engine *e, long long id, const char *method, const char *url,
                    struct curl_slist *headers, const char *body, size_t body_len, int fresh,
                    int raw) {
  transfer *t = calloc(1, sizeof *t);
  if (!t) {
    http_slist_wipe(headers);
    return -1;
  }
  t->headers = headers;
  t->resp.id = id;
  t->resp.raw = raw;
  t->max_response = e->opt.max_response;
  if (body) {
    t->body = malloc(body_len ? body_len : 1);
    if (!t->body) goto fail;
    memcpy(t->body, body, body_len);
  }
  t->easy = curl_easy_init();
  if (!t->easy || !configure(e, t, method, url, body_len, fresh)) goto fail;
  push(&e->pending, t);
  return 0;
fail:
  transfer_free(t);
  return -1;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void start_pending(http_engine *e) {
  while (e->active < (size_t)e->opt.concurrency && e->pending.head) {
    transfer *t = pop(&e->pending);
    if (curl_multi_add_handle(e->multi, t->easy) != CURLM_OK) {
      t->resp.error = HTTP_ETRANSPORT;
      snprintf(t->resp.message, sizeof t->resp.message, "curl_multi_add_handle failed");
      push(&e->done, t);
      continue;
    }
    t->prev_active = NULL;
    t->next_active = e->active_list;
    if (e->active_list) e->active_list->prev_active = t;
    e->active_list = t;
    e->active++;
  }
}

static http_error classify(CURLcode rc, int too_large) {
  switch (rc) {
    case CURLE_OK: return HTTP_OK;
    case CURLE_COULDNT_CONNECT: return HTTP_ECONNECT;
    /* The resolver answered that the name does not exist, or could not be asked at all
     * (curl reports both alike). A resolver that does not answer runs into the connect
     * timeout (a timeout: retried) unless the C library gives up first (glibc: 2 x 5 s). */
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return HTTP_EDNS;
    case CURLE_OPERATION_TIMEDOUT: return HTTP_ETIMEOUT;
    case CURLE_WRITE_ERROR: return too_large ? HTTP_ETOOLARGE : HTTP_ETRANSPORT;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE: return HTTP_EDROPPED;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE: return HTTP_ETLS;
    default: return HTTP_ETRANSPORT;
  }
}

/* Where a failed transfer was going, so that a proxy that refused or failed can be named
 * as the cause: the address curl last tried, and what a proxy answered to CONNECT. */
static void note_peer(CURL *easy, CURLcode rc, http_response *r) {
  char *ip = NULL;
  long port = 0, connect_code = 0;
  if (curl_easy_getinfo(easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip && ip[0] &&
      curl_easy_getinfo(easy, CURLINFO_PRIMARY_PORT, &port) == CURLE_OK && port > 0)
    snprintf(r->peer, sizeof r->peer, strchr(ip, ':') ? "[%s]:%ld" : "%s:%ld", ip, port);
  if (curl_easy_getinfo(easy, CURLINFO_HTTP_CONNECTCODE, &connect_code) == CURLE_OK)
    r->proxy_status = connect_code;
  r->proxy_unresolved = rc == CURLE_COULDNT_RESOLVE_PROXY;
  /* A proxy that refused the tunnel never passed the request on: no connection to the
   * server, and nothing sent to it (the bytes curl counts were the CONNECT). */
  if (connect_code >= 300) {
    r->error = HTTP_ECONNECT;
    r->sent = 0;
  }
}

static void finish(http_engine *e, CURL *easy, CURLcode rc) {
  transfer *t = NULL;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
  curl_multi_remove_handle(e->multi, easy);
  if (t->prev_active) t->prev_active->next_active = t->next_active;
  else e->active_list = t->next_active;
  if (t->next_active) t->next_active->prev_active = t->prev_active;
  e->active--;

  http_response *r = &t->resp;
  long status = 0, request_size = 0;
  double elapsed = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_size);
  curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME, &elapsed);
  r->error = classify(rc, t->too_large);
  r->status = r->error == HTTP_OK ? status : 0;
  r->sent = r->error != HTTP_ECONNECT && r->error != HTTP_EDNS && request_size > 0;
  r->elapsed = elapsed;
  if (r->error != HTTP_OK) note_peer(easy, rc, r);
  if (r->error == HTTP_ETOOLARGE)
    snprintf(r->message, sizeof r->message, "response larger than %zu bytes", t->max_response);
  else if (r->error != HTTP_OK && !r->message[0])
    snprintf(r->message, sizeof r->message, "%s", curl_easy_strerror(rc));
  if (r->body.oom) {
    r->error = HTTP_ETRANSPORT;
    snprintf(r->message, sizeof r->message, "out of memory");
  }
  /* The handle is done; free it now rather than holding a socket-less easy. */
  curl_easy_cleanup(t->easy);
  t->easy = NULL;
  http_slist_wipe(t->headers);
  t->headers = NULL;
  free(t->body);
  t->body = NULL;
  push(&e->done, t);
}

static void drain(http_engine *e) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(e->multi, &left)))
    if (m->msg == CURLMSG_DONE) finish(e, m->easy_handle, m->data.result);
}

size_t http_engine_run(http_engine *e, long timeout_ms) {
  double deadline = now_seconds() + (double)(timeout_ms > 0 ? timeout_ms : 0) / 1000.0;
  for (;;) {
    int running = 0;
    start_pending(e);
    curl_multi_perform(e->multi, &running);
    drain(e);
    start_pending(e);
    if (e->done.n) return e->done.n;
    double left = deadline - now_seconds();
    if (left <= 0) return 0;
    long wait_ms = (long)(left * 1000.0) + 1;
    /* curl_multi_poll also sleeps with no transfers at all, unlike curl_multi_wait. */
    curl_multi_poll(e->multi, NULL, 0, (int)(wait_ms > 1000 ? 1000 : wait_ms), NULL);
  }
}

http_response *http_engine_next(http_engine *e) {
  return e->done.head ? &e->done.head->resp : NULL;
}

void http_engine_release(http_engine *e, http_response *r) {
  if (e->done.head && &e->done.head->resp == r) transfer_free(pop(&e->done));
}

size_t http_engine_active(const http_engine *e) { return e->active; }
size_t http_engine_queued(const http_engine *e) { return e->pending.n; }

size_t http_engine_drop_queued(http_engine *e) {
  size_t n = 0;
  transfer *t;
  while ((t = pop(&e->pending))) {
    transfer_free(t);
    n++;
  }
  return n;
}

size_t http_engine_drop_queued_if(http_engine *e, int (*pick)(long long id, void *ud),
                                  void (*dropped)(long long id, void *ud), void *ud) {
  size_t n = 0;
  transfer *prev = NULL, *t = e->pending.head;
  /* Unlinked in place: the queue is whole after every step. */
  while (t) {
    transfer *next = t->next;
    if (pick(t->resp.id, ud)) {
      dropped(t->resp.id, ud);
      if (prev) prev->next = next;
      else e->pending.head = next;
      if (e->pending.tail == t) e->pending.tail = prev;
      e->pending.n--;
      transfer_free(t);
      n++;
    } else {
      prev = t;
    }
    t = next;
  }
  return n;
}

const char *http_error_name(http_error e) {
  switch (e) {
    case HTTP_OK: return "ok";
    case HTTP_ECONNECT: return "connect";
    case HTTP_EDNS: return "dns";
    case HTTP_ETIMEOUT: return "timeout";
    case HTTP_EDROPPED: return "dropped";
    case HTTP_ETOOLARGE: return "too_large";
    case HTTP_ETLS: return "tls";
    default: return "transport";
  }
}
